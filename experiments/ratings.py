"""Elo ratings of a run's checkpoints against reference players, from a tournament.

The players are the checkpoints a run directory keeps (``ckpt:RUN@STEP``, optionally searching
with ``--sims`` simulations), uniform random (the anchor, Elo 0), GnuGo at the given levels, and
any extra player specs. They play

* ``--mode gauntlet`` (default): every checkpoint against every reference player (random, GnuGo,
  extra players), and each checkpoint against the next one of its run -- the chain links the
  checkpoints' ratings directly and the references pin the scale;
* ``--mode round-robin``: every pair.

Each match is `--games` games with colours alternating; draws count half. A Bradley-Terry (Elo)
model is fitted to all results by maximum likelihood (`alphago_jax.arena.elo.fit_elo`), with
standard errors from the observed information. A weak prior (sd `--prior-sd` Elo) keeps ratings
finite when a player wins or loses every game, so a rating backed only by clean sweeps is a
lower bound, with a large error bar.

Usage::

    python experiments/ratings.py --run runs/my-run [--run runs/other-run] [--steps 50,100,150] \\
        [--sims 16] [--gnugo-levels 1,5,10] [--player SPEC ...] [--mode gauntlet] \\
        [--games 40] [--out runs/my-run/ratings]

Writes to OUT: ``matches.csv`` (every pairing's W-L-D; re-running reuses finished pairings, so an
interrupted tournament resumes), ``ratings.csv`` and ``ratings.md`` (Elo and standard error per
player), and ``elo_vs_step.png`` (checkpoint Elo against training step with 1-sigma error bars,
the reference players as horizontal lines).

GnuGo plays as ``gnugo --mode gtp --level L --chinese-rules --capture-all-dead`` (plus
``--positional-superko`` under superko): area counting, and it captures dead stones before it
passes, so the Tromp-Taylor count of the final position is the real result.
"""

from __future__ import annotations

import argparse
import csv
import re
import shutil
import sys
from pathlib import Path

import jax

from alphago_jax.arena import (
    ArenaError,
    PlayerSpecError,
    Tally,
    arena_rules,
    checkpoint_steps,
    fit_elo,
    parse_player,
    play_match,
)

MATCH_FIELDS = ["a", "b", "games", "wins", "losses", "draws"]
_STEP = re.compile(r"^ckpt:(?P<dir>.+?)@(?P<step>\d+)(?::(?P<sims>\d+))?$")


def gnugo_spec(level: int, program: str = "/usr/games/gnugo", superko: bool = True) -> str:
    """GnuGo at `level` set up for Tromp-Taylor games."""
    flags = "--chinese-rules --capture-all-dead" + (" --positional-superko" if superko else "")
    return f"gtp:{program} --mode gtp --level {level} {flags}"


def schedule(checkpoints: list[list[str]], references: list[str], mode: str):
    """Pairings (a, b) to play.

    Args:
      checkpoints: checkpoint specs, one list per run in step order.
      references: the other players.
      mode: 'gauntlet' or 'round-robin'.
    """
    everyone = [c for run in checkpoints for c in run] + references
    if mode == "round-robin":
        return [(a, b) for i, a in enumerate(everyone) for b in everyone[i + 1:]]
    if mode != "gauntlet":
        raise ValueError(f"unknown mode {mode!r}")
    pairs = [(c, r) for run in checkpoints for c in run for r in references]
    pairs += [(run[i + 1], run[i]) for run in checkpoints for i in range(len(run) - 1)]
    if not any(checkpoints):  # references only: nothing would link them
        pairs = [(a, b) for i, a in enumerate(references) for b in references[i + 1:]]
    return pairs


def read_matches(path: Path) -> list[dict]:
    if not path.exists():
        return []
    with open(path, newline="") as f:
        return [{k: (v if k in "ab" else int(v)) for k, v in row.items()} for row in
                csv.DictReader(f)]


def write_rows(path: Path, fields: list[str], rows: list[dict]) -> None:
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)


