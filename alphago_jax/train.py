"""`alphago-jax train`: the self-play training job.

It resolves the run directory's config (`runs.resolve_config`), builds the compiled iteration
(`trainer.make_train`), restores or warm-starts the state, and runs `loop.run_iterations` with
three hooks: evaluation (the match layer, `alphago_jax.arena`), logging (metrics.jsonl, tqdm,
wandb) and checkpoints (`runs.save_state`). Everything it uses is a library piece; this module
only wires them.

Multi-process runs (`alphago_jax.distributed`): every process runs this job on its local devices
over one mesh of all devices; process 0 alone writes config.json, metrics.jsonl and wandb,
prints, and evaluates (the other processes skip evaluation and wait for it at the next
collective); checkpoints are saved by all processes together (orbax).
"""

from __future__ import annotations

import dataclasses
import os
import secrets
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jax

from alphago_jax import arena, distributed, runs
from alphago_jax.checkpoint import Checkpointer, CheckpointError
from alphago_jax.config import ConfigError, TrainConfig, from_dict, parse_overrides
from alphago_jax.logging import (
    MetricsError,
    RunLogger,
    last_values,
    read_metrics,
    repair_metrics,
    sweep_id,
)
from alphago_jax.loop import run_iterations
from alphago_jax.scaling.compute import train_flops
from alphago_jax.trainer import Carry, Trainer, describe_mesh, make_train

EVAL_METRICS = ("win_rate_vs_random", "win_rate_vs_previous")
"""Logged at the top level of wandb (and metrics.jsonl) at each evaluation and set as the run's
wandb summary at the end; `win_rate_vs_random` is the metric of experiments/sweeps/*.yaml."""


# ---------------------------------------------------------------------- wandb sweeps
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
    cfg, _ = runs.resolve_config(run_path, preset, {**parse_overrides(overrides), **swept})
    logger.update_wandb_config(cfg.to_dict())
    return cfg


# ---------------------------------------------------------------------- hooks
def win_rate(cfg: TrainConfig, network, params, opponent_params, key, size: int | None = None,
             games: int | None = None) -> dict:
    """The agent with `params` vs uniform random (`opponent_params=None`) or vs other params,
    on a `size` board (default: the run's largest), as the match layer's tally dict."""
    a = arena.SearchPlayer.from_config(cfg, network, params, name="agent")
    b = (arena.RandomPlayer() if opponent_params is None else
         arena.SearchPlayer.from_config(cfg, network, opponent_params, name="previous"))
    result = arena.play_match(cfg.rules(size), a, b, games or cfg.eval_games, key)
    return result.tally.as_dict()


class EvalHook:
    """Every `eval_every` iterations (and at the last): win rate vs random (on every board size
    of a multi-size run) and vs the parameters of the previous evaluation."""

    def __init__(self, trainer: Trainer, params, base_key):
        self.trainer, self.cfg = trainer, trainer.cfg
        # The opponent for "vs previous"; copied because the iteration donates the carry.
        self.previous = _local(params)
        self.key = jax.random.fold_in(base_key, 1)

    def __call__(self, done: int, carry: Carry, metrics: dict) -> None:
        cfg = self.cfg
        if not cfg.eval_every or (done % cfg.eval_every and done != cfg.iterations):
            return
        if not distributed.is_primary():
            return  # process 0 evaluates; the others wait for it at the next collective
        k = jax.random.fold_in(self.key, done)
        params, net = _local(carry.train.params), self.trainer.network
        vs_random = win_rate(cfg, net, params, None, k)
        vs_prev = win_rate(cfg, net, params, self.previous, jax.random.fold_in(k, 1))
        self.previous = params
        metrics.update(win_rate_vs_random=vs_random["win_rate"],
                       win_rate_vs_previous=vs_prev["win_rate"])
        if self.trainer.multi:  # the largest size is win_rate_vs_random itself
            for i, n in enumerate(self.trainer.sizes[:-1]):
                r = win_rate(cfg, net, params, None, jax.random.fold_in(k, 2 + i), size=n)
                metrics[f"win_rate_vs_random_{n}x{n}"] = r["win_rate"]
            metrics[f"win_rate_vs_random_{cfg.size}x{cfg.size}"] = vs_random["win_rate"]


def _local(params):
    """Replicated parameters as a copy on this process's first device: a match is a
    one-device program, not one replicated over the mesh (nor, across processes, a collective
    the other processes would have to join)."""
    return jax.device_put(jax.device_get(params), jax.local_devices()[0])


