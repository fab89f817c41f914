"""`alphago-jax train`: self-play training.

`make_train(cfg)` builds a `Trainer` whose `iteration(carry, key)` is one compiled function:
self-play `selfplay_steps` lockstep moves with search -> write positions to the replay buffer ->
`sgd_steps` optimizer steps. Python only loops over iterations, logs, evaluates and checkpoints.
"""

from __future__ import annotations

import dataclasses
import functools
import sys
import time
from pathlib import Path

import chex
import jax
import jax.numpy as jnp
from flax import nnx

from alphago_jax import evaluate
from alphago_jax.config import ConfigError, TrainConfig, make_config
from alphago_jax.features.planes import num_planes
from alphago_jax.learner.learner import TrainState, make_optimizer, sgd_step
from alphago_jax.nets import (
    NetConfig,
    describe,
    flops_per_eval,
    make_apply,
    make_network,
    split,
)
from alphago_jax.replay import buffer as replay
from alphago_jax.rules.go import Rules
from alphago_jax.search.mcts import SearchSettings, node_bytes
from alphago_jax.selfplay import selfplay


@chex.dataclass(frozen=True)
class Carry:
    """Everything an iteration changes; what a checkpoint saves."""

    train: TrainState
    selfplay: selfplay.SelfPlayState
    replay: replay.ReplayBuffer
    iteration: chex.Array


def rules_of(cfg: TrainConfig) -> Rules:
    return Rules(
        size=cfg.size, komi=cfg.komi, superko=cfg.superko, suicide=cfg.suicide,
        max_moves=cfg.max_moves or None, history=cfg.history,
    )


def net_config(cfg: TrainConfig) -> NetConfig:
    return NetConfig(
        kind=cfg.net, blocks=cfg.blocks, channels=cfg.channels, global_pool=cfg.global_pool,
        block_type=cfg.block_type, ownership=cfg.ownership, dtype=cfg.dtype,
    )


def search_settings(cfg: TrainConfig, num_simulations: int) -> SearchSettings:
    return SearchSettings(
        algorithm=cfg.search,
        num_simulations=num_simulations,
        max_num_considered_actions=cfg.max_num_considered_actions,
        gumbel_scale=cfg.gumbel_scale,
        value_scale=cfg.value_scale,
        maxvisit_init=cfg.maxvisit_init,
        rescale_values=cfg.rescale_values,
        dirichlet_alpha=cfg.dirichlet_alpha,
        dirichlet_fraction=cfg.dirichlet_fraction,
        pb_c_init=cfg.pb_c_init,
    )


