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
"""

from __future__ import annotations

import chex
import jax.numpy as jnp

from alphago_jax.rules.go import BLACK, GoState, Rules

__all__ = [
    "NEG_LOGIT", "features", "num_planes", "pad_board", "pad_policy", "planes_from",
    "unpad_board", "unpad_policy",
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
