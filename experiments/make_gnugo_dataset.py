"""GnuGo plays itself over GTP: SGF games for the supervised warm start.

Each game seats two GnuGo processes (one per colour), each at a level drawn per game from
``--levels`` (e.g. ``1,5,10``: each side's level at random). Games differ because the first
``--random-moves`` moves are uniformly random legal points (drawn from a numpy Generator seeded
by ``--seed`` and the game number) and each engine gets its own random seed per game
(``set_random_seed``). Both engines run with ``--chinese-rules --capture-all-dead
--positional-superko --never-resign``: area counting, dead stones are captured before the
game ends and nobody resigns, so the Tromp-Taylor count of the final position is the real
result. Every move is checked with our rules (positional superko, no suicide); a game ends
after two passes or at the move cap (``--max-moves``, default 2 * size^2) and is scored by
`Rules.score`.

Each game is written to ``OUT/game_NNNNN.sgf`` with SZ, KM, RE (``B+x`` / ``W+x`` / ``0``),
PB/PW (``GNU Go <version> level L``), RU[Chinese] and a root comment giving the random opening
and the engine seeds. A game is a pure function of (``--seed``, its number, the levels and
GnuGo's version), so a file that is already there is kept and not replayed: an interrupted run
resumes. ``--workers N`` games run at once (threads driving separate GnuGo processes; GnuGo
does the work).

Usage::

    python experiments/make_gnugo_dataset.py --out data/gnugo-7x7 --games 300 --size 7 \\
        --levels 1,5,10 --random-moves 2 --workers 2 --seed 0

The last line printed is ``N games in OUT: B+ b, W+ w, draws d, mean length L moves``.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import dataclasses
import functools
import shutil
import sys
import threading
import time
from pathlib import Path

import jax
import numpy as np

from alphago_jax.arena import GTPClient, PlayerError
from alphago_jax.rules.coords import action_to_gtp, gtp_to_action
from alphago_jax.rules.go import BLACK, IllegalMoveError, Rules
from alphago_jax.sgf import GameRecord, result_string, save_sgf

GNUGO_FLAGS = ("--mode", "gtp", "--chinese-rules", "--capture-all-dead", "--positional-superko",
               "--never-resign")


@dataclasses.dataclass(frozen=True)
class GameSpec:
    """What makes a game: its number, each side's level and the seeds.

    Attributes:
      index: game number (file ``game_NNNNN.sgf``).
      black_level, white_level: GnuGo levels.
      opening_seed: seed of the Generator that draws the random opening moves.
      black_seed, white_seed: GnuGo random seeds.
    """

    index: int
    black_level: int
    white_level: int
    opening_seed: int
    black_seed: int
    white_seed: int


def game_specs(games: int, levels: list[int], seed: int) -> list[GameSpec]:
    """The specs of games 0..games-1, each drawn from its own Generator (seed, game number),
    so game i does not depend on how many games are asked for."""
    specs = []
    for i in range(games):
        rng = np.random.default_rng([seed, i])
        lb, lw = (int(x) for x in rng.choice(levels, size=2))
        s = rng.integers(1, 2**31 - 1, size=3)
        specs.append(GameSpec(i, lb, lw, int(s[0]), int(s[1]), int(s[2])))
    return specs


@functools.partial(jax.jit, static_argnums=0)
def _legal(rules: Rules, state) -> jax.Array:
    return rules.legal_mask(state)


@functools.partial(jax.jit, static_argnums=0)
def _score(rules: Rules, state) -> jax.Array:
    return rules.score(state)


class GameError(RuntimeError):
    """A game that could not be finished (engine failure, an illegal engine move)."""


class Engines:
    """One worker's two GnuGo processes (black, white), reused game after game."""

    def __init__(self, gnugo: str, timeout: float):
        self.argv = [gnugo, *GNUGO_FLAGS]
        self.timeout = timeout
        self.clients: dict[int, GTPClient] = {}
        self.version = ""

    def client(self, colour: int) -> GTPClient:
        c = self.clients.get(colour)
        if c is None or not c.alive:
            c = GTPClient(self.argv, self.timeout)
            self.clients[colour] = c
            self.version = c.send("version")
        return c

    def new_game(self, rules: Rules, spec: GameSpec) -> None:
        for colour, level, seed in ((BLACK, spec.black_level, spec.black_seed),
                                    (-BLACK, spec.white_level, spec.white_seed)):
            c = self.client(colour)
            for command in (f"boardsize {rules.size}", "clear_board", f"komi {rules.komi:g}",
                            f"level {level}", f"set_random_seed {seed}"):
                c.send(command)

    def close(self) -> None:
        for c in self.clients.values():
            c.close()
        self.clients.clear()


def _colour(colour: int) -> str:
    return "b" if colour == BLACK else "w"


