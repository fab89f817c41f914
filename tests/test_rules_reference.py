"""Random games of the JAX rules engine replayed move by move in the plain-Python reference.

Each configuration (board size x superko x suicide) plays a batch of games in one jitted, vmapped
`lax.scan` with random moves (a categorical over the legal mask, with a per-game pass bias and, in
some games, occasional unconstrained actions that exercise "an illegal action plays a pass"). Every
step records the engine's action, legal mask, board, side to move, game-over flag and score; the
reference (`tests/go_reference.py`) replays the same actions and must agree at every step until
the game ends, and on the final state.

The number of games scales with the env var ALPHAGO_JAX_REF_GAMES_SCALE (default 1.0, a few
minutes on 2 CPU cores); scale 10 plays thousands of games for every board size (a long manual run).
"""

from __future__ import annotations

import dataclasses
import math
import os
import random

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from go_reference import (
    BLACK,
    EMPTY,
    WHITE,
    RefGame,
    area_score,
    ascii_board,
    find_chains,
    neighbour_table,
    play_on_board,
    play_on_board_slow,
)

from alphago_jax.rules import Rules

SCALE = float(os.environ.get("ALPHAGO_JAX_REF_GAMES_SCALE", "1.0"))

# Games per (size, superko, suicide) configuration at scale 1 and at scale 10; in between (and
# beyond) the count follows the power law through those two points, so a long run at scale 10
# reaches thousands of games per board size even where scale 1 only affords a handful.
_GAMES = {2: (2048, 20000), 3: (1536, 15000), 5: (768, 8000), 7: (150, 2000), 9: (80, 1000),
          13: (6, 400), 19: (3, 250)}
_CHUNK = 512  # games per compiled call; bounds memory and makes compilation independent of scale

# XLA's backend optimisations cost more compile time than these short runs save; integer results
# do not depend on them. One configuration is compiled with the defaults as well.
_FAST_COMPILE = {"xla_backend_optimization_level": 0, "xla_llvm_disable_expensive_passes": True}


def num_games(size: int) -> int:
    base, at10 = _GAMES[size]
    return max(1, round(base * SCALE ** math.log10(at10 / base)))


@dataclasses.dataclass(frozen=True)
class Config:
    size: int
    superko: bool
    suicide: bool
    komi: float
    max_moves: int | None
    optimise: bool = False  # compile with XLA's default optimisations

    @property
    def rules(self) -> Rules:
        return Rules(size=self.size, komi=self.komi, superko=self.superko, suicide=self.suicide,
                     max_moves=self.max_moves)


def _configs() -> list[Config]:
    out = []
    for size in (2, 3, 5, 7, 9, 13, 19):
        for superko in (True, False):
            for suicide in (True, False):
                # Integer komi in half the configurations so that drawn games occur.
                komi = {(True, True): 7.5, (True, False): 0.0, (False, True): 1.0,
                        (False, False): -0.5}[superko, suicide]
                if size == 2:
                    komi = {7.5: 0.5, 1.0: 1.0}.get(komi, komi)
                # Big boards use a shorter game in three of four configurations for time; the
                # superko+suicide one keeps the default cap of 2 * size * size.
                max_moves = None
                if size >= 13 and not (superko and suicide):
                    max_moves = {13: 200, 19: 240}[size]
                out.append(Config(size, superko, suicide, komi, max_moves,
                                  optimise=(size, superko, suicide) == (9, True, True)))
    return out


CONFIGS = _configs()


def _config_id(c: Config) -> str:
    return (f"{c.size}x{c.size}-{'superko' if c.superko else 'simpleko'}-"
            f"{'suicide' if c.suicide else 'nosuicide'}")


def _compiled_games(config: Config, batch: int):
    """Compiled fn(keys: [B] key, pass_logit: f32[B], noise: f32[B]) -> (records, final)."""
    rules = config.rules
    p = rules.num_points
    steps = rules.move_cap  # every game ends by then

    def one_game(key, pass_logit, noise):
        def body(state, key):
            k_move, k_noise, k_wild = jax.random.split(key, 3)
            mask = rules.legal_mask(state)
            logits = jnp.where(mask, 0.0, -jnp.inf).at[p].add(pass_logit)
            action = jax.random.categorical(k_move, logits).astype(jnp.int32)
            # Occasionally any action at all, in range or not: illegal ones must play a pass.
            wild = jax.random.randint(k_wild, (), -2, p + 3, dtype=jnp.int32)
            action = jnp.where(jax.random.uniform(k_noise) < noise, wild, action)
            record = dict(action=action, mask=mask, board=state.boards[0],
                          to_play=rules.to_play(state), over=rules.is_over(state),
                          score=rules.score(state))
            return rules.step(state, action), record

        final, records = jax.lax.scan(body, rules.init(), jax.random.split(key, steps))
        final_record = dict(board=final.boards[0], boards=final.boards,
                            to_play=rules.to_play(final), over=rules.is_over(final),
                            score=rules.score(final), move_count=final.move_count)
        return records, final_record

    fn = jax.jit(jax.vmap(one_game))
    args = (jax.random.split(jax.random.key(0), batch), jnp.zeros(batch), jnp.zeros(batch))
    options = None if config.optimise else _FAST_COMPILE
    return fn.lower(*args).compile(options)


