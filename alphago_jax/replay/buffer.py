"""On-device replay: a fixed-capacity ring of positions, uniform sampling, oldest out first.

A position is written when it is searched, before its game's result is known. Each position
records its game's id; when a game ends its result goes to a small table of results keyed by game
id, and only positions whose game has a result there are sampled. So finishing a game costs one
row write, not a rewrite of all its positions.

Several board sizes (multi-size training) share one buffer laid out on the largest board, S x S:
a smaller n x n position sits in the top-left corner (point (r, c) at r * S + c, zeros elsewhere,
pass stays the last policy entry) and `board_size` records n, which `sample` turns into the
on-board feature plane and into symmetries that stay inside the n x n corner.

Besides the network's inputs each position keeps its move number and consecutive passes (3 bytes):
with the board history that is enough to rebuild a searchable `GoState`
(`Rules.from_history`, used by `alphago_jax.learner.reanalyse`).
"""

from __future__ import annotations

import functools
import math

import chex
import jax
import jax.numpy as jnp
import numpy as np

from alphago_jax.features.planes import pad_board, planes_from
from alphago_jax.rules import symmetry
from alphago_jax.rules.go import Rules

__all__ = [
    "ReplayBuffer", "Sample", "add_positions", "add_results", "apply_symmetries", "gather",
    "grid_side", "init", "num_ready", "on_board", "padded_symmetry_gather", "ready", "sample",
    "sample_indices", "transform_padded",
]


@chex.dataclass(frozen=True)
class ReplayBuffer:
    """Positions and game results. C = capacity, G = result rows, k = history, P = points.

    Attributes:
      boards: int8[C, k, P] positions t..t-k+1 as the mover saw them.
      to_play: int8[C] side to move (+1 black).
      legal: bool[C, P] legal points.
      policy: float32[C, P + 1] policy target.
      search_value: float32[C] the search's value of the position for the side to move (0 where
        nothing searched it: random play, game records), for value targets other than the result.
      game_id: int32[C] the position's game (-1: empty slot).
      move_count: int16[C] moves played before the position (passes included).
      passes: int8[C] consecutive passes just before the position.
      ptr: int32[] next slot to write.
      result: int8[G] game result from Black's view (+1, 0, -1), row = game_id % G.
      result_id: int32[G] game id whose result is in the row (-1: none).
      result_own: int8[G, P'] final Tromp-Taylor area map (Black +1) when ownership is on (P' = P),
        else P' = 0.
      own_valid: bool[G] the area map is a real end of game (not a resignation).
      board_size: int8[C] side n of each position's board (0: empty slot) in a multi-size
        buffer; None in a one-size buffer (every position is S x S).
    """

    boards: chex.Array
    to_play: chex.Array
    legal: chex.Array
    policy: chex.Array
    search_value: chex.Array
    game_id: chex.Array
    move_count: chex.Array
    passes: chex.Array
    ptr: chex.Array
    result: chex.Array
    result_id: chex.Array
    result_own: chex.Array
    own_valid: chex.Array
    board_size: chex.Array | None = None


