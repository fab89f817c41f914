"""Bad input of any kind gets one clear message naming what was wrong and what to do, a non-zero
exit and no traceback; nothing a run has already written is lost or corrupted.

Each probe runs `train` or `supervised` in-process through `alphago_jax.cli.main`: an exception
escaping it is what a user would see as a traceback. The table's probes fail before anything
compiles (`make_train` and `train_supervised` are made to fail if reached); the tests after it
need a real run directory (the TINY config of tests/test_train.py).
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import jax
import pytest
from test_train import TINY

from alphago_jax import cli, runs
from alphago_jax.checkpoint import Checkpointer
from alphago_jax.config import make_config
from alphago_jax.logging import METRICS_FILE, read_metrics
from alphago_jax.sgf import GameRecord, write_sgf
from alphago_jax.trainer import make_train

DATA = Path(__file__).parent / "data" / "sgf"
SL_TINY = ["size=7", "blocks=1", "channels=8", "train_batch=64", "selfplay_batch=4",
           "buffer_capacity=64", "min_buffer=0", "wandb=false"]  # tests/data/sgf is 7x7


@pytest.fixture(autouse=True)
def no_wandb(monkeypatch):
    monkeypatch.setenv("WANDB_MODE", "disabled")


def run_cli(argv: list[str], capsys) -> tuple[int, str]:
    """(exit status, stderr) of `alphago-jax ARGV`; argparse's usage errors exit via SystemExit."""
    try:
        code = cli.main([str(a) for a in argv])
    except SystemExit as e:
        code = e.code
    return code, capsys.readouterr().err


def snapshot(root: Path) -> dict[str, bytes | None]:
    """Every path under `root`: a file's contents, None for a directory."""
    return {str(p.relative_to(root)): p.read_bytes() if p.is_file() else None
            for p in sorted(root.rglob("*"))}


# ---------------------------------------------------------------------- setups of the probes
def config_json(text: str):
    def setup(tmp: Path) -> None:
        (tmp / "run").mkdir()
        (tmp / "run" / "config.json").write_text(text)
    return setup


def saved_run(extra: str = ""):
    """A run directory with a valid config.json (no checkpoint) and, by `extra`, a bad part."""
    def setup(tmp: Path) -> None:
        run = tmp / "run"
        run.mkdir()
        make_config("default", TINY + ["iterations=1"]).save(run / "config.json")
        if extra == "metrics":  # a bad line that is not the last: not a torn write
            (run / METRICS_FILE).write_text('{"step": 1, "loss": 1.0}\nnot json\n'
                                            '{"step": 2, "loss": 0.5}\n')
        elif extra == "checkpoints file":
            (run / "checkpoints").write_text("not a directory")
        elif extra == "config dir":
            (run / "config.json").unlink()
            (run / "config.json").mkdir()
    return setup


def run_dir_is_a_file(tmp: Path) -> None:
    (tmp / "run").write_text("a file")


def sgf_data(*texts: str):
    def setup(tmp: Path) -> None:
        (tmp / "data").mkdir()
        for i, text in enumerate(texts):
            (tmp / "data" / f"g{i}.sgf").write_text(text)
    return setup


