"""Data-parallel equivalence checks, run by tests/test_scale.py in a subprocess that sees D
forced CPU devices (JAX_NUM_CPU_DEVICES, set before jax is imported).

`python tests/scale_checks.py RUN_DIR [CHECK ...]` runs every check (or those named) and prints
one JSON line {check: "ok" or the failure}; it also leaves RUN_DIR as a run directory trained
on D devices (config.json + a checkpoint) for the resume-on-another-count test.
"""

from __future__ import annotations

import json
import sys
import traceback
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import PartitionSpec as P

from alphago_jax import runs
from alphago_jax.checkpoint import Checkpointer
from alphago_jax.config import make_config
from alphago_jax.learner import TrainState, make_optimizer, sgd_step
from alphago_jax.loop import iteration_key, run_iterations
from alphago_jax.replay import buffer as replay
from alphago_jax.replay.buffer import Sample
from alphago_jax.selfplay import selfplay
from alphago_jax.trainer import DATA, device_slice, id_span, make_train

# The tiny run of tests/test_train.py with global batches divisible by 2.
TINY = [
    "size=5", "blocks=1", "channels=8", "num_simulations=2", "max_num_considered_actions=2",
    "fast_simulations=2", "selfplay_batch=4", "selfplay_steps=4", "max_moves=6",
    "temperature_moves=2", "buffer_capacity=48", "min_buffer=8", "train_batch=16",
    "sgd_steps=1", "eval_games=2", "eval_simulations=2", "wandb=false", "iterations=2",
]


def _equal(a, b, what: str) -> None:
    assert jax.tree.structure(a) == jax.tree.structure(b), what
    for i, (x, y) in enumerate(zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True)):
        assert np.array_equal(np.asarray(x), np.asarray(y)), f"{what}: leaf {i} differs"


def sgd_step_matches_one_device(trainer) -> None:
    """(a) One SGD step over a global batch split on the mesh == the one-device step on it."""
    cfg, net = trainer.cfg, trainer.network
    n, s, c = cfg.train_batch, cfg.size, net.num_planes
    ks = jax.random.split(jax.random.key(3), 4)
    batch = Sample(
        x=jax.random.bernoulli(ks[0], 0.4, (n, s, s, c)).astype(jnp.float32),
        policy=jax.nn.softmax(jax.random.normal(ks[1], (n, s * s + 1))),
        value=jax.random.randint(ks[2], (n,), -1, 2).astype(jnp.float32),
        search_value=jnp.zeros((n,)), ownership=jnp.zeros((n, s, s)),
        own_weight=jnp.zeros((n,)),
    )
    params = jax.jit(net.init)(ks[3])
    # A constant rate: the run's warm-up starts at 0, which would compare two unmoved networks.
    # SGD rather than the run's AdamW: an update linear in the gradient, so the comparison
    # measures the gradients. Adam's first update is lr * g / (|g| + eps), which turns a float
    # rounding difference (~1e-7) in a near-zero gradient into a difference of up to lr.
    optimizer = make_optimizer(
        cfg.optimizer_settings()._replace(lr_schedule="constant", optimizer="sgd"), 1)
    state = TrainState(params=params, opt_state=optimizer.init(params), step=jnp.int32(0))
    weights = trainer.learner.weights

    one, m_one = jax.jit(lambda st, b: sgd_step(st, b, net, optimizer, weights))(state, batch)

    def device_step(st, b):
        new, m = sgd_step(st, b, net, optimizer, weights, axis_name=DATA)
        return new, jax.lax.pmean(m, DATA)

    split = jax.jit(jax.shard_map(device_step, mesh=trainer.mesh, in_specs=(P(), P(DATA)),
                                  out_specs=(P(), P()), check_vma=False))
    many, m_many = split(state, batch)
    moved = [float(jnp.max(jnp.abs(a - b))) for a, b in
             zip(jax.tree.leaves(one.params), jax.tree.leaves(params), strict=True)]
    assert max(moved) > 1e-4, "the step moved nothing: the comparison would be empty"
    for a, b in zip(jax.tree.leaves(one.params), jax.tree.leaves(many.params), strict=True):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-5, atol=1e-6)
    for k in ("loss", "policy_loss", "value_loss", "grad_norm"):
        np.testing.assert_allclose(float(m_one[k]), float(m_many[k]), rtol=1e-5, err_msg=k)