def flops_hook(trainer: Trainer):
    """Adds `train_flops`, the cumulative training FLOPs (`alphago_jax.scaling.compute`)."""
    per_eval = {n: trainer.network.flops(n) for n in trainer.sizes}

    def hook(done: int, carry: Carry, metrics: dict) -> None:
        metrics["train_flops"] = train_flops(trainer.cfg, per_eval, done)

    return hook


def checkpoint_hook(ckpt: Checkpointer, cfg: TrainConfig):
    def hook(done: int, carry: Carry, metrics: dict) -> None:
        if done % cfg.checkpoint_every == 0 or done == cfg.iterations:
            runs.save_state(ckpt, done, carry)

    return hook


# ---------------------------------------------------------------------- the job
def _log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def _info(msg: str) -> None:
    """A progress line, printed by process 0 only (errors are printed by every process)."""
    if distributed.is_primary():
        _log(msg)


class _QuietLogger:
    """The logger of processes other than 0: they write and print nothing."""

    def log(self, step: int, metrics) -> None:
        pass

    def summarize(self, metrics) -> None:
        pass

    def start_at(self, step: int, total: int | None = None) -> None:
        pass

    def close(self, exit_code: int | None = None) -> None:
        pass


def _describe(cfg: TrainConfig, trainer: Trainer, run_path: Path) -> None:
    _info(f"alphago-jax train: {cfg.size}x{cfg.size}, {cfg.search} {cfg.num_simulations} sims, "
         f"{cfg.selfplay_batch} games x {cfg.selfplay_steps} steps/iteration, "
         f"{cfg.iterations} iterations, run dir {run_path}")
    share = trainer.share
    _info(f"mesh: {describe_mesh(trainer.mesh)}, per device {share.selfplay_batch} games, "
          f"replay {share.buffer_capacity}, batch {share.train_batch}")
    if trainer.multi:
        _info(f"board sizes {', '.join(f'{n}x{n}' for n in trainer.sizes)}, "
             f"{cfg.selfplay_batch} games each (replay padded to {cfg.size}x{cfg.size})")
    if cfg.bootstrap_iterations:
        _info(f"first {cfg.bootstrap_iterations} iterations: random play, policy head frozen")


