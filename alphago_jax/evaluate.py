"""`alphago-jax evaluate`: a run's latest checkpoint against uniform random.

A thin job over the match layer: the checkpoint is loaded (`runs.load_params`), becomes an
`arena.SearchPlayer` with the run's evaluation search, and plays `arena.RandomPlayer` in one
`arena.play_match`.
"""

from __future__ import annotations

import sys
import time

import jax

from alphago_jax.arena import PlayerSpecError, RandomPlayer, SearchPlayer, load_run, play_match


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def main(run_dir: str, games: int, sims: int | None, seed: int) -> int:
    """Plays the run's latest checkpoint against uniform random; 0 on success, 2 on bad input.

    Prints the time and simulations on stderr, and on stdout
    `ckpt:RUN_DIR@STEP vs random: W-L-D, win rate X (95% CI lo-hi)`. Bad input (numbers, a
    missing or corrupt run) gets one line on stderr, before anything compiles.

    Args:
      run_dir: a training run directory.
      games: games to play (colours alternating), >= 1.
      sims: simulations per move, >= 1 (default: the run's `eval_simulations`).
      seed: seed of the players' random choices.
    """
    if games < 1:
        return _fail(f"--games must be >= 1, got {games}")
    if sims is not None and sims < 1:
        return _fail(f"--sims must be >= 1, got {sims}")
    try:
        run = load_run(run_dir)
    except PlayerSpecError as e:
        return _fail(str(e))
    # A new player per call: the loaded run and its config stay as they were.
    player = SearchPlayer.from_run(run, sims)
    t0 = time.perf_counter()
    result = play_match(run.cfg.rules(), player, RandomPlayer(), games, jax.random.key(seed))
    _log(f"{games} games in {time.perf_counter() - t0:.1f}s, "
         f"{player.simulations} simulations per move")
    print(result.tally.line(f"ckpt:{run_dir}@{run.step}", "random"), flush=True)
    return 0


def _fail(message: str) -> int:
    _log(f"alphago-jax evaluate: {message}")
    return 2
