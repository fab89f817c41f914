"""Handicap stone placement for the GTP handicap commands (host-side, plain Python).

Fixed placement follows GTP version 2 (draft 2), section 4.1.1, as GNU Go 3.4 (the reference
implementation) and gomill's ``handicap_layout`` implement it:

* boards 7x7 and larger only; at most 9 stones on odd boards of 9x9 and up, 4 otherwise;
* corner stones on the third line for boards up to 12x12, on the fourth line from 13x13;
* the order of the 19x19 table (D4 Q16 D16 Q4, then K10 for 5 and 7, D10 Q10 for 6..9, K4 K16 for
  8 and 9, K10 for 9), scaled to the board size.

Free placement (``place_free_handicap``) is the engine's choice: see `GTPEngine`; without a
network it spreads the stones with `spread_points`.
"""

from __future__ import annotations

__all__ = ["fixed_points", "max_fixed_handicap", "spread_points"]

# Each stone as (column, row) codes: 0 = low line, 1 = middle, 2 = high line; rows count up
# from the bottom as GTP does, so (0, 0) is D4 and (2, 2) Q16 on 19x19.
_PATTERN = [(0, 0), (2, 2), (0, 2), (2, 0), (0, 1), (2, 1), (1, 0), (1, 2)]
_CENTRE = (1, 1)


def max_fixed_handicap(size: int) -> int:
    """The most stones ``fixed_handicap`` places on a `size` board (0: none allowed)."""
    if size < 7:
        return 0
    return 9 if size % 2 == 1 and size >= 9 else 4


def _pattern(n: int) -> list[tuple[int, int]]:
    """The (column, row) codes of `n` fixed stones, in the table's order: an odd number from 5
    on is the even pattern below it plus the centre."""
    if n >= 5 and n % 2 == 1:
        return _PATTERN[:n - 1] + [_CENTRE]
    return _PATTERN[:n]


def fixed_points(size: int, n: int) -> list[int]:
    """Actions (``row * size + col``, row 0 at the top) of `n` fixed handicap stones.

    Raises:
      ValueError: `n` is not in 2..`max_fixed_handicap(size)`.
    """
    if not 2 <= n <= max_fixed_handicap(size):
        raise ValueError(f"no fixed placement of {n} stones on {size}x{size}")
    edge = 2 if size <= 12 else 3  # 0-based distance of the corner stones from the edge
    line = (edge, size // 2, size - 1 - edge)
    points = []
    for c, r in _pattern(n):
        col, row_from_bottom = line[c], line[r]
        points.append((size - 1 - row_from_bottom) * size + col)
    return points


def spread_points(size: int, n: int) -> list[int]:
    """`n` well separated points without a network: the fixed pattern as far as it goes, then
    greedily the point farthest from every chosen stone and from the edge.
    Used by ``place_free_handicap`` when the player has no network.

    Raises:
      ValueError: `n` is not in 1..size*size - 1.
    """
    if not 1 <= n < size * size:
        raise ValueError(f"cannot place {n} stones on {size}x{size}")
    k = min(n, max_fixed_handicap(size))
    chosen = fixed_points(size, k) if k >= 2 else []
    while len(chosen) < n:
        def room(p: int) -> tuple[int, int, int, int, int]:
            r, c = divmod(p, size)
            edge = min(r, c, size - 1 - r, size - 1 - c)
            d2 = [(r - q // size) ** 2 + (c - q % size) ** 2 for q in chosen] or [size * size]
            # Far from the nearest stone (an edge counts as a stone one line beyond it), then
            # away from the edge, then far from all stones, then the lowest action.
            return (min(min(d2), (edge + 1) ** 2), edge, min(d2), sum(d2), -p)
        chosen.append(max((p for p in range(size * size) if p not in chosen), key=room))
    return chosen
