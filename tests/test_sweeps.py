"""Tests for wandb sweeps: experiments/sweeps/*.yaml are valid sweeps over real config keys, the
offline runner (experiments/sweep_offline.py) expands and runs them, and `train` takes a sweep's
parameters from the command line or from wandb.config (before compiling) and logs the metric at
the top level."""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import yaml
from experiment_scripts import load_experiment

from alphago_jax import cli, train
from alphago_jax.config import ConfigError, TrainConfig, make_config
from alphago_jax.logging import RunLogger, last_values, read_metrics

ROOT = Path(__file__).resolve().parents[1]
SWEEPS = sorted((ROOT / "experiments" / "sweeps").glob("*.yaml"))
FIELDS = {f.name: f for f in dataclasses.fields(TrainConfig)}


so = load_experiment("sweep_offline")


@pytest.fixture(autouse=True)
def clean_wandb_env(monkeypatch):
    """No inherited wandb or sweep-agent settings, and no banner output."""
    for name in ("WANDB_MODE", "WANDB_DIR", "WANDB_RUN_ID", "WANDB_RESUME", "WANDB_SWEEP_ID",
                 "WANDB_SWEEP_PARAM_PATH", "WANDB_PROJECT", "WANDB_ENTITY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("WANDB_SILENT", "true")


# ---------------------------------------------------------------------- the sweep files
def test_the_required_sweeps_exist():
    swept = {}
    for path in SWEEPS:
        for name, spec in yaml.safe_load(path.read_text())["parameters"].items():
            swept.setdefault(name, set()).update(spec.get("values", []))
    for name in ("learning_rate", "train_batch", "num_simulations", "playout_cap_fraction",
                 "blocks", "channels", "block_type", "policy_target", "search"):
        assert len(swept.get(name, ())) >= 2, f"no sweep varies {name}"
    assert {"preact", "mlp_ln"} <= swept["block_type"]
    assert {"soft", "hard"} <= swept["policy_target"]
    assert {"gumbel", "puct"} <= swept["search"]


@pytest.mark.parametrize("path", SWEEPS, ids=lambda p: p.stem)
def test_sweep_file_is_a_wandb_sweep_over_real_config_keys(path):
    raw = yaml.safe_load(path.read_text())
    assert raw["method"] in ("grid", "random", "bayes")
    assert raw["metric"]["goal"] in ("minimize", "maximize")
    assert raw["metric"]["name"] in train.EVAL_METRICS  # logged by train.main at every eval
    # The command: wandb's macros, the module the program names exists, and the agent's
    # parameters reach the train command in a form it parses.
    command = raw["command"]
    assert command[:4] == ["${env}", "${interpreter}", "-m", "${program}"]
    assert importlib.util.find_spec(raw["program"]) is not None
    assert "train" in command and ("${args}" in command or "${args_no_hyphens}" in command)
    assert so.load_sweep(path) is not None

    preset = so.sweep_preset(raw)
    base = make_config(preset)
    for name, spec in raw["parameters"].items():
        assert name in FIELDS, f"{path.name}: {name} is not a TrainConfig key"
        kind = so.parameter_kind(name, spec)
        values = [spec["value"]] if kind == "value" else list(spec.get("values", []))
        values += [spec[k] for k in ("min", "max") if k in spec]
        for v in values:
            # YAML 1.1 reads 1e-3 as a string; numbers must be numbers for wandb's samplers.
            if FIELDS[name].type in ("int", "float"):
                assert isinstance(v, int | float) and not isinstance(v, bool), (name, v)
            make_config(preset, {name: v})  # raises ConfigError on a bad value
    points = so.expand(raw, max_runs=4, seed=0)
    so.validate_points(points, preset)
    for point in points:
        cfg = make_config(preset, point)
        # Every run evaluates (so the metric exists), on a smaller budget than the preset.
        assert cfg.eval_every > 0 and cfg.iterations <= base.iterations
        assert cfg.iterations % cfg.eval_every == 0


def test_grid_expansion_is_the_cartesian_product():
    params = {"a": {"values": [1, 2, 3]}, "b": {"values": ["x", "y"]}, "c": {"value": 5}}
    points = so.grid_points(params)
    assert len(points) == 6 and all(p["c"] == 5 for p in points)
    assert {(p["a"], p["b"]) for p in points} == {(a, b) for a in (1, 2, 3) for b in "xy"}
    assert points[:2] == [{"a": 1, "b": "x", "c": 5}, {"a": 1, "b": "y", "c": 5}]
    counts = {"lr_batch": 9, "sims_playout_cap": 9, "depth_width": 12, "policy_target": 6,
              "search": 6}
    for stem, n in counts.items():
        sweep = so.load_sweep(ROOT / "experiments" / "sweeps" / f"{stem}.yaml")
        assert len(so.expand(sweep)) == n, stem
        assert len(so.expand(sweep, max_runs=2)) == 2
    with pytest.raises(so.SweepError, match="needs value or values"):
        so.grid_points({"lr": {"min": 0.1, "max": 0.2}})


def test_random_points_are_seeded_and_inside_their_ranges():
    params = {
        "learning_rate": {"distribution": "log_uniform_values", "min": 1e-4, "max": 1e-2},
        "train_batch": {"values": [64, 128]},
        "blocks": {"min": 1, "max": 4},  # integer bounds: int_uniform, as in wandb
        "seed": {"value": 7},
    }
    a, b = so.random_points(params, 50, seed=3), so.random_points(params, 50, seed=3)
    assert a == b and a != so.random_points(params, 50, seed=4)
    lrs = np.array([p["learning_rate"] for p in a])
    assert np.all((lrs >= 1e-4) & (lrs <= 1e-2))
    assert lrs.min() < 1e-3 < lrs.max()  # log-uniform: a good share below the midpoint decade
    assert {p["train_batch"] for p in a} == {64, 128} and {p["seed"] for p in a} == {7}
    assert {type(p["blocks"]) for p in a} == {int} and {p["blocks"] for p in a} <= {1, 2, 3, 4}
    sweep = so.load_sweep(ROOT / "experiments" / "sweeps" / "lr_batch_random.yaml")
    assert len(so.expand(sweep)) == sweep["run_cap"]


def test_set_fixes_values_and_refuses_swept_keys():
    sweep = so.load_sweep(ROOT / "experiments" / "sweeps" / "lr_batch.yaml")
    points = so.expand(sweep, sets={"iterations": "4", "size": "5"})
    assert len(points) == 9 and all(p["iterations"] == "4" and p["size"] == "5" for p in points)
    assert make_config("default", points[0]).iterations == 4
    with pytest.raises(so.SweepError, match="learning_rate"):
        so.expand(sweep, sets={"learning_rate": "0.1"})
    with pytest.raises(ConfigError, match="unknown config key 'lr'"):
        so.validate_points(so.expand(sweep, sets={"lr": "0.1"}), "default")


@pytest.mark.parametrize(
    "text, words",
    [
        ("method: annealing\nmetric: {name: x}\nparameters: {seed: {value: 1}}", "method"),
        ("method: grid\nmetric: {name: x, goal: up}\nparameters: {seed: {value: 1}}", "goal"),
        ("method: grid\nparameters: {seed: {value: 1}}", "metric"),
        ("method: grid\nmetric: {name: x}\nparameters: {}", "parameters"),
        ("method: random\nmetric: {name: x}\nparameters: {seed: {distribution: zipf}}",
         "zipf"),
        ("method: grid\nmetric: {name: x}\nparameters: {seed: [1, 2]}", "'seed'"),
        ("method: grid\nmetric: {name: x}\nparameters: {seed: {value: 1}}\ncommand: [a, \"${x}\"]",
         None),
    ],
)
def test_bad_sweep_files_are_refused(tmp_path, text, words):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    if words is None:  # valid file, but a macro the offline runner cannot fill in
        sweep = so.load_sweep(path)
        with pytest.raises(so.SweepError, match=r"\$\{x\}"):
            so.command_for(sweep, {"seed": 1}, "d")
        assert so.main([str(path), "--dry-run"]) == 2
        return
    with pytest.raises(so.SweepError, match=words):
        so.load_sweep(path)


# ---------------------------------------------------------------------- what the agent sends
POINT = {"learning_rate": 1e-3, "train_batch": 64, "weight_decay": 1e-05, "symmetries": False,
         "block_type": "mlp_ln", "playout_cap_fraction": 0.25, "iterations": 40}


def test_offline_commands_format_args_as_the_wandb_agent_does():
    from wandb.sdk.launch.sweeps.utils import create_sweep_command_args

    agent = create_sweep_command_args({"args": {k: {"value": v} for k, v in POINT.items()}})
    assert so.format_args(POINT) == agent["args"]
    assert so.format_args(POINT, hyphens=False) == agent["args_no_hyphens"]
    sweep = so.load_sweep(ROOT / "experiments" / "sweeps" / "lr_batch.yaml")
    cmd = so.command_for(sweep, POINT, "runs/x")
    assert cmd[:5] == [sys.executable, "-m", "alphago_jax.cli", "train", "--preset=default"]
    assert cmd[5:] == [*agent["args"], "--run-dir=runs/x"]


@pytest.mark.parametrize("form", ["args", "args_no_hyphens"])
def test_train_cli_parses_what_the_agent_sends(monkeypatch, form):
    from wandb.sdk.launch.sweeps.utils import create_sweep_command_args

    seen = {}
    monkeypatch.setattr(train, "main", lambda *a: seen.setdefault("call", a) and 0)
    items = create_sweep_command_args({"args": {k: {"value": v} for k, v in POINT.items()}})
    assert cli.main(["train", "--preset=default", *items[form]]) == 0
    run_dir, preset, overrides = seen["call"]
    assert run_dir is None and preset == "default"  # --run-dir may be left to the sweep
    cfg = make_config(preset, overrides)
    assert cfg == make_config("default", POINT)  # the typed values, as wandb.config holds them
    assert (cfg.learning_rate, cfg.weight_decay, cfg.symmetries) == (1e-3, 1e-5, False)
    assert cfg.block_type == "mlp_ln" and cfg.train_batch == 64


# ---------------------------------------------------------------------- wandb.config intake
def test_sweep_overrides_from_wandb_config():
    cfg = make_config("default")
    wb = {**cfg.to_dict(), "learning_rate": 1e-3, "symmetries": "false", "blocks": 3}
    assert train.sweep_overrides(wb, cfg) == {"learning_rate": 1e-3, "symmetries": "false"}
    assert train.sweep_overrides(cfg.to_dict(), cfg) == {}
    with pytest.raises(ConfigError, match=r"unknown config key 'learning_rte' in wandb\.config"
                       r".*did you mean learning_rate"):
        train.sweep_overrides({**wb, "learning_rte": 0.1}, cfg)
    with pytest.raises(ConfigError, match="bad value for train_batch"):
        train.sweep_overrides({"train_batch": "many"}, cfg)


def test_sweep_run_dir(monkeypatch, tmp_path, capsys):
    assert train.sweep_run_dir() is None
    assert train.main(None) == 2
    assert "--run-dir is required" in capsys.readouterr().err
    monkeypatch.setenv("WANDB_SWEEP_ID", "abc123")
    monkeypatch.setenv("WANDB_RUN_ID", "run9")
    assert train.sweep_run_dir() == Path("runs/sweeps/abc123/run9")
    assert train.sweep_run_dir(tmp_path) == tmp_path / "abc123" / "run9"


@pytest.fixture
def fresh_wandb():
    """wandb reads its environment once per process (until teardown): start from scratch so
    the sweep variables of the test are the ones wandb.init sees."""
    import wandb

    wandb.teardown()
    yield
    wandb.teardown()


def _as_agent(monkeypatch, tmp_path, params: dict) -> Path:
    """The environment a wandb agent gives its run: sweep and run ids, and the file of the
    run's parameters that wandb.init reads into wandb.config; offline, in tmp_path."""
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "wandb" / "sweep-sw1" / "config-run1.yaml"
    path.parent.mkdir(parents=True)
    path.write_text(yaml.safe_dump({k: {"value": v} for k, v in params.items()}))
    monkeypatch.setenv("WANDB_SWEEP_ID", "sw1")
    monkeypatch.setenv("WANDB_RUN_ID", "run1")
    monkeypatch.setenv("WANDB_SWEEP_PARAM_PATH", str(path))
    monkeypatch.setenv("WANDB_MODE", "offline")
    return tmp_path / "runs" / "sweeps" / "sw1" / "run1"


class _Compiled(Exception):
    """Raised in place of compiling: the test stops `train.main` there."""


def _stop_at_compile(monkeypatch) -> list:
    built = []

    def make_train(cfg):
        built.append(cfg)
        raise _Compiled

    monkeypatch.setattr(train, "make_train", make_train)
    return built


def test_unknown_key_in_wandb_config_fails_before_compiling(monkeypatch, tmp_path, capsys,
                                                              fresh_wandb):
    run_dir = _as_agent(monkeypatch, tmp_path, {"learning_rate": 1e-3, "lerning_rate": 1e-3})

    built = _stop_at_compile(monkeypatch)
    assert train.main(None, "default", ["iterations=2"]) == 2
    err = capsys.readouterr().err
    assert "unknown config key 'lerning_rate' in wandb.config" in err
    assert "did you mean learning_rate" in err
    assert (run_dir / "wandb_id.txt").read_text().strip() == "run1"
    assert not (run_dir / "config.json").exists() and not built


def test_sweep_parameters_from_wandb_config_only_are_compiled(monkeypatch, tmp_path,
                                                              fresh_wandb):
    import wandb

    run_dir = _as_agent(monkeypatch, tmp_path,
                        {"learning_rate": 1e-3, "iterations": 4, "symmetries": False})
    built = _stop_at_compile(monkeypatch)
    # The agent started the run without args: the parameters come from wandb.config only.
    with pytest.raises(_Compiled):
        train.main(None, "default", ["eval_every=2", "--learning-rate=0.5"])
    run = wandb.run
    try:
        assert len(built) == 1
        cfg = built[0]  # the sweep's values over the command line's (as wandb does)
        assert (cfg.learning_rate, cfg.iterations, cfg.symmetries) == (1e-3, 4, False)
        assert cfg.eval_every == 2 and cfg == make_config(
            "default", {"eval_every": 2, "learning_rate": 1e-3, "iterations": 4,
                        "symmetries": False})
        assert TrainConfig.load(run_dir / "config.json") == cfg
        assert run.id == "run1" and run.sweep_id == "sw1"
        assert (run.config["learning_rate"], run.config["iterations"]) == (1e-3, 4)
        assert run.config["eval_every"] == 2
    finally:
        run.finish()


def test_metric_is_logged_at_top_level_and_as_summary(monkeypatch, tmp_path, fresh_wandb):
    monkeypatch.setenv("WANDB_MODE", "offline")
    sent = []
    with RunLogger(tmp_path, {"lr": 0.1}, project="t", progress=False) as logger:
        run = logger.wandb_run
        monkeypatch.setattr(run, "log", lambda values, **kw: sent.append((dict(values), kw)))
        for step, rate in ((1, None), (2, 0.25), (3, None), (4, 0.75)):
            evals = {} if rate is None else {"win_rate_vs_random": np.float32(rate),
                                             "win_rate_vs_previous": 0.5}
            logger.log(step, {"loss": 1.0 / step, **evals})
        final = last_values(read_metrics(tmp_path), train.EVAL_METRICS)
        assert final == {"win_rate_vs_random": 0.75, "win_rate_vs_previous": 0.5}
        assert logger.summarize(final) == final
        assert run.summary["win_rate_vs_random"] == 0.75  # a plain number under a plain key
    # Flat keys reach wandb.log at each evaluation (nothing nested like eval/win_rate).
    assert [(v.get("win_rate_vs_random"), kw["step"]) for v, kw in sent] == [
        (None, 1), (0.25, 2), (None, 3), (0.75, 4)]
    assert all(isinstance(v, float) for values, _ in sent for v in values.values())


# ---------------------------------------------------------------------- the offline runner
FAKE_PROGRAM = """
import json, os, sys
args = dict(a.lstrip("-").split("=", 1) for a in sys.argv[1:] if "=" in a)
os.makedirs(args["run-dir"], exist_ok=True)
assert "WANDB_SWEEP_ID" not in os.environ and os.environ["WANDB_MODE"] == "offline"
lr, b = float(args["learning_rate"]), int(args["train_batch"])
with open(os.path.join(args["run-dir"], "metrics.jsonl"), "a") as f:
    for step, rate in ((1, lr * 100), (2, lr * 10 + b / 1000)):
        f.write(json.dumps({"step": step, "time": 0.0, "win_rate_vs_random": rate}) + "\\n")
sys.exit(3 if b == 32 else 0)
"""


def test_offline_sweep_runs_each_point_and_tabulates_the_metric(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("WANDB_SWEEP_ID", "must-not-leak")
    (tmp_path / "fake_train.py").write_text(FAKE_PROGRAM)
    (tmp_path / "s.yaml").write_text(textwrap.dedent(f"""\
        program: {tmp_path / 'fake_train.py'}
        command: ["${{env}}", "${{interpreter}}", "${{program}}", "${{args}}"]
        method: grid
        metric: {{name: win_rate_vs_random, goal: maximize}}
        parameters:
          learning_rate: {{values: [1.0e-3, 2.0e-3]}}
          train_batch: {{values: [16, 32]}}
          iterations: {{value: 2}}
        """))
    out_dir = tmp_path / "out"
    argv = [str(tmp_path / "s.yaml"), "--runs-dir", str(out_dir), "--max-runs", "3"]
    assert so.main([*argv, "--dry-run"]) == 0
    assert not out_dir.exists()
    assert "--learning_rate=0.001 --train_batch=16 --iterations=2" in capsys.readouterr().out

    assert so.main(argv) == 1  # the point with train_batch=32 exits 3
    rows = list(csvrows(out_dir / "results.csv"))
    assert [(r["learning_rate"], r["train_batch"], r["returncode"]) for r in rows] == [
        ("0.001", "16", "0"), ("0.001", "32", "3"), ("0.002", "16", "0")]
    final = [float(r["final"]) for r in rows]
    best = [float(r["best"]) for r in rows]
    np.testing.assert_allclose(final, [0.026, 0.042, 0.036])
    np.testing.assert_allclose(best, [0.1, 0.1, 0.2])
    assert all(r["iterations"] == "2" for r in rows)
    table = (out_dir / "results.md").read_text()
    assert "| learning_rate | train_batch | win_rate_vs_random (final) |" in table
    assert "| 0.002 | 16 | 0.036 | 0.200 | 2 | 0 |" in table
    assert json.loads((out_dir / "000_learning_rate=0.001_train_batch=16" / "metrics.jsonl")
                      .read_text().splitlines()[0])["step"] == 1


def csvrows(path):
    import csv

    with open(path) as f:
        yield from csv.DictReader(f)
