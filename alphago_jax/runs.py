"""The run directory: its config, its checkpoints, and reading a run back.

A run directory holds ``config.json`` (the `TrainConfig`), ``metrics.jsonl``, wandb's files and
``checkpoints/<step>/`` with one orbax item per part of the training state:

* ``params`` -- the network parameters (all that evaluation, the arena, GTP and warm starts read);
* ``opt_state``, ``selfplay``, ``replay`` -- what resuming also needs;
* the manifest's metadata: ``iteration``, ``sgd_step``, ``kind`` ('selfplay' or 'supervised')
  and ``devices`` (the data-parallel device count D; ``selfplay`` and ``replay`` hold one row per
  device). A run resumes on the same device count only (`restore_state`); checkpoints written
  before the mesh existed (no ``devices``) hold one device's state without the device axis and
  resume on one device.

Supervised runs save ``params`` alone. Run directories written before the items existed (one
``state`` item holding the whole carry, checkpoint format 1) still load their parameters; they
cannot be resumed (start a new run with ``init_from=DIR`` to continue from one).
"""

from __future__ import annotations

import dataclasses
import logging
import sys
from pathlib import Path
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from alphago_jax.checkpoint import Checkpointer, CheckpointError
from alphago_jax.config import PRESETS, ConfigError, TrainConfig, make_config, parse_overrides
from alphago_jax.logging import MetricsError, read_metrics
from alphago_jax.nets import Network, count_params
from alphago_jax.trainer import Carry, Trainer, describe_mesh

PARAMS = "params"
STATE_ITEMS = ("params", "opt_state", "selfplay", "replay")
"""The orbax items of a self-play checkpoint."""

_FORMAT1_ITEM = "state"
_FORMAT1_PARAMS = ("train", "params")  # where format-1 checkpoints keep the parameters


# ---------------------------------------------------------------------- config
def config_path(run_dir: str | Path) -> Path:
    return Path(run_dir) / "config.json"


# Keys whose default differs from what runs saved before the key existed ran with: such a
# run resumes (and plays) as it trained.
SAVED_BEFORE_KEY = {"cpu_devices": 1, "random_opening_moves": 0}


def load_config(run_dir: str | Path) -> TrainConfig:
    """The run's saved config.

    Raises:
      ConfigError: not a run directory, or a bad config.json.
    """
    path = config_path(run_dir)
    if path.exists() and not path.is_file():
        raise ConfigError(f"{path} is not a file; a run directory's config.json holds its "
                          "config")
    if not path.is_file():
        raise ConfigError(f"{run_dir} is not a run directory (no config.json)")
    cfg = TrainConfig.load(path)
    text = path.read_text()
    absent = {k: v for k, v in SAVED_BEFORE_KEY.items() if f'"{k}"' not in text}
    return dataclasses.replace(cfg, **absent) if absent else cfg


def not_a_directory(path: Path) -> str | None:
    """Why `path` cannot be a directory ('X is a file, not a directory', or is inside a file),
    or None when it is one or can be made."""
    for p in (path, *path.parents):
        if p.exists():
            if p.is_dir():
                return None
            where = "is a file" if p == path else f"is inside the file {p}"
            return f"{path} {where}, not a directory"
    return None


def check_run_dir(run_dir: str | Path) -> None:
    """Checks what a `train` command will write into before anything is written or compiled:
    `run_dir`, its checkpoints directory and its metrics.jsonl (config.json is read by
    `load_config`). A missing run directory is fine (a new run).

    Raises:
      ConfigError: naming the path that is a file where a directory belongs (or the reverse),
        or the metrics.jsonl line that is not a record, and what to do.
    """
    run_dir = Path(run_dir)
    problem = not_a_directory(run_dir)
    if problem:
        raise ConfigError(f"--run-dir {problem}: name a run directory (a new one starts a run, "
                          "an existing one resumes it)")
    ckpt = checkpoint_dir(run_dir)
    if ckpt.exists() and not ckpt.is_dir():
        raise ConfigError(f"{ckpt} is a file where the run's checkpoints directory belongs: "
                          "move it away")
    try:
        read_metrics(run_dir, dedupe=False)
    except MetricsError as e:
        raise ConfigError(str(e)) from None


