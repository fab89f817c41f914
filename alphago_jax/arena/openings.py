"""Short balanced openings: seeded start positions so deterministic players do not replay one game.

An opening is an even number of moves (Black first, so Black is to move after it, with equal
stones on each side), none on the first line, none capturing or suicidal. A set is drawn from a
seeded generator and holds no two openings whose positions map onto each other under the 8 board
symmetries (so no two games of a pairing are the same game seen in a mirror).

Balance criterion (deterministic, no engine needed): each point of the board belongs to the
colour whose nearest stone (Manhattan distance) is strictly nearer; the opening is balanced when
Black's and White's points differ by at most `balance_tolerance(size)` = max(1, size^2 // 20)
(1 on 5x5, 2 on 7x7, 4 on 9x9, 18 on 19x19). Komi then compensates Black's next move, as it does
on the empty board.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from alphago_jax.rules.coords import interior_points

MAX_DRAWS_PER_OPENING = 200
"""Candidates drawn per wanted opening before giving up (small boards have few openings)."""


def balance_tolerance(size: int) -> int:
    """Largest |Black points - White points| (nearest-stone areas) of a balanced opening."""
    return max(1, size * size // 20)


def _board(moves: Sequence[int], size: int) -> np.ndarray:
    """int8[size, size] stones of a capture-free move sequence: +1 Black, -1 White."""
    board = np.zeros((size, size), np.int8)
    for i, m in enumerate(moves):
        board[divmod(int(m), size)] = 1 if i % 2 == 0 else -1
    return board


def nearest_stone_balance(board: np.ndarray) -> int:
    """Black's points minus White's when each point belongs to the colour of its strictly
    nearest stone (Manhattan distance; ties and stoneless boards count for nobody).

    Args:
      board: int8[S, S], +1 Black, -1 White, 0 empty.
    """
    size = board.shape[0]
    r, c = np.indices((size, size))

    def distance(colour: int) -> np.ndarray:
        stones = np.argwhere(board == colour)
        if stones.size == 0:
            return np.full((size, size), np.inf)
        d = np.abs(r[..., None] - stones[:, 0]) + np.abs(c[..., None] - stones[:, 1])
        return d.min(axis=-1)

    db, dw = distance(1), distance(-1)
    return int(np.sum(db < dw) - np.sum(dw < db))


def is_balanced(moves: Sequence[int], size: int) -> bool:
    """The balance criterion of the module docstring."""
    return abs(nearest_stone_balance(_board(moves, size))) <= balance_tolerance(size)


def _symmetries(size: int) -> list[np.ndarray]:
    """The 8 board symmetries as point permutations: int[S*S] new index of each point."""
    idx = np.arange(size * size).reshape(size, size)
    out = []
    for k in range(4):
        rot = np.rot90(idx, k)
        out += [rot, rot.T]
    # perm[p] = where point p goes: invert "position holds point".
    perms = []
    for grid in out:
        perm = np.empty(size * size, np.int64)
        perm[grid.ravel()] = np.arange(size * size)
        perms.append(perm)
    return perms


def canonical(moves: Sequence[int], size: int) -> tuple:
    """A key equal for two openings exactly when their positions (Black's and White's stones)
    map onto each other under one of the 8 board symmetries."""
    black, white = np.asarray(moves[0::2], np.int64), np.asarray(moves[1::2], np.int64)
    return min((tuple(sorted(perm[black])), tuple(sorted(perm[white])))
               for perm in _symmetries(size))


def _neighbours(p: int, size: int) -> list[int]:
    r, c = divmod(p, size)
    return [rr * size + cc for rr, cc in ((r - 1, c), (r + 1, c), (r, c - 1), (r, c + 1))
            if 0 <= rr < size and 0 <= cc < size]


def _has_liberty(flat: np.ndarray, start: int, size: int) -> bool:
    """Whether the chain through `start` touches an empty point (flood fill)."""
    colour, seen, todo = flat[start], {start}, [start]
    while todo:
        for q in _neighbours(todo.pop(), size):
            if flat[q] == 0:
                return True
            if flat[q] == colour and q not in seen:
                seen.add(q)
                todo.append(q)
    return False


def _quiet(moves: Sequence[int], size: int) -> bool:
    """No move of the sequence captures or is suicide (so the stones are just the moves)."""
    flat = np.zeros(size * size, np.int8)
    for i, m in enumerate(moves):
        flat[m] = 1 if i % 2 == 0 else -1
        touched = [q for q in _neighbours(int(m), size) if flat[q] == -flat[m]] + [int(m)]
        if not all(_has_liberty(flat, q, size) for q in touched):
            return False
    return True


def draw_openings(size: int, count: int, moves: int, seed: int) -> list[list[int]]:
    """Up to `count` balanced openings of `moves` moves, distinct under symmetry.

    Candidates are drawn from `np.random.default_rng((seed, size, moves))` (so the set depends
    on the seed, the board size and the length only) and kept in draw order when they are quiet
    (no capture, no suicide), balanced (`is_balanced`) and not symmetric to one already kept.
    After `MAX_DRAWS_PER_OPENING * count` candidates it stops with what it has (a 5x5 board has
    only a few distinct 2-move openings).

    Args:
      size: board size (at least 3, so there is a point off the first line).
      count: openings wanted (>= 1).
      moves: moves per opening, even and >= 2 (Black is to move after it).
      seed: the generator's seed (>= 0).

    Returns:
      The openings as lists of actions (row * size + col), Black's moves at even indices.

    Raises:
      ValueError: an odd or non-positive `moves`, `count` < 1, or a board without room for
        `moves` stones off the first line.
    """
    if moves < 2 or moves % 2:
        raise ValueError(f"an opening has an even number of moves >= 2, got {moves}")
    if count < 1:
        raise ValueError(f"openings wanted must be >= 1, got {count}")
    points = interior_points(size)
    if len(points) < moves:
        raise ValueError(f"a {size}x{size} board has {len(points)} points off the first line, "
                         f"too few for {moves}-move openings")
    rng = np.random.default_rng((seed, size, moves))
    kept, keys = [], set()
    for _ in range(MAX_DRAWS_PER_OPENING * count):
        cand = [int(p) for p in rng.choice(points, moves, replace=False)]
        key = canonical(cand, size)
        if key in keys or not _quiet(cand, size) or not is_balanced(cand, size):
            continue
        kept.append(cand)
        keys.add(key)
        if len(kept) == count:
            break
    return kept
