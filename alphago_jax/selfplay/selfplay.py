"""Self-play: B games advance in lockstep inside one `lax.scan`; finished games restart in place.

Each step searches every game, picks a move (uniformly random off the first line for the first
`random_opening_moves` moves, then sampled from the search policy up to `temperature_moves`
moves, its best action after), writes the searched position to the replay
buffer, applies resignation, plays the move and, for games that ended, records the result.

With `random_play` (the value bootstrap) there is no search and no network: each move is a
uniformly random legal point (pass only when no point is legal), and the positions are written
with an all-zero policy target, so they train the value head and never the policy head.
"""

from __future__ import annotations

from typing import NamedTuple

import chex
import jax
import jax.numpy as jnp
import numpy as np

from alphago_jax.replay import buffer as replay
from alphago_jax.rules.coords import interior_points
from alphago_jax.rules.go import WHITE, GoState, Rules, random_legal_action
from alphago_jax.search.mcts import SearchResult, SearchSettings, run_search, select_action

__all__ = [
    "POLICY_TARGETS", "STAT_KEYS", "SelfPlaySettings", "SelfPlayState", "choose_action", "init",
    "make_step", "opening_action", "policy_target", "random_moves", "run",
]

POLICY_TARGETS = ("soft", "hard")
"""Policy targets: 'soft' (the search's improved policy) or 'hard' (one-hot of the move played)."""


class SelfPlaySettings(NamedTuple):
    """Static self-play settings (hashable), built by `TrainConfig.selfplay_settings`.

    The fields named like `TrainConfig` fields are documented there (`selfplay_action` is the
    action selection after the temperature moves, see `search.select_action`); `full` and `fast`
    are the search settings of a full and a cheap (playout-cap) search; `random_play` replaces the
    search by uniformly random legal moves with zero policy targets (the value bootstrap);
    `id_stride` is the step between a batch's game ids (the number of board sizes sharing one
    replay buffer, see `init`).
    """

    full: SearchSettings
    fast: SearchSettings
    history: int
    temperature_moves: int
    temperature: float
    selfplay_action: str
    playout_cap_fraction: float
    resign_threshold: float
    resign_moves: int
    no_resign_fraction: float
    policy_target: str
    ownership: bool
    random_opening_moves: int
    random_play: bool = False
    id_stride: int = 1


@chex.dataclass(frozen=True)
class SelfPlayState:
    """Games in flight (leading axis B).

    Attributes:
      games: GoState[B].
      game_id: int32[B] id of each game (its positions point to it in the replay buffer).
      next_id: int32[] next unused game id.
      no_resign: bool[B] this game is played to the end whatever the value says.
      low_moves: int8[B, 2] consecutive own moves of (Black, White) with value below threshold.
      would_resign: int8[B] in no-resign games, the colour that would have resigned first (0: none).
    """

    games: GoState
    game_id: chex.Array
    next_id: chex.Array
    no_resign: chex.Array
    low_moves: chex.Array
    would_resign: chex.Array


STAT_KEYS = (
    "games", "black_wins", "draws", "moves_in_games", "resigned", "no_resign_checked",
    "false_resign", "positions", "full_searches", "root_value_abs",
)


def init(
    rules: Rules, batch: int, key, settings: SelfPlaySettings, id_offset: int = 0
) -> SelfPlayState:
    """`batch` games at move 0.

    Game ids are `id_offset + settings.id_stride * j` (j = 0, 1, ...): several batches (one per
    board size) writing into one replay buffer get disjoint ids, `id % id_stride == id_offset`.
    """
    games = jax.vmap(lambda _: rules.init())(jnp.arange(batch))
    stride = settings.id_stride
    return SelfPlayState(
        games=games,
        game_id=id_offset + stride * jnp.arange(batch, dtype=jnp.int32),
        next_id=jnp.int32(id_offset + stride * batch),
        no_resign=jax.random.uniform(key, (batch,)) < settings.no_resign_fraction,
        low_moves=jnp.zeros((batch, 2), jnp.int8),
        would_resign=jnp.zeros((batch,), jnp.int8),
    )


