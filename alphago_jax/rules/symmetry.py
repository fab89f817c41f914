"""The 8 dihedral symmetries of the square board, usable under jit with a traced symmetry index.

Symmetry ``s = k + 4 * t`` (``k`` in 0..3, ``t`` in 0..1) maps point ``(row, col)`` by ``k``
quarter turns clockwise, ``(r, c) -> (c, N-1-r)``, followed by a transpose ``(r, c) -> (c, r)`` if
``t == 1``. Symmetry 0 is the identity. Every transform is a gather through a static per-size
permutation table indexed by ``sym``, so ``sym`` may be traced (and batched under vmap).

Conventions shared by all functions: transforming a board moves the value at point ``p`` to point
``transform_action(p, sym, N)``; policies move the same way and keep pass (the last entry) fixed.
So if ``board' = transform_board(board, s)`` then ``transform_policy(policy, s, N)`` is the policy
of ``board'``.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import chex
import jax.numpy as jnp
import numpy as np

NUM_SYMMETRIES = 8

__all__ = ["NUM_SYMMETRIES", "inverse", "transform_action", "transform_board", "transform_planes",
           "transform_policy"]
# Rotations by k quarter turns invert to 4 - k; the four reflections are their own inverses.
_INVERSE = np.array([0, 3, 2, 1, 4, 5, 6, 7], dtype=np.int32)


class _Tables(NamedTuple):
    forward: np.ndarray  # int32[8, P+1]: where each action moves to (pass -> pass)
    gather: np.ndarray  # int32[8, P+1]: which source action lands on each action


def _map_point(sym: int, r: int, c: int, n: int) -> tuple[int, int]:
    for _ in range(sym % 4):
        r, c = c, n - 1 - r
    if sym >= 4:
        r, c = c, r
    return r, c


@functools.cache
def _tables(size: int) -> _Tables:
    p = size * size
    forward = np.empty((NUM_SYMMETRIES, p + 1), dtype=np.int32)
    for s in range(NUM_SYMMETRIES):
        for r in range(size):
            for c in range(size):
                rr, cc = _map_point(s, r, c, size)
                forward[s, r * size + c] = rr * size + cc
        forward[s, p] = p
    gather = np.argsort(forward, axis=-1).astype(np.int32)
    return _Tables(forward, gather)


def _permute(x: chex.Array, idx: chex.Array, axis: int) -> chex.Array:
    """Gathers x along `axis` (negative) with idx [P] or, for batched syms, idx [*lead, P]."""
    if idx.ndim == 1:
        return jnp.take(x, idx, axis=axis)
    trailing = -1 - axis
    lead = x.shape[: x.ndim + axis]
    idx = idx.reshape(idx.shape + (1,) * trailing)
    idx = jnp.broadcast_to(idx, lead + idx.shape[-1 - trailing :])
    return jnp.take_along_axis(x, idx, axis=axis)


def _square_size(x: chex.Array, axes: tuple[int, int]) -> int:
    n, m = x.shape[axes[0]], x.shape[axes[1]]
    if n != m:
        raise ValueError(f"expected square board axes, got shape {x.shape}")
    return n


def transform_board(x: chex.Array, sym: chex.Array) -> chex.Array:
    """Applies symmetry `sym` to board-shaped arrays.

    Args:
      x: [..., N, N] any dtype.
      sym: int32 in 0..7; a scalar, or an array matching x's leading axes (one symmetry each).

    Returns:
      [..., N, N] with the value at point p moved to `transform_action(p, sym, N)`.
    """
    n = _square_size(x, (-2, -1))
    idx = jnp.asarray(_tables(n).gather)[sym, : n * n]
    flat = x.reshape(x.shape[:-2] + (n * n,))
    return _permute(flat, idx, axis=-1).reshape(x.shape)


def transform_planes(x: chex.Array, sym: chex.Array) -> chex.Array:
    """Applies symmetry `sym` to channel-last feature planes.

    Args:
      x: [..., N, N, C].
      sym: int32 in 0..7; a scalar, or an array matching x's leading axes.

    Returns:
      [..., N, N, C], every channel transformed like `transform_board`.
    """
    n = _square_size(x, (-3, -2))
    idx = jnp.asarray(_tables(n).gather)[sym, : n * n]
    flat = x.reshape(x.shape[:-3] + (n * n, x.shape[-1]))
    return _permute(flat, idx, axis=-2).reshape(x.shape)


def transform_policy(p: chex.Array, sym: chex.Array, size: int) -> chex.Array:
    """Applies symmetry `sym` to policy vectors (logits, probabilities or masks).

    Args:
      p: [..., size*size + 1]; the last entry (pass) stays in place.
      sym: int32 in 0..7; a scalar, or an array matching p's leading axes.
      size: board side N (static).

    Returns:
      [..., size*size + 1] with entry a moved to `transform_action(a, sym, size)`.
    """
    if p.shape[-1] != size * size + 1:
        raise ValueError(f"policy of shape {p.shape} does not fit a {size}x{size} board")
    idx = jnp.asarray(_tables(size).gather)[sym]
    return _permute(p, idx, axis=-1)


def transform_action(action: chex.Array, sym: chex.Array, size: int) -> chex.Array:
    """int32 action that `action` (int in [0, size*size], pass fixed) moves to under `sym`.

    `action` and `sym` broadcast against each other.
    """
    return jnp.asarray(_tables(size).forward)[sym, action]


def inverse(sym: chex.Array) -> chex.Array:
    """int32 symmetry that undoes `sym` (any shape)."""
    return jnp.asarray(_INVERSE)[sym]
