"""Tests for training (alphago_jax.trainer, loop, runs, train, learner): SGD learns, a resumed
run is bit-identical to an uninterrupted one, the `train` CLI runs, logs, checkpoints, resumes,
and its resume rules hold."""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from alphago_jax import cli, runs
from alphago_jax.checkpoint import Checkpointer
from alphago_jax.config import TrainConfig, make_config
from alphago_jax.learner import TrainState, make_optimizer, sgd_step
from alphago_jax.logging import read_metrics
from alphago_jax.loop import run_iterations
from alphago_jax.replay import buffer as replay
from alphago_jax.trainer import device_slice, make_train

# 5x5 games end by the move cap after 6 moves: 4 lockstep games x 4 moves per iteration finish
# their first games in iteration 2 (24 positions >= min_buffer), so SGD starts there.
TINY = [
    "size=5", "blocks=1", "channels=8", "num_simulations=2", "max_num_considered_actions=2",
    "fast_simulations=2", "selfplay_batch=4", "selfplay_steps=4", "max_moves=6",
    "temperature_moves=2", "buffer_capacity=48", "min_buffer=8", "train_batch=16",
    "sgd_steps=1", "eval_games=2", "eval_simulations=2", "wandb=false",
]
ITERATIONS = 4


@pytest.fixture(scope="module")
def trainer():
    return make_train(make_config("default", TINY + [f"iterations={ITERATIONS}"]))


def _iterate(trainer, carry, stop):
    """Runs the iterations up to `stop` through the host loop `train.main` uses; returns
    (carry, host metrics)."""
    metrics = []
    carry = run_iterations(trainer, carry, jax.random.key(trainer.cfg.seed), stop,
                           [lambda done, c, m: metrics.append(m)])
    return carry, metrics


def _fresh(trainer):
    return trainer.init(jax.random.fold_in(jax.random.key(trainer.cfg.seed), 0))


@pytest.fixture(scope="module")
def straight(trainer):
    """An uninterrupted run of ITERATIONS iterations: (final carry, per-iteration metrics)."""
    return _iterate(trainer, _fresh(trainer), ITERATIONS)


def _assert_trees_equal(a, b, what):
    la, lb = jax.tree.leaves(a), jax.tree.leaves(b)
    assert jax.tree.structure(a) == jax.tree.structure(b), what
    for i, (x, y) in enumerate(zip(la, lb, strict=True)):
        x, y = np.asarray(x), np.asarray(y)
        assert x.dtype == y.dtype and x.shape == y.shape, (what, i)
        assert np.array_equal(x, y), f"{what}: leaf {i} differs"


def test_iterations_selfplay_then_train(straight):
    carry, metrics = straight
    assert int(carry.iteration) == ITERATIONS
    assert [m["trained"] for m in metrics] == [0, 1, 1, 1]  # SGD once min_buffer is reached
    assert int(carry.train.step) == 3  # one SGD step in each trained iteration
    assert all(m["positions"] == 16 for m in metrics)
    for m in metrics[1:]:
        assert m["loss"] > 0 and np.isfinite(m["loss"]) and m["grad_norm"] > 0
        assert m["buffer_ready"] >= 8
    assert metrics[0]["loss"] == 0  # untrained iteration: zeros, not garbage
    assert sum(m["games"] for m in metrics) >= 8


