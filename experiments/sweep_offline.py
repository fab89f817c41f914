"""Run a wandb sweep's grid on this machine, without a wandb server.

Reads a sweep configuration in wandb's format (``experiments/sweeps/*.yaml``), expands it into
points (``method: grid``: the cartesian product of every parameter's ``values`` in file order;
``random`` / ``bayes``: a sample of N points drawn from the parameters' distributions with a
seeded numpy generator, not the points wandb's server would pick), and runs each point through
the sweep's own ``command`` (``${interpreter}`` = this Python, ``${program}``, ``${args}`` or
``${args_no_hyphens}`` exactly as a wandb agent formats them) with ``--run-dir`` set to its own
directory. wandb logging follows WANDB_MODE (offline by default); sweep-agent variables of the
calling shell (WANDB_SWEEP_ID, WANDB_RUN_ID, ...) are not passed on.

Usage::

    python experiments/sweep_offline.py experiments/sweeps/lr_batch.yaml [--dry-run] \\
        [--max-runs N] [--seed 0] [--runs-dir runs/sweeps/offline-lr_batch] \\
        [--set iterations=10 --set eval_every=5 ...]

``--set key=value`` replaces a fixed parameter (or adds one) in every run, e.g. a smaller or
larger budget; a swept parameter cannot be set. Every point's config is validated before the
first run starts. Running the same command again resumes unfinished runs and skips finished
ones (an existing run directory resumes). Each run's output goes to ``RUN_DIR/train.log``.

Writes ``RUNS_DIR/results.csv`` and ``RUNS_DIR/results.md``: per point its swept values, the
sweep metric at the last evaluation (``final``) and the best evaluation (``best``, by the
metric's goal), iterations logged, return code and seconds; the table is printed as well.
"""

from __future__ import annotations

import argparse
import csv
import itertools
import math
import os
import re
import shlex
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

try:
    import yaml
except ImportError:  # an optional dependency: say how to get it, without a traceback
    sys.exit('sweep_offline.py needs PyYAML: pip install "alphago-jax[experiments]"')

from alphago_jax.config import ConfigError, make_config, parse_overrides
from alphago_jax.logging import read_metrics

METHODS = ("grid", "random", "bayes")
GOALS = ("minimize", "maximize")
DEFAULT_COMMAND = ["${env}", "${interpreter}", "${program}", "${args}"]  # wandb's default
# Variables a wandb agent sets for its runs; a child of this script must not inherit them (all
# runs would share one wandb run id and the sweep's run directory).
AGENT_ENV = ("WANDB_SWEEP_ID", "WANDB_SWEEP_PARAM_PATH", "WANDB_RUN_ID", "WANDB_RESUME")
FIELDS = ["point", "final", "best", "iterations", "returncode", "seconds", "run_dir"]


class SweepError(ValueError):
    """A sweep file that is not a valid wandb sweep configuration, or cannot run offline."""


# ---------------------------------------------------------------------- reading a sweep
def load_sweep(path: str | Path) -> dict:
    """The sweep configuration in `path`, with method, metric and parameters checked.

    Raises:
      SweepError: unreadable YAML, or a missing / bad method, metric or parameter, named.
    """
    path = Path(path)
    try:
        sweep = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as e:
        raise SweepError(f"cannot read sweep {path}: {e}") from None
    if not isinstance(sweep, dict):
        raise SweepError(f"{path}: a sweep configuration is a mapping, got {type(sweep).__name__}")
    if sweep.get("method") not in METHODS:
        raise SweepError(f"{path}: method must be one of {METHODS}, got {sweep.get('method')!r}")
    metric = sweep.get("metric")
    if not isinstance(metric, dict) or not isinstance(metric.get("name"), str):
        raise SweepError(f"{path}: metric must be a mapping with a name")
    if metric.get("goal", "minimize") not in GOALS:
        raise SweepError(f"{path}: metric goal must be one of {GOALS}, got {metric['goal']!r}")
    params = sweep.get("parameters")
    if not isinstance(params, dict) or not params:
        raise SweepError(f"{path}: parameters must be a non-empty mapping")
    for name, spec in params.items():
        parameter_kind(name, spec, source=str(path))
    command = sweep.get("command", DEFAULT_COMMAND)
    if not isinstance(command, list) or not all(isinstance(c, str) for c in command):
        raise SweepError(f"{path}: command must be a list of strings")
    return sweep