def host_cores() -> int:
    """The cores this process may run on (its affinity where the OS has one, e.g. Linux)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def claim_cpu_devices(cfg: TrainConfig) -> TrainConfig:
    """Gives jax's CPU backend `cfg.cpu_devices` devices (0: one per core, see its docstring)
    and returns the config with the count it set; `cfg` unchanged where the count is not ours
    to set: forced by the environment, a multi-process run, or jax already started."""
    flags = os.environ.get("XLA_FLAGS", "")
    if (os.environ.get("JAX_NUM_CPU_DEVICES") or "xla_force_host_platform_device_count" in flags
            or jax.distributed.is_initialized()):
        return cfg
    count = cfg.resolved_cpu_devices(host_cores())
    try:
        jax.config.update("jax_num_cpu_devices", count)
    except RuntimeError:  # the backend already started in this process: keep its devices
        return cfg
    return dataclasses.replace(cfg, cpu_devices=count)


def _setup(run_path: Path, preset: str, overrides: list[str]
           ) -> tuple[TrainConfig, bool, RunLogger | None]:
    """(config, whether config.json must be written, a wandb-sweep logger already started)."""
    cfg, write = runs.resolve_config(run_path, preset, overrides)
    logger = None
    try:
        if cfg.wandb and sweep_id() and distributed.is_primary():
            # An agent may pass the sweep's parameters only in wandb.config: start the wandb
            # run now and apply them before anything compiles.
            logger = RunLogger(run_path, cfg.to_dict(), total=cfg.iterations,
                               project=cfg.wandb_project)
            swept = _apply_sweep_config(run_path, preset, overrides, cfg, logger)
            write = write or swept != cfg
            cfg = swept
        # Before anything that starts jax's backend (the warm start check builds a network):
        # after that the CPU device count is fixed.
        cfg = claim_cpu_devices(cfg)
        if cfg.init_from and not runs.checkpoint_dir(run_path).is_dir():
            runs.check_warm_start(cfg)  # before anything compiles or is written
    except (ConfigError, CheckpointError):
        if logger is not None:
            logger.close(exit_code=2)
        raise
    return cfg, write, logger


def main(run_dir: str | None, preset: str = "default", overrides: list[str] | None = None) -> int:
    run_path = Path(run_dir) if run_dir else sweep_run_dir()
    if run_path is None:
        _log("alphago-jax train: --run-dir is required (outside a wandb sweep agent)")
        return 2
    overrides = list(overrides or [])
    logger = None
    try:
        cfg, write, logger = _setup(run_path, preset, overrides)
        cfg.data_parallel(jax.device_count())  # batch sizes vs the devices, before any write
    except (ConfigError, CheckpointError) as e:
        _log(f"alphago-jax train: {e}")
        if logger is not None:
            logger.close(exit_code=2)
        return 2
    run_path.mkdir(parents=True, exist_ok=True)
    distributed.barrier("config read")  # every process has read config.json before it changes
    if write and distributed.is_primary():
        cfg.save(runs.config_path(run_path))
    trainer = make_train(cfg)
    base_key = jax.random.key(cfg.seed)
    _describe(cfg, trainer, run_path)
    ckpt = None
    try:
        ckpt = Checkpointer(runs.checkpoint_dir(run_path), keep=cfg.keep_checkpoints)
        carry = _start(trainer, ckpt, base_key)
        start = int(carry.iteration)
        if distributed.is_primary():
            _repair_metrics(run_path, start)
    except (ConfigError, CheckpointError, MetricsError) as e:
        _log(f"alphago-jax train: {e}")
        _close_quietly(ckpt)
        if logger is not None:
            logger.close(exit_code=2)
        return 2
    _info(f"network: {trainer.describe(carry.train.params)}")
    if not distributed.is_primary():
        logger = _QuietLogger()
    elif logger is None:
        logger = RunLogger(run_path, cfg.to_dict(), total=cfg.iterations, initial=start,
                           use_wandb=cfg.wandb, project=cfg.wandb_project)
    else:
        logger.start_at(start, total=cfg.iterations)
    hooks = [EvalHook(trainer, carry.train.params, base_key), flops_hook(trainer),
             lambda done, carry, metrics: logger.log(done, metrics), checkpoint_hook(ckpt, cfg)]
    return _run(trainer, carry, base_key, hooks, ckpt, logger, run_path)


def _run(trainer: Trainer, carry: Carry, base_key, hooks, ckpt: Checkpointer, logger: RunLogger,
         run_path: Path) -> int:
    """Runs the iterations; 0, or 1 when a checkpoint could not be saved (disk full, ...):
    reported in one line, the checkpoints already complete are kept."""
    code = 0
    try:
        run_iterations(trainer, carry, base_key, trainer.cfg.iterations, hooks)
        # The last evaluation as the wandb summary: the value a sweep reports for the run.
        if distributed.is_primary():
            logger.summarize(last_values(read_metrics(run_path), EVAL_METRICS))
    except CheckpointError as e:
        _log(f"alphago-jax train: {e}")
        code = 1
    finally:
        if not _close_quietly(ckpt) and code == 0:
            code = 1
        logger.close(exit_code=code or None)
    return code


def _close_quietly(ckpt: Checkpointer | None) -> bool:
    """Waits for the pending checkpoint save and closes; False (reported) when it failed."""
    if ckpt is None:
        return True
    try:
        ckpt.wait()
        ckpt.close()
    except CheckpointError as e:
        _log(f"alphago-jax train: {e}")
        return False
    return True


def _repair_metrics(run_path: Path, start: int) -> None:
    """Readies metrics.jsonl for a run starting after iteration `start` (see
    `logging.repair_metrics`) and says what was mended."""
    fixed = repair_metrics(run_path, keep_through=start)
    if fixed:
        _log(f"{run_path / 'metrics.jsonl'}: {'; '.join(fixed)}")


def _start(trainer: Trainer, ckpt: Checkpointer, base_key) -> Carry:
    """The carry to train from: the latest checkpoint, a warm start, or a fresh one."""
    cfg = trainer.cfg
    start = ckpt.latest_step()
    if start is not None:
        carry = runs.restore_state(ckpt, trainer, start)
        _info(f"resumed from iteration {start}")
        return carry
    carry = trainer.init(jax.random.fold_in(base_key, 0))
    if cfg.init_from:
        carry, info = runs.warm_start(carry, trainer, cfg.init_from)
        _info(info)
    return carry

