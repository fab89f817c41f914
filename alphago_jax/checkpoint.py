"""Asynchronous, crash-safe checkpoints of named pytrees (orbax CheckpointManager).

A checkpoint step directory holds one orbax item per named pytree, plus a manifest:

* each item (``params``, ``opt_state``, ``replay``, ... -- whatever the caller names): the
  pytree's leaves as a nested dict of arrays keyed by their tree paths, written with
  ``StandardSave`` (tensorstore / OCDBT). Typed PRNG keys are stored as their raw ``uint32`` key
  data and python scalars as 0-d numpy arrays, so any pytree of arrays round-trips bit-exactly.
  A reader restores only the items it names, so loading ``params`` never reads the replay buffer.
* ``manifest``: JSON with the caller's metadata and, per item, one entry per leaf (path, kind,
  shape, dtype, PRNG impl). Restores check the target against it first, so a structure mismatch
  is reported by name instead of as a tensorstore error.

`save(step, state)` / `restore(target, step)` are the one-item case (item ``state``). Format 1
checkpoints (one ``state`` item, written before items existed) restore through the same calls.

Orbax writes a step into ``<step>.orbax-checkpoint-tmp`` and renames it when complete, so a process
killed mid-save leaves only a tmp directory, which `latest_step` never reports (and which the next
`Checkpointer` on the directory deletes).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import orbax.checkpoint as ocp

_STATE = "state"  # the item of `save` / `restore`, and the only item of format 1
_MANIFEST = "manifest"
_FORMAT = 2
_FORMATS = (1, 2)
# Python scalars are stored as 0-d numpy arrays of these dtypes and turned back on restore.
_SCALAR_KINDS = {bool: "bool", int: "int", float: "float"}
_SCALAR_TYPES = {"bool": bool, "int": int, "float": float}


class CheckpointError(RuntimeError):
    """A checkpoint that is missing, incomplete, corrupt, or does not fit the restore target."""


# ------------------------------------------------------------------------------------ leaf specs


def _is_key(x: Any) -> bool:
    dtype = getattr(x, "dtype", None)
    return dtype is not None and jax.dtypes.issubdtype(dtype, jax.dtypes.prng_key)


def _leaf_spec(path: str, x: Any) -> dict:
    """Describes one leaf: {'path', 'kind', 'shape', 'dtype'} (+ 'impl' for PRNG keys).

    Kinds: 'jax' (jax.Array or ShapeDtypeStruct), 'numpy' (ndarray / numpy scalar),
    'key' (typed PRNG key array), 'int' / 'float' / 'bool' (python scalars).
    """
    if type(x) in _SCALAR_KINDS:
        arr = np.asarray(x)
        return {"path": path, "kind": _SCALAR_KINDS[type(x)], "shape": [], "dtype": str(arr.dtype)}
    if _is_key(x):
        impl = str(x.dtype._impl.name)
        return {"path": path, "kind": "key", "shape": list(x.shape), "dtype": str(x.dtype),
                "impl": impl}
    if isinstance(x, np.ndarray | np.generic):
        return {"path": path, "kind": "numpy", "shape": list(x.shape), "dtype": str(x.dtype)}
    if isinstance(x, jax.Array | jax.ShapeDtypeStruct):
        return {"path": path, "kind": "jax", "shape": list(x.shape), "dtype": str(x.dtype)}
    raise CheckpointError(
        f"cannot checkpoint leaf {path} of type {type(x).__name__}: leaves must be arrays, "
        "PRNG keys or python bool/int/float"
    )


def _segment(entry: Any) -> str:
    """One tree-path entry as a storage-safe name ('params', '0', 'value', ...)."""
    for attr in ("key", "name", "idx"):
        if hasattr(entry, attr):
            return re.sub(r"[^A-Za-z0-9_\-]", "_", str(getattr(entry, attr))) or "_"
    return re.sub(r"[^A-Za-z0-9_\-]", "_", str(entry)) or "_"


def _flatten(tree: Any) -> tuple[list[str], list[tuple[str, ...]], list[Any], Any]:
    """Leaves of `tree` with their readable paths, storage paths and the treedef."""
    with_path, treedef = jax.tree_util.tree_flatten_with_path(tree)
    names = [jax.tree_util.keystr(p) for p, _ in with_path]
    storage = [tuple(_segment(e) for e in p) or ("_root",) for p, _ in with_path]
    if len(set(storage)) != len(storage):
        raise CheckpointError("two leaves of the state map to the same storage name: " + str(names))
    return names, storage, [x for _, x in with_path], treedef


def _nest(storage: list[tuple[str, ...]], values: list[Any]) -> dict:
    """Nested dict {seg0: {seg1: value}} from storage paths (the layout orbax writes)."""
    out: dict = {}
    for segs, value in zip(storage, values, strict=True):
        node = out
        for s in segs[:-1]:
            node = node.setdefault(s, {})
            if not isinstance(node, dict):
                raise CheckpointError(f"leaf path {'/'.join(segs)} clashes with another leaf")
        if segs[-1] in node:
            raise CheckpointError(f"leaf path {'/'.join(segs)} clashes with another leaf")
        node[segs[-1]] = value
    return out


def _unnest(tree: dict, storage: list[tuple[str, ...]]) -> list[Any]:
    out = []
    for segs in storage:
        node = tree
        for s in segs:
            node = node[s]
        out.append(node)
    return out


def _to_storable(x: Any, spec: dict) -> Any:
    """A leaf as orbax stores it (copied where the caller could mutate it after `save`)."""
    kind = spec["kind"]
    if kind == "key":
        return jax.random.key_data(x)
    if kind in _SCALAR_TYPES:
        return np.asarray(x)
    if kind == "numpy":
        return np.array(x)  # a copy: the async write may run after the caller mutates `x`
    return x


def _empty(spec: dict) -> bool:
    """A zero-size array leaf (orbax cannot store those)."""
    return spec["kind"] in ("jax", "numpy", "key") and 0 in spec["shape"]


def _zeros_like_spec(x: Any, spec: dict) -> Any:
    """A zero-size leaf remade from the target (it holds no data to restore)."""
    if spec["kind"] == "numpy":
        return np.zeros(spec["shape"], dtype=np.dtype(spec["dtype"]))
    sharding = getattr(x, "sharding", None) or _default_sharding()
    if spec["kind"] == "key":
        data = jax.eval_shape(jax.random.key_data, jax.ShapeDtypeStruct(x.shape, x.dtype))
        zeros = jnp.zeros(data.shape, data.dtype, device=sharding)
        return jax.random.wrap_key_data(zeros, impl=x.dtype._impl)
    return jnp.zeros(spec["shape"], dtype=x.dtype, device=sharding)


def _default_sharding() -> jax.sharding.Sharding:
    # This process's first device: in a multi-process run jax.devices()[0] may be another's.
    return jax.sharding.SingleDeviceSharding(jax.local_devices()[0])


def _restore_target(x: Any, spec: dict) -> Any:
    """What orbax restores a leaf into: ndarray for host leaves, ShapeDtypeStruct otherwise."""
    kind = spec["kind"]
    if kind in _SCALAR_TYPES or kind == "numpy":
        return np.zeros(spec["shape"], dtype=np.dtype(spec["dtype"]))
    sharding = getattr(x, "sharding", None) or _default_sharding()
    if kind == "key":
        data = jax.eval_shape(jax.random.key_data, jax.ShapeDtypeStruct(x.shape, x.dtype))
        return jax.ShapeDtypeStruct(data.shape, data.dtype, sharding=sharding)
    return jax.ShapeDtypeStruct(x.shape, x.dtype, sharding=sharding)


def _from_restored(value: Any, x: Any, spec: dict) -> Any:
    kind = spec["kind"]
    if kind == "key":
        return jax.random.wrap_key_data(value, impl=x.dtype._impl)
    if kind in _SCALAR_TYPES:
        return _SCALAR_TYPES[kind](value)
    if kind == "numpy" and isinstance(x, np.generic):
        return np.asarray(value, dtype=x.dtype)[()]
    return value


def _mismatches(saved: list[dict], wanted: list[dict]) -> list[str]:
    """Human-readable differences between the saved manifest and the restore target."""
    saved_by_path = {s["path"]: s for s in saved}
    wanted_by_path = {w["path"]: w for w in wanted}
    problems = []
    missing = [p for p in wanted_by_path if p not in saved_by_path]
    extra = [p for p in saved_by_path if p not in wanted_by_path]
    if missing:
        problems.append(f"{len(missing)} target leaves not in the checkpoint: {_few(missing)}")
    if extra:
        problems.append(f"{len(extra)} checkpoint leaves not in the target: {_few(extra)}")
    for path, w in wanted_by_path.items():
        s = saved_by_path.get(path)
        if s is None:
            continue
        if (s["shape"], s["dtype"], s.get("impl")) != (w["shape"], w["dtype"], w.get("impl")):
            problems.append(
                f"{path}: checkpoint has {s['dtype']}{s['shape']}, target wants "
                f"{w['dtype']}{w['shape']}"
            )
    return problems


def _few(items: list[str], n: int = 5) -> str:
    return ", ".join(items[:n]) + (f", ... ({len(items) - n} more)" if len(items) > n else "")


def _brief(e: BaseException) -> str:
    """First line of an exception message, short (tensorstore messages embed whole specs)."""
    text = str(e).strip().splitlines()[0] if str(e).strip() else ""
    text = text if len(text) <= 400 else text[:400] + " ..."
    return f"{type(e).__name__}: {text}"


def _error(message: str, e: BaseException) -> CheckpointError:
    """A CheckpointError for `message` caused by `e`, raised `from None` by callers.

    Tensorstore errors carry pages of spec JSON and deep tracebacks; the short cause goes in the
    message and the original stays reachable as `.detail` for debugging.
    """
    err = CheckpointError(f"{message}: {_brief(e)}")
    err.detail = e
    return err


def _jsonable(obj: Any) -> Any:
    """Metadata with numpy / jax scalars turned into python values."""
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.generic | np.ndarray | jax.Array):
        return np.asarray(obj).tolist()
    return obj


def _segments(keystr_path: str) -> list[str]:
    """Storage segments of a manifest path like ``.train.params['blocks'][0]['conv']``."""
    parts = re.findall(r"\.([A-Za-z0-9_]+)|\['([^']*)'\]|\[(\d+)\]", keystr_path)
    return [re.sub(r"[^A-Za-z0-9_\-]", "_", a or b or c) or "_" for a, b, c in parts]


def _storable_tree(state: Any) -> tuple[dict, list[dict]]:
    """(the nested dict orbax writes, the leaf specs for the manifest) of one item."""
    names, storage, leaves, _ = _flatten(state)
    specs = [_leaf_spec(n, x) for n, x in zip(names, leaves, strict=True)]
    # orbax refuses zero-size arrays; the manifest records their shape and restore remakes them.
    kept = [i for i, sp in enumerate(specs) if not _empty(sp)]
    tree = _nest([storage[i] for i in kept], [_to_storable(leaves[i], specs[i]) for i in kept])
    # orbax also refuses an empty item; a placeholder keeps leafless states saveable.
    return tree or {"_placeholder": np.zeros((1,), np.int8)}, specs


class _RestorePlan:
    """How one item is restored into its target: what to read, and how to rebuild the tree."""

    def __init__(self, target, saved_specs, step, directory, name):
        names, storage, self.leaves, self.treedef = _flatten(target)
        self.specs = [_leaf_spec(n, x) for n, x in zip(names, self.leaves, strict=True)]
        problems = _mismatches(saved_specs, self.specs)
        if problems:
            raise CheckpointError(
                f"checkpoint step {step} in {directory}, item {name!r}, does not match the "
                "restore target:\n  " + "\n  ".join(problems[:10])
            )
        self.kept = [i for i, sp in enumerate(self.specs) if not _empty(sp)]
        self.storage = [storage[i] for i in self.kept]
        targets = [_restore_target(self.leaves[i], self.specs[i]) for i in self.kept]
        self.tree = _nest(self.storage, targets)

    def finish(self, restored: dict | None) -> Any:
        values = dict(zip(self.kept, _unnest(restored, self.storage), strict=True)) if restored \
            else {}
        out = [
            _from_restored(values[i], x, s) if i in values else _zeros_like_spec(x, s)
            for i, (x, s) in enumerate(zip(self.leaves, self.specs, strict=True))
        ]
        return jax.tree_util.tree_unflatten(self.treedef, out)



# ------------------------------------------------------------------------------------ checkpointer


class Checkpointer:
    """Saves and restores a training pytree every few iterations, asynchronously.

    Example::

        ckpt = Checkpointer(run_dir / "checkpoints", keep=3)
        step = ckpt.latest_step()
        if step is not None:
            carry = ckpt.restore(carry, step)     # carry gives structure, shapes, dtypes
        ...
        ckpt.save(it, carry, {"iteration": it})  # returns once the arrays are copied to host
        ckpt.close()                             # waits for the last save

    Args:
        directory: where step directories live (created if missing).
        keep: number of most recent checkpoints kept; older ones are deleted.
        async_save: write in a background thread (`save` only copies arrays to host memory).
        writer: this process owns the directory and saves into it. A reader (`writer=False`:
            evaluation, arena, GTP) never deletes unfinished saves, which may belong to a run that
            is still training.
    """

    def __init__(
        self, directory: str | Path, keep: int = 3, async_save: bool = True, writer: bool = True
    ):
        self.directory = Path(directory).absolute()
        if keep < 1:
            raise ValueError(f"keep must be >= 1, got {keep}")
        options = ocp.CheckpointManagerOptions(
            enable_async_checkpointing=async_save,
            # Leftovers of a save killed before it finished: never valid, and only the writer
            # may delete them (a reader could be looking at a save in progress).
            cleanup_tmp_directories=writer,
            create=True,
            **_keep_options(keep),
        )
        try:
            self._manager = ocp.CheckpointManager(self.directory, options=options)
        except Exception as e:
            raise _error(f"cannot open checkpoint directory {self.directory}", e) from None
        self._closed = False

    # ------------------------------------------------------------------ queries

    def all_steps(self) -> list[int]:
        """Steps with a complete checkpoint, ascending."""
        # The manager also lists steps whose async save is still running; their final
        # directory appears only when orbax renames the finished tmp directory.
        return sorted(s for s in self._manager.all_steps() if self._step_dir(s).is_dir())

    def latest_step(self) -> int | None:
        """The last step whose checkpoint is complete, or None if there is none."""
        steps = self.all_steps()
        return steps[-1] if steps else None

    def metadata(self, step: int | None = None) -> dict | None:
        """The metadata dict saved with `step` (default: the latest), or None if none was given."""
        step = self._resolve(step)
        return self._manifest(step)["user"]

    def missing_leaves(self, item: str, target: Any, step: int | None = None) -> list[str]:
        """Paths of `target`'s leaves that item `item` of `step` does not hold (all of them when
        the item is absent): a layout saved before those leaves existed."""
        saved = {s["path"] for s in self._leaf_specs(self._resolve(step)).get(item, [])}
        names = _flatten(target)[0]
        return [n for n in names if n not in saved]

    # ------------------------------------------------------------------ save / restore

    def items(self, step: int | None = None) -> list[str]:
        """Names of the items saved in `step` (default: the latest)."""
        return sorted(self._leaf_specs(self._resolve(step)))

    def save(self, step: int, state: Any, metadata: dict | None = None) -> None:
        """`save_items(step, {"state": state}, metadata)`."""
        self.save_items(step, {_STATE: state}, metadata)

    def restore(self, target: Any, step: int | None = None) -> Any:
        """`restore_items(step, {"state": target})["state"]`."""
        return self.restore_items({_STATE: target}, step)[_STATE]

    def save_items(self, step: int, items: dict[str, Any], metadata: dict | None = None) -> None:
        """Starts saving the named pytrees as checkpoint `step`; returns once their arrays are on
        the host. It is safe to donate or overwrite their buffers after this returns.

        Args:
            step: the checkpoint's step; must be greater than every saved step.
            items: {name: pytree of arrays, PRNG keys, numpy arrays and python scalars}; names
                are letters, digits and '_' (not 'manifest').
            metadata: JSON-serialisable dict stored alongside (read back with `metadata`).

        Raises:
            CheckpointError: unsupported leaves or names, a step not after the latest, or a
                failed save.
        """
        bad = [n for n in items if n == _MANIFEST or not re.fullmatch(r"[A-Za-z0-9_]+", n)]
        if bad or not items:
            raise CheckpointError(f"bad checkpoint item names {bad or '(none)'}")
        trees, specs_by_item = {}, {}
        for name, state in items.items():
            trees[name], specs_by_item[name] = _storable_tree(state)
        manifest = {"format": _FORMAT, "user": _jsonable(metadata), "items": specs_by_item}
        try:
            json.dumps(manifest)
        except (TypeError, ValueError) as e:
            raise CheckpointError(f"checkpoint metadata is not JSON-serialisable: {e}") from None
        last = max(self._manager.all_steps(), default=None)
        if last is not None and step <= last:
            raise CheckpointError(
                f"cannot save step {step} in {self.directory}: step {last} is already saved"
            )
        args = ocp.args.Composite(
            **{name: ocp.args.StandardSave(tree) for name, tree in trees.items()},
            **{_MANIFEST: ocp.args.JsonSave(manifest)},
        )
        try:
            saved = self._manager.save(step, args=args, force=True)
        except Exception as e:
            raise _error(f"saving step {step} in {self.directory} failed", e) from None
        if not saved:
            raise CheckpointError(f"orbax skipped saving step {step} in {self.directory}")

    def restore_items(self, targets: dict[str, Any], step: int | None = None) -> dict[str, Any]:
        """Restores the named items of checkpoint `step` (default: the latest complete one); the
        items not named are not read.

        Args:
            targets: {item name: pytree with the saved structure}; its leaves (arrays,
                ShapeDtypeStructs, keys, python scalars) give the shapes, dtypes and shardings of
                the result.
            step: which checkpoint; None for `latest_step()`.

        Returns:
            {item name: a pytree like its target holding the saved values (bit-exact)}.

        Raises:
            CheckpointError: no such checkpoint or item, it is corrupt, or it does not match.
        """
        step = self._resolve(step)
        saved = self._leaf_specs(step)
        plans, args = {}, {}
        for name, target in targets.items():
            if name not in saved:
                raise CheckpointError(
                    f"checkpoint step {step} in {self.directory} has no item {name!r} "
                    f"(items: {', '.join(sorted(saved))})"
                )
            plans[name] = _RestorePlan(target, saved[name], step, self.directory, name)
            if plans[name].kept:
                args[name] = ocp.args.StandardRestore(plans[name].tree)
        try:
            restored = self._manager.restore(step, args=ocp.args.Composite(**args)) if args else {}
        except Exception as e:
            raise self._corrupt(step, e) from None
        return {name: plan.finish(restored[name] if plan.kept else None)
                for name, plan in plans.items()}

    def restore_part(self, item: str, prefix: tuple[str, ...], target: Any,
                     step: int | None = None) -> Any:
        """Restores only the subtree of `item` under the storage path `prefix` into `target`
        (e.g. the parameters inside a format-1 whole-carry item: `("train", "params")`); the
        rest of the item is not read.

        Raises:
            CheckpointError: no such item or subtree, a mismatch, or a corrupt checkpoint.
        """
        step = self._resolve(step)
        saved = self._leaf_specs(step).get(item)
        if saved is None:
            raise CheckpointError(f"checkpoint step {step} in {self.directory} has no item "
                                  f"{item!r}")
        names, storage, leaves, treedef = _flatten(target)
        full = [prefix + segs for segs in storage]
        by_storage = {tuple(_segments(sp["path"])): sp for sp in saved}
        problems = []
        for name, segs, x in zip(names, full, leaves, strict=True):
            sp, want = by_storage.get(segs), _leaf_spec(name, x)
            if sp is None:
                problems.append(f"{'/'.join(segs)}: not in the checkpoint")
            elif (sp["shape"], sp["dtype"]) != (want["shape"], want["dtype"]):
                problems.append(f"{'/'.join(segs)}: checkpoint has {sp['dtype']}{sp['shape']}, "
                                f"target wants {want['dtype']}{want['shape']}")
        if problems:
            raise CheckpointError(f"checkpoint step {step} in {self.directory}: "
                                  + "; ".join(problems[:5]))
        specs = [_leaf_spec(n, x) for n, x in zip(names, leaves, strict=True)]
        tree = _nest(full, [_restore_target(x, sp) for x, sp in zip(leaves, specs, strict=True)])
        restore_args = jax.tree.map(
            lambda t: ocp.ArrayRestoreArgs(sharding=t.sharding)
            if isinstance(t, jax.ShapeDtypeStruct) else ocp.RestoreArgs(), tree)
        args = ocp.args.PyTreeRestore(item=tree, restore_args=restore_args, partial_restore=True)
        try:
            restored = self._manager.restore(step, args=ocp.args.Composite(**{item: args}))[item]
        except Exception as e:
            raise self._corrupt(step, e) from None
        values = _unnest(restored, full)
        out = [_from_restored(v, x, sp) for v, x, sp in zip(values, leaves, specs, strict=True)]
        return jax.tree_util.tree_unflatten(treedef, out)

    # ------------------------------------------------------------------ lifecycle

    def wait(self) -> None:
        """Blocks until every pending asynchronous save is written and finalised."""
        try:
            self._manager.wait_until_finished()
        except Exception as e:
            raise _error(f"a checkpoint save in {self.directory} failed", e) from None

    def close(self) -> None:
        """Waits for pending saves and releases orbax's threads; safe to call twice."""
        if self._closed:
            return
        self._closed = True
        try:
            self._manager.close()
        except Exception as e:
            raise _error(f"a checkpoint save in {self.directory} failed", e) from None

    def __enter__(self) -> Checkpointer:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # ------------------------------------------------------------------ helpers

    def _step_dir(self, step: int) -> Path:
        return self.directory / str(step)

    def _resolve(self, step: int | None) -> int:
        steps = self.all_steps()
        if step is None:
            if not steps:
                raise CheckpointError(f"no complete checkpoint in {self.directory}")
            return steps[-1]
        if step not in steps:
            raise CheckpointError(
                f"no complete checkpoint for step {step} in {self.directory} "
                f"(complete steps: {steps or 'none'})"
            )
        return step

    def _manifest(self, step: int) -> dict:
        args = ocp.args.Composite(**{_MANIFEST: ocp.args.JsonRestore()})
        try:
            manifest = self._manager.restore(step, args=args)[_MANIFEST]
        except Exception as e:
            raise self._corrupt(step, e) from None
        if not isinstance(manifest, dict) or manifest.get("format") not in _FORMATS:
            raise CheckpointError(
                f"checkpoint step {step} in {self.directory} has no valid manifest "
                f"(was it written by alphago_jax.checkpoint?)"
            )
        return manifest

    def _leaf_specs(self, step: int) -> dict[str, list[dict]]:
        """{item: its leaf specs} of a step (format 1: the one item 'state')."""
        manifest = self._manifest(step)
        if manifest["format"] == 1:
            return {_STATE: manifest["leaves"]}
        return manifest["items"]

    def _corrupt(self, step: int, e: BaseException) -> CheckpointError:
        return _error(
            f"checkpoint step {step} in {self._step_dir(step)} is corrupt or incomplete "
            "(delete that directory to resume from an earlier step)",
            e,
        )


def _keep_options(keep: int) -> dict:
    """Retention options for this orbax version (`max_to_keep` is deprecated in newer ones)."""
    policies = getattr(ocp, "checkpoint_managers", None)
    if policies is not None and hasattr(policies, "LatestN"):
        return {"preservation_policy": policies.LatestN(n=keep)}
    return {"max_to_keep": keep}