def resolve_config(run_dir: str | Path, preset: str, overrides: list[str] | dict
                   ) -> tuple[TrainConfig, bool]:
    """The config a `train` command runs with, and whether config.json must be (re)written.

    A new run directory: the preset with the overrides. An existing one resumes its saved config:
    every given key must equal the saved value, except `iterations`, which may change (the run
    trains on to the new count). The learning-rate schedule keeps its original span (a saved
    `schedule_iterations` of 0 is fixed at the saved `iterations`), so it is not stretched in
    mid-run. Keys that are not given keep their saved values, whatever the preset's are.

    Raises:
      ConfigError: a bad key or value, a given value that differs from the saved run's (naming
        each key with both values), or a bad run directory (`check_run_dir`).
    """
    check_run_dir(run_dir)
    items = overrides if isinstance(overrides, dict) else parse_overrides(list(overrides))
    wanted = make_config(preset, items)
    if not config_path(run_dir).exists():
        return wanted, True
    saved = load_config(run_dir)
    given = set(items) | (set(PRESETS[preset]) if preset != "default" else set())
    differ = sorted(k for k in given - {"iterations"}
                    if getattr(wanted, k) != getattr(saved, k))
    if differ:
        detail = ", ".join(f"{k}={getattr(wanted, k)!r} (saved {getattr(saved, k)!r})"
                           for k in differ)
        raise ConfigError(
            f"{run_dir} holds a run with a different config: {detail}. Resume it without "
            "those overrides (only iterations may change) or use a new --run-dir"
        )
    if "iterations" not in items or wanted.iterations == saved.iterations:
        return saved, False
    resumed = dataclasses.replace(
        saved, iterations=wanted.iterations,
        schedule_iterations=saved.schedule_iterations or saved.iterations,
    )
    return resumed.validate(), True


# ---------------------------------------------------------------------- checkpoints
def checkpoint_dir(run_dir: str | Path) -> Path:
    return Path(run_dir) / "checkpoints"


def checkpoint_steps(run_dir: str | Path) -> list[int]:
    """Steps with a complete checkpoint in a run directory, ascending.

    Raises:
      CheckpointError: no checkpoints directory.
    """
    path = checkpoint_dir(run_dir)
    if not path.is_dir():
        raise CheckpointError(f"{run_dir} has no checkpoints directory")
    with Checkpointer(path, async_save=False, writer=False) as ckpt:
        return ckpt.all_steps()


def save_state(ckpt: Checkpointer, step: int, carry: Carry, **metadata: Any) -> None:
    """Saves a training carry as its items (asynchronously when `ckpt` is)."""
    items = {"params": carry.train.params, "opt_state": carry.train.opt_state,
             "selfplay": carry.selfplay, "replay": carry.replay}
    meta = {"kind": "selfplay", "iteration": int(carry.iteration),
            "sgd_step": int(carry.train.step), "devices": carry_devices(carry), **metadata}
    ckpt.save_items(step, items, meta)


def save_params(ckpt: Checkpointer, step: int, params: Any, **metadata: Any) -> None:
    """Saves network parameters alone (supervised runs)."""
    ckpt.save_items(step, {PARAMS: params}, {"kind": "supervised", "iteration": 0,
                                             "sgd_step": 0, **metadata})


def carry_devices(carry: Carry) -> int:
    """The device count D of a carry (the length of its per-device axis)."""
    return int(jax.tree.leaves(carry.replay)[0].shape[0])


def restore_state(ckpt: Checkpointer, trainer: Trainer, step: int) -> Carry:
    """The full training carry of checkpoint `step`, to resume from, placed on the trainer's
    mesh (per-device state sharded, the rest replicated).

    Raises:
      CheckpointError: the checkpoint lacks a part (a supervised or format-1 checkpoint), is
        corrupt (naming its directory, to delete), was written on another device count (naming
        both), or does not fit the trainer.
    """
    items, meta = _manifest(ckpt, step)
    missing = [i for i in STATE_ITEMS if i not in items]
    if missing:
        why = ("it was written by an older alphago-jax (one 'state' item)"
               if items == [_FORMAT1_ITEM] else f"it has no {', '.join(missing)}")
        raise CheckpointError(
            f"checkpoint step {step} in {ckpt.directory} cannot be resumed: {why}. Start a new "
            f"run from its network with init_from={ckpt.directory.parent}"
        )
    if not all(isinstance(meta.get(k), int) for k in ("iteration", "sgd_step")):
        raise CheckpointError(
            f"checkpoint step {step} in {ckpt.directory} has no iteration / sgd_step metadata "
            f"(it was not written by train). {_delete_hint(ckpt, step)}"
        )
    saved = meta.get("devices")
    if saved is not None and not isinstance(saved, int):
        raise CheckpointError(f"checkpoint step {step} in {ckpt.directory} has a bad devices "
                              f"metadata {saved!r}. {_delete_hint(ckpt, step)}")
    legacy = saved is None  # written before the mesh: one device's state, no device axis
    check_devices(ckpt, 1 if legacy else saved, trainer)
    target = trainer.abstract_carry()
    per_device = {"selfplay": target.selfplay, "replay": target.replay}
    if legacy:
        per_device = jax.tree.map(lambda a: jax.ShapeDtypeStruct(a.shape[1:], a.dtype),
                                  per_device)
    # A replay buffer saved before it kept what reanalyse needs (move numbers, passes) cannot
    # be filled in; its network can still start a new run.
    new_leaves = ckpt.missing_leaves("replay", per_device["replay"], step)
    if new_leaves:
        raise CheckpointError(
            f"checkpoint step {step} in {ckpt.directory} cannot be resumed: its replay buffer "
            f"was saved by an older alphago-jax without {', '.join(new_leaves)}. Start a new "
            f"run from its network with init_from={ckpt.directory.parent}"
        )
    quiet_abandoned_reads()  # before: the noise can come from other threads at once
    got = ckpt.restore_items(
        {"params": target.train.params, "opt_state": target.train.opt_state, **per_device},
        step)
    if legacy:
        shardings = trainer.shardings()
        got["selfplay"], got["replay"] = jax.tree.map(
            lambda x, s: jax.device_put(jnp.asarray(x)[None], s),
            (got["selfplay"], got["replay"]), (shardings.selfplay, shardings.replay))
    # The counters replicated like the rest of the train state: a one-device scalar would
    # change the compiled iteration's input shardings and compile it again.
    step, iteration = trainer.replicate((np.int32(meta["sgd_step"]), np.int32(meta["iteration"])))
    train = target.train.replace(params=got["params"], opt_state=got["opt_state"], step=step)
    return Carry(train=train, selfplay=got["selfplay"], replay=got["replay"],
                 iteration=iteration)


