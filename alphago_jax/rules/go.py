"""Go under Tromp-Taylor rules as pure, jit- and vmap-compatible array functions.

Boards are flat: point ``p = row * size + col`` with row 0 the top row (SGF order), and action
``size * size`` is pass. Every per-step quantity is O(size^2):

* each stone carries the id of its chain (the index of one of the chain's stones), so merging the
  <= 4 chains next to a move is one compare over the board;
* per-chain *pseudo-liberties* (adjacent empty points counted with multiplicity) and per-chain
  Zobrist hashes come from one ``segment_sum`` keyed by chain id. A chain next to move ``m`` is
  captured exactly when all of its pseudo-liberties are adjacencies to ``m``;
* positional superko is decided in the legal mask: the resulting position's 64-bit hash (two
  additive 32-bit Zobrist words) is computed for every candidate at once, and looked up with a
  binary search in the state's sorted table of earlier positions.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import NamedTuple

import chex
import jax
import jax.numpy as jnp
import numpy as np

__all__ = [
    "BLACK", "EMPTY", "GAME_OVER", "LEGAL", "OCCUPIED", "OUT_OF_RANGE", "REASONS", "REPEAT",
    "SUICIDE", "WHITE", "GoState", "IllegalMoveError", "Rules", "random_legal_action",
]

BLACK = 1
WHITE = -1
EMPTY = 0
_OFF = 2  # colour of the off-board sentinel point
_SENTINEL = np.uint32(0xFFFFFFFF)  # fills unused slots of the sorted position table

# Reasons a move can be illegal, as returned by `Rules.move_status`.
LEGAL, OUT_OF_RANGE, GAME_OVER, OCCUPIED, SUICIDE, REPEAT = range(6)
REASONS = {
    LEGAL: "legal",
    OUT_OF_RANGE: "action out of range",
    GAME_OVER: "the game is over",
    OCCUPIED: "point is occupied",
    SUICIDE: "suicide is not allowed (single-stone suicide never is)",
    REPEAT: "the move repeats an earlier board position (ko)",
}


class IllegalMoveError(ValueError):
    """Raised by the checked `Rules.play` for an illegal move; the message names move and reason."""


def random_legal_action(legal: chex.Array, key: chex.PRNGKey) -> chex.Array:
    """A uniformly random point of `legal` (bool[A], pass last); the pass only when no point is
    in it. `Rules.random_action` draws from the legal mask; self-play's random openings from the
    legal points off the first line. Returns an int32 action."""
    points = legal.at[-1].set(~jnp.any(legal[:-1]))
    return jax.random.categorical(key, jnp.where(points, 0.0, -jnp.inf)).astype(jnp.int32)


@chex.dataclass(frozen=True)
class GoState:
    """One game (or a batch, with leading batch axes on every field).

    Attributes:
      boards: int8[H, P] the last H board positions, current first (+1 black, -1 white, 0 empty);
        H = `Rules.history`, P = size * size. Older slots are empty boards at the start.
      chain: int16[P] chain id of each stone (the index of one of its stones); P on empty points.
      to_play: int8[] +1 if Black is to move, -1 if White.
      move_count: int16[] moves played so far, passes included.
      passes: int8[] consecutive passes at the end of the move sequence.
      hash: uint32[2] Zobrist hash of the current board.
      prev_hash: uint32[2] hash of the board before the last move (simple ko).
      seen: uint32[2, S] hashes of every board position so far, sorted by word 0 and padded with
        0xFFFFFFFF; S = max_moves + 1 with superko, 0 without.
      num_seen: int16[] number of valid entries in `seen`.
    """

    boards: chex.Array
    chain: chex.Array
    to_play: chex.Array
    move_count: chex.Array
    passes: chex.Array
    hash: chex.Array
    prev_hash: chex.Array
    seen: chex.Array
    num_seen: chex.Array


class _Geometry(NamedTuple):
    """Static per-size tables (numpy, baked into compiled code as constants)."""

    neighbours: np.ndarray  # int32[P, 4]; P marks off-board
    zobrist: np.ndarray  # uint32[3, P, 2] indexed by colour + 1 (row 1, empty, is zero)


@functools.cache
def _geometry(size: int) -> _Geometry:
    p = size * size
    nbrs = np.full((p, 4), p, dtype=np.int32)
    for r in range(size):
        for c in range(size):
            i = r * size + c
            for k, (dr, dc) in enumerate(((-1, 0), (1, 0), (0, -1), (0, 1))):
                rr, cc = r + dr, c + dc
                if 0 <= rr < size and 0 <= cc < size:
                    nbrs[i, k] = rr * size + cc
    # Fixed seed per size: hashes must agree across processes (replay, checkpoints).
    rng = np.random.default_rng(0x60 + size)
    z = rng.integers(1, 2**32, size=(3, p, 2), dtype=np.uint64).astype(np.uint32)
    z[1] = 0
    return _Geometry(nbrs, z)


def _as_i32(x):
    return jax.lax.bitcast_convert_type(x, jnp.int32)


def _as_u32(x):
    return jax.lax.bitcast_convert_type(x, jnp.uint32)


class _MoveInfo(NamedTuple):
    """What playing at each candidate point would do (arrays over K candidates)."""

    legal: chex.Array  # bool[K]
    status: chex.Array  # int32[K] one of LEGAL, OCCUPIED, SUICIDE, REPEAT
    normal: chex.Array  # bool[K] the placed stone survives (not a suicide)
    new_hash: chex.Array  # uint32[K, 2] hash of the resulting board
    nbr_chain: chex.Array  # int32[K, 4] chain id of each neighbour (P if not a stone)
    captured: chex.Array  # bool[K, 4] neighbour belongs to a chain this move captures
    own: chex.Array  # bool[K, 4] neighbour is a stone of the mover


@dataclasses.dataclass(frozen=True)
class Rules:
    """Tromp-Taylor Go on a square board. Frozen and hashable: pass it as a static argument.

    Attributes:
      size: board side, 2..19.
      komi: points given to White; integer komi can draw.
      superko: positional superko in the legal mask (a move may not recreate any earlier board
        position); False falls back to simple ko (a move may not recreate the position before the
        opponent's last move).
      suicide: allow multi-stone suicide (Tromp-Taylor). Single-stone suicide never changes the
        board, so it is always illegal. False makes every suicide illegal (GnuGo, most servers).
      max_moves: move cap (passes included) after which the game ends and is scored;
        None means 2 * size * size.
      history: board positions kept in the state for network input features (>= 1).
    """

    size: int = 9
    komi: float = 7.5
    superko: bool = True
    suicide: bool = True
    max_moves: int | None = None
    history: int = 8

    def __post_init__(self):
        if not 2 <= self.size <= 19:
            raise ValueError(f"board size must be in 2..19, got {self.size}")
        if self.max_moves is not None and not 1 <= self.max_moves <= 30000:
            raise ValueError(f"max_moves must be in 1..30000, got {self.max_moves}")
        if self.history < 1:
            raise ValueError(f"history must be >= 1, got {self.history}")

    # ----------------------------------------------------------------- sizes
    @property
    def num_points(self) -> int:
        return self.size * self.size

    @property
    def num_actions(self) -> int:
        """size * size points + pass."""
        return self.size * self.size + 1

    @property
    def pass_action(self) -> int:
        return self.size * self.size

    @property
    def move_cap(self) -> int:
        return 2 * self.num_points if self.max_moves is None else self.max_moves

    @property
    def _seen_slots(self) -> int:
        return self.move_cap + 1 if self.superko else 0

    # ----------------------------------------------------------------- public API
    def init(self) -> GoState:
        """The empty board, Black to move."""
        p = self.num_points
        seen = jnp.full((2, self._seen_slots), _SENTINEL, dtype=jnp.uint32)
        if self.superko:
            seen = seen.at[:, 0].set(0)  # the empty board hashes to 0
        return GoState(
            boards=jnp.zeros((self.history, p), jnp.int8),
            chain=jnp.full((p,), p, jnp.int16),
            to_play=jnp.int8(BLACK),
            move_count=jnp.int16(0),
            passes=jnp.int8(0),
            hash=jnp.zeros((2,), jnp.uint32),
            prev_hash=jnp.zeros((2,), jnp.uint32),
            seen=seen,
            num_seen=jnp.int16(1 if self.superko else 0),
        )

    def board(self, state: GoState) -> chex.Array:
        """int8[size, size]: +1 black, -1 white, 0 empty."""
        return state.boards[0].reshape(self.size, self.size)

    def to_play(self, state: GoState) -> chex.Array:
        """int8: +1 if Black is to move, -1 if White."""
        return state.to_play

    def is_over(self, state: GoState) -> chex.Array:
        """bool: two consecutive passes, or the move cap reached."""
        return (state.passes >= 2) | (state.move_count >= self.move_cap)

    def legal_mask(self, state: GoState) -> chex.Array:
        """bool[size*size + 1]. Pass is always legal; once the game is over only pass is."""
        info = self._move_info(state)
        points = info.legal & ~self.is_over(state)
        return jnp.concatenate([points, jnp.ones((1,), bool)])

    def random_action(self, state: GoState, key: chex.PRNGKey) -> chex.Array:
        """A uniformly random legal point; pass only when no point is legal.

        The one random player of the package (arena, self-play's value bootstrap, scaling
        references): never passing by choice, its games end by filling the board rather than
        by an early pass. Returns an int32 action.
        """
        return random_legal_action(self.legal_mask(state), key)

    def step(self, state: GoState, action: chex.Array) -> GoState:
        """Plays `action` (int32 in [0, size*size]) for the side to move.

        It cannot raise under jit, so an illegal action (an occupied point, a forbidden suicide, a
        ko/superko repeat, or an index out of range) is played as a pass, and a finished game is
        returned unchanged. Use `play` for a checked move.
        """
        action = jnp.asarray(action, jnp.int32)
        p = self.num_points
        m = jnp.clip(action, 0, p - 1)
        info = jax.tree.map(lambda x: x[0], self._move_info(state, m[None]))
        is_move = (action >= 0) & (action < p) & info.legal
        moved = self._place(state, m, info)
        passed = self._pass(state)
        new = jax.tree.map(lambda a, b: jnp.where(is_move, a, b), moved, passed)
        over = self.is_over(state)
        return jax.tree.map(lambda a, b: jnp.where(over, a, b), state, new)

    def ownership(self, state: GoState) -> chex.Array:
        """int8[size, size] Tromp-Taylor area map: +1 Black's (stones and empty points reaching
        only Black), -1 White's, 0 neutral (empty points reaching both or neither)."""
        return self._area(state, jnp.array(True)).reshape(self.size, self.size)

    def score(self, state: GoState) -> chex.Array:
        """float32 Tromp-Taylor area score: Black area - White area - komi.

        A player's area is their stones plus the empty points that reach only their stones.
        """
        return self._area_score(self._area(state, jnp.array(True)))

    def outcome(self, state: GoState, where: chex.Array) -> tuple[chex.Array, chex.Array]:
        """Score and area map of a finished game from one flood, paid only `where` it is needed.

        Vmapped over a batch, the flood's loop runs only as long as the games with `where` set
        need (a game without it converges at once), so this is safe to call on every move of
        every game: no `lax.cond`, which turns into "run both branches" under vmap.

        Args:
          state: one game.
          where: bool[]: compute the outcome of this game (usually: it has just ended).

        Returns:
          (score float32[] as `score`, area int8[size * size] as `ownership`, flat); both are
          exactly zero (not -komi) where `where` is False.
        """
        area = self._area(state, where)
        return jnp.where(where, self._area_score(area), 0.0), area

    def _area_score(self, area: chex.Array) -> chex.Array:
        return jnp.sum(area, dtype=jnp.float32) - jnp.float32(self.komi)

    def _area(self, state: GoState, where: chex.Array) -> chex.Array:
        """int8[P] area map (as `ownership`, flat), all zero where `where` is False.

        One loop floods both colours' reach at once, one ring of empty points per iteration,
        until nothing changes; with `where` False the seeds are empty, so it stops after one.
        """
        board = jnp.where(where, state.boards[0], jnp.int8(EMPTY))
        empty = (board == EMPTY) & where
        seeds = jnp.stack([board == BLACK, board == WHITE], axis=1)  # [P, 2]

        def grow(carry):
            r, _ = carry
            new = r | (empty[:, None] & jnp.any(self._shift4(r, False), axis=1))
            return new, jnp.any(new != r)

        r, _ = jax.lax.while_loop(lambda c: c[1], grow, (seeds, jnp.array(True)))
        rb, rw = r[:, 0] & empty, r[:, 1] & empty
        area = board + jnp.where(rb & ~rw, 1, 0).astype(jnp.int8) - jnp.where(rw & ~rb, 1, 0)
        return area.astype(jnp.int8)

    def move_status(self, state: GoState, action: chex.Array) -> chex.Array:
        """int32 reason for `action`: LEGAL, OUT_OF_RANGE, GAME_OVER, OCCUPIED, SUICIDE, REPEAT."""
        action = jnp.asarray(action, jnp.int32)
        p = self.num_points
        info = self._move_info(state, jnp.clip(action, 0, p - 1)[None])
        status = jnp.where(action == p, LEGAL, info.status[0])
        status = jnp.where((action < 0) | (action > p), OUT_OF_RANGE, status)
        return jnp.where(self.is_over(state), GAME_OVER, status)

    def from_history(self, boards, to_play, move_count, passes) -> GoState:
        """A state rebuilt from what a replay buffer keeps of a position (jit/vmap-able).

        Chains, hashes and the ko information are recomputed from the boards. Exact for the
        board, side to move, move count (so the move cap holds), passes and simple ko (the
        board before the last move is `boards[1]`); approximate for superko: the table of
        earlier positions holds only the k given boards, so a repeat of an older position is
        not caught. With k = 1 there is no ko information at all.

        Args:
          boards: int8[k, P] positions t, t-1, ..., t-k+1 (1 <= k <= `history`; missing older
            slots are filled with empty boards, as at the start of a game).
          to_play: int8[] side to move.
          move_count: int[] moves played so far, passes included.
          passes: int[] consecutive passes at the end of the move sequence.

        Returns:
          A `GoState` (no batch axes).
        """
        p = self.num_points
        k = boards.shape[0]
        chex.assert_shape(boards, (k, p))
        boards = boards.astype(jnp.int8)
        if k < self.history:
            boards = jnp.concatenate([boards, jnp.zeros((self.history - k, p), jnp.int8)])
        boards = boards[: self.history]
        hashes = jnp.sum(jax.vmap(self._point_hash)(boards[:k]), axis=1, dtype=jnp.uint32)
        seen = jnp.full((2, self._seen_slots), _SENTINEL, dtype=jnp.uint32)
        num_seen = jnp.int16(0)  # simple ko: no table
        if self.superko:
            seen, num_seen = self._seen_table(hashes)
        return GoState(
            boards=boards,
            chain=self._chains(boards[0]),
            to_play=jnp.asarray(to_play, jnp.int8),
            move_count=jnp.asarray(move_count, jnp.int16),
            passes=jnp.asarray(passes, jnp.int8),
            hash=hashes[0],
            prev_hash=hashes[1] if k > 1 else hashes[0],
            seen=seen,
            num_seen=num_seen,
        )

    def _seen_table(self, hashes: chex.Array):
        """The sorted table of the distinct hashes among `hashes` (uint32[k, 2]; a pass or the
        empty boards before a game's start repeat a position): (seen uint32[2, S], num_seen)."""
        order = jnp.lexsort((hashes[:, 1], hashes[:, 0]))
        h = hashes[order]
        dup = jnp.concatenate([jnp.zeros((1,), bool), jnp.all(h[1:] == h[:-1], axis=-1)])
        h = jnp.where(dup[:, None], _SENTINEL, h)
        h = h[jnp.argsort(dup, stable=True)]  # distinct hashes first, still sorted by word 0
        n = min(h.shape[0], self._seen_slots)
        seen = jnp.full((2, self._seen_slots), _SENTINEL, dtype=jnp.uint32)
        seen = seen.at[:, :n].set(h[:n].T)
        num_seen = jnp.minimum(jnp.sum(~dup), n).astype(jnp.int16)
        return seen, num_seen

    def _chains(self, board: chex.Array) -> chex.Array:
        """int16[P] chain ids of `board` (the smallest point index of each chain; P when
        empty): each stone takes the smallest id among its same-coloured neighbours until
        nothing changes."""
        p = self.num_points
        stone = board != EMPTY
        start = jnp.where(stone, jnp.arange(p, dtype=jnp.int32), p)
        nb_col = self._shift4(board, jnp.int8(_OFF))  # [P, 4]
        same = (nb_col == board[:, None]) & stone[:, None]

        def grow(carry):
            ids, _ = carry
            nb = jnp.where(same, self._shift4(ids, p), p)
            new = jnp.minimum(ids, jnp.min(nb, axis=1))
            return new, jnp.any(new != ids)

        ids, _ = jax.lax.while_loop(lambda c: c[1], grow, (start, jnp.array(True)))
        return ids.astype(jnp.int16)

    # ----------------------------------------------------------------- checked host API
    def play(self, state: GoState, action: int) -> GoState:
        """Checked, host-side move for replaying records: raises `IllegalMoveError` naming the move
        and the reason instead of silently passing. `state` must be a single game."""
        if state.boards.ndim != 2:
            raise ValueError("play() takes a single game state, not a batch")
        code = int(_jit_status(self, state, jnp.int32(action)))
        if code != LEGAL:
            from alphago_jax.rules.coords import action_to_gtp

            try:
                name = action_to_gtp(int(action), self.size)
            except ValueError:
                name = str(action)
            colour = "black" if int(state.to_play) == BLACK else "white"
            raise IllegalMoveError(
                f"illegal move {name} (action {int(action)}) by {colour} at move "
                f"{int(state.move_count) + 1}: {REASONS[code]}"
            )
        return _jit_step(self, state, jnp.int32(action))

    # ----------------------------------------------------------------- internals
    def _shift4(self, x: chex.Array, fill) -> chex.Array:
        """[P, ...] -> [P, 4, ...]: each point's up, down, left, right neighbour values (`fill`
        off the board). Slices of the 2-D board: far cheaper than a gather on CPU."""
        n = self.size
        g = x.reshape((n, n) + x.shape[1:])
        row = jnp.full((1,) + g.shape[1:], fill, x.dtype)
        col = jnp.full((n, 1) + g.shape[2:], fill, x.dtype)
        up = jnp.concatenate([row, g[:-1]], axis=0)
        down = jnp.concatenate([g[1:], row], axis=0)
        left = jnp.concatenate([col, g[:, :-1]], axis=1)
        right = jnp.concatenate([g[:, 1:], col], axis=1)
        return jnp.stack([up, down, left, right], axis=2).reshape((n * n, 4) + x.shape[1:])

    def _chain_stats(self, state: GoState) -> chex.Array:
        """int32[P + 1, 3] per chain id: pseudo-liberties and the chain's two hash words (bitcast).

        Row P (the id of empty points and of off-board neighbours) is all zero: `segment_sum`
        drops the out-of-range id P, and the zero row is appended afterwards."""
        p = self.num_points
        board = state.boards[0]
        empty_nbrs = jnp.sum(self._shift4(board == EMPTY, False), axis=1, dtype=jnp.int32)
        vals = jnp.concatenate(
            [jnp.where(board != EMPTY, empty_nbrs, 0)[:, None], _as_i32(self._point_hash(board))],
            axis=-1,
        )
        stats = jax.ops.segment_sum(vals, state.chain.astype(jnp.int32), num_segments=p)
        return jnp.concatenate([stats, jnp.zeros((1, 3), stats.dtype)], axis=0)

    def _point_hash(self, board: chex.Array) -> chex.Array:
        """uint32[P, 2] Zobrist word of each point's content (zero when empty)."""
        z = _geometry(self.size).zobrist
        return jnp.where(
            (board == BLACK)[:, None], z[BLACK + 1], jnp.where((board == WHITE)[:, None], z[0], 0)
        ).astype(jnp.uint32)

    def _neighbours(self, state: GoState, points: chex.Array | None):
        """Colour, chain id and chain stats of the 4 neighbours of each candidate point.

        With `points=None` the candidates are all P points (computed with shifts); otherwise
        `points` is int32[K] (computed with gathers, cheap for small K)."""
        p = self.num_points
        board = state.boards[0]
        chain = jnp.where(board != EMPTY, state.chain.astype(jnp.int32), p)
        stats = self._chain_stats(state)
        if points is None:
            return (
                self._shift4(board, jnp.int8(_OFF)),
                self._shift4(chain, p),
                self._shift4(stats[chain], 0),
            )
        nb = jnp.asarray(_geometry(self.size).neighbours)[points]  # [K, 4]
        nb_col = jnp.concatenate([board, jnp.full((1,), _OFF, jnp.int8)])[nb]
        nb_chain = jnp.concatenate([chain, jnp.full((1,), p, jnp.int32)])[nb]
        return nb_col, nb_chain, stats[nb_chain]

    def _move_info(self, state: GoState, points: chex.Array | None = None) -> _MoveInfo:
        """Legality and effects of playing each candidate for the side to move: all P points
        (`points=None`) or the int32[K] `points`."""
        board = state.boards[0]
        colour = state.to_play.astype(jnp.int8)
        nb_col, nb_chain, nb_stats = self._neighbours(state, points)
        pseudo = nb_stats[..., 0]

        same = nb_chain[:, :, None] == nb_chain[:, None, :]  # [K, 4, 4]
        mult = jnp.sum(same, axis=-1)  # adjacencies of that neighbour's chain to the point
        earlier = jnp.tril(jnp.ones((4, 4), bool), k=-1)
        first = ~jnp.any(same & earlier, axis=-1)  # count each chain once

        is_own = nb_col == colour
        is_opp = nb_col == -colour
        captured = is_opp & (pseudo == mult)  # the point is the chain's only liberty
        own_safe = is_own & (pseudo > mult)  # the chain keeps a liberty elsewhere
        normal = (
            jnp.any(nb_col == EMPTY, axis=-1) | jnp.any(captured, axis=-1) | jnp.any(own_safe, -1)
        )
        multi_suicide = ~normal & jnp.any(is_own, axis=-1)
        here = board if points is None else board[points]
        empty_here = here == EMPTY
        basic = empty_here & (normal | (self.suicide & multi_suicide))

        chash = _as_u32(nb_stats[..., 1:])  # [K, 4, 2]
        cap_h = jnp.sum(jnp.where((first & captured)[..., None], chash, 0), 1, dtype=jnp.uint32)
        own_h = jnp.sum(jnp.where((first & is_own)[..., None], chash, 0), 1, dtype=jnp.uint32)
        z = _geometry(self.size).zobrist
        z_here = jnp.where(colour == BLACK, z[BLACK + 1], z[0])  # [P, 2]
        z_here = z_here if points is None else z_here[points]
        new_hash = jnp.where(
            normal[:, None], state.hash + z_here - cap_h, state.hash - own_h
        ).astype(jnp.uint32)

        repeat = self._seen_before(state, new_hash)
        legal = basic & ~repeat
        status = jnp.where(
            ~empty_here,
            OCCUPIED,
            jnp.where(~basic, SUICIDE, jnp.where(repeat, REPEAT, LEGAL)),
        )
        return _MoveInfo(legal, status, normal, new_hash, nb_chain, captured, is_own)

    def _seen_before(self, state: GoState, h: chex.Array) -> chex.Array:
        """bool[K]: does each hash (uint32[K, 2]) name an earlier position (superko) or the
        position before the opponent's last move (simple ko)?"""
        if not self.superko:
            return jnp.all(h == state.prev_hash, axis=-1)
        key, check = state.seen[0], state.seen[1]
        n = state.num_seen.astype(jnp.int32)
        idx = jnp.searchsorted(key, h[:, 0], side="left", method="scan_unrolled")
        hit = jnp.zeros(h.shape[:1], bool)
        # Equal first words can occur for two different positions (p ~ 2^-32); look one further.
        for off in (0, 1):
            i = jnp.minimum(idx + off, key.shape[0] - 1)
            hit |= (i < n) & (key[i] == h[:, 0]) & (check[i] == h[:, 1])
        return hit

    def _insert_seen(self, state: GoState, h: chex.Array):
        if not self.superko:
            return state.seen, state.num_seen
        key = state.seen[0]
        pos = jnp.searchsorted(key, h[0], side="left", method="scan_unrolled")
        i = jnp.arange(key.shape[0])
        shifted = jnp.concatenate([state.seen[:, :1], state.seen[:, :-1]], axis=1)
        seen = jnp.where(i < pos, state.seen, jnp.where(i == pos, h[:, None], shifted))
        return seen, state.num_seen + 1

    def _advance(self, state: GoState, board, chain, new_hash, passes, seen, num_seen):
        boards = jnp.concatenate([board[None], state.boards[:-1]], axis=0)
        return GoState(
            boards=boards,
            chain=chain,
            to_play=-state.to_play,
            move_count=state.move_count + 1,
            passes=passes,
            hash=new_hash,
            prev_hash=state.hash,
            seen=seen,
            num_seen=num_seen,
        )

    def _pass(self, state: GoState) -> GoState:
        return self._advance(
            state, state.boards[0], state.chain, state.hash, state.passes + 1, state.seen,
            state.num_seen,
        )

    def _place(self, state: GoState, m: chex.Array, info: _MoveInfo) -> GoState:
        """The position after a legal stone at point `m` (info is that point's `_MoveInfo`)."""
        p = self.num_points
        board = state.boards[0]
        colour = state.to_play.astype(jnp.int8)
        chain = state.chain.astype(jnp.int32)
        idx = jnp.arange(p)
        cap_ids = jnp.where(info.captured, info.nbr_chain, -1)  # [4]
        own_ids = jnp.where(info.own, info.nbr_chain, -1)
        in_captured = jnp.any(chain[:, None] == cap_ids[None, :], axis=-1) & (board == -colour)
        merged = (jnp.any(chain[:, None] == own_ids[None, :], axis=-1) & (board == colour)) | (
            idx == m
        )
        new_board = jnp.where(in_captured, EMPTY, board)
        new_board = jnp.where(idx == m, colour, new_board)
        new_board = jnp.where(merged & ~info.normal, EMPTY, new_board)  # suicide removes the chain
        new_chain = jnp.where(merged, m, chain)
        new_chain = jnp.where(new_board == EMPTY, p, new_chain).astype(jnp.int16)
        seen, num_seen = self._insert_seen(state, info.new_hash)
        return self._advance(
            state, new_board.astype(jnp.int8), new_chain, info.new_hash, jnp.int8(0), seen,
            num_seen,
        )


@functools.partial(jax.jit, static_argnums=0)
def _jit_step(rules: Rules, state: GoState, action):
    return rules.step(state, action)


@functools.partial(jax.jit, static_argnums=0)
def _jit_status(rules: Rules, state: GoState, action):
    return rules.move_status(state, action)