def _play_engine_games(config: Config, n: int, seed: int):
    """Plays >= n games; yields (game id, records, final) per game as numpy arrays."""
    chunks = math.ceil(n / _CHUNK)
    batch = math.ceil(n / chunks)
    run = _compiled_games(config, batch)
    for chunk in range(chunks):
        key = jax.random.fold_in(jax.random.key(seed), chunk)
        k_games, k_pass = jax.random.split(key)
        keys = jax.random.split(k_games, batch)
        idx = jnp.arange(batch)
        # Odd games get a random pass bias (shorter games, endings by two passes); every fourth
        # game plays an unconstrained action on 4% of its moves.
        pass_logit = jnp.where(idx % 2 == 1, jax.random.uniform(k_pass, (batch,), minval=-2.0,
                                                                 maxval=3.0), 0.0)
        noise = jnp.where(idx % 4 == 3, 0.04, 0.0)
        records, final = jax.tree.map(np.asarray, run(keys, pass_logit, noise))
        for g in range(batch):
            yield (chunk * batch + g, {k: v[g] for k, v in records.items()},
                   {k: v[g] for k, v in final.items()})


_SIGNED = np.array([0, 1, -1], np.int8)  # reference byte colour -> engine colour


def _signed(board) -> np.ndarray:
    return _SIGNED[np.frombuffer(bytes(board), np.uint8)]


def _describe_mask_diff(ref: RefGame, got: np.ndarray) -> str:
    want = np.array(ref.legal_mask())
    lines = []
    for a in np.flatnonzero(want != got):
        if a == ref.pass_action:
            where, why = "pass", "-"
        else:
            where = f"(row {a // ref.size}, col {a % ref.size})"
            why = ref.point_status(int(a)) if not ref.is_over() else "game over"
        lines.append(f"  action {a} {where}: engine {bool(got[a])}, reference {bool(want[a])} "
                     f"(reference status: {why})")
    return "\n".join(lines)


class _Mismatch(AssertionError):
    pass


def _check(ok: bool, config: Config, game: int, move: int, what: str, ref: RefGame,
           engine_board, detail: str = ""):
    if ok:
        return
    msg = (f"{what} differs: board {config.size}x{config.size}, {_config_id(config)}, "
           f"komi {config.komi}, max_moves {config.max_moves}, game {game}, before move "
           f"{move + 1}\nactions so far: {ref.actions}\n"
           f"reference board ({'black' if ref.to_play == BLACK else 'white'} to play):\n"
           f"{ascii_board(ref.board, config.size)}\nengine board:\n"
           f"{ascii_board(np.asarray(engine_board).tolist(), config.size)}\n{detail}")
    raise _Mismatch(msg)


def _compare_game(config: Config, game: int, rec: dict, final: dict, stats: dict) -> None:
    ref = RefGame(config.size, komi=config.komi, superko=config.superko, suicide=config.suicide,
                  max_moves=config.max_moves)
    steps = rec["action"].shape[0]
    for t in range(steps):
        board = rec["board"][t]
        _check(np.array_equal(_signed(ref.board), board), config, game, t, "board", ref, board)
        _check(int(rec["to_play"][t]) == ref.signed_to_play(), config, game, t, "side to move",
               ref, board, f"engine {int(rec['to_play'][t])}")
        _check(bool(rec["over"][t]) == ref.is_over(), config, game, t, "is_over", ref, board,
               f"engine {bool(rec['over'][t])}, reference {ref.is_over()}")
        mask = rec["mask"][t]
        _check(np.array_equal(np.array(ref.legal_mask()), mask), config, game, t, "legal mask",
               ref, board, _describe_mask_diff(ref, mask))
        _check(np.float32(ref.score()) == rec["score"][t], config, game, t, "score", ref, board,
               f"engine {rec['score'][t]}, reference {ref.score()}")
        if ref.is_over():
            break
        _count(stats, ref, int(rec["action"][t]))
        ref.step(int(rec["action"][t]))
    assert ref.is_over(), f"game {game} of {_config_id(config)} not over after {steps} steps"
    _check(np.array_equal(_signed(ref.board), final["board"]), config, game, steps, "final board",
           ref, final["board"])
    _check(bool(final["over"]) and int(final["move_count"]) == ref.move_count, config, game, steps,
           "final over/move count", ref, final["board"],
           f"engine {bool(final['over'])}/{int(final['move_count'])}, reference {ref.move_count}")
    _check(np.float32(ref.score()) == final["score"], config, game, steps, "final score", ref,
           final["board"], f"engine {final['score']}, reference {ref.score()}")
    # The engine keeps the last H positions, newest first; before the start they are empty.
    history = final["boards"]
    want = [ref.boards[-1 - k] if k < len(ref.boards) else bytes(config.size ** 2)
            for k in range(history.shape[0])]
    _check(np.array_equal(np.stack([_signed(b) for b in want]), history), config, game, steps,
           "board history", ref, final["board"])
    stats["games"] += 1
    stats["two_passes"] += ref.passes >= 2
    stats["cap"] += ref.passes < 2
    stats["draws"] += ref.score() == 0