def checkpoint_info(spec: str) -> tuple[str, int | None, int | None]:
    """(run dir, step, sims) of a `ckpt:DIR@STEP[:SIMS]` spec; ('', None, None) otherwise."""
    m = _STEP.match(spec)
    if m is None:
        return "", None, None
    return m["dir"], int(m["step"]), int(m["sims"]) if m["sims"] else None


def markdown(fit, title: str) -> str:
    order = sorted(range(len(fit.players)), key=lambda i: -fit.ratings[i])
    lines = [f"# {title}", "", "| player | Elo | ± (1 sd) | games |", "|---|---:|---:|---:|"]
    for i in order:
        lines.append(f"| `{fit.players[i]}` | {fit.ratings[i]:.0f} | {fit.stderr[i]:.0f} | "
                     f"{fit.games[i]} |")
    lines += ["", f"Anchor: `{fit.anchor}` = 0 Elo. Bradley-Terry maximum likelihood, draws "
              "half; ± is the standard error relative to the anchor."]
    return "\n".join(lines) + "\n"


def short_name(spec: str) -> str:
    """A plot label: 'GnuGo 10' for GnuGo specs, the program name for other GTP engines."""
    level = re.search(r"--level\s+(\d+)", spec)
    if spec.startswith("gtp:") and "gnugo" in spec:
        return f"GnuGo {level.group(1)}" if level else "GnuGo"
    if spec.startswith("gtp:"):
        return Path(spec[4:].split()[0]).name
    return spec


