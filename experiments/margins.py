"""How a run's ladder games were won and lost: by colour, and close games apart from routs.

    python experiments/margins.py RUN [RUN ...] [--references gnugo:1,gnugo:5,gnugo:10]

Reads RUN/ladder/ladder.jsonl (written by `alphago-jax ladder`). For each checkpoint and
reference it prints the checkpoint's record as Black and as White, how many of its losses and
wins were routs, and its record in the close games. A rout is a game decided by at least half the
board's area (24.5 points or more on 7x7): on a small board that is a lost fight, after which the
whole board usually goes (docs/diagnosis.md). Games that ended by resignation or a forfeit have
no score and count as routs.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from alphago_jax.arena.ladder import LadderError, ladder_path, read_ladder


def is_rout(record: dict, size: int) -> bool:
    """The game was decided by at least half the board's area (or has no score)."""
    score = record.get("score")
    return score is None or abs(score) >= size * size / 2


def summarize(records: Sequence[dict], size: int) -> dict[tuple[str, str], dict[str, list]]:
    """Per (checkpoint, reference): for 'black', 'white' and 'close', [wins, losses, draws],
    and for 'routs' [routs won, routs lost]. Only pairings whose A side is a checkpoint."""
    out: dict[tuple[str, str], dict[str, list]] = {}
    for r in records:
        if not r["a"].startswith("ckpt@"):
            continue
        row = out.setdefault((r["a"], r["b"]), {"black": [0, 0, 0], "white": [0, 0, 0],
                                                "close": [0, 0, 0], "routs": [0, 0]})
        result = 0 if r["a_points"] == 1 else 1 if r["a_points"] == 0 else 2
        row["black" if r["a_black"] else "white"][result] += 1
        if is_rout(r, size):
            if result < 2:
                row["routs"][result] += 1
        else:
            row["close"][result] += 1
    return out


def _wld(x: list) -> str:
    return "-".join(str(v) for v in x)


def table(name: str, summary: dict, references: Sequence[str] | None) -> list[str]:
    lines = [f"### {name}", "",
             "| checkpoint | reference | as Black | as White | routs won / lost | close games |",
             "|---|---|---|---|---|---|"]
    for (a, b), row in sorted(summary.items(), key=lambda kv: (int(kv[0][0][5:]), kv[0][1])):
        if references and b not in references:
            continue
        lines.append(f"| {a} | {b} | {_wld(row['black'])} | {_wld(row['white'])} | "
                     f"{row['routs'][0]} / {row['routs'][1]} | {_wld(row['close'])} |")
    return lines + [""]


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("runs", nargs="+", metavar="RUN")
    p.add_argument("--references", default="",
                   help="comma-separated references to show (default: all)")
    args = p.parse_args(argv)
    refs = [r for r in args.references.split(",") if r] or None
    for run in args.runs:
        try:
            setup, records = read_ladder(ladder_path(run))
        except (LadderError, OSError) as e:
            print(f"margins: {e}", file=sys.stderr)
            return 2
        if setup is None:
            print(f"margins: {run} has no ladder (run `alphago-jax ladder {run}` first)",
                  file=sys.stderr)
            return 2
        print("\n".join(table(Path(run).name, summarize(records, setup["size"]), refs)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
