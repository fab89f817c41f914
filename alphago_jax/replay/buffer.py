"""On-device replay: a fixed-capacity ring of positions, uniform sampling, oldest out first.

A position is written when it is searched, before its game's result is known. Each position
records its game's id; when a game ends its result goes to a small table of results keyed by game
id, and only positions whose game has a result there are sampled. So finishing a game costs one
row write, not a rewrite of all its positions.
"""

from __future__ import annotations

import chex
import jax
import jax.numpy as jnp

from alphago_jax.features.planes import planes_from
from alphago_jax.rules import symmetry
from alphago_jax.rules.go import Rules


@chex.dataclass(frozen=True)
class ReplayBuffer:
    """Positions and game results. C = capacity, G = result rows, k = history, P = points.

    Attributes:
      boards: int8[C, k, P] positions t..t-k+1 as the mover saw them.
      to_play: int8[C] side to move (+1 black).
      legal: bool[C, P] legal points.
      policy: float32[C, P + 1] policy target.
      game_id: int32[C] the position's game (-1: empty slot).
      ptr: int32[] next slot to write.
      result: int8[G] game result from Black's view (+1, 0, -1), row = game_id % G.
      result_id: int32[G] game id whose result is in the row (-1: none).
      result_own: int8[G, P'] final Tromp-Taylor area map (Black +1) when ownership is on (P' = P),
        else P' = 0.
      own_valid: bool[G] the area map is a real end of game (not a resignation).
    """

    boards: chex.Array
    to_play: chex.Array
    legal: chex.Array
    policy: chex.Array
    game_id: chex.Array
    ptr: chex.Array
    result: chex.Array
    result_id: chex.Array
    result_own: chex.Array
    own_valid: chex.Array


def result_rows(capacity: int) -> int:
    # A game's row must outlive its positions: rows turn over every G finished games while a
    # position lives `capacity` writes, so G = capacity / 4 suffices for games of >= 4 moves.
    return max(capacity // 4, 16)


def init(rules: Rules, capacity: int, history: int, ownership: bool) -> ReplayBuffer:
    p, g = rules.num_points, result_rows(capacity)
    return ReplayBuffer(
        boards=jnp.zeros((capacity, history, p), jnp.int8),
        to_play=jnp.zeros((capacity,), jnp.int8),
        legal=jnp.zeros((capacity, p), bool),
        policy=jnp.zeros((capacity, p + 1), jnp.float32),
        game_id=jnp.full((capacity,), -1, jnp.int32),
        ptr=jnp.int32(0),
        result=jnp.zeros((g,), jnp.int8),
        result_id=jnp.full((g,), -1, jnp.int32),
        result_own=jnp.zeros((g, p if ownership else 0), jnp.int8),
        own_valid=jnp.zeros((g,), bool),
    )


def add_positions(buf: ReplayBuffer, boards, to_play, legal, policy, game_id) -> ReplayBuffer:
    """Writes a batch of B positions at the ring pointer (B <= capacity)."""
    cap = buf.game_id.shape[0]
    idx = (buf.ptr + jnp.arange(game_id.shape[0])) % cap
    return buf.replace(
        boards=buf.boards.at[idx].set(boards),
        to_play=buf.to_play.at[idx].set(to_play.astype(jnp.int8)),
        legal=buf.legal.at[idx].set(legal),
        policy=buf.policy.at[idx].set(policy.astype(buf.policy.dtype)),
        game_id=buf.game_id.at[idx].set(game_id),
        ptr=(buf.ptr + game_id.shape[0]) % cap,
    )


def add_results(buf: ReplayBuffer, done, game_id, result, own=None, own_valid=None):
    """Records the results of the games with `done` set (bool[B]); result int8[B] Black's view."""
    g = buf.result_id.shape[0]
    row = jnp.where(done, game_id % g, g)  # out-of-range rows are dropped
    buf = buf.replace(
        result=buf.result.at[row].set(result.astype(jnp.int8), mode="drop"),
        result_id=buf.result_id.at[row].set(game_id, mode="drop"),
    )
    if own is not None and buf.result_own.shape[1] > 0:
        buf = buf.replace(
            result_own=buf.result_own.at[row].set(own.astype(jnp.int8), mode="drop"),
            own_valid=buf.own_valid.at[row].set(own_valid, mode="drop"),
        )
    return buf


def ready(buf: ReplayBuffer) -> chex.Array:
    """bool[C]: slots whose game has finished and whose result is still in the table."""
    g = buf.result_id.shape[0]
    row = jnp.maximum(buf.game_id, 0) % g
    return (buf.game_id >= 0) & (buf.result_id[row] == buf.game_id)


def num_ready(buf: ReplayBuffer) -> chex.Array:
    return jnp.sum(ready(buf), dtype=jnp.int32)


@chex.dataclass(frozen=True)
class Sample:
    """A training batch of N positions (already under a random board symmetry).

    Attributes:
      x: float32[N, S, S, C] network input.
      policy: float32[N, A] policy target.
      value: float32[N] outcome for the side to move (+1, 0, -1).
      ownership: float32[N, S, S] area map from the side to move's view (zeros when off).
      own_weight: float32[N] 1 where the ownership target is real.
    """

    x: chex.Array
    policy: chex.Array
    value: chex.Array
    ownership: chex.Array
    own_weight: chex.Array


def sample(buf: ReplayBuffer, key, n: int, size: int, symmetries: bool = True) -> Sample:
    """Draws `n` ready positions uniformly (with replacement), each under a random symmetry."""
    k_idx, k_sym = jax.random.split(key)
    cdf = jnp.cumsum(ready(buf), dtype=jnp.int32)
    total = jnp.maximum(cdf[-1], 1)
    u = jax.random.randint(k_idx, (n,), 0, total)
    idx = jnp.searchsorted(cdf, u, side="right")
    g = buf.result_id.shape[0]
    row = jnp.maximum(buf.game_id[idx], 0) % g
    to_play = buf.to_play[idx]
    x = jax.vmap(planes_from, in_axes=(0, 0, 0, None))(
        buf.boards[idx], to_play, buf.legal[idx], size
    )
    policy = buf.policy[idx]
    value = (buf.result[row] * to_play).astype(jnp.float32)
    if buf.result_own.shape[1] > 0:
        own = buf.result_own[row].reshape(n, size, size) * to_play[:, None, None]
        own_weight = buf.own_valid[row].astype(jnp.float32)
    else:
        own = jnp.zeros((n, size, size), jnp.int8)
        own_weight = jnp.zeros((n,), jnp.float32)
    if symmetries:
        sym = jax.random.randint(k_sym, (n,), 0, symmetry.NUM_SYMMETRIES)
        x = symmetry.transform_planes(x, sym)
        policy = symmetry.transform_policy(policy, sym, size)
        own = symmetry.transform_board(own, sym)
    return Sample(
        x=x, policy=policy, value=value, ownership=own.astype(jnp.float32), own_weight=own_weight
    )