def plot(fit, path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    fig, ax = plt.subplots(figsize=(7, 4.5))
    series: dict[str, list[tuple[int, float, float]]] = {}
    for name, r, s in zip(fit.players, fit.ratings, fit.stderr, strict=True):
        run, step, sims = checkpoint_info(name)
        if step is None:
            ax.axhline(r, ls="--", lw=0.8, color="grey")
            ax.annotate(short_name(name), (0.01, r), fontsize=7,
                        xycoords=("axes fraction", "data"), va="bottom")
        else:
            label = Path(run).name + (f" ({sims} sims)" if sims else "")
            series.setdefault(label, []).append((step, r, s))
    for label, pts in series.items():
        pts.sort()
        ax.errorbar([p[0] for p in pts], [p[1] for p in pts], yerr=[p[2] for p in pts],
                    marker="o", capsize=3, label=label)
    if series:
        ax.legend(fontsize=8)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("training step (iteration)")
    ax.set_ylabel(f"Elo ({fit.anchor} = 0)")
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def _csv_ints(text: str) -> list[int]:
    return [int(v) for v in text.split(",") if v.strip()]


def parse_args(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--run", action="append", default=[], help="run directory (repeatable)")
    ap.add_argument("--steps", default="all", help="'all' or comma-separated steps")
    ap.add_argument("--sims", type=int, default=None, help="search simulations of checkpoints")
    ap.add_argument("--gnugo-levels", type=_csv_ints, default=[],
                    help="comma-separated GnuGo levels to include, e.g. 1,5,10")
    ap.add_argument("--gnugo", default=shutil.which("gnugo") or "/usr/games/gnugo")
    ap.add_argument("--no-random", action="store_true", help="leave out the random player")
    ap.add_argument("--player", action="append", default=[], help="extra player spec")
    ap.add_argument("--mode", choices=["gauntlet", "round-robin"], default="gauntlet")
    ap.add_argument("--games", type=int, default=40, help="games per pairing")
    ap.add_argument("--anchor", default=None, help="player rated 0 (default: random)")
    ap.add_argument("--prior-sd", type=float, default=1000.0)
    ap.add_argument("--out", default=None, help="output dir (default: FIRST_RUN/ratings)")
    ap.add_argument("--size", type=int, default=None)
    ap.add_argument("--komi", type=float, default=None)
    ap.add_argument("--parallel", type=int, default=None)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--no-progress", action="store_true")
    return ap.parse_args(argv)


def checkpoint_specs(args) -> list[list[str]]:
    """`ckpt:RUN@STEP[:SIMS]` for the chosen steps of each run, one list per run."""
    checkpoints = []
    for run in args.run:
        steps = checkpoint_steps(run)
        if args.steps != "all":
            wanted = _csv_ints(args.steps)
            missing = sorted(set(wanted) - set(steps))
            if missing:
                raise PlayerSpecError(f"{run} has no checkpoints for steps {missing} "
                                      f"(it keeps {steps})")
            steps = [s for s in steps if s in wanted]
        sims = f":{args.sims}" if args.sims else ""
        checkpoints.append([f"ckpt:{run}@{s}{sims}" for s in steps])
    return checkpoints


def load_players(args):
    """(checkpoint specs per run, reference specs, {spec: player}, rules)."""
    checkpoints = checkpoint_specs(args)
    references = ([] if args.no_random else ["random"]) + args.player
    players = {s: parse_player(s) for s in [c for run in checkpoints for c in run] + references}
    # The rules come first: GnuGo is told our ko rule (and suicide is off with GTP engines).
    gtp = bool(args.gnugo_levels) or any(getattr(p, "is_gtp", False) for p in players.values())
    rules = arena_rules(list(players.values()), size=args.size, komi=args.komi,
                        suicide=False if gtp else None)
    gnugo = [gnugo_spec(level, args.gnugo, rules.superko) for level in args.gnugo_levels]
    players.update({s: parse_player(s) for s in gnugo})
    references += gnugo
    if len(players) < 2:
        raise PlayerSpecError("need at least two players")
    return checkpoints, references, players, rules


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        checkpoints, references, players, rules = load_players(args)
    except (PlayerSpecError, ArenaError) as e:
        print(f"ratings: {e}", file=sys.stderr)
        return 2
    specs = list(players)
    anchor = args.anchor or ("random" if "random" in players else specs[0])
    if anchor not in players:
        print(f"ratings: anchor {anchor!r} is not one of the players", file=sys.stderr)
        return 2
    out = Path(args.out) if args.out else (Path(args.run[0]) / "ratings" if args.run
                                           else Path("runs") / "ratings")
    out.mkdir(parents=True, exist_ok=True)

    matches = read_matches(out / "matches.csv")
    pairs = schedule(checkpoints, references, args.mode)
    print(f"ratings: {len(players)} players, {len(pairs)} pairings x {args.games} games "
          f"({args.mode}); results in {out}", file=sys.stderr, flush=True)
    for k, (a, b) in enumerate(pairs):
        done = [m for m in matches if {m["a"], m["b"]} == {a, b} and m["games"] >= args.games]
        if done:
            m = done[0]
            print(Tally(m["wins"], m["losses"], m["draws"]).line(m["a"], m["b"]), flush=True)
            continue
        res = play_match(rules, players[a], players[b], args.games,
                         jax.random.fold_in(jax.random.key(args.seed), k),
                         parallel=args.parallel, progress=not args.no_progress)
        matches = [m for m in matches if {m["a"], m["b"]} != {a, b}]
        t = res.tally
        matches.append({"a": a, "b": b, "games": args.games, "wins": t.wins,
                        "losses": t.losses, "draws": t.draws})
        write_rows(out / "matches.csv", MATCH_FIELDS, matches)
        print(res.line(), flush=True)

    wanted = {frozenset(p) for p in pairs}
    results = [(m["a"], m["b"], m["wins"] + 0.5 * m["draws"], m["games"]) for m in matches
               if frozenset((m["a"], m["b"])) in wanted]
    fit = fit_elo(results, anchor=anchor, players=specs, prior_sd=args.prior_sd)
    rows = []
    for name, r, s, g in zip(fit.players, fit.ratings, fit.stderr, fit.games, strict=True):
        run, step, sims = checkpoint_info(name)
        rows.append({"player": name, "run": run, "step": "" if step is None else step,
                     "sims": sims or "", "elo": round(float(r), 1),
                     "stderr": round(float(s), 1), "games": int(g)})
    write_rows(out / "ratings.csv", list(rows[0]), rows)
    title = f"Elo ({args.mode}, {args.games} games per pairing)"
    (out / "ratings.md").write_text(markdown(fit, title))
    plot(fit, out / "elo_vs_step.png", title)
    print(markdown(fit, title))
    print(f"wrote {out / 'ratings.csv'}, {out / 'ratings.md'}, {out / 'elo_vs_step.png'}",
          file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