class Trainer:
    """The compiled pieces of a run, built once from its config."""

    def __init__(self, cfg: TrainConfig):
        self.cfg = cfg
        self.rules = rules_of(cfg)
        self.net = net_config(cfg)
        model = make_network(self.net, num_planes(cfg.history), nnx.Rngs(cfg.seed))
        self.graphdef, params = split(model)
        self.apply = make_apply(self.graphdef)
        self.optimizer = make_optimizer(cfg, cfg.iterations * cfg.sgd_steps)
        self.settings = selfplay.SelfPlaySettings(
            full=search_settings(cfg, cfg.num_simulations),
            fast=search_settings(cfg, cfg.fast_simulations),
            history=cfg.history,
            temperature_moves=cfg.temperature_moves,
            temperature=cfg.temperature,
            playout_cap_fraction=cfg.playout_cap_fraction,
            resign_threshold=cfg.resign_threshold,
            resign_moves=cfg.resign_moves,
            no_resign_fraction=cfg.no_resign_fraction,
            policy_target=cfg.policy_target,
            ownership=cfg.ownership,
        )
        self.eval_settings = search_settings(cfg, cfg.eval_simulations)
        self.iteration = jax.jit(self._iteration, donate_argnums=0)

    # ------------------------------------------------------------------ state
    def init(self, key) -> Carry:
        """A fresh run: parameters from `key`, empty buffer, games at move 0."""
        k_net, k_sp = jax.random.split(key)
        model = make_network(self.net, num_planes(self.cfg.history), nnx.Rngs(k_net))
        _, params = split(model)
        return Carry(
            train=TrainState(
                params=params, opt_state=self.optimizer.init(params), step=jnp.int32(0)
            ),
            selfplay=selfplay.init(self.rules, self.cfg.selfplay_batch, k_sp, self.settings),
            replay=replay.init(
                self.rules, self.cfg.buffer_capacity, self.cfg.history, self.cfg.ownership
            ),
            iteration=jnp.int32(0),
        )

    def describe(self, params) -> str:
        shape = (self.cfg.size, self.cfg.size, num_planes(self.cfg.history))
        flops = flops_per_eval(self.apply, params, shape)
        nodes = node_bytes(self.rules)
        return (
            f"{describe(self.net, params, flops)} | tree node {nodes['total']} B "
            f"(embedding {nodes['embedding']} B)"
        )

    # ------------------------------------------------------------------ compiled iteration
    def _train_steps(self, ts: TrainState, buf, key):
        def body(ts, k):
            batch = replay.sample(buf, k, self.cfg.train_batch, self.cfg.size, self.cfg.symmetries)
            return sgd_step(ts, batch, self.apply, self.optimizer, self.cfg)

        # Fully unrolled: on XLA:CPU the conv gradients inside a while loop ran ~16x slower than
        # the same steps unrolled (8 steps of a 3x32 net: 18.6 vs 1.15 CPU-seconds).
        keys = jax.random.split(key, self.cfg.sgd_steps)
        ts, metrics = jax.lax.scan(body, ts, keys, unroll=True)
        return ts, jax.tree.map(jnp.mean, metrics)

    def _iteration(self, carry: Carry, key):
        k_sp, k_sgd = jax.random.split(key)
        sp, buf, stats = selfplay.run(
            self.rules, self.apply, self.settings, carry.train.params, carry.selfplay,
            carry.replay, k_sp, self.cfg.selfplay_steps,
        )
        n_ready = replay.num_ready(buf)
        # Train only once the buffer holds enough finished positions. A select rather than
        # lax.cond: on XLA:CPU conv gradients inside a cond branch ran ~14x slower (18.4 vs 1.3
        # CPU-seconds for 8 steps), and the steps wasted before the buffer fills are few.
        trained = n_ready >= self.cfg.min_buffer
        new_ts, losses = self._train_steps(carry.train, buf, k_sgd)
        ts = jax.tree.map(lambda a, b: jnp.where(trained, a, b), new_ts, carry.train)
        losses = jax.tree.map(lambda v: jnp.where(trained, v, 0.0), losses)
        metrics = {**stats, **losses, "buffer_ready": n_ready,
                   "trained": trained.astype(jnp.int32)}
        new = Carry(train=ts, selfplay=sp, replay=buf, iteration=carry.iteration + 1)
        return new, metrics

    # ------------------------------------------------------------------ evaluation
    def win_rate(self, params, opponent_params, key, games: int | None = None) -> dict:
        """Agent with `params` vs uniform random (`opponent_params=None`) or vs other params."""
        n = games or self.cfg.eval_games
        settings_b = None if opponent_params is None else self.eval_settings
        res = evaluate.play_match(
            self.rules, self.apply, self.cfg.history, self.eval_settings, settings_b,
            params, opponent_params, n, key,
        )
        return res.summary()


def make_train(cfg: TrainConfig) -> Trainer:
    return Trainer(cfg.validate())


# ---------------------------------------------------------------------- the CLI job
def resolve_config(run_dir: Path, preset: str, overrides: list[str]) -> TrainConfig:
    """A new run's config, or the saved one when resuming (then only `iterations` may change)."""
    wanted = make_config(preset, overrides)
    saved_path = run_dir / "config.json"
    if not saved_path.exists():
        return wanted
    saved = TrainConfig.load(saved_path)
    changed = {
        f.name for f in dataclasses.fields(TrainConfig)
        if getattr(saved, f.name) != getattr(wanted, f.name)
    } - {"iterations"}
    if changed and (overrides or preset != "default"):
        raise ConfigError(
            f"{run_dir} holds a run with a different config ({', '.join(sorted(changed))}); "
            "resume it without overrides or use a new --run-dir"
        )
    return dataclasses.replace(saved, iterations=wanted.iterations) if overrides else saved