def test_loss_decreases_on_a_fixed_batch(trainer, straight):
    carry, _ = straight
    buf = device_slice(carry.replay)  # the one device's replay shard
    batch = replay.sample(buf, jax.random.key(7), 64, trainer.cfg.size, False)
    assert set(np.unique(np.asarray(batch.value)).tolist()) <= {-1.0, 0.0, 1.0}
    cfg = dataclasses.replace(trainer.cfg, lr_schedule="constant", learning_rate=1e-2)
    optimizer = make_optimizer(cfg.optimizer_settings(), 100)
    params = jax.tree.map(jnp.copy, carry.train.params)
    state = TrainState(params=params, opt_state=optimizer.init(params), step=jnp.int32(0))
    weights = cfg.learner_settings().weights
    step = jax.jit(lambda s, b: sgd_step(s, b, trainer.network, optimizer, weights))
    history = []
    for _ in range(40):
        state, m = step(state, batch)
        history.append({k: float(v) for k, v in m.items()})
    first, last = history[0], history[-1]
    assert int(state.step) == 40
    assert last["loss"] < first["loss"] - 0.3, (first["loss"], last["loss"])
    assert last["value_loss"] < 0.7 * first["value_loss"]
    assert last["policy_kl"] < first["policy_kl"]
    assert last["value_mse"] < first["value_mse"]


def test_resume_is_bit_identical(trainer, straight, tmp_path):
    half = ITERATIONS // 2
    carry, _ = _iterate(trainer, _fresh(trainer), half)
    saved = jax.tree.map(np.asarray, carry)
    ckpt = Checkpointer(tmp_path / "checkpoints", keep=2)
    runs.save_state(ckpt, half, carry)
    ckpt.close()

    # A new process would do this: a new Trainer, restore from the items.
    resumed = make_train(trainer.cfg)
    with Checkpointer(tmp_path / "checkpoints") as ckpt:
        assert ckpt.latest_step() == half
        assert ckpt.items(half) == ["opt_state", "params", "replay", "selfplay"]
        carry = runs.restore_state(ckpt, resumed, half)
    _assert_trees_equal(carry, saved, "restored carry")
    assert int(carry.iteration) == half
    carry, _ = _iterate(resumed, carry, ITERATIONS)

    final, _ = straight
    _assert_trees_equal(carry.train.params, final.train.params, "params")
    _assert_trees_equal(carry.train.opt_state, final.train.opt_state, "optimizer state")
    _assert_trees_equal(carry.replay, final.replay, "replay buffer")
    _assert_trees_equal(carry.selfplay, final.selfplay, "self-play state")
    assert int(carry.iteration) == int(final.iteration) == ITERATIONS