def _count(stats: dict, ref: RefGame, action: int) -> None:
    """Tallies what the game exercised, to assert that the random games cover the rules."""
    if not 0 <= action < ref.num_points:
        return
    statuses = [ref.point_status(p) for p in range(ref.num_points)]
    stats["ko_bans"] += statuses.count("repeat")
    if statuses[action] != "legal":
        stats["illegal_played"] += 1
        return
    before = sum(v != EMPTY for v in ref.board)
    _, results = ref._evaluate()
    after = results[action]
    if after[action] == EMPTY:
        stats["suicides"] += 1
    elif sum(v != EMPTY for v in after) <= before:
        stats["captures"] += 1


@pytest.mark.parametrize("config", CONFIGS, ids=_config_id)
def test_random_games_match_reference(config: Config):
    n = num_games(config.size)
    stats = dict.fromkeys(["games", "two_passes", "cap", "draws", "ko_bans", "illegal_played",
                           "suicides", "captures"], 0)
    seed = 4 * config.size + 2 * config.superko + config.suicide
    for game, rec, final in _play_engine_games(config, n, seed):
        _compare_game(config, game, rec, final, stats)
    print(f"{_config_id(config)}: {stats}")
    # The comparison only means something if the games reached the interesting rules (checked
    # where the default game counts make that certain).
    if 3 <= config.size <= 9 and SCALE >= 1.0:
        assert stats["captures"] > 0 and stats["two_passes"] > 0 and stats["cap"] > 0, stats
        assert stats["ko_bans"] > 0 and stats["illegal_played"] > 0, stats
        if config.suicide:
            assert stats["suicides"] > 0, stats
        if config.size <= 7 and config.komi == int(config.komi):
            assert stats["draws"] > 0, stats  # integer komi must be able to give an exact 0


def _random_board(rng: random.Random, size: int) -> bytearray:
    weights = rng.choice([(1, 1, 1), (1, 2, 2), (1, 4, 4)])
    return bytearray(rng.choices([EMPTY, BLACK, WHITE], weights=weights, k=size * size))


@pytest.mark.parametrize("size", [2, 3, 4, 5, 7])
def test_reference_fast_play_matches_slow_flood_fill(size: int):
    """The reference's chain-based capture/suicide equals re-flood-filling after the stone.

    Random boards may contain chains without liberties; those never occur in games, so only
    boards where every chain has a liberty are used.
    """
    rng = random.Random(size)
    nbrs = neighbour_table(size)
    checked = 0
    while checked < 300:
        board = _random_board(rng, size)
        chains, chain_of = find_chains(board, nbrs)
        if any(not ch.liberties for ch in chains):
            continue
        for p in range(size * size):
            if board[p] != EMPTY:
                continue
            for colour in (BLACK, WHITE):
                fast, _, _ = play_on_board(board, nbrs, p, colour, chains, chain_of)
                assert fast == play_on_board_slow(board, nbrs, p, colour), (
                    f"{ascii_board(board, size)}\nplay {colour} at {p}")
        checked += 1


def test_reference_score_examples():
    """Area scoring on tiny boards, worked out by hand."""
    nbrs = neighbour_table(3)
    # X . O
    # X . O      One empty region (column 1 and the bottom row) touches both colours, so it is
    # . . .      nobody's: 2 - 2 - 0.
    board = bytearray([1, 0, 2, 1, 0, 2, 0, 0, 0])
    assert area_score(board, nbrs, 0.0) == 0.0
    # X X X
    # . . .      Empty region reaches only X: 6 points; score 3 + 6 - 0.5.
    # . . .
    board = bytearray([1, 1, 1, 0, 0, 0, 0, 0, 0])
    assert area_score(board, nbrs, 0.5) == 8.5
    # Empty board: nobody's area.
    assert area_score(bytearray(9), nbrs, 7.5) == -7.5