def long_game(moves: int) -> str:
    """A 7x7 record of `moves` moves (never replayed: too long for the rules engine)."""
    return write_sgf(GameRecord(size=7, komi=7.5, moves=[0, 1] * (moves // 2), result="B+R"))


NINE = write_sgf(GameRecord(size=9, komi=7.5, moves=[40], result="B+1")).strip()

TRAIN = ["train", "--run-dir", "{run}", *TINY, "iterations=1"]
RESUME = ["train", "--run-dir", "{run}"]
SUPERVISED = ["supervised", "--data", str(DATA), "--run-dir", "{run}", *SL_TINY]
SUPERVISED_ON = ["supervised", "--data", "{data}", "--run-dir", "{run}", *SL_TINY]

# (id, setup, argv, exit status, words stderr must hold: a string, or a tuple of them; the
# supervised options' own checks may come from argparse (cli.py) or from SLSettings)
PROBES = [
    # Nonsense numbers: every number finite and in range, the message names key and range.
    ("komi-nan", None, [*TRAIN, "komi=nan"], 2, "komi must be finite and in [-361, 361], got nan"),
    ("lr-inf", None, [*TRAIN, "learning_rate=inf"], 2,
     "learning_rate must be finite and > 0, got inf"),
    ("eval-games-0", None, [*TRAIN, "eval_every=1", "eval_games=0"], 2,
     "eval_games must be >= 1 when eval_every > 0"),
    ("gumbel-scale-neg", None, [*TRAIN, "gumbel_scale=-0.5"], 2,
     "gumbel_scale must be finite and >= 0, got -0.5"),
    ("dirichlet-alpha-0", None, [*TRAIN, "search=puct", "dirichlet_alpha=0"], 2,
     "dirichlet_alpha must be finite and > 0, got 0.0"),
    ("weight-decay-neg", None, [*TRAIN, "weight_decay=-1e-4"], 2,
     "weight_decay must be finite and >= 0"),
    ("grad-clip-neg", None, [*TRAIN, "grad_clip=-1"], 2, "grad_clip must be finite and >= 0"),
    ("value-weight-neg", None, [*TRAIN, "value_weight=-1"], 2,
     "value_weight must be finite and >= 0"),
    ("temperature-moves-neg", None, [*TRAIN, "temperature_moves=-1"], 2,
     "temperature_moves must be >= 0, got -1"),
    ("temperature-nan", None, [*TRAIN, "temperature=nan"], 2,
     "temperature must be finite and > 0, got nan"),
    ("momentum-1", None, [*TRAIN, "optimizer=sgd", "momentum=1"], 2,
     "momentum must be finite and in [0, 1), got 1.0"),
    ("train-batch-over-buffer", None, [*TRAIN, "train_batch=64"], 2,
     "train_batch must be in 1..buffer_capacity (48), got 64"),
    ("seed-neg", None, [*TRAIN, "seed=-1"], 2, "seed must be in 0..4294967295, got -1"),
    # Overrides separated by a space: refused, never dropped.
    ("space-override", None, [*TRAIN, "komi", "5.5"], 2,
     "'komi 5.5' is not an override: write each as key=value or --key=value (e.g. komi=5.5)"),
    ("space-dash-override", None, [*TRAIN, "--komi", "5.5"], 2, "unrecognized arguments: --komi"),
    # Run directories and their files.
    ("init-from-missing", None, [*TRAIN, "init_from={tmp}/nowhere"], 2,
     "nowhere is not a run directory (no config.json)"),
    ("run-dir-is-file", run_dir_is_a_file, TRAIN, 2, "is a file, not a directory"),
    ("config-array", config_json("[1, 2]"), RESUME, 2,
     'must hold a JSON object of config keys and values (like {"size": 9}), got an array [1, 2]'),
    ("config-null", config_json("null"), RESUME, 2, "must hold a JSON object"),
    ("config-nan", config_json('{"komi": NaN}'), RESUME, 2, "config.json: komi must be finite"),
    ("config-not-json", config_json("{not json"), RESUME, 2, "cannot read config"),
    ("config-is-dir", saved_run("config dir"), RESUME, 2, "config.json is not a file"),
    ("metrics-bad-line", saved_run("metrics"), RESUME, 2,
     "metrics.jsonl:2: not a metrics record: 'not json'. Delete that line"),
    ("checkpoints-is-file", saved_run("checkpoints file"), RESUME, 2,
     "is a file where the run's checkpoints directory belongs"),
    # supervised
    ("sl-run-dir-is-file", run_dir_is_a_file, SUPERVISED, 2, "is a file, not a directory"),
    ("sl-holdout-nan", None, [*SUPERVISED, "--holdout", "nan"], 2,
     ("--holdout", "finite", "got nan")),
    ("sl-steps-0", None, [*SUPERVISED, "--steps", "0"], 2, ("--steps", ">= 1", "got 0")),
    ("sl-eval-every-0", None, [*SUPERVISED, "--eval-every", "0"], 2, ("--eval-every", ">= 1")),
    ("sl-lr-nan", None, [*SUPERVISED, "learning_rate=nan"], 2, "learning_rate must be finite"),
    ("sl-space-override", None, [*SUPERVISED, "size", "9"], 2, "'size 9' is not an override"),
    ("sl-too-long", sgf_data(long_game(30002)), SUPERVISED_ON, 2,
     "too long: 1"),
    ("sl-collection", sgf_data(NINE + "\n(;GM[1]SZ[25];B[aa])\n"), SUPERVISED_ON, 2,
     "(1 SGF files, 2 games; skipped: malformed: 1, size 9x9: 1)"),
]


@pytest.fixture
def no_compiling(monkeypatch):
    """Makes reaching the compile step (a refused probe never should) fail the test."""
    def fail(*args, **kwargs):
        raise AssertionError("reached the compile step")

    monkeypatch.setattr("alphago_jax.train.make_train", fail)
    monkeypatch.setattr("alphago_jax.supervised.train.train_supervised", fail)


@pytest.mark.parametrize("setup, argv, code, words",
                         [pytest.param(*p[1:], id=p[0]) for p in PROBES])
def test_bad_input_is_refused_before_compiling(tmp_path, capsys, no_compiling, setup, argv, code,
                                               words):
    if setup is not None:
        setup(tmp_path)
    before = snapshot(tmp_path)
    names = {"run": tmp_path / "run", "data": tmp_path / "data", "tmp": tmp_path}
    got, err = run_cli([a.format(**names) for a in argv], capsys)
    assert got == code, err
    for w in (words,) if isinstance(words, str) else words:
        assert w in err
    assert "Traceback" not in err
    assert snapshot(tmp_path) == before  # nothing created, written or changed


# ---------------------------------------------------------------------- real run directories
RUN_ARGS = TINY + ["iterations=2", "checkpoint_every=1", "eval_every=0"]


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> Path:
    """A run directory as a run killed while saving its checkpoint of step 2 leaves it:
    config.json (iterations=2), checkpoints 1 and 2 (the state after init), and metrics.jsonl
    with steps 1 and 2 and a torn third line. Built without running an iteration."""
    run = tmp_path_factory.mktemp("template") / "run"
    run.mkdir()
    cfg = make_config("default", RUN_ARGS)
    cfg.save(run / "config.json")
    trainer = make_train(cfg)
    carry = trainer.init(jax.random.key(0))
    with Checkpointer(runs.checkpoint_dir(run), async_save=False) as ckpt:
        for step in (1, 2):
            runs.save_state(ckpt, step, carry, iteration=step)
    rows = [{"step": s, "time": 1.0, "loss": 1.0 / s} for s in (1, 2)]
    text = "".join(json.dumps(r) + "\n" for r in rows) + '{"step": 3, "lo'
    (run / METRICS_FILE).write_text(text)
    return run


@pytest.fixture
def run_copy(template, tmp_path) -> Path:
    run = tmp_path / "run"
    shutil.copytree(template, run)
    return run


def _garbage(directory: Path) -> None:
    for f in directory.rglob("*"):
        if f.is_file():
            f.write_bytes(b"garbage")


CORRUPTIONS = {
    "params-garbage": lambda step: _garbage(step / "params"),
    "opt-state-missing": lambda step: shutil.rmtree(step / "opt_state"),
    "manifest-not-an-object": lambda step: [f.write_text("[1, 2]") for f in
                                            (step / "manifest").rglob("*") if f.is_file()],
    "replay-data-flipped": lambda step: [f.write_bytes(bytes(b ^ 0xFF for b in f.read_bytes()))
                                         for f in (step / "replay").rglob("*")
                                         if f.is_file() and f.parent.name == "d"],
}


@pytest.mark.parametrize("corrupt", sorted(CORRUPTIONS))
def test_corrupt_latest_checkpoint_names_the_directory_to_delete(run_copy, capsys, corrupt):
    step_dir = run_copy / "checkpoints" / "2"
    CORRUPTIONS[corrupt](step_dir)
    before = snapshot(run_copy)
    code, err = run_cli(["train", "--run-dir", run_copy], capsys)
    assert code == 2 and "Traceback" not in err, err
    message = err.strip().splitlines()[-1]
    assert message.startswith("alphago-jax train: checkpoint step 2")
    assert str(step_dir) in message and "delete" in message.lower()
    assert snapshot(run_copy) == before  # nothing repaired, trained or written
    if corrupt != "manifest-not-an-object":  # a restore failed: its abandoned reads are quieted
        assert getattr(sys.unraisablehook, "quiets_abandoned_reads", False)

    # Deleting the named directory, as the message says, resumes from step 1.
    shutil.rmtree(step_dir)
    code, err = run_cli(["train", "--run-dir", run_copy, "iterations=1"], capsys)
    assert code == 0 and "resumed from iteration 1" in err, err


def test_torn_metrics_are_repaired_on_resume(run_copy, capsys):
    """Resuming from checkpoint 1 drops the torn line and the record of step 2 (the run logs it
    again): the file ends with one record per step, and step 1's line is kept as written.
    (Before, each new record was glued onto the torn line: the first was lost, the second made
    the file unreadable and the run end in a ValueError.)"""
    shutil.rmtree(run_copy / "checkpoints" / "2")  # the kill came before checkpoint 2 was done
    first_line = (run_copy / METRICS_FILE).read_text().splitlines()[0]
    code, err = run_cli(["train", "--run-dir", run_copy, "iterations=3"], capsys)
    assert code == 0 and "Traceback" not in err, err
    assert "resumed from iteration 1" in err
    records = read_metrics(run_copy, dedupe=False)
    assert [r["step"] for r in records] == [1, 2, 3]
    assert records[1]["time"] != 1.0  # step 2 is the new run's record
    assert (run_copy / METRICS_FILE).read_text().splitlines()[0] == first_line
    assert "dropped a torn last line" in err and "dropped 1 record(s) after step 1" in err
    with Checkpointer(runs.checkpoint_dir(run_copy), writer=False) as ckpt:
        assert ckpt.all_steps() == [1, 2, 3]