def selfplay_matches_one_device_runs(trainer) -> None:
    """(b) D devices self-playing B games == D one-device self-plays of B / D games under the
    per-device keys (the first iteration: no game has finished, so no SGD step yet)."""
    cfg, d_count = trainer.cfg, trainer.num_devices
    base = jax.random.key(cfg.seed)
    init_key = jax.random.fold_in(base, 0)
    carry = trainer.init(init_key)
    params = jax.device_get(carry.train.params)
    ids = np.asarray(carry.selfplay.game_id)
    assert len(set(ids.ravel().tolist())) == ids.size, "game ids collide across devices"
    start = jax.device_get(carry)
    carry, metrics = trainer.iteration(carry, iteration_key(base, 0))
    assert int(metrics["trained"]) == 0
    span = id_span(d_count, 1)
    b = trainer.share.selfplay_batch
    games = 0
    k_sp = jax.random.split(init_key)[1]  # as Trainer._device_init splits it
    for d in range(d_count):
        sp = selfplay.init(trainer.rules, b, jax.random.fold_in(k_sp, d), trainer.settings,
                           d * span)
        _equal(sp, device_slice(start.selfplay, d), f"device {d} initial games")
        buf = replay.init(trainer.rules, trainer.share.buffer_capacity, cfg.history,
                          cfg.ownership)
        key = jax.random.split(jax.random.fold_in(iteration_key(base, 0), d))[0]
        sp, buf, stats = jax.jit(
            lambda p, sp, buf, k: selfplay.run(trainer.rules, trainer.network, trainer.settings,
                                               p, sp, buf, k, cfg.selfplay_steps)
        )(params, sp, buf, key)
        _equal(sp, device_slice(carry.selfplay, d), f"device {d} games")
        _equal(buf, device_slice(carry.replay, d), f"device {d} replay shard")
        games += int(stats["games"])
    assert int(metrics["games"]) == games
    assert int(metrics["positions"]) == cfg.selfplay_batch * cfg.selfplay_steps


def resume_is_bit_identical(trainer, run_dir: Path) -> None:
    """(c) 2 iterations straight == 1 iteration, checkpoint, restore, 1 iteration."""
    cfg = trainer.cfg
    base = jax.random.key(cfg.seed)
    fresh = lambda: trainer.init(jax.random.fold_in(base, 0))  # noqa: E731
    straight = jax.device_get(run_iterations(trainer, fresh(), base, 2))
    half = run_iterations(trainer, fresh(), base, 1)
    cfg.save(runs.config_path(run_dir))
    with Checkpointer(runs.checkpoint_dir(run_dir), async_save=False) as ckpt:
        runs.save_state(ckpt, 1, half)
        assert ckpt.metadata(1)["devices"] == trainer.num_devices
    with Checkpointer(runs.checkpoint_dir(run_dir), writer=False) as ckpt:
        restored = runs.restore_state(ckpt, make_train(cfg), 1)
    assert restored.replay.ptr.sharding.spec == P(DATA)
    resumed = jax.device_get(run_iterations(trainer, restored, base, 2))
    _equal(resumed.train, straight.train, "train state")
    _equal(resumed.selfplay, straight.selfplay, "self-play state")
    _equal(resumed.replay, straight.replay, "replay")


def main(run_dir: str, only: list[str]) -> None:
    trainer = make_train(make_config("default", TINY))
    results = {"devices": trainer.num_devices}
    checks = [("sgd_step", lambda: sgd_step_matches_one_device(trainer)),
              ("selfplay", lambda: selfplay_matches_one_device_runs(trainer)),
              ("resume", lambda: resume_is_bit_identical(trainer, Path(run_dir)))]
    for name, check in checks:
        if only and name not in only:
            continue
        try:
            check()
            results[name] = "ok"
        except Exception:  # reported to the test, which shows it
            results[name] = traceback.format_exc(limit=4)
        print(f"{name}: {results[name]}", file=sys.stderr, flush=True)  # progress
    print(json.dumps(results))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2:])
