"""Network input features for one Go state, and padding helpers for serving several board sizes.

Planes are channel-last, ``C = 2 * k + 3`` for ``k`` history positions:

* ``[0:k]``   stones of the side to move in positions t, t-1, ..., t-k+1;
* ``[k:2k]``  the opponent's stones in the same positions;
* ``[2k]``    1 on every on-board point if Black is to move, else 0;
* ``[2k+1]``  points that are legal moves for the side to move;
* ``[2k+2]``  1 on the board's points (tells the net where the edge is once padded).

With ``pad_to`` the board sits in the top-left corner of a ``pad_to x pad_to`` grid and every plane
is 0 outside it. Point ``(r, c)`` of a ``size`` board is point ``(r, c)`` of the padded grid, so
flat indices change (``r * size + c`` -> ``r * pad_to + c``): use `pad_policy` / `unpad_policy`.

`liberty_planes` derives three more planes from these (stones whose chain has 1, 2 or 3
liberties). A network with `TrainConfig.liberties` computes them itself from its input, so every
producer of features (self-play, replay, search, GTP) stays as it is.
"""

from __future__ import annotations

import chex
import jax
import jax.numpy as jnp

from alphago_jax.rules.go import BLACK, GoState, Rules

__all__ = [
    "LIBERTY_PLANES", "NEG_LOGIT", "features", "liberty_planes", "num_planes", "pad_board",
    "pad_policy", "planes_from", "unpad_board", "unpad_policy", "with_liberties",
]

NEG_LOGIT = -1e9  # logit given to padded (off-board) points: never chosen, exp() underflows to 0


def num_planes(history: int) -> int:
    """Number of feature planes C for `history` positions."""
    return 2 * history + 3


def _resolve_history(rules: Rules, history: int | None) -> int:
    k = rules.history if history is None else history
    if not 1 <= k <= rules.history:
        raise ValueError(f"history must be in 1..{rules.history} (rules.history), got {k}")
    return k


def _check_pad(size: int, pad_to: int) -> None:
    if pad_to < size:
        raise ValueError(f"pad_to ({pad_to}) must be >= the board size ({size})")


def features(
    rules: Rules, state: GoState, history: int | None = None, pad_to: int | None = None
) -> chex.Array:
    """Input planes for a single (unbatched) state; vmap for batches.

    Args:
      rules: the game's rules (static).
      state: one GoState (no batch axes).
      history: positions k to include, 1..rules.history; None means rules.history.
      pad_to: side S >= size of the output grid; None means size.

    Returns:
      float32[S, S, 2k+3] as described in the module docstring.
    """
    k = _resolve_history(rules, history)
    legal = rules.legal_mask(state)[: rules.num_points]
    return planes_from(state.boards[:k], state.to_play, legal, rules.size, pad_to)


def planes_from(
    boards: chex.Array, to_play: chex.Array, legal: chex.Array, size: int, pad_to: int | None = None
) -> chex.Array:
    """Input planes from the compact pieces of a position (what the replay buffer stores).

    Args:
      boards: int8[k, size*size] positions t, t-1, ..., t-k+1 (+1 black, -1 white).
      to_play: int8[] +1 if Black is to move.
      legal: bool[size*size] legal points for the side to move.
      size: board side.
      pad_to: side S >= size of the output grid; None means size.

    Returns:
      float32[S, S, 2k+3], the layout of `features`.
    """
    n = size
    k = boards.shape[0]
    if pad_to is not None:
        _check_pad(n, pad_to)
    to_play = to_play.astype(jnp.int8)
    boards = boards.reshape(k, n, n)
    own = jnp.moveaxis(boards == to_play, 0, -1)  # [n, n, k]
    opp = jnp.moveaxis(boards == -to_play, 0, -1)
    ones = jnp.ones((n, n, 1), jnp.float32)
    black = ones * (to_play == BLACK)
    x = jnp.concatenate(
        [
            own.astype(jnp.float32),
            opp.astype(jnp.float32),
            black,
            legal.reshape(n, n, 1).astype(jnp.float32),
            ones,
        ],
        axis=-1,
    )
    if pad_to is not None:
        x = jnp.pad(x, ((0, pad_to - n), (0, pad_to - n), (0, 0)))
    return x


LIBERTY_PLANES = 3
"""Planes `liberty_planes` adds: stones (either colour) whose chain has exactly 1, 2 or 3
liberties (KataGo's liberty features: atari and near-atari, which a small network trained
briefly does not learn to count by itself)."""


def _shift(a: chex.Array, dr: int, dc: int, fill) -> chex.Array:
    """[B, S, S] -> out[b, r, c] = a[b, r + dr, c + dc], `fill` off the grid."""
    s = a.shape[1]
    p = jnp.pad(a, ((0, 0), (1, 1), (1, 1)), constant_values=fill)
    return p[:, 1 + dr: 1 + dr + s, 1 + dc: 1 + dc + s]


_NEIGHBOURS = ((-1, 0), (1, 0), (0, -1), (0, 1))