def choose_action(key, result: SearchResult, move_count, settings: SelfPlaySettings):
    """Self-play's move: temperature sampling early in the game, `select_action`'s choice after.

    Args:
      key: PRNG key of the temperature sampling.
      result: the batched full search of the positions.
      move_count: int[B] moves played before each position.
      settings: the self-play settings.

    Returns:
      int32[B] actions.
    """
    logits = jnp.where(result.policy > 0, jnp.log(result.policy) / settings.temperature, -jnp.inf)
    sampled = jax.random.categorical(key, logits, axis=-1).astype(jnp.int32)
    greedy = select_action(result, settings.full.algorithm, settings.selfplay_action)
    return jnp.where(move_count < settings.temperature_moves, sampled, greedy)


def opening_action(legal, size: int, key):
    """A uniformly random legal point off the first line for every game (`random_opening_moves`);
    a game with no such point takes any legal point, else the pass (`random_legal_action`).

    Args:
      legal: bool[B, A] legal actions (the search's `legal`), A = size * size + 1.
      size: board side.
      key: PRNG key.

    Returns:
      int32[B] actions.
    """
    chex.assert_shape(legal, (None, size * size + 1))
    interior = np.zeros(size * size, bool)
    interior[interior_points(size)] = True
    points = legal[:, :-1]
    inner = points & interior
    pick = jnp.where(jnp.any(inner, axis=-1, keepdims=True), inner, points)
    keys = jax.random.split(key, legal.shape[0])
    return jax.vmap(random_legal_action)(jnp.concatenate([pick, legal[:, -1:]], -1), keys)


def policy_target(result: SearchResult, action, settings: SelfPlaySettings):
    """The policy target of searched positions: the search policy ('soft'; also random play's
    all-zero policy) or a one-hot of `action` ('hard'), float32[B, A]."""
    if settings.policy_target == "soft" or settings.random_play:
        return result.policy
    return jax.nn.one_hot(action, result.policy.shape[-1], dtype=jnp.float32)


def _resign(sp: SelfPlayState, value, settings: SelfPlaySettings):
    """Updates low-value counters; returns (resigned bool[B], low_moves, would_resign)."""
    mover = sp.games.to_play
    col = (mover == WHITE).astype(jnp.int32)
    rows = jnp.arange(mover.shape[0])
    low = value < settings.resign_threshold
    count = jnp.where(low, sp.low_moves[rows, col] + 1, 0).astype(jnp.int8)
    low_moves = sp.low_moves.at[rows, col].set(count)
    wants = (count >= settings.resign_moves) & (settings.resign_threshold > -1.0)
    resigned = wants & ~sp.no_resign
    first = wants & sp.no_resign & (sp.would_resign == 0)
    would_resign = jnp.where(first, mover, sp.would_resign).astype(jnp.int8)
    return resigned, low_moves, would_resign


def random_moves(rules: Rules, games: GoState, key) -> SearchResult:
    """`Rules.random_action` for every game, in place of a search.

    Returns:
      A `SearchResult` with `action` int32[B], the legal mask, and zeros for the policy [B, A]
      (no policy target), the visits and the values [B].
    """
    legal = jax.vmap(rules.legal_mask)(games)
    keys = jax.random.split(key, legal.shape[0])
    action = jax.vmap(rules.random_action)(games, keys)
    zeros = jnp.zeros(action.shape, jnp.float32)
    return SearchResult(
        action=action, policy=jnp.zeros(legal.shape, jnp.float32), value=zeros,
        prior_value=zeros, legal=legal, visits=jnp.zeros(legal.shape, jnp.int32),
    )


