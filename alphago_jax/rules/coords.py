"""Conversions between flat actions and GTP / SGF vertex names, and the points off the first line
(host-side).

Actions are ``row * size + col`` with row 0 the top row, and ``size * size`` is pass.

* GTP: column letters ``A..T`` skipping ``I``, row numbers counted from the *bottom* (``A1`` is the
  bottom-left corner), so GTP row number = ``size - row``. Parsing is case-insensitive.
* SGF: two lowercase letters, column then row, both counted from the top-left (``"aa"``). Pass is
  the empty string; ``"tt"`` is also read as pass on boards up to 19x19 (FF[3] convention).
"""

from __future__ import annotations

import numpy as np

GTP_COLUMNS = "ABCDEFGHJKLMNOPQRST"  # 'I' is skipped so it cannot be confused with 'J' or '1'
_SGF_LETTERS = "abcdefghijklmnopqrstuvwxyz"

__all__ = [
    "GTP_COLUMNS", "action_to_gtp", "action_to_sgf", "gtp_to_action", "interior_points",
    "sgf_to_action",
]
_MAX_SIZE = len(GTP_COLUMNS)


def _check_size(size: int) -> None:
    if not 1 <= size <= _MAX_SIZE:
        raise ValueError(f"board size must be in 1..{_MAX_SIZE}, got {size}")


def _check_action(action: int, size: int) -> None:
    _check_size(size)
    if not 0 <= action <= size * size:
        raise ValueError(
            f"action {action} out of range for a {size}x{size} board (0..{size * size}, "
            f"{size * size} = pass)"
        )


def _row_col(action: int, size: int) -> tuple[int, int] | None:
    """(row, col) of a checked action, None for pass."""
    action = int(action)
    _check_action(action, size)
    return None if action == size * size else divmod(action, size)


def action_to_gtp(action: int, size: int) -> str:
    """GTP vertex of `action`, e.g. ``"D4"``, or ``"pass"``.

    Raises:
      ValueError: the action is outside ``0..size*size``.
    """
    point = _row_col(action, size)
    return "pass" if point is None else f"{GTP_COLUMNS[point[1]]}{size - point[0]}"


def gtp_to_action(vertex: str, size: int) -> int:
    """Action of a GTP vertex (case-insensitive; ``"pass"`` gives ``size * size``).

    Raises:
      ValueError: naming the vertex and why it is bad (malformed, the letter I, an unknown letter,
        or off the board).
    """
    _check_size(size)
    text = vertex.strip().upper()
    if text == "PASS":
        return size * size
    if len(text) < 2 or not text[0].isalpha() or not text[1:].isdigit():
        raise ValueError(
            f"malformed GTP vertex {vertex!r}: expected a column letter and a row number, or 'pass'"
        )
    letter, number = text[0], int(text[1:])
    if letter == "I":
        raise ValueError(f"bad GTP vertex {vertex!r}: the column letter I is not used in GTP")
    if letter not in GTP_COLUMNS:
        raise ValueError(f"bad GTP vertex {vertex!r}: unknown column letter {letter!r}")
    col = GTP_COLUMNS.index(letter)
    if col >= size or not 1 <= number <= size:
        raise ValueError(f"GTP vertex {vertex!r} is off the {size}x{size} board")
    return (size - number) * size + col


def action_to_sgf(action: int, size: int) -> str:
    """SGF point of `action`, e.g. ``"dd"``; pass is ``""``.

    Raises:
      ValueError: the action is outside ``0..size*size``.
    """
    point = _row_col(action, size)
    return "" if point is None else _SGF_LETTERS[point[1]] + _SGF_LETTERS[point[0]]


def sgf_to_action(point: str, size: int) -> int:
    """Action of an SGF point (column letter, then row letter, from the top-left).

    ``""`` and, on boards up to 19x19, ``"tt"`` are pass.

    Raises:
      ValueError: naming the point when it is malformed or off the board.
    """
    _check_size(size)
    if point == "" or (point == "tt" and size <= 19):
        return size * size
    if len(point) != 2 or any(ch not in _SGF_LETTERS for ch in point):
        raise ValueError(f"malformed SGF point {point!r}: expected two lowercase letters or ''")
    col, row = _SGF_LETTERS.index(point[0]), _SGF_LETTERS.index(point[1])
    if col >= size or row >= size:
        raise ValueError(f"SGF point {point!r} is off the {size}x{size} board")
    return row * size + col


def interior_points(size: int) -> np.ndarray:
    """int[(S-2)^2] points off the first line (the ladder's openings, self-play's random
    openings)."""
    r, c = np.indices((size, size)).reshape(2, -1)
    return np.flatnonzero((r > 0) & (r < size - 1) & (c > 0) & (c < size - 1))
