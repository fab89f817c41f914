"""Run logging for the training loop: a tqdm progress bar, `metrics.jsonl`, and wandb.

Every `RunLogger.log(step, metrics)` call

* appends one JSON line ``{"step": step, "time": unix_seconds, **metrics}`` to
  ``run_dir/metrics.jsonl`` (flushed at once, so a killed run keeps every logged iteration),
* logs the metrics at the top level of the wandb run (where a wandb sweep reads its metric),
* advances the progress bar to `step` and shows a few key metrics in its postfix.

wandb runs offline unless WANDB_MODE (or an explicit mode) says otherwise, and online under a
wandb sweep agent (WANDB_SWEEP_ID set), whose runs must reach the server. The run id is stored in
``run_dir/wandb_id.txt`` so a resumed training run continues the same wandb run.
"""

from __future__ import annotations

import json
import math
import numbers
import os
import secrets
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

METRICS_FILE = "metrics.jsonl"
WANDB_ID_FILE = "wandb_id.txt"

# Postfix metrics shown on the progress bar (when present), with their short labels.
DEFAULT_POSTFIX: dict[str, str] = {
    "games_per_s": "games/s",
    "positions_per_s": "pos/s",
    "loss": "loss",
    "policy_loss": "pi",
    "value_loss": "v",
    "buffer_fill": "buf",
}


def to_float(value: Any, name: str = "value") -> float:
    """A python float from a python / numpy / jax scalar (or any one-element array).

    Raises:
        TypeError: `value` is not numeric or has more than one element.
    """
    if isinstance(value, numbers.Real):
        return float(value)
    try:
        arr = np.asarray(value)
    except Exception as e:  # e.g. a deleted (donated) jax array
        raise TypeError(f"metric {name!r}: cannot read {type(value).__name__}: {e}") from None
    # dtype kinds that are not real numbers (bfloat16 & co. from ml_dtypes are kind 'V').
    if arr.size != 1 or arr.dtype.kind in "OUSacMm":
        raise TypeError(
            f"metric {name!r} must be a numeric scalar, got {type(value).__name__} "
            f"{arr.dtype}{list(arr.shape)}"
        )
    return float(arr.reshape(()))


def _format(value: float) -> str:
    """Compact number for the progress bar: 1234 -> '1.23k', 0.01234 -> '0.0123'."""
    if not math.isfinite(value):
        return str(value)
    magnitude = abs(value)
    for bound, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if magnitude >= bound:
            return f"{value / bound:.3g}{suffix}"
    return f"{value:.3g}"


def sweep_id() -> str | None:
    """The wandb sweep this process runs for: $WANDB_SWEEP_ID (a sweep agent sets it), else None."""
    return os.environ.get("WANDB_SWEEP_ID") or None


def resolve_wandb_mode(mode: str | None = None, config: Mapping[str, Any] | None = None) -> str:
    """wandb mode: `mode`, else config['wandb_mode'], else $WANDB_MODE, else 'online' under a
    sweep agent (an offline sweep run would never report its metric), else 'offline'."""
    default = "online" if sweep_id() else "offline"
    mode = mode or (config or {}).get("wandb_mode") or os.environ.get("WANDB_MODE") or default
    # wandb also accepts these legacy spellings of online / offline.
    mode = {"run": "online", "dryrun": "offline"}.get(mode, mode)
    if mode not in ("online", "offline", "disabled", "shared"):
        raise ValueError(f"unknown wandb mode {mode!r} (online, offline or disabled)")
    return mode