def play_game(engines: Engines, rules: Rules, spec: GameSpec, random_moves: int) -> GameRecord:
    """Plays one game; returns its record (RE from the Tromp-Taylor count of the end position).

    Raises:
      GameError: an engine failed or played a move our rules reject.
    """
    rng = np.random.default_rng(spec.opening_seed)
    try:
        engines.new_game(rules, spec)
        state, moves, resigned = rules.init(), [], 0
        while not bool(rules.is_over(state)):
            colour = int(state.to_play)
            if len(moves) < random_moves:
                points = np.flatnonzero(np.asarray(_legal(rules, state))[:-1])
                action = int(rng.choice(points)) if points.size else rules.pass_action
                tell = (BLACK, -BLACK)
            else:
                reply = engines.client(colour).send(f"genmove {_colour(colour)}")
                if reply.strip().lower() == "resign":  # not expected with --never-resign
                    resigned = colour
                    break
                action = gtp_to_action(reply.split()[0], rules.size)
                tell = (-colour,)
            try:
                state = rules.play(state, action)
            except IllegalMoveError as e:
                raise GameError(f"game {spec.index}: GnuGo move rejected: {e}") from None
            for c in tell:
                engines.client(c).send(f"play {_colour(colour)} "
                                       f"{action_to_gtp(action, rules.size)}")
            moves.append(action)
    except (PlayerError, ValueError) as e:
        engines.close()  # start clean processes for the next game
        raise GameError(f"game {spec.index}: {e}") from None
    score = None if resigned else float(_score(rules, state))
    name = f"GNU Go {engines.version}".strip()
    return GameRecord(
        size=rules.size, komi=rules.komi, moves=moves,
        black=f"{name} level {spec.black_level}", white=f"{name} level {spec.white_level}",
        result=result_string(score, resigned_colour=resigned), rules="Chinese",
        comment=(f"GnuGo self-play ({' '.join(GNUGO_FLAGS)}); the first "
                 f"{min(random_moves, len(moves))} moves uniformly random (opening seed "
                 f"{spec.opening_seed}); engine seeds "
                 f"{spec.black_seed}/{spec.white_seed}; Tromp-Taylor count, positional superko, "
                 f"no suicide, move cap {rules.move_cap}"),
    )


def _levels(text: str) -> list[int]:
    try:
        levels = [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected levels like 1,5,10, got {text!r}") from None
    if not levels or any(not 0 <= lv <= 10 for lv in levels):
        raise argparse.ArgumentTypeError(f"GnuGo levels must be in 0..10, got {text!r}")
    return levels


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", required=True, help="output directory for the SGF files")
    p.add_argument("--games", type=int, default=100)
    p.add_argument("--size", type=int, default=7)
    p.add_argument("--komi", type=float, default=7.5)
    p.add_argument("--levels", type=_levels, default=[1, 5, 10],
                   help="GnuGo levels; each side's level is drawn from them per game")
    p.add_argument("--random-moves", type=int, default=2,
                   help="uniformly random legal moves that open every game")
    p.add_argument("--max-moves", type=int, default=0, help="move cap; 0 = 2 * size^2")
    p.add_argument("--workers", type=int, default=2, help="games played at once")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--gnugo", default=shutil.which("gnugo") or "/usr/games/gnugo")
    p.add_argument("--gtp-timeout", type=float, default=60.0, help="seconds per GTP reply")
    args = p.parse_args(argv)
    if args.games < 1 or args.workers < 1 or args.random_moves < 0 or args.max_moves < 0:
        p.error("--games and --workers must be >= 1, --random-moves and --max-moves >= 0")
    if not 2 <= args.size <= 19:
        p.error(f"--size must be in 2..19, got {args.size}")
    if shutil.which(args.gnugo) is None:
        p.error(f"GnuGo not found: {args.gnugo!r} (--gnugo)")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    rules = Rules(size=args.size, komi=args.komi, superko=True, suicide=False,
                  max_moves=args.max_moves or None, history=1)
    specs = game_specs(args.games, args.levels, args.seed)
    todo = [s for s in specs if not (out / f"game_{s.index:05d}.sgf").exists()]
    if len(todo) < len(specs):
        print(f"{len(specs) - len(todo)} games already in {out}: kept", file=sys.stderr)
    local = threading.local()
    all_engines: list[Engines] = []
    lock = threading.Lock()

    def run(spec: GameSpec) -> GameRecord:
        if not hasattr(local, "engines"):
            local.engines = Engines(args.gnugo, args.gtp_timeout)
            with lock:
                all_engines.append(local.engines)
        record = play_game(local.engines, rules, spec, args.random_moves)
        save_sgf(record, out / f"game_{spec.index:05d}.sgf")
        return record

    t0 = time.perf_counter()
    records, failed = [], 0
    try:
        with concurrent.futures.ThreadPoolExecutor(args.workers) as pool:
            futures = [pool.submit(run, s) for s in todo]
            for n, f in enumerate(concurrent.futures.as_completed(futures), 1):
                try:
                    records.append(f.result())
                except GameError as e:
                    failed += 1
                    print(f"failed: {e}", file=sys.stderr)
                if n % 20 == 0 or n == len(futures):
                    print(f"{n}/{len(futures)} games, {time.perf_counter() - t0:.0f}s",
                          file=sys.stderr, flush=True)
    finally:
        for e in all_engines:
            e.close()
    black = sum(r.result.startswith("B+") for r in records)
    white = sum(r.result.startswith("W+") for r in records)
    length = np.mean([len(r.moves) for r in records]) if records else 0.0
    if failed:
        print(f"{failed} games failed (see above); no SGF written for them", file=sys.stderr)
    print(f"{len(records)} games in {out}: B+ {black}, W+ {white}, draws "
          f"{len(records) - black - white}, mean length {length:.1f} moves "
          f"({time.perf_counter() - t0:.0f}s)")
    return 0 if records or not todo else 1


if __name__ == "__main__":
    sys.exit(main())
