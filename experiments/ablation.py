"""The strong-7x7 recipe and its ablation: each row adds one idea to the row above, trains it
and rates it on the ladder (random, GnuGo 1/5/10, balanced openings).

    python experiments/ablation.py --out runs/ablation [--rows default,ownership] [--dry-run]

Rows (cumulative, in this order; `--rows` picks a subset, each still with everything above it):

    default     the `7x7` preset: the README's previous default run (7x7, 150 iterations; no
                  own-eye filling, passes that win, no resignation, one CPU device per core)
    sl          + init_from a supervised warm start on GnuGo self-play games
                  (experiments/make_gnugo_dataset.py, then `alphago-jax supervised`)
    reanalyse   + reanalyse_fraction=0.25 (fresh policy targets from the current network)
    value       + value_target=mix, value_target_mix=0.5 (outcome and search value)
    ownership   + ownership head and score_utility=0.2 (the search keeps a signal where the win
                  probability saturates; see docs/diagnosis.md); the warm start has no
                  ownership head, so this row's starts fresh (`runs.fresh_leaves`)
    search      + 256 simulations at evaluation instead of the run's 64 (the ladder's --sims)
    strong      the strong-7x7 preset as measured in the README: the default plus value and
                  ownership, 400 iterations (no warm start, no reanalyse)

Everything is resumable: a dataset game, a supervised run, a training run or a ladder game that
is already on disk is not redone. The table (markdown) goes to OUT/ablation.md and stdout; each
row: training wall time (summed iteration seconds), training FLOPs, Elo on the ladder (anchored on
GnuGo level 1 = 0) with its 95% interval, and W-L-D against GnuGo levels 1, 5 and 10.
"""

from __future__ import annotations

import argparse
import json
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

ROWS: list[tuple[str, list[str], list[str]]] = [
    # (name, training overrides added by this row, ladder options of this row)
    ("default", [], []),
    ("sl", ["init_from={sl}"], []),
    ("reanalyse", ["reanalyse_fraction=0.25"], []),
    ("value", ["value_target=mix", "value_target_mix=0.5"], []),
    ("ownership", ["ownership=true", "score_utility=0.2"], []),
    ("search", [], ["--sims", "256"]),
]
LADDER = ["--references", "random,gnugo:1,gnugo:5,gnugo:10", "--openings", "20", "--latest",
          "--no-progress"]
LAST = re.compile(r"^ladder: .* elo=(-?\d+) \(95% CI (-?\d+)\.\.(-?\d+)\), (.*); distinct games")


def run(cmd: list[str], dry: bool, log: Path | None = None) -> None:
    print("$", shlex.join(cmd), flush=True)
    if dry:
        return
    if log is None:
        subprocess.run(cmd, check=True)
        return
    with open(log, "a") as f:
        subprocess.run(cmd, check=True, stdout=f, stderr=subprocess.STDOUT)


def warm_start(out: Path, dry: bool) -> Path:
    """GnuGo self-play games and a supervised run on them (both resumable)."""
    data, sl = out / "gnugo-7x7", out / "supervised"
    run([sys.executable, "experiments/make_gnugo_dataset.py", "--out", str(data), "--games",
         "300", "--size", "7", "--levels", "1,5,10", "--random-moves", "2", "--workers", "2",
         "--seed", "0"], dry)
    if not (sl / "checkpoints").is_dir():
        run(["alphago-jax", "supervised", "--data", str(data), "--run-dir", str(sl),
             "--preset", "7x7", "--steps", "2000", "wandb=false"], dry)
    return sl


def figures(run_dir: Path) -> tuple[float, float]:
    """(training seconds, training FLOPs) from metrics.jsonl."""
    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()
            if line.strip()]
    seconds = sum(r.get("iteration_s", 0.0) for r in rows)
    flops = max((r.get("train_flops", 0.0) for r in rows), default=0.0)
    return seconds, flops


def ladder_line(log: Path) -> str:
    lines = [ln for ln in log.read_text().splitlines() if ln.startswith("ladder: ")]
    return lines[-1] if lines else ""


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default="runs/ablation")
    ap.add_argument("--rows", default=",".join(name for name, _, _ in ROWS) + ",strong")
    ap.add_argument("--dry-run", action="store_true", help="print the commands only")
    a = ap.parse_args(argv)
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    wanted = a.rows.split(",")
    known = [name for name, _, _ in ROWS] + ["strong"]
    unknown = [w for w in wanted if w not in known]
    if unknown:
        print(f"ablation.py: unknown rows {unknown}; choose from {known}", file=sys.stderr)
        return 2
    needs_sl = any(1 <= known.index(w) < len(ROWS) for w in wanted)  # strong starts fresh
    sl = warm_start(out, a.dry_run) if needs_sl else None
    table = ["| row | train wall | train FLOPs | Elo (95% CI) | vs random, GnuGo 1 / 5 / 10 |",
             "|---|---|---|---|---|"]
    overrides: list[str] = ["wandb=false"]
    ladder: list[str] = []
    plan = [(n, o, lo) for n, o, lo in ROWS] + [("strong", None, [])]
    previous = "default"
    for name, added, ladder_opts in plan:
        if name == "strong":
            train = ["alphago-jax", "train", "--run-dir", str(out / name), "--preset",
                     "strong-7x7", "wandb=false"]
        else:
            overrides += [o.format(sl=sl) for o in added]
            ladder += ladder_opts
            train = ["alphago-jax", "train", "--run-dir", str(out / name), "--preset", "7x7",
                     *overrides]
        # A row that adds only ladder options rates the last trained row's run afresh.
        copy_of = None if name == "strong" or added or name == "default" else previous
        previous = previous if copy_of else name
        if name not in wanted:
            continue
        if copy_of:
            print(f"$ copy {out / copy_of} -> {out / name} (without its ladder)", flush=True)
            if not a.dry_run and not (out / name).exists():
                if not (out / copy_of).is_dir():
                    print(f"ablation.py: row {name} rates row {copy_of}'s run, which is not "
                          f"trained yet; add {copy_of} to --rows", file=sys.stderr)
                    return 2
                shutil.copytree(out / copy_of, out / name, ignore=shutil.ignore_patterns("ladder"))
        else:
            run(train, a.dry_run, None if a.dry_run else out / f"{name}.train.log")
        log = out / f"{name}.ladder.log"
        # strong is rated as the README measured it: at its own evaluation simulations.
        run(["alphago-jax", "ladder", str(out / name), *LADDER,
             *([] if name == "strong" else ladder)], a.dry_run,
            None if a.dry_run else log)
        if a.dry_run:
            continue
        seconds, flops = figures(out / name)
        m = LAST.match(ladder_line(log))
        elo = f"{m[1]} ({m[2]}..{m[3]})" if m else "?"
        table.append(f"| {name} | {seconds / 60:.1f} min | {flops:.3g} | {elo} | "
                     f"{m[4] if m else '?'} |")
    if not a.dry_run:
        text = "\n".join(table)
        (out / "ablation.md").write_text(text + "\n")
        print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