def make_step(rules: Rules, apply, settings: SelfPlaySettings):
    """The scan body `(carry, key) -> (carry, stats)`; carry = (params, SelfPlayState, replay)."""
    p = rules.num_points

    def search_with(s: SearchSettings, net_params, games, key):
        if settings.random_play:
            return random_moves(rules, games, key)
        return run_search(rules, apply, settings.history, s, net_params, games, key)

    def step(carry, key):
        net_params, sp, buf = carry
        k_cap, k_search, k_act, k_reset = jax.random.split(key, 4)
        games = sp.games
        b = games.to_play.shape[0]

        # Playout-cap randomization, drawn for the whole lockstep batch: a real branch, so cheap
        # steps cost only the cheap search.
        if settings.playout_cap_fraction < 1.0 and not settings.random_play:
            full = jax.random.uniform(k_cap) < settings.playout_cap_fraction
            result = jax.lax.cond(
                full,
                lambda: search_with(settings.full, net_params, games, k_search),
                lambda: search_with(settings.fast, net_params, games, k_search),
            )
        else:
            full = jnp.array(True)
            result = search_with(settings.full, net_params, games, k_search)

        if settings.random_play:
            action = result.action
        else:
            action = choose_action(k_act, result, games.move_count, settings)
        # The target comes first: a 'hard' target is the search's move, never a random opening's.
        target = policy_target(result, action, settings)
        if settings.random_opening_moves and not settings.random_play:
            # A key folded from k_act, so runs without random openings keep their random stream.
            opening = opening_action(result.legal, rules.size, jax.random.fold_in(k_act, 1))
            action = jnp.where(games.move_count < settings.random_opening_moves, opening, action)
        buf = jax.lax.cond(
            full,
            lambda bf: replay.add_positions(
                bf, games.boards[:, : settings.history], games.to_play,
                result.legal[:, :p], target, sp.game_id, result.value, games.move_count,
                games.passes,
            ),
            lambda bf: bf,
            buf,
        )

        resigned, low_moves, would_resign = _resign(sp, result.value, settings)
        if settings.random_play:  # random players never resign
            resigned = jnp.zeros_like(resigned)
            low_moves, would_resign = sp.low_moves, sp.would_resign
        nxt = jax.vmap(rules.step)(games, action)
        ended = jax.vmap(rules.is_over)(nxt)
        done = ended | resigned
        # One flood per finished game gives both its score and its area map, and costs nothing
        # in the games still running (see `Rules.outcome`). Resigned games store their area map
        # too (marked invalid), as they always have.
        score, area = jax.vmap(rules.outcome)(nxt, done if settings.ownership else ended)
        result_black = jnp.where(resigned, -games.to_play, jnp.sign(score)).astype(jnp.int8)
        own = area if settings.ownership else None
        buf = replay.add_results(buf, done, sp.game_id, result_black, own, ended & ~resigned)

        checked = done & sp.no_resign & (would_resign != 0)
        stats = {
            "games": jnp.sum(done),
            "black_wins": jnp.sum(done & (result_black > 0)),
            "draws": jnp.sum(done & (result_black == 0)),
            "moves_in_games": jnp.sum(jnp.where(done, nxt.move_count, 0)),
            "resigned": jnp.sum(resigned),
            "no_resign_checked": jnp.sum(checked),
            # The would-be resigner did not lose: resigning would have thrown the game away.
            "false_resign": jnp.sum(checked & (result_black * would_resign >= 0)),
            "positions": jnp.where(full, b, 0),
            "full_searches": full.astype(jnp.int32),
            "root_value_abs": jnp.mean(jnp.abs(result.value)),
        }

        fresh = jax.vmap(lambda _: rules.init())(jnp.arange(b))
        reset = lambda f, s: jnp.where(done.reshape((b,) + (1,) * (s.ndim - 1)), f, s)
        stride = settings.id_stride
        new_ids = sp.next_id + stride * (jnp.cumsum(done, dtype=jnp.int32) - 1)
        sp = SelfPlayState(
            games=jax.tree.map(reset, fresh, nxt),
            game_id=jnp.where(done, new_ids, sp.game_id),
            next_id=sp.next_id + stride * jnp.sum(done, dtype=jnp.int32),
            no_resign=jnp.where(
                done, jax.random.uniform(k_reset, (b,)) < settings.no_resign_fraction, sp.no_resign
            ),
            low_moves=jnp.where(done[:, None], 0, low_moves).astype(jnp.int8),
            would_resign=jnp.where(done, 0, would_resign).astype(jnp.int8),
        )
        return (net_params, sp, buf), stats

    return step


def run(rules: Rules, apply, settings: SelfPlaySettings, net_params, sp, buf, key, steps: int):
    """`steps` lockstep moves (call inside jit). Returns (sp, buf, summed stats)."""
    body = make_step(rules, apply, settings)
    (_, sp, buf), stats = jax.lax.scan(body, (net_params, sp, buf), jax.random.split(key, steps))
    totals = {k: jnp.sum(v) for k, v in stats.items() if k != "root_value_abs"}
    totals["root_value_abs"] = jnp.mean(stats["root_value_abs"])
    return sp, buf, totals