class RunLogger:
    """Progress bar, JSON-lines metrics and wandb logging for one training run.

    Args:
        run_dir: the run directory (created if missing); metrics.jsonl, wandb_id.txt and wandb's
            files go there.
        config: the run's config, sent to wandb as the run config.
        total: iterations in the run (progress bar length); None for an open-ended bar.
        initial: iterations already done (a resumed run starts its bar there).
        use_wandb: log to wandb as well.
        project: wandb project.
        mode: wandb mode ('online', 'offline', 'disabled'); see `resolve_wandb_mode`.
        progress: show the progress bar (on stderr).
        postfix: metric name -> label of the metrics shown on the bar; any other metric whose
            name ends in 'loss' is shown too.
    """

    def __init__(
        self,
        run_dir: str | Path,
        config: Mapping[str, Any] | None = None,
        *,
        total: int | None = None,
        initial: int = 0,
        use_wandb: bool = True,
        project: str = "alphago-jax",
        mode: str | None = None,
        progress: bool = True,
        postfix: Mapping[str, str] | None = None,
    ):
        self.run_dir = Path(run_dir)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.config = dict(config or {})
        self.postfix = dict(DEFAULT_POSTFIX if postfix is None else postfix)
        # Opened at the first record, so that a resuming caller can `repair_metrics` the file
        # after the logger exists (a sweep's logger starts before the checkpoint is read).
        self._file = None
        self._closed = False
        self.bar = self._make_bar(total, initial, progress)
        self.wandb_run = None
        if use_wandb:
            self.wandb_run = self._init_wandb(project, resolve_wandb_mode(mode, self.config))

    # ------------------------------------------------------------------ setup

    @staticmethod
    def _make_bar(total: int | None, initial: int, progress: bool):
        from tqdm.auto import tqdm

        return tqdm(
            total=total, initial=initial, desc="train", unit="it", disable=not progress,
            dynamic_ncols=True, mininterval=0.5, smoothing=0.1,
        )

    def _init_wandb(self, project: str, mode: str):
        import wandb

        run_id = self.wandb_id()
        # Under a sweep agent wandb takes the run id from $WANDB_RUN_ID (the same one wandb_id
        # stored) and ignores, with a warning, any id passed here.
        run = wandb.init(
            project=project,
            config=self.config,
            dir=str(self.run_dir),
            mode=mode,
            id=None if sweep_id() else run_id,
            # "allow": continue run `run_id` if it exists (a resumed training run), else create it.
            resume="allow",
        )
        return run

    def wandb_id(self) -> str:
        """The run's wandb id: read from wandb_id.txt, else new (or $WANDB_RUN_ID) and stored."""
        path = self.run_dir / WANDB_ID_FILE
        if path.exists():
            run_id = path.read_text().strip()
            if run_id:
                return run_id
        # A sweep agent picks the id of the run it starts and passes it in WANDB_RUN_ID. A new id is
        # only a name (no experiment randomness), so it need not come from the run's jax key.
        run_id = os.environ.get("WANDB_RUN_ID") or secrets.token_hex(6)
        path.write_text(run_id + "\n")
        return run_id

    def wandb_config(self) -> dict[str, Any]:
        """The wandb run's config after `wandb.init`: the config passed in, with a sweep's
        parameters (which wandb applies over it) in place; {} without wandb."""
        if self.wandb_run is None:
            return {}
        return {k: v for k, v in self.wandb_run.config.items() if not k.startswith("_")}

    def update_wandb_config(self, config: Mapping[str, Any]) -> None:
        """Records the values of `config` that differ from the wandb run's config."""
        if self.wandb_run is None:
            return
        current = self.wandb_config()
        changed = {k: v for k, v in config.items() if k not in current or current[k] != v}
        if changed:
            self.wandb_run.config.update(changed, allow_val_change=True)

    def start_at(self, step: int, total: int | None = None) -> None:
        """Moves the progress bar to `step` (iterations a resumed run has already done) and,
        when given, sets its length to `total` (a sweep may change the run's iterations)."""
        if total is not None:
            self.bar.total = total
        self.bar.n = self.bar.last_print_n = self.bar.initial = int(step)
        self.bar.refresh()

    # ------------------------------------------------------------------ logging

    def log(self, step: int, metrics: Mapping[str, Any]) -> dict[str, float]:
        """Records `metrics` for iteration `step` everywhere; returns them as python floats.

        Args:
            step: the iteration just finished (the progress bar moves to it).
            metrics: name -> numeric scalar (python, numpy or jax).
        """
        values = {str(k): to_float(v, str(k)) for k, v in metrics.items()}
        step = int(step)
        record = {"step": step, "time": round(time.time(), 3), **values}
        if self._file is None:
            self._file = open(self.run_dir / METRICS_FILE, "a", encoding="utf-8")
        self._file.write(json.dumps(record) + "\n")
        self._file.flush()
        if self.wandb_run is not None:
            # Commit now: otherwise wandb holds a step's row back until the next step arrives.
            self.wandb_run.log(values, step=step, commit=True)
        self._update_bar(step, values)
        return values

    def _update_bar(self, step: int, values: Mapping[str, float]) -> None:
        shown = {
            self.postfix.get(k, k): v
            for k, v in values.items()
            if k in self.postfix or k.endswith("loss")
        }
        self.bar.set_postfix({k: _format(v) for k, v in shown.items()}, refresh=False)
        self.bar.update(max(step - self.bar.n, 0))

    def summarize(self, metrics: Mapping[str, Any]) -> dict[str, float]:
        """Sets `metrics` as the wandb run's summary values (what a sweep reads as a run's
        final result); returns them as python floats. Nothing is written to metrics.jsonl."""
        values = {str(k): to_float(v, str(k)) for k, v in metrics.items()}
        if self.wandb_run is not None:
            for k, v in values.items():
                self.wandb_run.summary[k] = v
        return values

    def write(self, message: str) -> None:
        """Prints a line without breaking the progress bar."""
        self.bar.write(message)

    def close(self, exit_code: int | None = None) -> None:
        """Closes the bar and the metrics file and finishes the wandb run (marked failed when
        `exit_code` is non-zero); safe to call twice."""
        if self._closed:
            return
        self._closed = True
        self.bar.close()
        if self._file is not None:
            self._file.close()
        if self.wandb_run is not None:
            self.wandb_run.finish(exit_code=exit_code)
            self.wandb_run = None

    def __enter__(self) -> RunLogger:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class MetricsError(ValueError):
    """A metrics.jsonl line that is not a JSON record, other than a torn last line."""


