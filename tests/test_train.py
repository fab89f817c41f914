"""Tests for the training loop (alphago_jax.train, alphago_jax.learner): SGD learns, a resumed run
is bit-identical to an uninterrupted one, and the `train` CLI runs, logs, checkpoints, resumes."""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from alphago_jax import cli
from alphago_jax.checkpoint import Checkpointer
from alphago_jax.config import TrainConfig, make_config
from alphago_jax.learner.learner import TrainState, make_optimizer, sgd_step
from alphago_jax.logging import read_metrics
from alphago_jax.replay import buffer as replay
from alphago_jax.train import make_train

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


def _iterate(trainer, carry, iterations):
    """Runs iterations with the keys `train.main` uses; returns (carry, host metrics)."""
    base = jax.random.key(trainer.cfg.seed)
    metrics = []
    for it in iterations:
        carry, m = trainer.iteration(carry, jax.random.fold_in(base, 2 + it))
        metrics.append({k: float(v) for k, v in jax.device_get(m).items()})
    return carry, metrics


def _fresh(trainer):
    return trainer.init(jax.random.fold_in(jax.random.key(trainer.cfg.seed), 0))


@pytest.fixture(scope="module")
def straight(trainer):
    """An uninterrupted run of ITERATIONS iterations: (final carry, per-iteration metrics)."""
    return _iterate(trainer, _fresh(trainer), range(ITERATIONS))


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
    batch = replay.sample(carry.replay, jax.random.key(7), 64, trainer.cfg.size, False)
    assert set(np.unique(np.asarray(batch.value)).tolist()) <= {-1.0, 0.0, 1.0}
    cfg = dataclasses.replace(trainer.cfg, lr_schedule="constant", learning_rate=1e-2)
    optimizer = make_optimizer(cfg, 100)
    params = jax.tree.map(jnp.copy, carry.train.params)
    state = TrainState(params=params, opt_state=optimizer.init(params), step=jnp.int32(0))
    step = jax.jit(lambda s, b: sgd_step(s, b, trainer.apply, optimizer, cfg))
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
    carry, _ = _iterate(trainer, _fresh(trainer), range(half))
    saved = jax.tree.map(np.asarray, carry)
    ckpt = Checkpointer(tmp_path / "checkpoints", keep=2)
    ckpt.save(half, carry)
    ckpt.close()

    # A new process would do this: a new Trainer, a fresh carry as the target, restore.
    resumed = make_train(trainer.cfg)
    with Checkpointer(tmp_path / "checkpoints") as ckpt:
        assert ckpt.latest_step() == half
        carry = ckpt.restore(_fresh(resumed), half)
    _assert_trees_equal(carry, saved, "restored carry")
    assert int(carry.iteration) == half
    carry, _ = _iterate(resumed, carry, range(half, ITERATIONS))

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