def check_devices(ckpt: Checkpointer, saved: int, trainer: Trainer) -> None:
    """Refuses to resume state saved on `saved` devices on a trainer with another count.

    Raises:
      CheckpointError: naming both counts and what to do instead.
    """
    if saved == trainer.num_devices:
        return
    run = ckpt.directory.parent
    plural = "device" if saved == 1 else "devices"
    raise CheckpointError(
        f"{run} was trained on {saved} {plural} (data={saved}); this run sees "
        f"{trainer.num_devices} (mesh {describe_mesh(trainer.mesh)}). Resume with the same "
        f"device count, or start a new run from its network with init_from={run}"
    )


def _manifest(ckpt: Checkpointer, step: int) -> tuple[list[str], dict]:
    """(item names, metadata) of checkpoint `step`.

    Raises:
      CheckpointError: an unreadable manifest, naming the step directory to delete.
    """
    try:
        return ckpt.items(step), ckpt.metadata(step) or {}
    except CheckpointError as e:
        if str(ckpt.directory / str(step)) in str(e):
            raise  # it already names the directory and what to do
        raise CheckpointError(f"{e}. {_delete_hint(ckpt, step)}") from None


def _delete_hint(ckpt: Checkpointer, step: int) -> str:
    """What to do about an unusable checkpoint: delete its directory, and where the run then
    resumes."""
    earlier = [s for s in ckpt.all_steps() if s < step]
    then = f"from step {earlier[-1]}" if earlier else "from the start (no earlier checkpoint)"
    return f"Delete {ckpt.directory / str(step)} to resume {then}"


def quiet_abandoned_reads() -> None:
    """Silences the noise of a failed restore (idempotent; other unraisable errors still go to
    the previous hook).

    When one array of a restore fails, orbax closes its event loop while tensorstore is still
    reading the others; each of those reads then ends in a 'RuntimeError: Event loop is
    closed' traceback printed as an unraisable exception, from another thread and possibly
    after the CheckpointError has been reported. They say nothing that error does not.
    """
    # The same reads can also end as asyncio tasks whose NOT_FOUND is "never retrieved": asyncio
    # logs those when the task is collected. Nothing else in a reader logs through asyncio.
    logging.getLogger("asyncio").setLevel(logging.CRITICAL)
    previous = sys.unraisablehook
    if getattr(previous, "quiets_abandoned_reads", False):
        return

    def hook(unraisable) -> None:
        exc = unraisable.exc_value
        if isinstance(exc, RuntimeError) and str(exc) == "Event loop is closed":
            return
        previous(unraisable)

    hook.quiets_abandoned_reads = True
    sys.unraisablehook = hook


class LoadedRun(NamedTuple):
    """A run's network at one checkpoint.

    Attributes:
      run_dir: the run directory.
      cfg: its config.
      network: its `nets.Network`.
      params: the parameters of checkpoint `step`.
      step: the checkpoint's step.
    """

    run_dir: str
    cfg: TrainConfig
    network: Network
    params: Any
    step: int