def parameter_kind(name: str, spec: Any, source: str = "sweep") -> str:
    """'value', 'values' or the distribution name of one parameter's spec.

    Raises:
      SweepError: not a spec this script can expand (nested parameters, a bad distribution).
    """
    if not isinstance(spec, dict):
        raise SweepError(f"{source}: parameter {name!r} must be a mapping, got {spec!r}")
    if "parameters" in spec:
        raise SweepError(f"{source}: parameter {name!r}: nested parameters are not supported")
    if "value" in spec:
        return "value"
    if "values" in spec:
        values = spec["values"]
        if not isinstance(values, list) or not values:
            raise SweepError(f"{source}: parameter {name!r}: values must be a non-empty list")
        return "values"
    dist = spec.get("distribution")
    if dist is None and "min" in spec and "max" in spec:
        # wandb's inference: integer bounds sample integers.
        both_int = all(isinstance(spec[k], int) for k in ("min", "max"))
        dist = "int_uniform" if both_int else "uniform"
    if dist not in SAMPLERS:
        raise SweepError(
            f"{source}: parameter {name!r}: distribution {dist!r} is not supported offline "
            f"(use value, values or one of {', '.join(SAMPLERS)})"
        )
    return dist


def sweep_preset(sweep: Mapping) -> str:
    """The `--preset` the sweep's command passes to `alphago-jax train` ('default' if none)."""
    command = list(sweep.get("command", DEFAULT_COMMAND))
    for i, item in enumerate(command):
        if item.startswith("--preset="):
            return item.split("=", 1)[1]
        if item == "--preset" and i + 1 < len(command):
            return command[i + 1]
    return "default"


# ---------------------------------------------------------------------- expanding it
def _q(x: float, q: float) -> float:
    return round(x / q) * q


SAMPLERS: dict[str, Callable[[np.random.Generator, Mapping], Any]] = {
    "constant": lambda rng, s: s["value"],
    "categorical": lambda rng, s: s["values"][rng.choice(len(s["values"]),
                                                         p=s.get("probabilities"))],
    "int_uniform": lambda rng, s: int(rng.integers(s["min"], s["max"] + 1)),
    "uniform": lambda rng, s: float(rng.uniform(s["min"], s["max"])),
    "q_uniform": lambda rng, s: _q(rng.uniform(s["min"], s["max"]), s.get("q", 1.0)),
    # wandb: log_uniform's bounds are natural-log exponents, *_values' bounds are the values.
    "log_uniform": lambda rng, s: float(math.exp(rng.uniform(s["min"], s["max"]))),
    "log_uniform_values": lambda rng, s: float(
        math.exp(rng.uniform(math.log(s["min"]), math.log(s["max"])))),
    "q_log_uniform_values": lambda rng, s: _q(
        math.exp(rng.uniform(math.log(s["min"]), math.log(s["max"]))), s.get("q", 1.0)),
    "inv_log_uniform_values": lambda rng, s: float(
        1.0 / math.exp(rng.uniform(math.log(1.0 / s["max"]), math.log(1.0 / s["min"])))),
    "normal": lambda rng, s: float(rng.normal(s.get("mu", 0.0), s.get("sigma", 1.0))),
    "q_normal": lambda rng, s: _q(rng.normal(s.get("mu", 0.0), s.get("sigma", 1.0)),
                                  s.get("q", 1.0)),
    "log_normal": lambda rng, s: float(math.exp(rng.normal(s.get("mu", 0.0),
                                                           s.get("sigma", 1.0)))),
    "beta": lambda rng, s: float(rng.beta(s.get("a", 1.0), s.get("b", 1.0))),
}


def _python(value: Any) -> Any:
    """numpy scalars -> python ones (formatted and stored like wandb's JSON values)."""
    return value.item() if isinstance(value, np.generic) else value


def grid_points(params: Mapping[str, Mapping]) -> list[dict]:
    """Every combination of the parameters' `values` (fixed `value`s in each), in file order.

    Raises:
      SweepError: a parameter with a distribution (a grid needs value or values).
    """
    axes = []
    for name, spec in params.items():
        kind = parameter_kind(name, spec)
        if kind not in ("value", "values"):
            raise SweepError(f"grid parameter {name!r} needs value or values, not {kind}")
        axes.append([spec["value"]] if kind == "value" else list(spec["values"]))
    return [dict(zip(params, combo, strict=True)) for combo in itertools.product(*axes)]


