"""`alphago-jax arena A B`: the referee job -- parses two player specs, plays the match
(`arena.match.play_match`), writes the SGF files and prints the summary."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import jax

from alphago_jax.arena.match import (
    ArenaError,
    MatchResult,
    arena_rules,
    describe_rules,
    play_match,
)
from alphago_jax.arena.players import DEFAULT_GTP_TIMEOUT, PlayerSpecError, parse_player


def main(
    spec_a: str,
    spec_b: str,
    games: int = 40,
    size: int | None = None,
    komi: float | None = None,
    superko: bool | None = None,
    suicide: bool | None = None,
    max_moves: int | None = None,
    sgf_dir: str | None = None,
    seed: int = 0,
    parallel: int | None = None,
    gtp_timeout: float | None = None,
    progress: bool = True,
    allow_forfeits: bool = False,
) -> int:
    """`alphago-jax arena A B`: plays the match, writes SGFs, prints the summary.

    The last stdout line is `A vs B: W-L-D, win rate X (95% CI lo-hi), forfeits: A n, B m`
    (A's view, draws half; forfeits: games each player lost by an illegal move or a failure).

    Returns:
      0 when the match was played; 2 on bad input (specs, rules, numbers), with the reason on
      stderr; 1 when a game was decided by a player's failure (no reply, exit, refused command,
      unreadable move: the score then does not measure play), unless `allow_forfeits`.
    """
    def fail(msg: str) -> int:
        print(f"alphago-jax arena: {msg}", file=sys.stderr, flush=True)
        return 2

    if games < 1:
        return fail(f"--games must be >= 1, got {games}")
    try:
        timeout = DEFAULT_GTP_TIMEOUT if gtp_timeout is None else gtp_timeout
        player_a = parse_player(spec_a, timeout)
        player_b = parse_player(spec_b, timeout)
        rules = arena_rules((player_a, player_b), size, komi, superko, suicide, max_moves)
    except (PlayerSpecError, ArenaError, ValueError) as e:
        return fail(str(e))
    out = Path(sgf_dir) if sgf_dir else Path("runs") / f"arena-{time.strftime('%Y%m%d-%H%M%S')}"
    for p in (player_a, player_b):
        if getattr(p, "step", None) is not None:
            print(f"{p.name}: checkpoint step {p.step}, {p.simulations} simulations per move",
                  file=sys.stderr)
    print(f"arena: {games} games, {describe_rules(rules)}; SGF files in {out}", file=sys.stderr,
          flush=True)
    try:
        result = play_match(rules, player_a, player_b, games, jax.random.key(seed), parallel,
                            out, progress)
    except ArenaError as e:
        return fail(str(e))
    for line in result.report():
        print(line)
    print(f"SGF files: {out}")
    print(result.line(), flush=True)
    return _failure_status(result, allow_forfeits)


def _failure_status(result: MatchResult, allow_forfeits: bool) -> int:
    """1, with the reason on stderr, when games were decided by a player's failure."""
    fa, fb = result.failures
    if not fa + fb:
        return 0
    what = (f"alphago-jax arena: {fa + fb} of {len(result.games)} games were forfeited because "
            f"a player failed (A {fa}, B {fb}; the reasons are in the game lines above): the "
            "score does not measure play")
    if allow_forfeits:
        print(f"{what} (exit 0: --allow-forfeits)", file=sys.stderr, flush=True)
        return 0
    print(f"{what}. Fix the engine (or --gtp-timeout), or pass --allow-forfeits to exit 0 "
          "anyway.", file=sys.stderr, flush=True)
    return 1