def result_rows(capacity: int, num_sizes: int = 1) -> int:
    # A game's row must outlive its positions: rows turn over every G finished games while a
    # position lives `capacity` writes, so G = capacity / 4 suffices for games of >= 4 moves.
    # With m sizes, game ids are interleaved (id % m = size index; see selfplay.init), so a
    # multiple of m gives each size its own G / m rows for its 1 / m share of the positions.
    g = max(capacity // 4, 16)
    return -(-g // num_sizes) * num_sizes


def init(
    rules: Rules, capacity: int, history: int, ownership: bool, num_sizes: int = 1
) -> ReplayBuffer:
    """An empty buffer on `rules`' board; `num_sizes > 1` makes it a multi-size buffer."""
    p, g = rules.num_points, result_rows(capacity, num_sizes)
    return ReplayBuffer(
        boards=jnp.zeros((capacity, history, p), jnp.int8),
        to_play=jnp.zeros((capacity,), jnp.int8),
        legal=jnp.zeros((capacity, p), bool),
        policy=jnp.zeros((capacity, p + 1), jnp.float32),
        search_value=jnp.zeros((capacity,), jnp.float32),
        game_id=jnp.full((capacity,), -1, jnp.int32),
        move_count=jnp.zeros((capacity,), jnp.int16),
        passes=jnp.zeros((capacity,), jnp.int8),
        ptr=jnp.int32(0),
        result=jnp.zeros((g,), jnp.int8),
        result_id=jnp.full((g,), -1, jnp.int32),
        result_own=jnp.zeros((g, p if ownership else 0), jnp.int8),
        own_valid=jnp.zeros((g,), bool),
        board_size=jnp.zeros((capacity,), jnp.int8) if num_sizes > 1 else None,
    )


def grid_side(buf: ReplayBuffer) -> int:
    """Side S of the buffer's (largest) board."""
    return math.isqrt(buf.legal.shape[-1])


def _side(points: int, what: str) -> int:
    n = math.isqrt(points)
    if n * n != points:
        raise ValueError(f"{what} has {points} points, not a square board")
    return n


def _pad_points(x: chex.Array, n: int, s: int) -> chex.Array:
    """[..., n*n] point values -> [..., s*s]: the n x n board top-left, zeros elsewhere."""
    if n == s:
        return x
    lead = x.shape[:-1]
    return pad_board(x.reshape(lead + (n, n)), s).reshape(lead + (s * s,))


def _fit(buf: ReplayBuffer, points: int, what: str) -> int:
    """The side n of incoming `points`-point boards, checked against the buffer."""
    n, s = _side(points, what), grid_side(buf)
    if n > s or (n != s and buf.board_size is None):
        raise ValueError(
            f"{what} of a {n}x{n} board cannot go into a {s}x{s} buffer"
            + ("" if n > s else " (only a multi-size buffer pads smaller boards)")
        )
    return n


def add_positions(buf: ReplayBuffer, boards, to_play, legal, policy, game_id,
                  search_value=None, move_count=None, passes=None) -> ReplayBuffer:
    """Writes a batch of B positions at the ring pointer (B <= capacity).

    Args:
      buf: the buffer (S x S board).
      boards: int8[B, k, n*n] positions t..t-k+1, n <= S (n < S only in a multi-size buffer).
      to_play: [B] side to move.
      legal: bool[B, n*n] legal points.
      policy: float[B, n*n + 1] policy target, pass last.
      game_id: int32[B] the positions' games.
      search_value: float[B] the search's value for the side to move (None: zeros).
      move_count: int[B] moves played before each position (None: zeros).
      passes: int[B] consecutive passes before each position (None: zeros).
    """
    zeros = jnp.zeros(game_id.shape, jnp.int32)
    search_value = zeros if search_value is None else search_value
    move_count = zeros if move_count is None else move_count
    passes = zeros if passes is None else passes
    n, s = _fit(buf, legal.shape[-1], "legal"), grid_side(buf)
    if n != s:
        boards, legal = _pad_points(boards, n, s), _pad_points(legal, n, s)
        policy = jnp.concatenate([_pad_points(policy[..., :-1], n, s), policy[..., -1:]], -1)
    cap = buf.game_id.shape[0]
    idx = (buf.ptr + jnp.arange(game_id.shape[0])) % cap
    if buf.board_size is not None:
        buf = buf.replace(board_size=buf.board_size.at[idx].set(n))
    return buf.replace(
        boards=buf.boards.at[idx].set(boards),
        to_play=buf.to_play.at[idx].set(to_play.astype(jnp.int8)),
        legal=buf.legal.at[idx].set(legal),
        policy=buf.policy.at[idx].set(policy.astype(buf.policy.dtype)),
        search_value=buf.search_value.at[idx].set(search_value.astype(jnp.float32)),
        game_id=buf.game_id.at[idx].set(game_id),
        move_count=buf.move_count.at[idx].set(move_count.astype(jnp.int16)),
        passes=buf.passes.at[idx].set(passes.astype(jnp.int8)),
        ptr=(buf.ptr + game_id.shape[0]) % cap,
    )


def add_results(buf: ReplayBuffer, done, game_id, result, own=None, own_valid=None):
    """Records the results of the games with `done` set (bool[B]); result int8[B] Black's view.

    `own` (int8[B, n*n], with `own_valid` bool[B]) is the final area map, padded like the
    positions when n < S.
    """
    g = buf.result_id.shape[0]
    row = jnp.where(done, game_id % g, g)  # out-of-range rows are dropped
    buf = buf.replace(
        result=buf.result.at[row].set(result.astype(jnp.int8), mode="drop"),
        result_id=buf.result_id.at[row].set(game_id, mode="drop"),
    )
    if own is not None and buf.result_own.shape[1] > 0:
        own = _pad_points(own, _fit(buf, own.shape[-1], "own"), grid_side(buf))
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
      search_value: float32[N] the search's value when the position was played (0: none).
      ownership: float32[N, S, S] area map from the side to move's view (zeros when off).
      own_weight: float32[N] 1 where the ownership target is real.
    """

    x: chex.Array
    policy: chex.Array
    value: chex.Array
    search_value: chex.Array
    ownership: chex.Array
    own_weight: chex.Array


@functools.cache
def padded_symmetry_gather(pad_to: int) -> np.ndarray:
    """Gather tables of the 8 symmetries of every board n x n <= pad_to padded top-left.

    Returns:
      int32[pad_to + 1, 8, pad_to**2 + 1]: row [n, sym] lists, for each action of the padded
      grid, the action whose value lands there when an n x n board in the top-left corner is
      transformed by `sym`. The board stays in its corner (the symmetry of the n x n board, in
      `alphago_jax.rules.symmetry`'s convention); padded points and pass map to themselves. Rows
      n < 2 are the identity.
    """
    s = pad_to
    table = np.tile(np.arange(s * s + 1, dtype=np.int32), (s + 1, symmetry.NUM_SYMMETRIES, 1))
    syms = np.arange(symmetry.NUM_SYMMETRIES)[:, None]
    for n in range(2, s + 1):
        # Constants even when called while tracing: the tables are built once, on the host.
        with jax.ensure_compile_time_eval():
            forward = np.asarray(symmetry.transform_action(np.arange(n * n)[None], syms, n))
        r, c = np.divmod(np.arange(n * n), n)
        rr, cc = np.divmod(forward, n)  # [8, n*n] where each point of the n x n board goes
        for k in range(symmetry.NUM_SYMMETRIES):
            table[n, k, rr[k] * s + cc[k]] = r * s + c
    return table


def transform_padded(x, policy, own, board_size, sym):
    """Applies per-position symmetries to padded positions, each inside its own board.

    Args:
      x: [N, S, S, C] planes.
      policy: [N, S*S + 1] policy (pass last, fixed).
      own: [N, S, S] ownership.
      board_size: int[N] side n of each position's board (top-left n x n of the grid).
      sym: int32[N] symmetry of each position, 0..7.

    Returns:
      (x, policy, own) transformed; equal to transforming the unpadded n x n arrays with
      `alphago_jax.rules.symmetry` and padding them again.
    """
    n, s = x.shape[0], x.shape[1]
    idx = jnp.asarray(padded_symmetry_gather(s))[board_size.astype(jnp.int32), sym]  # [N, P+1]
    pts = idx[:, : s * s]
    x = jnp.take_along_axis(x.reshape(n, s * s, -1), pts[..., None], axis=1).reshape(x.shape)
    policy = jnp.take_along_axis(policy, idx, axis=1)
    own = jnp.take_along_axis(own.reshape(n, s * s), pts, axis=1).reshape(own.shape)
    return x, policy, own


def on_board(board_size: chex.Array, size: int) -> chex.Array:
    """bool[N, S, S]: the top-left n x n corner of each position's S x S grid (S = `size`)."""
    r = jnp.arange(size)
    n = board_size.astype(jnp.int32)[:, None, None]
    return (r[None, :, None] < n) & (r[None, None, :] < n)


def gather(buf: ReplayBuffer, idx: chex.Array, size: int) -> Sample:
    """The positions at `idx` (int32[N]) as a `Sample`, as stored (no symmetry).

    `size` is the buffer's board side S. In a multi-size buffer each position's planes are zero
    off its board (the last plane is its on-board mask) and its policy is zero on padded points.
    """
    n = idx.shape[0]
    row = jnp.maximum(buf.game_id[idx], 0) % buf.result_id.shape[0]
    to_play = buf.to_play[idx]
    x = jax.vmap(planes_from, in_axes=(0, 0, 0, None))(
        buf.boards[idx], to_play, buf.legal[idx], size
    )
    if buf.board_size is not None:
        # Planes built on the S x S grid are 1 off-board in the to-play and mask planes.
        x = x * on_board(buf.board_size[idx], size)[..., None].astype(x.dtype)
    if buf.result_own.shape[1] > 0:
        own = buf.result_own[row].reshape(n, size, size) * to_play[:, None, None]
        own_weight = buf.own_valid[row].astype(jnp.float32)
    else:
        own = jnp.zeros((n, size, size), jnp.int8)
        own_weight = jnp.zeros((n,), jnp.float32)
    return Sample(
        x=x, policy=buf.policy[idx], value=(buf.result[row] * to_play).astype(jnp.float32),
        search_value=buf.search_value[idx], ownership=own.astype(jnp.float32),
        own_weight=own_weight,
    )


def sample_indices(buf: ReplayBuffer, key, n: int) -> tuple[chex.Array, chex.Array]:
    """`n` ready slots drawn uniformly (with replacement) and a random symmetry for each.

    Returns:
      (idx int32[n], sym int32[n] in 0..7).
    """
    k_idx, k_sym = jax.random.split(key)
    cdf = jnp.cumsum(ready(buf), dtype=jnp.int32)
    total = jnp.maximum(cdf[-1], 1)
    u = jax.random.randint(k_idx, (n,), 0, total)
    idx = jnp.searchsorted(cdf, u, side="right")
    sym = jax.random.randint(k_sym, (n,), 0, symmetry.NUM_SYMMETRIES)
    return idx, sym


def apply_symmetries(buf: ReplayBuffer, batch: Sample, idx, sym, size: int) -> Sample:
    """`batch` (the positions at `idx`, as `gather` returns them) under symmetries `sym` [N]:
    planes, policy and ownership move together; in a multi-size buffer each position stays in
    its top-left corner."""
    if buf.board_size is None:
        x = symmetry.transform_planes(batch.x, sym)
        policy = symmetry.transform_policy(batch.policy, sym, size)
        own = symmetry.transform_board(batch.ownership, sym)
    else:
        x, policy, own = transform_padded(batch.x, batch.policy, batch.ownership,
                                          buf.board_size[idx], sym)
    return batch.replace(x=x, policy=policy, ownership=own)


def sample(buf: ReplayBuffer, key, n: int, size: int, symmetries: bool = True) -> Sample:
    """Draws `n` ready positions uniformly (with replacement), each under a random symmetry.

    `size` is the buffer's board side S. In a multi-size buffer the batch mixes sizes (see
    `gather`) and each position's symmetry keeps it in its top-left corner.
    """
    idx, sym = sample_indices(buf, key, n)
    batch = gather(buf, idx, size)
    return apply_symmetries(buf, batch, idx, sym, size) if symmetries else batch