_RECORD_START = '{"step": '


def _record(text: str) -> dict | None:
    """The metrics record a line holds, or None."""
    try:
        record = json.loads(text)
    except ValueError:
        return None
    ok = isinstance(record, dict) and isinstance(record.get("step"), int)
    return record if ok else None


def _parse_lines(path: Path) -> tuple[list[tuple[str, dict]], list[str]]:
    """The (line, record) pairs of a metrics file, and how to mend the damage a kill mid-write
    leaves, one phrase each: drop a torn last line, add the newline a complete last line lacks
    (the next record would be glued onto it), or keep the record glued onto a torn one (files
    written before `repair_metrics` existed).

    Raises:
      MetricsError: a line before the last is not a JSON record, naming the file and line.
    """
    text = path.read_text(encoding="utf-8", errors="replace")
    lines = text.splitlines()
    pairs, damage, glued = [], [], 0
    for i, line in enumerate(lines):
        if not line.strip():
            continue
        record, start = _record(line), line.rfind(_RECORD_START)
        if record is None and start > 0 and _record(line[start:]) is not None:
            line, record, glued = line[start:], _record(line[start:]), glued + 1
        if record is None:
            if i == len(lines) - 1:
                damage.append("dropped a torn last line")
                break
            raise MetricsError(
                f"{path}:{i + 1}: not a metrics record: {line[:80]!r}. Delete that line (or "
                "the file, losing the logged history) and run again"
            )
        pairs.append((line, record))
    if glued:
        damage.append(f"recovered {glued} record(s) glued onto a torn one")
    if text and not text.endswith("\n") and "dropped a torn last line" not in damage:
        damage.append("added a missing final newline")
    return pairs, damage


def read_metrics(run_dir: str | Path, *, dedupe: bool = True) -> list[dict]:
    """The records of run_dir/metrics.jsonl, oldest step first.

    Args:
        run_dir: the run directory.
        dedupe: keep only the last record written for each step (files written before
            `repair_metrics` existed hold the iterations a resumed run re-logged); False returns
            every line as written.

    Returns:
        A list of dicts with 'step', 'time' and the metrics; [] if the file does not exist.
        A trailing partial line (the process was killed mid-write) is skipped.

    Raises:
        MetricsError: a line other than the last is not a metrics record.
    """
    path = Path(run_dir) / METRICS_FILE
    if not path.exists():
        return []
    records = [r for _, r in _parse_lines(path)[0]]
    if not dedupe:
        return records
    by_step = {r["step"]: r for r in records}  # later lines overwrite earlier ones
    return sorted(by_step.values(), key=lambda r: r["step"])


def repair_metrics(run_dir: str | Path, keep_through: int) -> list[str]:
    """Readies run_dir/metrics.jsonl for a run that continues after step `keep_through` (its
    checkpoint): mends what a kill mid-write left (a torn last line is dropped, so the next
    record is not glued onto it; see `_parse_lines`) and drops the records of steps after
    `keep_through` (the run logs those iterations again), so the file never holds a step twice.
    Every other line is kept as it was. The file is replaced atomically, and left untouched
    when there is nothing to mend.

    Returns:
        What was repaired, one phrase each (empty when nothing was).

    Raises:
        MetricsError: a line other than the last is not a metrics record (nothing is changed).
    """
    path = Path(run_dir) / METRICS_FILE
    if not path.is_file():
        return []
    pairs, fixed = _parse_lines(path)
    keep = [line for line, r in pairs if r["step"] <= keep_through]
    if len(keep) < len(pairs):
        fixed.append(f"dropped {len(pairs) - len(keep)} record(s) after step {keep_through} "
                     "(the run logs those steps again)")
    if fixed:
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text("".join(line + "\n" for line in keep), encoding="utf-8")
        os.replace(tmp, path)
    return fixed


def last_values(records: Sequence[dict], names: Sequence[str]) -> dict[str, float]:
    """name -> the value of the last record (highest step) that has it, for each of `names`
    logged at least once; e.g. the final evaluation of a run."""
    out = {}
    for r in records:
        out.update({n: r[n] for n in names if n in r})
    return out


def metric_series(records: Sequence[dict], name: str) -> tuple[np.ndarray, np.ndarray]:
    """(steps, values) of metric `name` over `records` (those that have it).

    Returns:
        steps: int64[N]; values: float64[N].
    """
    pairs = [(r["step"], r[name]) for r in records if name in r]
    steps = np.array([p[0] for p in pairs], dtype=np.int64)
    values = np.array([p[1] for p in pairs], dtype=np.float64)
    return steps, values