def test_cli_train_smoke_and_resume(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("WANDB_MODE", "disabled")
    run = tmp_path / "run"
    argv = ["train", "--run-dir", str(run), *TINY, "eval_every=2", "checkpoint_every=1",
            "--iterations=2"]
    assert cli.main(argv) == 0
    err = capsys.readouterr().err
    assert "5x5" in err and "network:" in err

    cfg = TrainConfig.load(run / "config.json")
    assert (cfg.size, cfg.channels, cfg.iterations, cfg.wandb) == (5, 8, 2, False)
    records = read_metrics(run)
    assert [r["step"] for r in records] == [1, 2]
    for r in records:
        for key in ("loss", "policy_loss", "value_loss", "games_per_s", "positions"):
            assert key in r and np.isfinite(r[key]), key
    assert records[1]["trained"] == 1 and records[1]["loss"] > 0
    assert "win_rate_vs_random" not in records[0]  # eval_every=2
    assert 0.0 <= records[1]["win_rate_vs_random"] <= 1.0
    assert 0.0 <= records[1]["win_rate_vs_previous"] <= 1.0
    with Checkpointer(run / "checkpoints") as ckpt:
        assert ckpt.all_steps() == [1, 2]

    # The same command again: it resumes at iteration 2 and has nothing left to do.
    assert cli.main(argv) == 0
    assert "resumed from iteration 2" in capsys.readouterr().err
    assert [r["step"] for r in read_metrics(run, dedupe=False)] == [1, 2]

    # A different config for the same run directory is refused before anything runs.
    assert cli.main(["train", "--run-dir", str(run), *TINY, "channels=16"]) == 2
    err = capsys.readouterr().err
    assert "different config" in err and "channels" in err


def test_load_params_reads_only_the_params_item(trainer, straight, tmp_path):
    carry, _ = straight
    (tmp_path / "run").mkdir()
    trainer.cfg.save(tmp_path / "run" / "config.json")
    with Checkpointer(tmp_path / "run" / "checkpoints") as ckpt:
        runs.save_state(ckpt, ITERATIONS, carry)
    # Break every item but params: a reader of params alone must not notice.
    for item in ("opt_state", "selfplay", "replay"):
        for f in (tmp_path / "run" / "checkpoints" / str(ITERATIONS) / item).rglob("*"):
            if f.is_file():
                f.write_bytes(b"garbage")
    loaded = runs.load_params(tmp_path / "run")
    assert loaded.step == ITERATIONS and loaded.network == trainer.network
    _assert_trees_equal(loaded.params, carry.train.params, "params")


def test_resume_rules(tmp_path, capsys, monkeypatch):
    """Resuming: only `iterations` may change; other overrides equal to the saved values are
    accepted and keep the saved `iterations`; more iterations keep the LR schedule's span."""
    run = tmp_path / "run"
    base = ["train", "--run-dir", str(run), *TINY, "iterations=1", "checkpoint_every=1",
            "eval_every=0"]
    monkeypatch.setenv("WANDB_MODE", "disabled")
    assert cli.main(base) == 0
    saved = TrainConfig.load(run / "config.json")
    assert saved.schedule_steps == 1 * saved.sgd_steps

    # Equal overrides without iterations: resumes, keeps the saved iterations (the old code
    # reset them to the preset's 120), and does not rewrite config.json.
    before = (run / "config.json").stat().st_mtime_ns
    cfg, write = runs.resolve_config(run, "default", TINY)
    assert cfg.iterations == 1 and not write
    assert (run / "config.json").stat().st_mtime_ns == before

    # More iterations: the schedule keeps its original span, instead of stretching mid-run.
    cfg, write = runs.resolve_config(run, "default", TINY + ["iterations=3"])
    assert write and cfg.iterations == 3 and cfg.schedule_iterations == 1
    assert cfg.schedule_steps == saved.schedule_steps
    assert cli.main([*base[:-3], "iterations=3", "checkpoint_every=1", "eval_every=0"]) == 0
    assert TrainConfig.load(run / "config.json").iterations == 3
    assert [r["step"] for r in read_metrics(run, dedupe=False)] == [1, 2, 3]

    # Anything else that differs is refused, naming the key with both values.
    assert cli.main([*base, "komi=5.5"]) == 2
    err = capsys.readouterr().err
    assert "komi=5.5 (saved 7.5)" in err


def test_bad_init_from_writes_nothing_and_the_corrected_rerun_works(tmp_path, capsys,
                                                                    monkeypatch):
    """A bad `init_from` is refused before anything compiles or is written (the old code wrote
    config.json and compiled first, then refused the corrected command as 'a different
    config'); the corrected command in the same run directory warm-starts and trains."""
    monkeypatch.setenv("WANDB_MODE", "disabled")
    run, src = tmp_path / "run", tmp_path / "src"
    argv = ["train", "--run-dir", str(run), *TINY, "iterations=1", "eval_every=0"]
    built = []
    monkeypatch.setattr("alphago_jax.train.make_train",
                        lambda *a, **k: built.append(1) or make_train(*a, **k))
    assert cli.main([*argv, f"init_from={src}"]) == 2
    err = capsys.readouterr().err
    assert f"{src} is not a run directory" in err and "Traceback" not in err
    assert not built and not run.exists()

    # The source: a run directory whose checkpoint holds parameters alone (as a supervised
    # run's does).
    cfg = make_config("default", TINY)
    src.mkdir()
    cfg.save(src / "config.json")
    params = jax.jit(cfg.network().init)(jax.random.key(1))
    with Checkpointer(runs.checkpoint_dir(src), async_save=False) as ckpt:
        runs.save_params(ckpt, 0, params)
    assert cli.main([*argv, f"init_from={src}"]) == 0
    assert f"warm start from {src}@0" in capsys.readouterr().err
    assert TrainConfig.load(run / "config.json").init_from == str(src)
    assert [r["step"] for r in read_metrics(run)] == [1]


def test_bootstrap_leaves_the_policy_head_untouched():
    """Bootstrap iterations train the trunk and value head; the policy head, which gets a zero
    gradient, must not be moved by weight decay either (as the config's docstring says)."""
    from alphago_jax.nets import policy_head_mask

    cfg = make_config("default", TINY + ["bootstrap_iterations=2", "weight_decay=0.1",
                                         "min_buffer=0", "iterations=2"])
    trainer = make_train(cfg)
    carry = _fresh(trainer)
    before = jax.tree.map(np.asarray, carry.train.params)
    carry, metrics = _iterate(trainer, carry, 2)
    assert all(m["bootstrap"] == 1 and m["trained"] == 1 for m in metrics)
    mask = policy_head_mask(before)
    moved = jax.tree.map(lambda a, b: bool(np.any(a != np.asarray(b))), before, carry.train.params)
    policy = [m for m, k in zip(jax.tree.leaves(moved), jax.tree.leaves(mask), strict=True) if k]
    rest = [m for m, k in zip(jax.tree.leaves(moved), jax.tree.leaves(mask), strict=True) if not k]
    assert policy and not any(policy)  # every policy-head leaf bit-identical
    assert any(rest)  # the trunk and value head did learn


FORMAT1_RUN = Path(__file__).parent / "data" / "format1_run"
"""A 5x5 run directory written before checkpoint items existed (one `state` item holding the
whole carry; produced by alphago-jax at commit 8c1a770)."""


def test_format1_run_directory_loads_params_and_refuses_resume(tmp_path, capsys, monkeypatch):
    loaded = runs.load_params(FORMAT1_RUN)
    assert loaded.step == 2 and loaded.cfg.size == 5
    target = loaded.network.abstract_params()
    assert jax.tree.structure(loaded.params) == jax.tree.structure(target)
    assert any(np.asarray(x).any() for x in jax.tree.leaves(loaded.params))
    # The params item of the old layout, read directly, holds the same values.
    with Checkpointer(FORMAT1_RUN / "checkpoints", writer=False) as ckpt:
        assert ckpt.items(2) == ["state"]
        again = ckpt.restore_part("state", ("train", "params"), target, 2)
    _assert_trees_equal(again, loaded.params, "format-1 params")
    # Resuming it is refused with a message saying what to do instead.
    run = tmp_path / "old"
    shutil.copytree(FORMAT1_RUN, run)
    monkeypatch.setenv("WANDB_MODE", "disabled")
    assert cli.main(["train", "--run-dir", str(run)]) == 2
    err = capsys.readouterr().err
    assert "older alphago-jax" in err and f"init_from={run}" in err
    assert "Traceback" not in err


def test_accelerator_forms_match_cpu_forms(trainer, straight):
    """The GPU/TPU forms (rolled SGD scan, lax.cond) compute what the XLA:CPU forms (unrolled
    steps, a select) compute: same metrics and parameters after the same iterations."""
    gpu = make_train(trainer.cfg, backend="gpu")
    assert trainer.cpu_forms and not gpu.cpu_forms
    carry, metrics = _iterate(gpu, _fresh(gpu), ITERATIONS)
    final, expected = straight
    assert [m["trained"] for m in metrics] == [m["trained"] for m in expected]
    for got, want in zip(metrics, expected, strict=True):
        for k in ("loss", "policy_loss", "value_loss", "games", "positions"):
            np.testing.assert_allclose(got[k], want[k], rtol=1e-4, atol=1e-5, err_msg=k)
    for a, b in zip(jax.tree.leaves(carry.train.params), jax.tree.leaves(final.train.params),
                    strict=True):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-4, atol=1e-5)
