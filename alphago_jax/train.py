"""`alphago-jax train`: self-play training.

`make_train(cfg)` builds a `Trainer` whose `iteration(carry, key)` is one compiled function:
self-play `selfplay_steps` lockstep moves with search -> write positions to the replay buffer ->
`sgd_steps` optimizer steps. Python only loops over iterations, logs, evaluates and checkpoints.

With `sizes` (e.g. '5,7,9') one iteration self-plays a batch of each size (each at its native
size, the network being size-agnostic) into one replay buffer padded to the largest; with
`bootstrap_iterations` the first iterations are `bootstrap_iteration`s (random play, value head
only); with `init_from` a fresh run starts from another run's network (`warm_start`).
"""

from __future__ import annotations

import dataclasses
import functools
import os
import secrets
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import chex
import jax
import jax.numpy as jnp
from flax import nnx

from alphago_jax import evaluate
from alphago_jax.config import ConfigError, TrainConfig, from_dict, make_config, parse_overrides
from alphago_jax.features.planes import num_planes
from alphago_jax.learner.learner import TrainState, make_optimizer, sgd_steps
from alphago_jax.nets import (
    NetConfig,
    count_params,
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
    """Everything an iteration changes; what a checkpoint saves.

    `selfplay` is one `SelfPlayState`, or with several board sizes a tuple of them, one per
    size in ascending order.
    """

    train: TrainState
    selfplay: selfplay.SelfPlayState
    replay: replay.ReplayBuffer
    iteration: chex.Array


def rules_of(cfg: TrainConfig, size: int | None = None) -> Rules:
    """The rules of `cfg` on its board, or on a `size` x `size` board (multi-size runs)."""
    return Rules(
        size=size or cfg.size, komi=cfg.komi, superko=cfg.superko, suicide=cfg.suicide,
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
        self.sizes = cfg.board_sizes
        self.multi = len(self.sizes) > 1
        self.rules_by_size = {n: rules_of(cfg, n) for n in self.sizes}
        self.net = net_config(cfg)
        # Shapes only: building the network eagerly costs one small XLA compile per initialiser.
        model = nnx.eval_shape(
            lambda: make_network(self.net, num_planes(cfg.history), nnx.Rngs(cfg.seed))
        )
        self.graphdef, _ = split(model)
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
            id_stride=len(self.sizes),
        )
        self.eval_settings = search_settings(cfg, cfg.eval_simulations)
        self._eval_flops: dict[int, float] = {}
        self.iteration = jax.jit(self._iteration, donate_argnums=0)
        # The random-play value bootstrap: its own compiled function, chosen by the Python loop.
        self.bootstrap_iteration = jax.jit(
            functools.partial(self._iteration, bootstrap=True), donate_argnums=0
        )

    # ------------------------------------------------------------------ state
    def init(self, key) -> Carry:
        """A fresh run: parameters from `key`, empty buffer, games at move 0."""
        k_net, k_sp = jax.random.split(key)
        params = self._init_params(k_net)
        return Carry(
            train=TrainState(
                params=params, opt_state=self.optimizer.init(params), step=jnp.int32(0)
            ),
            selfplay=self._init_selfplay(k_sp),
            replay=replay.init(
                self.rules, self.cfg.buffer_capacity, self.cfg.history, self.cfg.ownership,
                num_sizes=len(self.sizes),
            ),
            iteration=jnp.int32(0),
        )

    @functools.partial(jax.jit, static_argnums=0)
    def _init_params(self, key):
        """Fresh network parameters, initialised in one compiled call."""
        return split(make_network(self.net, num_planes(self.cfg.history), nnx.Rngs(key)))[1]

    def _init_selfplay(self, key):
        b = self.cfg.selfplay_batch
        if not self.multi:
            return selfplay.init(self.rules, b, key, self.settings)
        return tuple(
            selfplay.init(self.rules_by_size[n], b, jax.random.fold_in(key, i), self.settings, i)
            for i, n in enumerate(self.sizes)
        )

    def eval_flops(self, params, size: int | None = None) -> float:
        """FLOPs of one evaluation on a `size` board (default: the run's), compiled once per
        size for XLA's cost analysis and then remembered."""
        size = size or self.cfg.size
        if size not in self._eval_flops:
            shape = (size, size, num_planes(self.cfg.history))
            self._eval_flops[size] = flops_per_eval(self.apply, params, shape)
        return self._eval_flops[size]

    def describe(self, params) -> str:
        flops = self.eval_flops(params)
        nodes = node_bytes(self.rules)
        return (
            f"{describe(self.net, params, flops)} | tree node {nodes['total']} B "
            f"(embedding {nodes['embedding']} B)"
        )

    # ------------------------------------------------------------------ compiled iteration
    def _train_steps(self, ts: TrainState, buf, key):
        return sgd_steps(ts, buf, key, self.cfg.sgd_steps, self.apply, self.optimizer, self.cfg)

    def _selfplay(self, params, sp, buf, key, bootstrap: bool):
        """Self-play of every board size into the one buffer. Returns (sp, buf, stats)."""
        settings = self.settings._replace(random_play=True) if bootstrap else self.settings
        steps = self.cfg.selfplay_steps
        if not self.multi:
            return selfplay.run(self.rules, self.apply, settings, params, sp, buf, key, steps)
        states, per_size = [], []
        for i, n in enumerate(self.sizes):
            sp_n, buf, st = selfplay.run(
                self.rules_by_size[n], self.apply, settings, params, sp[i], buf,
                jax.random.fold_in(key, i), steps,
            )
            states.append(sp_n)
            per_size.append(st)
        stats = {k: sum(st[k] for st in per_size) for k in per_size[0] if k != "root_value_abs"}
        stats["root_value_abs"] = jnp.mean(jnp.stack([st["root_value_abs"] for st in per_size]))
        for n, st in zip(self.sizes, per_size, strict=True):
            stats.update({f"{k}_{n}x{n}": st[k] for k in SIZE_STAT_KEYS})
        return tuple(states), buf, stats

    def _iteration(self, carry: Carry, key, bootstrap: bool = False):
        k_sp, k_sgd = jax.random.split(key)
        sp, buf, stats = self._selfplay(
            carry.train.params, carry.selfplay, carry.replay, k_sp, bootstrap
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
                   "trained": trained.astype(jnp.int32),
                   "bootstrap": jnp.int32(bootstrap)}
        new = Carry(train=ts, selfplay=sp, replay=buf, iteration=carry.iteration + 1)
        return new, metrics

    # ------------------------------------------------------------------ evaluation
    def win_rate(self, params, opponent_params, key, games: int | None = None,
                 size: int | None = None) -> dict:
        """Agent with `params` vs uniform random (`opponent_params=None`) or vs other params,
        on a `size` board (one of the run's sizes; default: the largest)."""
        n = games or self.cfg.eval_games
        settings_b = None if opponent_params is None else self.eval_settings
        res = evaluate.play_match(
            self.rules_by_size[size or self.cfg.size], self.apply, self.cfg.history,
            self.eval_settings, settings_b, params, opponent_params, n, key,
        )
        return res.summary()

    def win_rates_by_size(
        self, params, key, games: int | None = None, sizes: tuple[int, ...] | None = None
    ) -> dict[int, dict]:
        """{n: summary} of the agent vs uniform random on each board size (default: the run's)."""
        return {n: self.win_rate(params, None, jax.random.fold_in(key, i), games, size=n)
                for i, n in enumerate(self.sizes if sizes is None else sizes)}


SIZE_STAT_KEYS = ("games", "black_wins", "moves_in_games", "positions")
"""Self-play statistics also logged per board size (`games_5x5`, ...) in multi-size runs."""


def size_metrics(metrics: dict, sizes: tuple[int, ...]) -> dict:
    """Per-size rates from an iteration's per-size counts (empty for a one-size run)."""
    if len(sizes) < 2:
        return {}
    out = {}
    for n in sizes:
        games = max(metrics[f"games_{n}x{n}"], 1)
        out[f"black_win_rate_{n}x{n}"] = metrics[f"black_wins_{n}x{n}"] / games
        out[f"mean_game_length_{n}x{n}"] = metrics[f"moves_in_games_{n}x{n}"] / games
    return out


def _describe_arch(cfg: TrainConfig) -> str:
    return (f"{cfg.net}/{cfg.block_type} {cfg.blocks}x{cfg.channels}"
            f"{' gpool' if cfg.global_pool else ''}{' own' if cfg.ownership else ''} "
            f"history={cfg.history}")


def param_mismatches(source, target) -> list[str]:
    """Differences between two parameter trees: leaves only in one of them, and shape/dtype.

    Returns:
      Messages naming the leaves (tree paths like ``['stem']['kernel'].value``), in the
      target's leaf order; empty when the trees have the same structure, shapes and dtypes.
    """
    def leaves(tree):
        flat, _ = jax.tree_util.tree_flatten_with_path(tree)
        return {jax.tree_util.keystr(p): x for p, x in flat}

    src, dst = leaves(source), leaves(target)
    problems = [f"{k}: missing in the source" for k in dst if k not in src]
    problems += [f"{k}: not in this run's network" for k in src if k not in dst]
    for k, x in dst.items():
        y = src.get(k)
        if y is not None and (tuple(y.shape), y.dtype) != (tuple(x.shape), x.dtype):
            problems.append(f"{k}: source {y.dtype}{list(y.shape)}, this run {x.dtype}"
                            f"{list(x.shape)}")
    return problems


def warm_start(carry: Carry, trainer: Trainer, run_dir: str | Path) -> tuple[Carry, str]:
    """A fresh carry whose network parameters come from another run's latest checkpoint.

    The optimizer state is fresh (`trainer.optimizer.init`) and the SGD step 0; the self-play
    games and the replay buffer are untouched. The source may have another board size: the
    networks are fully convolutional, only the architecture must match.

    Args:
      carry: a fresh carry of `trainer` (from `trainer.init`).
      trainer: this run's trainer.
      run_dir: the source run directory (anything `load_run` loads).

    Returns:
      (carry, a one-line description of what was loaded).

    Raises:
      ConfigError: the source is not a run directory, or its network differs (naming the first
        mismatching leaves and both architectures).
      CheckpointError: the source has no loadable checkpoint.
    """
    src_trainer, src_carry, step = load_run(run_dir)
    src, dst = src_carry.train.params, carry.train.params
    problems = param_mismatches(src, dst)
    if problems:
        raise ConfigError(
            f"init_from {run_dir}: its network ({_describe_arch(src_trainer.cfg)}) does not "
            f"match this run's ({_describe_arch(trainer.cfg)}); first mismatching leaves: "
            + "; ".join(problems[:4]) + (f" (+{len(problems) - 4} more)" if len(problems) > 4
                                         else "")
        )
    # The target's tree structure with the source's values, matched by leaf path.
    by_path = {jax.tree_util.keystr(p): x for p, x in jax.tree_util.tree_leaves_with_path(src)}
    flat, treedef = jax.tree_util.tree_flatten_with_path(dst)
    params = jax.tree.unflatten(
        treedef, [jnp.asarray(by_path[jax.tree_util.keystr(p)]) for p, _ in flat]
    )
    train = TrainState(params=params, opt_state=trainer.optimizer.init(params), step=jnp.int32(0))
    n = src_trainer.cfg.size
    info = (f"warm start from {run_dir}@{step} ({n}x{n}, {_describe_arch(src_trainer.cfg)}): "
            f"{count_params(params):,} parameters")
    return carry.replace(train=train), info


def make_train(cfg: TrainConfig) -> Trainer:
    return Trainer(cfg.validate())


# ---------------------------------------------------------------------- the CLI job
def resolve_config(run_dir: Path, preset: str, overrides: list[str] | dict) -> TrainConfig:
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


# ---------------------------------------------------------------------- wandb sweeps
EVAL_METRICS = ("win_rate_vs_random", "win_rate_vs_previous")
"""Logged at the top level of wandb (and metrics.jsonl) at each evaluation and set as the run's
wandb summary at the end; `win_rate_vs_random` is the metric of experiments/sweeps/*.yaml."""


def sweep_run_dir(root: str | Path = "runs/sweeps") -> Path | None:
    """`root/<sweep_id>/<run_id>` under a wandb sweep agent ($WANDB_SWEEP_ID, $WANDB_RUN_ID),
    the run directory when none is given; None outside a sweep."""
    sweep = os.environ.get("WANDB_SWEEP_ID")
    if not sweep:
        return None
    return Path(root) / sweep / (os.environ.get("WANDB_RUN_ID") or secrets.token_hex(4))


def sweep_overrides(wandb_config: Mapping[str, Any], cfg: TrainConfig) -> dict[str, Any]:
    """The entries of a run's wandb.config that change `cfg`: a sweep's parameters, which wandb
    puts over the config the run was started with.

    Raises:
      ConfigError: an unknown key or a bad value, named as coming from wandb.config.
    """
    current = cfg.to_dict()
    changed = {k: v for k, v in wandb_config.items() if k not in current or current[k] != v}
    from_dict(changed, base=cfg, source="wandb.config (sweep parameters)")
    return changed


def _apply_sweep_config(run_path: Path, preset: str, overrides: list[str], cfg: TrainConfig,
                        logger) -> TrainConfig:
    """`cfg` with the sweep parameters in `logger`'s started wandb run applied (they win over
    command-line overrides, as in wandb), recorded back to wandb."""
    swept = sweep_overrides(logger.wandb_config(), cfg)
    if not swept:
        return cfg
    cfg = resolve_config(run_path, preset, {**parse_overrides(overrides), **swept})
    logger.update_wandb_config(cfg.to_dict())
    return cfg


def _log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def main(run_dir: str | None, preset: str = "default", overrides: list[str] | None = None) -> int:
    from alphago_jax.checkpoint import Checkpointer, CheckpointError
    from alphago_jax.logging import RunLogger, last_values, read_metrics, sweep_id

    run_path = Path(run_dir) if run_dir else sweep_run_dir()
    if run_path is None:
        _log("alphago-jax train: --run-dir is required (outside a wandb sweep agent)")
        return 2
    overrides, logger = list(overrides or []), None
    try:
        cfg = resolve_config(run_path, preset, overrides)
        if cfg.wandb and sweep_id():
            # An agent may pass the sweep's parameters only in wandb.config: start the wandb run
            # now and apply them before anything compiles.
            logger = RunLogger(run_path, cfg.to_dict(), total=cfg.iterations,
                               project=cfg.wandb_project)
            cfg = _apply_sweep_config(run_path, preset, overrides, cfg, logger)
    except ConfigError as e:
        _log(f"alphago-jax train: {e}")
        if logger is not None:
            logger.close(exit_code=2)
        return 2
    run_path.mkdir(parents=True, exist_ok=True)
    cfg.save(run_path / "config.json")

    trainer = make_train(cfg)
    base_key = jax.random.key(cfg.seed)
    carry = trainer.init(jax.random.fold_in(base_key, 0))
    _log(f"alphago-jax train: {cfg.size}x{cfg.size}, {cfg.search} {cfg.num_simulations} sims, "
         f"{cfg.selfplay_batch} games x {cfg.selfplay_steps} steps/iteration, "
         f"{cfg.iterations} iterations, run dir {run_path}")
    if trainer.multi:
        _log(f"board sizes {', '.join(f'{n}x{n}' for n in trainer.sizes)}, "
             f"{cfg.selfplay_batch} games each (replay padded to {cfg.size}x{cfg.size})")
    if cfg.bootstrap_iterations:
        _log(f"first {cfg.bootstrap_iterations} iterations: random play, value head only")
    _log(f"network: {trainer.describe(carry.train.params)}")
    # Cumulative training FLOPs, logged as `train_flops` (accounting: alphago_jax.scaling.compute).
    from alphago_jax.scaling.compute import train_flops
    eval_flops = {n: trainer.eval_flops(carry.train.params, n) for n in trainer.sizes}

    ckpt = Checkpointer(run_path / "checkpoints", keep=cfg.keep_checkpoints)
    start = ckpt.latest_step()
    if start is not None:
        carry = ckpt.restore(carry, start)
        _log(f"resumed from iteration {start}")
    elif cfg.init_from:
        try:
            carry, info = warm_start(carry, trainer, cfg.init_from)
        except (ConfigError, CheckpointError) as e:
            _log(f"alphago-jax train: {e}")
            ckpt.close()
            if logger is not None:
                logger.close(exit_code=2)
            return 2
        _log(info)
    start = int(carry.iteration)
    if logger is None:
        logger = RunLogger(run_path, cfg.to_dict(), total=cfg.iterations, initial=start,
                           use_wandb=cfg.wandb, project=cfg.wandb_project)
    else:
        logger.start_at(start, total=cfg.iterations)
    # The opponent for "vs previous"; copied because the iteration donates the carry's buffers.
    previous = jax.tree.map(jnp.copy, carry.train.params)
    eval_key = jax.random.fold_in(base_key, 1)
    try:
        for it in range(start, cfg.iterations):
            t0 = time.perf_counter()
            step_fn = trainer.bootstrap_iteration if it < cfg.bootstrap_iterations else (
                trainer.iteration)
            carry, metrics = step_fn(carry, jax.random.fold_in(base_key, 2 + it))
            metrics = {k: float(v) for k, v in jax.device_get(metrics).items()}
            dt = time.perf_counter() - t0
            moves = cfg.selfplay_batch * cfg.selfplay_steps * len(trainer.sizes)
            metrics.update(
                iteration_s=dt, moves_per_s=moves / dt, games_per_s=metrics["games"] / dt,
                positions_per_s=metrics["positions"] / dt,
                buffer_fill=metrics["buffer_ready"] / cfg.buffer_capacity,
                black_win_rate=metrics["black_wins"] / max(metrics["games"], 1),
                mean_game_length=metrics["moves_in_games"] / max(metrics["games"], 1),
                false_resign_rate=metrics["false_resign"] / max(metrics["no_resign_checked"], 1),
            )
            metrics.update(size_metrics(metrics, trainer.sizes))
            done = it + 1
            metrics["train_flops"] = train_flops(cfg, eval_flops, done)
            if cfg.eval_every and (done % cfg.eval_every == 0 or done == cfg.iterations):
                k = jax.random.fold_in(eval_key, done)
                vs_random = trainer.win_rate(carry.train.params, None, k)
                vs_prev = trainer.win_rate(carry.train.params, previous, jax.random.fold_in(k, 1))
                previous = jax.tree.map(jnp.copy, carry.train.params)
                metrics.update(win_rate_vs_random=vs_random["win_rate"],
                               win_rate_vs_previous=vs_prev["win_rate"])
                if trainer.multi:  # the largest size is win_rate_vs_random itself
                    by_size = trainer.win_rates_by_size(
                        carry.train.params, jax.random.fold_in(k, 2), sizes=trainer.sizes[:-1])
                    by_size[cfg.size] = vs_random
                    metrics.update({f"win_rate_vs_random_{n}x{n}": r["win_rate"]
                                    for n, r in by_size.items()})
            logger.log(done, metrics)
            if done % cfg.checkpoint_every == 0 or done == cfg.iterations:
                ckpt.save(done, carry)
        # The last evaluation as the wandb summary: the value a sweep reports for the run.
        logger.summarize(last_values(read_metrics(run_path), EVAL_METRICS))
    finally:
        ckpt.wait()
        ckpt.close()
        logger.close()
    return 0


@functools.lru_cache(maxsize=32)
def abstract_trainer(cfg: TrainConfig) -> Trainer:
    """`make_train(cfg)` traced abstractly, one per config.

    Under `eval_shape` nothing is computed or compiled; the Trainer keeps only static pieces
    (config, rules, graphdef, apply, optimizer), so no traced value escapes. Sharing it (and so
    its `apply`, a jit static argument) between the checkpoints of one run means their searches
    compile once.
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
