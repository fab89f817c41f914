"""Go boards drawn with matplotlib: stones, grid, star points, GTP coordinates, heat maps.

Coordinates follow GTP (see `alphago_jax.rules.coords`): column letters A..T skipping I from the
left, row numbers counted from the *bottom*. In the axes, point (row, col) of a board array sits
at x = col, y = row with the y axis inverted, so row 0 (the top row, GTP number `size`) is drawn
at the top. Artists carry gids ('stone-black', 'stone-white', 'star', 'last-move', 'heat') so
tests and callers can find them.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from alphago_jax.rules.coords import GTP_COLUMNS, action_to_gtp, gtp_to_action

BOARD_COLOUR = "#dcb35c"  # the usual kaya-wood yellow
_STONE_RADIUS = 0.46
_Z_HEAT, _Z_GRID, _Z_STONE, _Z_MARK = 1, 2, 3, 4  # drawing order: heat under grid under stones


def star_points(size: int) -> list[tuple[int, int]]:
    """The (row, col) star points (hoshi) of a size x size board.

    Corners 3 lines in from the edge on 13x13 and up (2 lines on 7x7..12x12), the centre on odd
    boards from 5x5, and the side midpoints on odd boards from 15x15: 19x19 gets 9, 9x9 and
    13x13 get 5, 5x5 gets 1, boards under 5x5 none.
    """
    points = set()
    if size >= 7:
        e = 3 if size >= 13 else 2
        points |= {(r, c) for r in (e, size - 1 - e) for c in (e, size - 1 - e)}
        if size % 2 and size >= 15:
            m = size // 2
            points |= {(e, m), (size - 1 - e, m), (m, e), (m, size - 1 - e)}
    if size % 2 and size >= 5:
        points.add((size // 2, size // 2))
    return sorted(points)


def _as_board(board) -> np.ndarray:
    b = np.asarray(board)
    if b.ndim != 2 or b.shape[0] != b.shape[1]:
        raise ValueError(f"board must be a square [S, S] array, got shape {b.shape}")
    if not 2 <= b.shape[0] <= len(GTP_COLUMNS):
        raise ValueError(f"board size must be in 2..{len(GTP_COLUMNS)}, got {b.shape[0]}")
    values = set(np.unique(b).tolist())
    if not values <= {-1, 0, 1}:
        raise ValueError(f"board values must be +1 (black), -1 (white) or 0, got {sorted(values)}")
    return b.astype(np.int8)


def _as_heat(heat, size: int) -> tuple[np.ndarray, float | None]:
    """[S, S], [S*S] or [S*S + 1] (a policy with pass) -> ([S, S] float, pass value or None)."""
    h = np.asarray(heat, dtype=np.float64)
    p = size * size
    if h.shape == (size, size):
        return h, None
    if h.shape == (p,):
        return h.reshape(size, size), None
    if h.shape == (p + 1,):
        return h[:p].reshape(size, size), float(h[p])
    raise ValueError(
        f"heat must have shape [{size}, {size}], [{p}] or [{p + 1}] (with pass) for a "
        f"{size}x{size} board, got {list(h.shape)}"
    )


def _as_point(move, size: int) -> tuple[int, int] | None:
    """A move (action int, GTP vertex or (row, col)) -> (row, col); None for a pass."""
    if isinstance(move, str):
        move = gtp_to_action(move, size)
    if isinstance(move, Sequence):
        if len(move) != 2:
            raise ValueError(f"last_move as a point must be (row, col), got {move!r}")
        row, col = (int(v) for v in move)
        if not (0 <= row < size and 0 <= col < size):
            raise ValueError(f"last_move {move!r} is off the {size}x{size} board")
        return row, col
    action = int(move)
    action_to_gtp(action, size)  # raises a ValueError naming an out-of-range action
    return None if action == size * size else divmod(action, size)


def draw_board(
    board,
    ax=None,
    heat=None,
    last_move=None,
    labels: bool = True,
    title: str = "",
    *,
    colorbar: bool = False,
    cmap: str = "Reds",
    heat_alpha: float = 0.75,
    vmin: float | None = None,
    vmax: float | None = None,
):
    """Draws a Go position.

    Args:
      board: int8[S, S] (numpy or jax): +1 black, -1 white, 0 empty; row 0 is the top row.
      ax: matplotlib Axes to draw into; None makes a new figure (through pyplot, so notebooks
        show it).
      heat: optional map drawn under the stones: float[S, S], float[S*S], or float[S*S + 1]
        (a policy over actions: the pass entry is printed under the board). NaN points, and
        the zeros of a map with no negative value (occupied or unvisited points of a policy or
        of visit counts), stay transparent.
      last_move: optional move to mark: an action (row * S + col; S*S = pass, not marked), a GTP
        vertex ('C3', 'pass') or a (row, col) pair.
      labels: draw GTP coordinates (letters below, numbers on the left).
      title: axes title.
      colorbar: add a colorbar for `heat`.
      cmap, heat_alpha, vmin, vmax: the heat map's colour map, opacity and colour range
        (default: 0 to the largest value, or the data range when some value is negative).

    Returns:
      The Axes.

    Raises:
      ValueError: a board that is not square, not 2..19, or holds values other than -1/0/1; a heat
        map of the wrong shape; a bad `last_move`.
    """
    import matplotlib.pyplot as plt
    from matplotlib.patches import Circle

    b = _as_board(board)
    size = b.shape[0]
    if ax is None:
        _, ax = plt.subplots(figsize=(0.45 * size + 1.2, 0.45 * size + 1.2))
    ax.set_facecolor(BOARD_COLOUR)
    ax.set_xlim(-0.6, size - 0.4)
    ax.set_ylim(size - 0.4, -0.6)  # inverted: row 0 on top
    ax.set_aspect("equal")
    for spine in ax.spines.values():
        spine.set_visible(False)

    if heat is not None:
        grid, pass_value = _as_heat(heat, size)
        lo = vmin if vmin is not None else min(0.0, float(np.nanmin(grid)))
        hi = vmax if vmax is not None else float(np.nanmax(grid))
        hidden = ~np.isfinite(grid)
        if not np.nanmin(grid) < 0:
            hidden |= grid == 0  # the board shows through where a policy puts nothing
        image = ax.imshow(
            np.ma.masked_array(grid, hidden), cmap=cmap, alpha=heat_alpha, vmin=lo,
            vmax=hi if hi > lo else lo + 1.0,
            extent=(-0.5, size - 0.5, size - 0.5, -0.5), zorder=_Z_HEAT, interpolation="nearest",
        )
        image.set_gid("heat")
        if colorbar:
            ax.figure.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
        if pass_value is not None:
            ax.set_xlabel(f"pass: {pass_value:.3g}", fontsize=8)

    for i in range(size):
        ax.plot([0, size - 1], [i, i], color="black", lw=0.8, zorder=_Z_GRID)
        ax.plot([i, i], [0, size - 1], color="black", lw=0.8, zorder=_Z_GRID)
    for r, c in star_points(size):
        ax.add_patch(Circle((c, r), 0.08, color="black", zorder=_Z_GRID, gid="star"))

    for (r, c), v in np.ndenumerate(b):
        if v:
            face = "black" if v > 0 else "white"
            ax.add_patch(Circle((c, r), _STONE_RADIUS, facecolor=face, edgecolor="black",
                                lw=0.8, zorder=_Z_STONE, gid=f"stone-{face}"))

    if last_move is not None:
        point = _as_point(last_move, size)
        if point is not None:
            r, c = point
            mark = "white" if b[r, c] > 0 else "black"
            ax.add_patch(Circle((c, r), 0.18, facecolor="none", edgecolor=mark, lw=1.6,
                                zorder=_Z_MARK, gid="last-move"))

    if labels:
        ax.set_xticks(range(size), list(GTP_COLUMNS[:size]))
        ax.set_yticks(range(size), [str(size - r) for r in range(size)])
        ax.tick_params(length=0, labelsize=8)
    else:
        ax.set_xticks([])
        ax.set_yticks([])
    if title:
        ax.set_title(title, fontsize=9)
    return ax


def game_boards(rules, actions) -> list[np.ndarray]:
    """The boards of a game from the empty board: int8[S, S] before the first move and after each.

    Args:
      rules: a `Rules`.
      actions: the moves, as actions (int) or GTP vertices ('C3', 'pass').

    Raises:
      IllegalMoveError: a move is illegal (naming it and the reason).
    """
    state = rules.init()
    boards = [np.asarray(rules.board(state))]
    for move in actions:
        state = rules.play(state, _to_action(move, rules.size))
        boards.append(np.asarray(rules.board(state)))
    return boards


def _to_action(move, size: int) -> int:
    return gtp_to_action(move, size) if isinstance(move, str) else int(move)


def show_game(rules, actions, *, panels: int = 8, cols: int = 4, panel_size: float = 2.4,
              title: str = ""):
    """A figure of a game as a grid of positions, evenly spaced over the game, last one included.

    Args:
      rules: the game's `Rules`.
      actions: its moves, as actions (int) or GTP vertices.
      panels: positions shown at most (the final position is always one of them).
      cols: panels per row.
      panel_size: inches per panel.
      title: figure title.

    Returns:
      The matplotlib Figure (made through pyplot, so a notebook shows it).
    """
    import matplotlib.pyplot as plt

    if panels < 1 or cols < 1:
        raise ValueError(f"panels and cols must be >= 1, got panels={panels}, cols={cols}")
    moves = [_to_action(m, rules.size) for m in actions]
    boards = game_boards(rules, moves)
    shown = np.unique(np.linspace(0, len(moves), min(panels, len(boards))).round().astype(int))
    rows = -(-len(shown) // cols)
    ncols = min(cols, len(shown))
    fig, axes = plt.subplots(rows, ncols, figsize=(panel_size * ncols, panel_size * rows),
                             squeeze=False)
    for ax, k in zip(axes.flat, shown, strict=False):
        if k == 0:
            label = "start"
        else:
            colour = "B" if k % 2 else "W"  # Black moves first; passes count as moves
            label = f"move {k}: {colour} {action_to_gtp(moves[k - 1], rules.size)}"
        draw_board(boards[k], ax=ax, last_move=moves[k - 1] if k else None, title=label)
    for ax in axes.flat[len(shown):]:
        ax.set_visible(False)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig
