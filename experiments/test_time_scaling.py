"""Test-time scaling: how much stronger does a fixed network get with more search?

One checkpoint plays a fixed opponent at 1, 2, 4, ..., 256 simulations per move (Gumbel
MuZero search; any count >= 1 works), the same number of games at each point, colours
alternating. The opponent is uniform random by default; a stronger yardstick shows the curve
better: a GTP engine (``gtp:/usr/games/gnugo --mode gtp --level 1``) or the same network at a
fixed budget (``ckpt:RUN:16``), in which case the point at 16 simulations is the mirror match
and should sit near 50%.

Usage::

    python experiments/test_time_scaling.py --checkpoint runs/my-run [--step 150] \\
        [--opponent random | 'gtp:/usr/games/gnugo --mode gtp --level 1' | ckpt:runs/my-run:16] \\
        [--sims 1,2,4,8,16,32,64,128,256] [--games 64] [--out runs/my-run/scaling]

Writes ``OUT/scaling.csv`` (sims, wins, losses, draws, win_rate, ci_low, ci_high,
elo_diff, seconds) and ``OUT/scaling.png`` (win rate with its 95% Wilson interval against
simulations on a log2 axis). `elo_diff` is the Elo difference the win rate implies,
400 * log10(p / (1 - p)), with p clipped to [0.5/games, 1 - 0.5/games]. Each match line is
printed as ``A vs B: W-L-D, win rate X (95% CI lo-hi)``.

Every simulation count compiles its own search, so budget a compile per point; the games at
one point are played in one batch on the device (up to `--parallel`; 8 at a time when the
opponent is a GTP engine).
"""

from __future__ import annotations

import argparse
import csv
import math
import sys
import time
from pathlib import Path

import jax

from alphago_jax.arena import (
    ArenaError,
    PlayerSpecError,
    SearchPlayer,
    arena_rules,
    parse_player,
    play_match,
)

FIELDS = ["sims", "wins", "losses", "draws", "win_rate", "ci_low", "ci_high", "elo_diff",
          "seconds"]


def elo_from_rate(rate: float, games: int) -> float:
    """Elo difference implied by a win rate, clipped half a game from 0 and 1."""
    eps = 0.5 / max(games, 1)
    p = min(max(rate, eps), 1 - eps)
    return 400.0 * math.log10(p / (1 - p))


def scaling(
    player: SearchPlayer,
    opponent,
    sims: list[int],
    games: int,
    seed: int = 0,
    parallel: int | None = None,
    rules=None,
    sgf_dir: Path | None = None,
    progress: bool = True,
) -> list[dict]:
    """Win rate of `player` at each simulation count in `sims` against `opponent`.

    Returns:
      One row per count, with the fields of `FIELDS`.
    """
    rules = rules or arena_rules((player, opponent))
    rows = []
    for i, n in enumerate(sims):
        p = player.with_simulations(n)
        t0 = time.perf_counter()
        res = play_match(rules, p, opponent, games, jax.random.fold_in(jax.random.key(seed), i),
                         parallel=parallel, progress=progress,
                         sgf_dir=None if sgf_dir is None else sgf_dir / f"sims-{n}")
        t = res.tally
        lo, hi = t.interval
        rows.append({
            "sims": n, "wins": t.wins, "losses": t.losses, "draws": t.draws,
            "win_rate": round(t.win_rate, 4), "ci_low": round(lo, 4), "ci_high": round(hi, 4),
            "elo_diff": round(elo_from_rate(t.win_rate, games), 1),
            "seconds": round(time.perf_counter() - t0, 2),
        })
        print(res.line(), flush=True)
    return rows


def plot(rows: list[dict], title: str, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    x = [r["sims"] for r in rows]
    y = [r["win_rate"] for r in rows]
    err = [[r["win_rate"] - r["ci_low"] for r in rows],
           [r["ci_high"] - r["win_rate"] for r in rows]]
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.errorbar(x, y, yerr=err, marker="o", capsize=3)
    ax.axhline(0.5, color="grey", lw=0.8, ls="--")
    ax.set_xscale("log", base=2)
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlabel("simulations per move")
    ax.set_ylabel("win rate (95% Wilson CI)")
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def _ints(text: str) -> list[int]:
    try:
        values = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected integers like 1,2,4, got {text!r}") from None
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError("simulation counts must be >= 1")
    return values


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--checkpoint", required=True, help="run dir, or ckpt:DIR[@STEP]")
    ap.add_argument("--step", type=int, default=None, help="checkpoint step (default: latest)")
    ap.add_argument("--opponent", default="random", help="player spec (default: random)")
    ap.add_argument("--sims", type=_ints, default=[2**k for k in range(9)],
                    help="comma-separated simulation counts (default 1,2,4,...,256)")
    ap.add_argument("--games", type=int, default=64, help="games per point")
    ap.add_argument("--out", default=None, help="output dir (default: RUN/scaling)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--parallel", type=int, default=None)
    ap.add_argument("--komi", type=float, default=None)
    ap.add_argument("--sgf", action="store_true", help="also save the games as SGF")
    ap.add_argument("--no-progress", action="store_true")
    args = ap.parse_args(argv)

    spec = args.checkpoint if args.checkpoint.startswith("ckpt:") else f"ckpt:{args.checkpoint}"
    if args.step is not None:
        spec += f"@{args.step}"
    try:
        player = parse_player(spec)
        opponent = parse_player(args.opponent)
        rules = arena_rules((player, opponent), komi=args.komi)
    except (PlayerSpecError, ArenaError) as e:
        print(f"test_time_scaling: {e}", file=sys.stderr)
        return 2
    if not isinstance(player, SearchPlayer):
        print("test_time_scaling: --checkpoint must name a checkpoint", file=sys.stderr)
        return 2
    run_dir = Path(spec[5:].split("@")[0])
    out = Path(args.out) if args.out else run_dir / "scaling"
    out.mkdir(parents=True, exist_ok=True)
    print(f"checkpoint step {player.step} vs {opponent.name}, {args.games} games per point, "
          f"sims {args.sims}", file=sys.stderr)
    rows = scaling(player, opponent, args.sims, args.games, args.seed, args.parallel, rules,
                   out / "sgf" if args.sgf else None, not args.no_progress)
    with open(out / "scaling.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=FIELDS)
        writer.writeheader()
        writer.writerows(rows)
    title = f"{run_dir.name} step {player.step} vs {opponent.name} ({args.games} games/point)"
    plot(rows, title, out / "scaling.png")
    print(f"wrote {out / 'scaling.csv'} and {out / 'scaling.png'}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