def _chain_labels(colour: chex.Array) -> chex.Array:
    """int32[B, S, S]: for each stone the smallest flat index of a stone of its chain (S * S on
    empty points). Min-label propagation between same-coloured neighbours with pointer jumping,
    until nothing changes."""
    b, s, _ = colour.shape
    p = s * s
    idx = jnp.broadcast_to(jnp.arange(p, dtype=jnp.int32).reshape(1, s, s), colour.shape)
    start = jnp.where(colour > 0, idx, p)

    def step(label):
        new = label
        for dr, dc in _NEIGHBOURS:
            same = (_shift(colour, dr, dc, 0) == colour) & (colour > 0)
            new = jnp.minimum(new, jnp.where(same, _shift(label, dr, dc, p), p))
        flat = jnp.concatenate([new.reshape(b, p), jnp.full((b, 1), p, jnp.int32)], axis=1)
        jumped = jnp.take_along_axis(flat, flat[:, :p], axis=1)  # a label's own label
        return jnp.minimum(new, jumped.reshape(b, s, s))

    def cond(carry):
        old, new = carry
        return jnp.any(old != new)

    _, labels = jax.lax.while_loop(cond, lambda c: (c[1], step(c[1])), (start, step(start)))
    return labels


def liberty_planes(x: chex.Array) -> chex.Array:
    """Liberty planes of a batch of feature planes.

    Args:
      x: float[B, S, S, 2k+3] planes in the layout of `features` (own stones of the current
        position in channel 0, the opponent's in channel k, the on-board mask last).

    Returns:
      float32[B, S, S, LIBERTY_PLANES]: 1 on the stones whose chain has exactly 1, 2 or 3
      liberties (distinct empty on-board neighbours of the chain), one plane each.
    """
    b, s, _, c = x.shape
    k = (c - 3) // 2
    p = s * s
    own, opp, onb = x[..., 0] > 0.5, x[..., k] > 0.5, x[..., -1] > 0.5
    colour = own.astype(jnp.int32) + 2 * opp.astype(jnp.int32)
    labels = _chain_labels(colour)
    empty = onb & (colour == 0)
    # Each empty point is one liberty of every distinct chain next to it.
    seen = []
    offset = (jnp.arange(b, dtype=jnp.int32) * (p + 1))[:, None, None]
    counts = jnp.zeros(b * (p + 1), jnp.int32)
    for dr, dc in _NEIGHBOURS:
        nb = _shift(labels, dr, dc, p)
        new = empty & (nb < p)
        for other in seen:
            new = new & (nb != other)
        seen.append(nb)
        counts = counts.at[(offset + nb).reshape(-1)].add(new.reshape(-1).astype(jnp.int32))
    libs = counts[(offset + labels).reshape(-1)].reshape(b, s, s)
    stones = colour > 0
    planes = [stones & (libs == n) for n in range(1, LIBERTY_PLANES + 1)]
    return jnp.stack(planes, axis=-1).astype(jnp.float32)


def with_liberties(x: chex.Array) -> chex.Array:
    """[B, S, S, C] -> [B, S, S, C + LIBERTY_PLANES]: `liberty_planes` inserted before the
    on-board mask, which stays the last channel."""
    libs = liberty_planes(x).astype(x.dtype)  # comparisons: no gradient flows through
    return jnp.concatenate([x[..., :-1], libs, x[..., -1:]], axis=-1)


def pad_board(board: chex.Array, pad_to: int) -> chex.Array:
    """[..., N, N] -> [..., pad_to, pad_to], the board top-left and zeros elsewhere."""
    n = board.shape[-1]
    _check_pad(n, pad_to)
    widths = [(0, 0)] * (board.ndim - 2) + [(0, pad_to - n), (0, pad_to - n)]
    return jnp.pad(board, widths)


def unpad_board(board: chex.Array, size: int) -> chex.Array:
    """[..., S, S] -> [..., size, size]: the top-left corner, inverse of `pad_board`."""
    _check_pad(size, board.shape[-1])
    return board[..., :size, :size]


def _neg_fill(dtype) -> float:
    # float16 cannot hold -1e9; its most negative finite value does the same job there.
    if jnp.issubdtype(dtype, jnp.floating):
        return max(NEG_LOGIT, float(jnp.finfo(dtype).min))
    return NEG_LOGIT


def pad_policy(logits: chex.Array, size: int, pad_to: int) -> chex.Array:
    """Policy logits of a size board laid out on a pad_to grid.

    Args:
      logits: [..., size*size + 1], pass last.
      size: board side.
      pad_to: grid side >= size.

    Returns:
      [..., pad_to*pad_to + 1]; off-board points get `NEG_LOGIT`, pass stays last.
    """
    _check_pad(size, pad_to)
    lead = logits.shape[:-1]
    points = logits[..., : size * size].reshape(lead + (size, size))
    widths = [(0, 0)] * len(lead) + [(0, pad_to - size), (0, pad_to - size)]
    points = jnp.pad(points, widths, constant_values=_neg_fill(logits.dtype))
    points = points.reshape(lead + (pad_to * pad_to,))
    return jnp.concatenate([points, logits[..., -1:]], axis=-1)


def unpad_policy(logits: chex.Array, size: int, pad_to: int) -> chex.Array:
    """Inverse of `pad_policy`: [..., pad_to*pad_to + 1] -> [..., size*size + 1], pass last."""
    _check_pad(size, pad_to)
    lead = logits.shape[:-1]
    grid = logits[..., : pad_to * pad_to].reshape(lead + (pad_to, pad_to))
    points = grid[..., :size, :size].reshape(lead + (size * size,))
    return jnp.concatenate([points, logits[..., -1:]], axis=-1)