def load_params(run_dir: str | Path, step: int | None = None) -> LoadedRun:
    """The network and parameters of a run's checkpoint (default: the latest complete one).
    Only the parameters are read from disk.

    Raises:
      ConfigError: not a run directory, or a bad config.json.
      CheckpointError: no such checkpoint, or one that does not load.
    """
    cfg = load_config(run_dir)
    network = cfg.network()
    target = network.abstract_params()
    path = checkpoint_dir(run_dir)
    if not path.is_dir():
        raise CheckpointError(f"{run_dir} has no checkpoints directory")
    with Checkpointer(path, async_save=False, writer=False) as ckpt:
        steps = ckpt.all_steps()
        if not steps:
            raise CheckpointError(f"{path} holds no complete checkpoint")
        if step is None:
            step = steps[-1]
        elif step not in steps:
            raise CheckpointError(f"{run_dir} has no checkpoint for step {step} (steps: {steps})")
        quiet_abandoned_reads()  # before: the noise can come from other threads at once
        if ckpt.items(step) == [_FORMAT1_ITEM]:
            params = ckpt.restore_part(_FORMAT1_ITEM, _FORMAT1_PARAMS, target, step)
        else:
            params = ckpt.restore_items({PARAMS: target}, step)[PARAMS]
    return LoadedRun(str(run_dir), cfg, network, params, step)


# ---------------------------------------------------------------------- warm starts
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


def describe_arch(cfg: TrainConfig) -> str:
    return (f"{cfg.net}/{cfg.block_type} {cfg.blocks}x{cfg.channels}"
            f"{' gpool' if cfg.global_pool else ''}{' own' if cfg.ownership else ''}"
            f"{' libs' if cfg.liberties else ''} history={cfg.history}")


OWNERSHIP_HEAD = "['heads']['ownership_"
"""Path prefix of the ownership head's leaves: a warm start from a network without one keeps
them at this run's fresh initialisation (the head is an auxiliary output; nothing else reads
it unless `score_utility` is on)."""


def fresh_leaves(source: TrainConfig, target: TrainConfig) -> tuple[str, ...]:
    """Path prefixes of the target's leaves a warm start from `source` may leave fresh: the
    ownership head when only the target has one."""
    return (OWNERSHIP_HEAD,) if target.ownership and not source.ownership else ()


def check_warm_start(cfg: TrainConfig) -> None:
    """Checks `cfg.init_from` before anything compiles: a run directory with a checkpoint and
    the same network architecture (the board size may differ; this run may add an ownership
    head, see `fresh_leaves`).

    Raises:
      ConfigError: not a run directory, a bad config.json, or a different architecture (naming
        the first mismatching leaves and both architectures).
      CheckpointError: the source has no complete checkpoint.
    """
    source = load_config(cfg.init_from)
    if not checkpoint_steps(cfg.init_from):
        raise CheckpointError(f"init_from {cfg.init_from}: no complete checkpoint")
    fresh = fresh_leaves(source, cfg)
    problems = [p for p in param_mismatches(source.network().abstract_params(),
                                            cfg.network().abstract_params())
                if not (p.startswith(fresh) and p.endswith("missing in the source"))]
    if problems:
        raise ConfigError(
            f"init_from {cfg.init_from}: its network ({describe_arch(source)}) does not match "
            f"this run's ({describe_arch(cfg)}); first mismatching leaves: "
            + "; ".join(problems[:4]) + (f" (+{len(problems) - 4} more)" if len(problems) > 4
                                         else "")
        )


def warm_start(carry: Carry, trainer: Trainer, run_dir: str | Path) -> tuple[Carry, str]:
    """A fresh carry whose network parameters come from another run's latest checkpoint.

    The optimizer state is fresh and the SGD step 0; the self-play games and the replay buffer
    are untouched. The source may have another board size: the networks are fully convolutional,
    only the architecture must match, except that this run may add an ownership head, which
    keeps its fresh initialisation (`fresh_leaves`).

    Returns:
      (carry, a one-line description of what was loaded).

    Raises:
      ConfigError, CheckpointError: see `check_warm_start`.
    """
    check_warm_start(dataclasses.replace(trainer.cfg, init_from=str(run_dir)))
    src = load_params(run_dir)
    # The target's tree structure with the source's values, matched by leaf path.
    by_path = {jax.tree_util.keystr(p): x
               for p, x in jax.tree_util.tree_leaves_with_path(src.params)}
    # Leaves the source lacks (`fresh_leaves`, checked above) keep this run's initialisation.
    flat, treedef = jax.tree_util.tree_flatten_with_path(carry.train.params)
    keys = [jax.tree_util.keystr(p) for p, _ in flat]
    params = jax.tree.unflatten(
        treedef, [jnp.asarray(by_path.get(k, x)) for k, (_, x) in zip(keys, flat, strict=True)]
    )
    n = src.cfg.size
    fresh = [k for k in keys if k not in by_path]
    info = (f"warm start from {run_dir}@{src.step} ({n}x{n}, {describe_arch(src.cfg)}): "
            f"{count_params(params):,} parameters"
            + (f", {len(fresh)} leaves of this run's own initialisation (the ownership head)"
               if fresh else ""))
    train = trainer.replicate(trainer.fresh_train_state(params))
    return carry.replace(train=train), info