def random_points(params: Mapping[str, Mapping], n: int, seed: int) -> list[dict]:
    """`n` points, each parameter drawn independently by a numpy Generator seeded with `seed`."""
    rng = np.random.default_rng(seed)
    points = []
    for _ in range(n):
        point = {}
        for name, spec in params.items():
            kind = parameter_kind(name, spec)
            if kind == "value":
                point[name] = spec["value"]
            elif kind == "values":
                point[name] = SAMPLERS["categorical"](rng, spec)
            else:
                point[name] = SAMPLERS[kind](rng, spec)
        points.append({k: _python(v) for k, v in point.items()})
    return points


def swept_names(params: Mapping[str, Mapping]) -> list[str]:
    """Parameters that vary between points (everything but fixed `value`s)."""
    return [n for n, s in params.items() if parameter_kind(n, s) != "value"]


def with_sets(params: Mapping[str, Mapping], sets: Mapping[str, str]) -> dict[str, dict]:
    """`params` with `--set` values as fixed parameters.

    Raises:
      SweepError: a `--set` key that the sweep varies.
    """
    swept = set(swept_names(params))
    clash = sorted(swept & set(sets))
    if clash:
        raise SweepError(f"--set cannot fix swept parameter(s) {', '.join(clash)}")
    return {**params, **{k: {"value": v} for k, v in sets.items()}}


def expand(sweep: Mapping, max_runs: int | None = None, seed: int = 0,
           sets: Mapping[str, str] | None = None) -> list[dict]:
    """The sweep's points: the grid (first `max_runs`), or `max_runs` (default: the sweep's
    run_cap, else 10) random points for random / bayes."""
    params = with_sets(sweep["parameters"], sets or {})
    if sweep["method"] == "grid":
        points = grid_points(params)
        return points[:max_runs] if max_runs is not None else points
    return random_points(params, max_runs or sweep.get("run_cap") or 10, seed)


def validate_points(points: Sequence[Mapping], preset: str) -> None:
    """Checks every point's config (preset + point) before anything runs.

    Raises:
      ConfigError: naming the point and what is wrong with it.
    """
    for i, point in enumerate(points):
        try:
            make_config(preset, dict(point))
        except ConfigError as e:
            raise ConfigError(f"point {i} {point}: {e}") from None


# ---------------------------------------------------------------------- running it
def format_args(point: Mapping[str, Any], hyphens: bool = True) -> list[str]:
    """`--key=value` (wandb's ${args}) or `key=value` (${args_no_hyphens}) items, values as
    str() formats them, as a wandb agent does."""
    return [f"{'--' if hyphens else ''}{k}={v}" for k, v in point.items()]


def command_for(sweep: Mapping, point: Mapping[str, Any], run_dir: str | Path) -> list[str]:
    """The sweep's command for one point with --run-dir appended; ${env} is dropped.

    Raises:
      SweepError: a macro this script does not fill in.
    """
    fill = {
        "${env}": [],
        "${interpreter}": [sys.executable],
        "${program}": [str(sweep.get("program", ""))],
        "${args}": format_args(point),
        "${args_no_hyphens}": format_args(point, hyphens=False),
    }
    out = []
    for item in sweep.get("command", DEFAULT_COMMAND):
        if item in fill:
            out += fill[item]
        elif item.startswith("${"):
            raise SweepError(f"command macro {item} is not supported offline ({', '.join(fill)})")
        else:
            out.append(item)
    return [*out, f"--run-dir={run_dir}"]


def point_dir(runs_dir: Path, index: int, point: Mapping[str, Any], names: Sequence[str]) -> Path:
    """`runs_dir/NNN_key=value_...` with the point's swept values (file-name-safe; floats to
    4 significant digits, the index keeps names unique)."""
    short = lambda v: f"{v:.4g}" if isinstance(v, float) else str(v)
    label = "_".join(f"{k}={short(point[k])}" for k in names)
    return runs_dir / re.sub(r"[^A-Za-z0-9._=+-]", "_", f"{index:03d}_{label}".rstrip("_"))


def child_env() -> dict[str, str]:
    """This environment, offline wandb unless WANDB_MODE says otherwise, no agent variables."""
    env = {k: v for k, v in os.environ.items() if k not in AGENT_ENV}
    env.setdefault("WANDB_MODE", "offline")
    return env


def metric_of(run_dir: Path, metric: str, goal: str) -> dict[str, Any]:
    """The metric at the run's last and best evaluation, and the last logged step."""
    records = read_metrics(run_dir)
    values = [r[metric] for r in records if metric in r]
    best = (max if goal == "maximize" else min)(values) if values else None
    return {"final": values[-1] if values else None, "best": best,
            "iterations": records[-1]["step"] if records else 0}