def _log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def main(run_dir: str, preset: str = "default", overrides: list[str] | None = None) -> int:
    from alphago_jax.checkpoint import Checkpointer
    from alphago_jax.logging import RunLogger

    run_path = Path(run_dir)
    try:
        cfg = resolve_config(run_path, preset, list(overrides or []))
    except ConfigError as e:
        _log(f"alphago-jax train: {e}")
        return 2
    run_path.mkdir(parents=True, exist_ok=True)
    cfg.save(run_path / "config.json")

    trainer = make_train(cfg)
    base_key = jax.random.key(cfg.seed)
    carry = trainer.init(jax.random.fold_in(base_key, 0))
    _log(f"alphago-jax train: {cfg.size}x{cfg.size}, {cfg.search} {cfg.num_simulations} sims, "
         f"{cfg.selfplay_batch} games x {cfg.selfplay_steps} steps/iteration, "
         f"{cfg.iterations} iterations, run dir {run_path}")
    _log(f"network: {trainer.describe(carry.train.params)}")

    ckpt = Checkpointer(run_path / "checkpoints", keep=cfg.keep_checkpoints)
    start = ckpt.latest_step()
    if start is not None:
        carry = ckpt.restore(carry, start)
        _log(f"resumed from iteration {start}")
    start = int(carry.iteration)
    logger = RunLogger(run_path, cfg.to_dict(), total=cfg.iterations, initial=start,
                       use_wandb=cfg.wandb, project=cfg.wandb_project)
    # The opponent for "vs previous"; copied because the iteration donates the carry's buffers.
    previous = jax.tree.map(jnp.copy, carry.train.params)
    eval_key = jax.random.fold_in(base_key, 1)
    try:
        for it in range(start, cfg.iterations):
            t0 = time.perf_counter()
            carry, metrics = trainer.iteration(carry, jax.random.fold_in(base_key, 2 + it))
            metrics = {k: float(v) for k, v in jax.device_get(metrics).items()}
            dt = time.perf_counter() - t0
            moves = cfg.selfplay_batch * cfg.selfplay_steps
            metrics.update(
                iteration_s=dt, moves_per_s=moves / dt, games_per_s=metrics["games"] / dt,
                positions_per_s=metrics["positions"] / dt,
                buffer_fill=metrics["buffer_ready"] / cfg.buffer_capacity,
                black_win_rate=metrics["black_wins"] / max(metrics["games"], 1),
                mean_game_length=metrics["moves_in_games"] / max(metrics["games"], 1),
                false_resign_rate=metrics["false_resign"] / max(metrics["no_resign_checked"], 1),
            )
            done = it + 1
            if cfg.eval_every and (done % cfg.eval_every == 0 or done == cfg.iterations):
                k = jax.random.fold_in(eval_key, done)
                vs_random = trainer.win_rate(carry.train.params, None, k)
                vs_prev = trainer.win_rate(carry.train.params, previous, jax.random.fold_in(k, 1))
                previous = jax.tree.map(jnp.copy, carry.train.params)
                metrics.update(win_rate_vs_random=vs_random["win_rate"],
                               win_rate_vs_previous=vs_prev["win_rate"])
            logger.log(done, metrics)
            if done % cfg.checkpoint_every == 0 or done == cfg.iterations:
                ckpt.save(done, carry)
    finally:
        ckpt.wait()
        ckpt.close()
        logger.close()
    return 0


@functools.lru_cache(maxsize=32)
def abstract_trainer(cfg: TrainConfig) -> Trainer:
    """`make_train(cfg)` traced abstractly, one per config.

    The Trainer initialises a throw-away network eagerly, one small XLA compile per weight
    initialiser (15 s on a busy 2-core CPU). Under `eval_shape` nothing is compiled; the Trainer
    keeps only static pieces (config, rules, graphdef, apply, optimizer), so no traced value
    escapes. Sharing it (and so its `apply`, a jit static argument) between the checkpoints of
    one run means their searches compile once.
    """
    built = []
    jax.eval_shape(lambda: built.append(make_train(cfg)) or 0)
    return built[0]


def load_run(run_dir: str | Path, step: int | None = None) -> tuple[Trainer, Carry, int]:
    """The trainer and a checkpointed carry (default: the latest) of a run directory.

    Raises:
      ConfigError: not a run directory, or a bad config.json.
      CheckpointError: no such checkpoint, or one that does not load.
    """
    from alphago_jax.checkpoint import Checkpointer, CheckpointError

    run_path = Path(run_dir)
    if not (run_path / "config.json").is_file():
        raise ConfigError(f"{run_path} is not a run directory (no config.json)")
    cfg = TrainConfig.load(run_path / "config.json")
    trainer = abstract_trainer(cfg)
    # Shapes only: the restore fills them, so nothing is computed for a fresh carry.
    target = jax.eval_shape(trainer.init, jax.random.key(cfg.seed))
    with Checkpointer(run_path / "checkpoints", async_save=False, writer=False) as ckpt:
        steps = ckpt.all_steps()
        if not steps:
            raise CheckpointError(f"{run_path / 'checkpoints'} holds no complete checkpoint")
        if step is None:
            step = steps[-1]
        elif step not in steps:
            raise CheckpointError(f"{run_path} has no checkpoint for step {step} (steps: {steps})")
        carry = ckpt.restore(target, step)
    return trainer, carry, step


def evaluate_main(run_dir: str, games: int, sims: int | None, seed: int) -> int:
    """`alphago-jax evaluate`: the run's latest checkpoint vs uniform random."""
    from alphago_jax.checkpoint import CheckpointError

    try:
        trainer, carry, step = load_run(run_dir)
    except (ConfigError, CheckpointError) as e:
        _log(f"alphago-jax evaluate: {e}")
        return 2
    if sims is not None:
        trainer.eval_settings = trainer.eval_settings._replace(num_simulations=sims)
    t0 = time.perf_counter()
    r = trainer.win_rate(carry.train.params, None, jax.random.key(seed), games)
    _log(f"{games} games in {time.perf_counter() - t0:.1f}s, "
         f"{trainer.eval_settings.num_simulations} simulations per move")
    print(f"ckpt:{run_dir}@{step} vs random: {r['wins']}-{r['losses']}-{r['draws']}, "
          f"win rate {r['win_rate']:.3f} (95% CI {r['ci_low']:.3f}-{r['ci_high']:.3f})")
    return 0
