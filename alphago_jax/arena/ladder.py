"""`alphago-jax ladder RUN`: a run's checkpoints rated against fixed references, resumably.

Every selected checkpoint (``ckpt@STEP``, searching with the run's evaluation settings) plays
every reference (default ``random``, ``gnugo:1``, ``gnugo:5``, ``gnugo:10``), and each reference
plays the next one in the list, which ties the references' scale together. Each pairing plays
every opening of the ladder's fixed set (`openings.draw_openings`) once with each colour, through
the one match loop (`match.play_match`). One Bradley-Terry fit (`elo.fit_elo`) rates everyone
with the anchor (default ``gnugo:1``) held at its Elo (default 0); ``random`` is fitted too.

Everything lives in ``RUN/ladder/``: ``ladder.jsonl`` (a ``setup`` record: rules, search
simulations and the openings, fixed for the run; then one ``game`` record per finished game,
written as it ends), ``sgf/A_vs_B/game-NNNN.sgf`` and ``elo.png``. A rerun plays only the games
the file lacks, so an interruption loses only the games in flight; a torn last line (a kill in
mid-write) is dropped. Games forfeited by a player's failure (timeout, crash) are not recorded,
so a rerun plays them again.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import shutil
import sys
import zlib
from collections.abc import Sequence
from pathlib import Path

import jax
import numpy as np

from alphago_jax.arena.elo import fit_elo
from alphago_jax.arena.match import ArenaError, GameResult, arena_rules, opening_of, play_match
from alphago_jax.arena.openings import balance_tolerance, draw_openings
from alphago_jax.arena.players import (
    DEFAULT_GTP_TIMEOUT,
    GTPPlayer,
    PlayerSpecError,
    RandomPlayer,
    SearchPlayer,
    checkpoint_steps,
    load_run,
    parse_player,
)
from alphago_jax.arena.tally import Tally
from alphago_jax.rules.coords import action_to_gtp, gtp_to_action
from alphago_jax.rules.go import Rules

LADDER_DIR = "ladder"
LADDER_FILE = "ladder.jsonl"
PLOT_FILE = "elo.png"
DEFAULT_REFERENCES = ("random", "gnugo:1", "gnugo:5", "gnugo:10")
DEFAULT_OPENINGS = 20  # 40 distinct games per pairing: the fewest a win-rate goal here counts
DEFAULT_OPENING_MOVES = 4
GNUGO_PATHS = ("gnugo", "/usr/games/gnugo")
Z95 = 1.96


class LadderError(ValueError):
    """Bad input for a ladder: the message says what and what to do."""


@dataclasses.dataclass(frozen=True)
class Setup:
    """What every game of a ladder shares, fixed by its first run (the file's setup record).

    Attributes:
      rules: the rules of every game.
      sims: simulations per move of the checkpoints.
      openings: the opening set (actions), each played once with each colour per pairing.
      openings_seed, opening_moves: how the set was drawn (`openings.draw_openings`).
    """

    rules: Rules
    sims: int
    openings: tuple[tuple[int, ...], ...]
    openings_seed: int
    opening_moves: int

    @property
    def games(self) -> int:
        """Games per pairing: every opening with each colour."""
        return 2 * len(self.openings)

    def as_record(self) -> dict:
        r = self.rules
        return {"kind": "setup", "size": r.size, "komi": r.komi, "superko": r.superko,
                "suicide": r.suicide, "max_moves": r.max_moves, "history": r.history,
                "sims": self.sims, "openings_seed": self.openings_seed,
                "opening_moves": self.opening_moves,
                "openings": [[action_to_gtp(m, r.size) for m in o] for o in self.openings]}

    @classmethod
    def from_record(cls, rec: dict) -> Setup:
        rules = Rules(size=rec["size"], komi=rec["komi"], superko=rec["superko"],
                      suicide=rec["suicide"], max_moves=rec["max_moves"], history=rec["history"])
        openings = tuple(tuple(gtp_to_action(v, rules.size) for v in o) for o in rec["openings"])
        return cls(rules, rec["sims"], openings, rec["openings_seed"], rec["opening_moves"])


# ------------------------------------------------------------------------------ the file


def ladder_path(run_dir: str | Path) -> Path:
    return Path(run_dir) / LADDER_DIR / LADDER_FILE


def read_ladder(path: Path) -> tuple[dict | None, list[dict]]:
    """(the setup record or None, the game records) of a ladder file; a torn last line (a kill
    in mid-write) is dropped from the file so the next record starts on a line of its own.

    Raises:
      LadderError: a line other than the last that is not a record.
    """
    if not path.exists():
        return None, []
    lines = path.read_text(encoding="utf-8").splitlines()
    records = []
    for i, line in enumerate(lines):
        try:
            rec = json.loads(line)
            ok = isinstance(rec, dict) and rec.get("kind") in ("setup", "game")
        except json.JSONDecodeError:
            ok = False
        if ok:
            records.append(rec)
        elif i == len(lines) - 1:
            print(f"ladder: {path}: dropped a torn last line (its game is played again)",
                  file=sys.stderr)
            tmp = path.with_name(path.name + ".tmp")
            tmp.write_text("".join(x + "\n" for x in lines[:-1]), encoding="utf-8")
            os.replace(tmp, path)
        else:
            raise LadderError(f"{path} line {i + 1} is not a ladder record: move the file "
                              "away to start the ladder again")
    setups = [r for r in records if r["kind"] == "setup"]
    return (setups[0] if setups else None), [r for r in records if r["kind"] == "game"]


def _append(path: Path, record: dict) -> None:
    """One record, flushed and synced at once: a kill loses at most the line being written."""
    with open(path, "a", encoding="utf-8") as f:
        f.write(json.dumps(record) + "\n")
        f.flush()
        os.fsync(f.fileno())


def game_record(a: str, b: str, g: GameResult, size: int, openings: int) -> dict:
    """A finished game as a ladder record: A's points, how it ended, and its moves as GTP
    vertices (the first `opening_moves` of them the opening numbered `opening`)."""
    return {"kind": "game", "a": a, "b": b, "game": g.game,
            "opening": opening_of(g.game, openings), "opening_moves": g.opening,
            "a_black": g.a_black, "moves": [action_to_gtp(m, size) for m in g.moves],
            "a_points": g.a_points, "reason": g.reason, "score": g.score, "detail": g.detail}


# ------------------------------------------------------------------------------ players


def gnugo_program(program: str | None = None) -> str:
    """The GnuGo executable: `program`, else the first of `GNUGO_PATHS` found.

    Raises:
      LadderError: not found.
    """
    for p in [program] if program else GNUGO_PATHS:
        found = shutil.which(p)
        if found:
            return found
    raise LadderError(f"GnuGo not found ({program or ' or '.join(GNUGO_PATHS)}): install it "
                      "(apt-get install gnugo), pass --gnugo PATH, or leave gnugo:LEVEL out of "
                      "--references")


def reference_player(spec: str, superko: bool, gnugo: str | None, timeout: float,
                     seed: int = 0):
    """A reference from its spec: ``random``, ``gnugo:LEVEL`` (GnuGo at LEVEL 1..10 set up for
    Tromp-Taylor scoring: area rules, dead stones captured before it passes), or any
    `parse_player` spec except checkpoints.

    GnuGo gets ``--seed seed``: unseeded, it draws its seed from the clock, so the same ladder
    replayed other games (one of four differed in a test). Seeded, and with the match in
    lockstep, a pairing's games are a function of the seeds; a resumed pairing starts fresh
    engines, so its remaining games may differ from an uninterrupted run's (GnuGo keeps state
    across the games of one process).

    Raises:
      LadderError: an unknown or malformed spec, or GnuGo missing.
    """
    if spec == "random":
        return RandomPlayer()
    if spec.startswith("gnugo:"):
        level = spec[len("gnugo:"):]
        if not (level.isdigit() and 1 <= int(level) <= 10):
            raise LadderError(f"reference {spec!r}: expected gnugo:LEVEL with LEVEL in 1..10")
        flags = "--chinese-rules --capture-all-dead" + (" --positional-superko" if superko
                                                        else "")
        command = (f"{gnugo_program(gnugo)} --mode gtp --level {int(level)} --seed {seed} "
                   f"{flags}")
        return GTPPlayer(spec, command, timeout)
    if spec.startswith("ckpt:"):
        raise LadderError(f"reference {spec!r}: checkpoints are the ladder's players, not "
                          "references")
    try:
        return parse_player(spec, timeout)
    except PlayerSpecError as e:
        raise LadderError(f"unknown reference {spec!r}: expected random, gnugo:LEVEL or "
                          f"gtp:COMMAND ({e})") from None


def select_steps(run_dir: str | Path, steps: Sequence[int] | None, latest: bool) -> list[int]:
    """The checkpoints to rate: `steps`, the latest one, or all.

    Raises:
      LadderError: no run there, no checkpoints, or a step without a checkpoint.
    """
    from alphago_jax import runs
    from alphago_jax.config import ConfigError

    try:
        runs.load_config(run_dir)
        have = checkpoint_steps(run_dir)
    except (ConfigError, PlayerSpecError) as e:
        raise LadderError(str(e)) from None
    if not have:
        raise LadderError(f"{run_dir} has no checkpoints yet: train it first")
    if latest:
        return have[-1:]
    if steps:
        missing = sorted(set(steps) - set(have))
        if missing:
            raise LadderError(f"{run_dir} has no checkpoint for step(s) {missing}; it has {have}")
        return sorted(set(steps))
    return have


# ------------------------------------------------------------------------------ the ladder


@dataclasses.dataclass(frozen=True)
class LadderOptions:
    """The `alphago-jax ladder` options (see `cli`); None: the saved setup's value, else the
    default."""

    steps: tuple[int, ...] | None = None
    latest: bool = False
    references: tuple[str, ...] = DEFAULT_REFERENCES
    anchor: str = "gnugo:1"
    anchor_elo: float = 0.0
    openings: int | None = None
    opening_moves: int | None = None
    openings_seed: int | None = None
    sims: int | None = None
    seed: int = 0
    parallel: int | None = None
    gtp_timeout: float = DEFAULT_GTP_TIMEOUT
    gnugo: str | None = None
    plot: bool = True
    progress: bool = True


def _setup(run_dir: Path, saved: dict | None, opts: LadderOptions, latest, references
           ) -> Setup:
    """The ladder's setup: the saved one (options that contradict it are refused), or a new one
    from the rules `latest()` (the latest checkpoint's player) and the `references` accept.

    Raises:
      LadderError: an option that differs from the saved setup, or bad opening options.
    """
    given = {"openings": opts.openings, "opening_moves": opts.opening_moves,
             "openings_seed": opts.openings_seed, "sims": opts.sims}
    if saved is not None:
        setup = Setup.from_record(saved)
        have = {"openings": len(setup.openings), "opening_moves": setup.opening_moves,
                "openings_seed": setup.openings_seed, "sims": setup.sims}
        differ = [f"--{k.replace('_', '-')} {v} (saved {have[k]})" for k, v in given.items()
                  if v is not None and v != have[k]]
        if differ:
            raise LadderError(f"{ladder_path(run_dir)} was set up differently: "
                              f"{', '.join(differ)}; drop those options, or move the file away "
                              "to start a new ladder")
        return setup
    latest = latest()
    rules = arena_rules([latest, *references])
    moves = opts.opening_moves or DEFAULT_OPENING_MOVES
    try:
        openings = draw_openings(rules.size, opts.openings or DEFAULT_OPENINGS, moves,
                                 opts.openings_seed or 0)
    except ValueError as e:
        raise LadderError(str(e)) from None
    sims = opts.sims or latest.simulations
    if len(openings) < (opts.openings or DEFAULT_OPENINGS):
        print(f"ladder: only {len(openings)} distinct balanced {moves}-move openings found on "
              f"{rules.size}x{rules.size}", file=sys.stderr)
    return Setup(rules, sims, tuple(map(tuple, openings)), opts.openings_seed or 0, moves)


def pairings(checkpoints: Sequence[str], references: Sequence[str]) -> list[tuple[str, str]]:
    """Every checkpoint against every reference, then each reference against the next one."""
    return ([(c, r) for c in checkpoints for r in references]
            + [(references[i], references[i + 1]) for i in range(len(references) - 1)])


def _pairing_key(seed: int, a: str, b: str) -> jax.Array:
    """The pairing's PRNG key: from the seed and the two names, whatever else is played."""
    return jax.random.fold_in(jax.random.key(seed), zlib.crc32(f"{a}|{b}".encode()))


def _safe(name: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_.@" else "_" for ch in name)


def play_ladder(run_dir: Path, opts: LadderOptions) -> tuple[Setup, list[int], list[dict], int]:
    """Plays the games the ladder file lacks.

    Returns:
      (setup, the rated steps, every game record, games that failed and were not recorded).
    """
    from alphago_jax import runs

    steps = select_steps(run_dir, opts.steps, opts.latest)
    path = ladder_path(run_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    saved, records = read_ladder(path)
    loaded: dict[int, SearchPlayer] = {}

    def checkpoint(step: int, sims: int | None) -> SearchPlayer:
        if step not in loaded:
            try:
                loaded[step] = SearchPlayer.from_run(load_run(run_dir, step), sims,
                                                     name=f"ckpt@{step}")
            except PlayerSpecError as e:
                raise LadderError(str(e)) from None
        return loaded[step]

    superko = saved["superko"] if saved else runs.load_config(run_dir).superko
    refs = {s: reference_player(s, superko, opts.gnugo, opts.gtp_timeout, opts.seed)
            for s in opts.references}
    setup = _setup(run_dir, saved, opts, lambda: checkpoint(steps[-1], opts.sims),
                   list(refs.values()))
    gtp = [s for s, p in refs.items() if getattr(p, "is_gtp", False)]
    if gtp and setup.rules.suicide:
        raise LadderError(f"{path} was set up with suicide allowed (no GTP reference then), "
                          f"which {gtp[0]} refuses: move the file away to start a new ladder")
    if saved is None:
        _append(path, setup.as_record())
    names = {f"ckpt@{s}": s for s in steps}
    done: dict[tuple[str, str], set[int]] = {}
    for r in records:
        done.setdefault((r["a"], r["b"]), set()).add(r["game"])
    failed = 0
    for a, b in pairings(list(names), list(opts.references)):
        todo = sorted(set(range(setup.games)) - done.get((a, b), set()))
        if not todo:
            continue
        pa = checkpoint(names[a], setup.sims) if a in names else refs[a]
        pb = refs[b]
        print(f"ladder: {a} vs {b}: {len(todo)} game(s) to play", file=sys.stderr, flush=True)

        def on_game(g: GameResult, a=a, b=b) -> None:
            if not g.failure:  # a failed engine says nothing of play: replayed next time
                rec = game_record(a, b, g, setup.rules.size, len(setup.openings))
                _append(path, rec)
                records.append(rec)

        try:
            result = play_match(
                setup.rules, pa, pb, setup.games, _pairing_key(opts.seed, a, b), opts.parallel,
                path.parent / "sgf" / f"{_safe(a)}_vs_{_safe(b)}", opts.progress, on_game,
                [list(o) for o in setup.openings], todo)
        except ArenaError as e:
            raise LadderError(str(e)) from None
        failed += sum(g.failure for g in result.games)
    return setup, steps, records, failed


# ------------------------------------------------------------------------------ the summary


def pairing_tallies(records: Sequence[dict]) -> dict[tuple[str, str], Tally]:
    points: dict[tuple[str, str], list[float]] = {}
    for r in records:
        points.setdefault((r["a"], r["b"]), []).append(r["a_points"])
    return {k: Tally.from_points(v) for k, v in points.items()}


def distinct_games(records: Sequence[dict]) -> int:
    """Distinct move sequences among the game records."""
    return len({tuple(r["moves"]) for r in records})


def rate(records: Sequence[dict], anchor: str, anchor_elo: float):
    """The Bradley-Terry fit of every pairing with `anchor` held at `anchor_elo`.

    Raises:
      LadderError: the anchor has played no game.
    """
    tallies = pairing_tallies(records)
    if not any(anchor in k for k in tallies):
        raise LadderError(f"the anchor {anchor!r} has played no game: give it in --references "
                          "or choose another --anchor")
    return fit_elo([(a, b, t.points, t.games) for (a, b), t in tallies.items()],
                   fixed={anchor: anchor_elo})


def training_figures(run_dir: Path, steps: Sequence[int]) -> tuple[dict, list[str]]:
    """Per step: wall_s (wall clock since the run's first iteration began, evaluations,
    checkpoints and pauses between resumes included), device_s (seconds of the training
    iterations themselves, summed `iteration_s`: the run's one device's time) and flops
    (`train_flops`), from metrics.jsonl.

    Returns:
      ({figure: {step: value}}, notes naming the figures missing for some steps).
    """
    from alphago_jax.logging import MetricsError, read_metrics

    try:
        recs = read_metrics(run_dir)
    except MetricsError as e:
        return {"wall_s": {}, "device_s": {}, "flops": {}}, [f"metrics.jsonl unreadable: {e}"]
    figures: dict[str, dict[int, float]] = {"wall_s": {}, "device_s": {}, "flops": {}}
    timed = [r for r in recs if "iteration_s" in r]
    start = timed[0]["time"] - timed[0]["iteration_s"] if timed else None
    total = 0.0
    for r in timed:
        total += r["iteration_s"]
        figures["device_s"][r["step"]] = total
        figures["wall_s"][r["step"]] = r["time"] - start
    for r in recs:
        if "train_flops" in r:
            figures["flops"][r["step"]] = r["train_flops"]
    notes = []
    for name, values in figures.items():
        missing = [s for s in steps if s not in values]
        if missing:
            notes.append(f"{name} missing from metrics.jsonl for step(s) {missing}")
    return figures, notes


def _fmt(x: float | None, unit: str = "") -> str:
    if x is None:
        return "-"
    if unit == "flops":
        return f"{x:.2e}"
    return f"{x:.0f}s"


def table(fit, steps, references, tallies, figures) -> list[str]:
    """The printed table: checkpoint, wall time, device-seconds, FLOPs, Elo +- 95% interval, and
    W-L-D (win rate) against each reference."""
    elo = fit.as_dict()
    head = ["checkpoint", "wall", "device-s", "FLOPs", "Elo (95% CI)", *[f"vs {r}"
                                                                         for r in references]]
    rows = []
    for s in steps:
        name = f"ckpt@{s}"
        if name not in elo:
            continue
        r, se = elo[name]
        cells = [name, _fmt(figures["wall_s"].get(s)), _fmt(figures["device_s"].get(s)),
                 _fmt(figures["flops"].get(s), "flops"), f"{r:.0f} +- {Z95 * se:.0f}"]
        for ref in references:
            t = tallies.get((name, ref))
            cells.append(f"{t.wins}-{t.losses}-{t.draws} ({t.win_rate:.2f})" if t else "-")
        rows.append(cells)
    for ref in references:
        if ref in elo:
            r, se = elo[ref]
            rows.append([ref, "", "", "", f"{r:.0f} +- {Z95 * se:.0f}"] + [""] * len(references))
    widths = [max(len(str(x)) for x in col) for col in zip(head, *rows, strict=True)]
    return ["  ".join(str(x).ljust(w) for x, w in zip(row, widths, strict=True)).rstrip()
            for row in [head, *rows]]


def plot(path: Path, fit, steps, figures, run_name: str) -> list[str]:
    """Elo (95% interval) against wall time, device-seconds and FLOPs, one panel each, with the
    references as horizontal lines; returns the panels left empty for want of figures."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    elo = fit.as_dict()
    panels = [("wall_s", "training wall time (s)"), ("device_s", "device-seconds"),
              ("flops", "training FLOPs")]
    fig, axes = plt.subplots(1, 3, figsize=(13, 4), sharey=True)
    empty = []
    for ax, (key, label) in zip(axes, panels, strict=True):
        pts = [(figures[key][s], *elo[f"ckpt@{s}"]) for s in steps
               if s in figures[key] and f"ckpt@{s}" in elo]
        if pts:
            x, y, se = (np.array(v) for v in zip(*pts, strict=True))
            ax.errorbar(x, y, yerr=Z95 * se, marker="o", capsize=3, label=run_name)
        else:
            empty.append(key)
            ax.text(0.5, 0.5, f"no {label} in metrics.jsonl", ha="center",
                    transform=ax.transAxes)
        for name, (r, _) in elo.items():
            if not name.startswith("ckpt@"):
                ax.axhline(r, ls="--", lw=0.8, color="grey")
                ax.annotate(name, (0.01, r), fontsize=7, va="bottom",
                            xycoords=("axes fraction", "data"))
        if key == "flops" and pts:
            ax.set_xscale("log")
        ax.set_xlabel(label)
    axes[0].set_ylabel("Elo (95% interval)")
    fig.suptitle(f"ladder: {run_name}")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return empty


def last_line(run_dir, step, fit, references, tallies, distinct, games) -> str:
    """`ladder: RUN step=N elo=X (95% CI lo..hi), vs REF W-L-D, ...; distinct games D/G`."""
    name = f"ckpt@{step}"
    r, se = fit.as_dict()[name]
    vs = "".join(f", vs {ref} {t.wins}-{t.losses}-{t.draws}" for ref in references
                 if (t := tallies.get((name, ref))) is not None)
    return (f"ladder: {run_dir} step={step} elo={r:.0f} (95% CI {r - Z95 * se:.0f}.."
            f"{r + Z95 * se:.0f}){vs}; distinct games {distinct}/{games}")


def main(run_dir: str, opts: LadderOptions) -> int:
    """`alphago-jax ladder RUN`: plays what is missing, prints the table and the last line.

    Returns:
      0; 2 on bad input (one line on stderr); 1 when games failed (a player crashed or timed
      out: they were not recorded, and a rerun plays them).
    """
    run = Path(run_dir)
    try:
        if opts.anchor not in opts.references:
            raise LadderError(f"--anchor {opts.anchor} is not among --references "
                              f"{','.join(opts.references)}")
        if len(set(opts.references)) != len(opts.references):
            raise LadderError(f"--references names a player twice: {','.join(opts.references)}")
        if not math.isfinite(opts.anchor_elo):
            raise LadderError(f"--anchor-elo must be finite, got {opts.anchor_elo}")
        setup, steps, records, failed = play_ladder(run, opts)
        checkpoints = {f"ckpt@{s}" for s in steps}
        players = checkpoints | set(opts.references)
        records = [r for r in records if r["a"] in players and r["b"] in players]
        fit = rate(records, opts.anchor, opts.anchor_elo)
    except LadderError as e:
        print(f"alphago-jax ladder: {e}", file=sys.stderr, flush=True)
        return 2
    tallies = pairing_tallies(records)
    figures, notes = training_figures(run, steps)
    r = setup.rules
    print(f"{r.size}x{r.size}, komi {r.komi:g}, {setup.sims} simulations per move; "
          f"{len(setup.openings)} openings of {setup.opening_moves} moves (seed "
          f"{setup.openings_seed}, nearest-stone balance within {balance_tolerance(r.size)}), "
          f"each with both colours: {setup.games} games per pairing")
    for (a, b), t in tallies.items():
        mine = [x for x in records if (x["a"], x["b"]) == (a, b)]
        print(f"{t.line(a, b)}; distinct games {distinct_games(mine)}/{len(mine)}")
    for line in table(fit, steps, opts.references, tallies, figures):
        print(line)
    for note in notes:
        print(f"note: {note}")
    if opts.plot:
        empty = plot(run / LADDER_DIR / PLOT_FILE, fit, steps, figures, run.name)
        print(f"plot: {run / LADDER_DIR / PLOT_FILE}"
              + (f" (empty panels: {', '.join(empty)})" if empty else ""))
    print(last_line(run_dir, steps[-1], fit, opts.references, tallies,
                    distinct_games(records), len(records)), flush=True)
    if failed:
        print(f"alphago-jax ladder: {failed} game(s) failed (a player crashed or timed out); "
              "they were not recorded: run the ladder again to play them", file=sys.stderr)
        return 1
    return 0