def results_table(rows: Sequence[Mapping], names: Sequence[str], metric: str) -> str:
    """A markdown table of the points' swept values and metric."""
    head = [*names, f"{metric} (final)", "best", "iterations", "rc", "seconds"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    num = lambda v: "-" if v is None else f"{v:.3f}"
    for r in rows:
        cells = [str(r["point"][k]) for k in names] + [
            num(r["final"]), num(r["best"]), str(r["iterations"]), str(r["returncode"]),
            f"{r['seconds']:.0f}"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def write_results(runs_dir: Path, rows: Sequence[Mapping], names: Sequence[str],
                  metric: str) -> str:
    """Writes results.csv and results.md under `runs_dir`; returns the markdown table."""
    runs_dir.mkdir(parents=True, exist_ok=True)
    with open(runs_dir / "results.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow([*names, *FIELDS[1:]])
        for r in rows:
            writer.writerow([r["point"][k] for k in names] + [r[k] for k in FIELDS[1:]])
    table = results_table(rows, names, metric)
    (runs_dir / "results.md").write_text(table + "\n")
    return table


def run_sweep(sweep: Mapping, points: Sequence[Mapping], runs_dir: Path,
              dry_run: bool = False) -> list[dict]:
    """Runs every point (one subprocess each, in order); returns one row per point."""
    metric, goal = sweep["metric"]["name"], sweep["metric"].get("goal", "minimize")
    names = swept_names(sweep["parameters"])
    rows = []
    for i, point in enumerate(points):
        run_dir = point_dir(runs_dir, i, point, names)
        cmd = command_for(sweep, point, run_dir)
        print(shlex.join(cmd), flush=True)
        if dry_run:
            continue
        run_dir.mkdir(parents=True, exist_ok=True)
        t0 = time.perf_counter()
        with open(run_dir / "train.log", "a") as log:
            rc = subprocess.run(cmd, stdout=log, stderr=subprocess.STDOUT,
                                env=child_env()).returncode
        seconds = round(time.perf_counter() - t0, 1)
        row = {"point": dict(point), "returncode": rc, "seconds": seconds,
               "run_dir": str(run_dir), **metric_of(run_dir, metric, goal)}
        print(f"  -> rc {rc}, {metric} final {row['final']}, best {row['best']}, "
              f"{row['seconds']:.0f}s", flush=True)
        rows.append(row)
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("sweep", help="sweep configuration YAML (wandb format)")
    ap.add_argument("--dry-run", action="store_true", help="print the commands only")
    ap.add_argument("--max-runs", type=int, default=None,
                    help="grid: the first N points; random/bayes: N points (default run_cap)")
    ap.add_argument("--seed", type=int, default=0, help="seed of random/bayes sampling")
    ap.add_argument("--runs-dir", default=None, help="default: runs/sweeps/offline-<file stem>")
    ap.add_argument("--set", dest="sets", action="append", default=[], metavar="KEY=VALUE",
                    help="fix a config key in every run (repeatable)")
    args = ap.parse_args(argv)
    if args.max_runs is not None and args.max_runs < 1:
        ap.error("--max-runs must be >= 1")
    try:
        sweep = load_sweep(args.sweep)
        points = expand(sweep, args.max_runs, args.seed, parse_overrides(args.sets))
        validate_points(points, sweep_preset(sweep))
        command_for(sweep, points[0], "RUN_DIR")  # unsupported macros fail before any run
    except (SweepError, ConfigError) as e:
        print(f"sweep_offline: {e}", file=sys.stderr)
        return 2
    runs_dir = Path(args.runs_dir or f"runs/sweeps/offline-{Path(args.sweep).stem}")
    print(f"{args.sweep}: {sweep['method']}, {len(points)} runs, preset "
          f"{sweep_preset(sweep)}, metric {sweep['metric']['name']}, runs in {runs_dir}",
          flush=True)
    rows = run_sweep(sweep, points, runs_dir, args.dry_run)
    if args.dry_run:
        return 0
    names = swept_names(sweep["parameters"])
    print(write_results(runs_dir, rows, names, sweep["metric"]["name"]))
    print(f"wrote {runs_dir / 'results.csv'} and {runs_dir / 'results.md'}")
    return 0 if all(r["returncode"] == 0 for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
