"""Tests for alphago_jax.viz: boards are drawn with the right stones at the right GTP coordinates,
heat maps and markers appear, games are replayed into panels; all without a display (Agg)."""

from __future__ import annotations

import io

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from alphago_jax import go  # noqa: E402
from alphago_jax.viz import draw_board, game_boards, show_game, star_points  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _gid(ax, gid):
    return [p for p in ax.patches if p.get_gid() == gid]


def _tick_labels(ax):
    """{x position: letter}, {y position: number} as drawn."""
    xs = {round(t): lab.get_text() for t, lab in zip(ax.get_xticks(), ax.get_xticklabels(),
                                                      strict=True)}
    ys = {round(t): lab.get_text() for t, lab in zip(ax.get_yticks(), ax.get_yticklabels(),
                                                      strict=True)}
    return xs, ys


def _board(size, black=(), white=()):
    b = np.zeros((size, size), np.int8)
    for vertex in black:
        b[divmod(go.gtp_to_action(vertex, size), size)] = 1
    for vertex in white:
        b[divmod(go.gtp_to_action(vertex, size), size)] = -1
    return b


def test_stones_sit_at_their_gtp_coordinates():
    black, white = ["B4", "A1", "E5"], ["D2", "C3"]
    ax = draw_board(_board(5, black, white))
    xs, ys = _tick_labels(ax)
    assert "".join(xs[i] for i in range(5)) == "ABCDE"
    assert [ys[i] for i in range(5)] == ["5", "4", "3", "2", "1"]  # numbers count from the bottom
    for colour, vertices in (("black", black), ("white", white)):
        stones = _gid(ax, f"stone-{colour}")
        drawn = {f"{xs[round(s.center[0])]}{ys[round(s.center[1])]}" for s in stones}
        assert drawn == set(vertices)
    # Row numbers grow upwards on screen: the y axis is inverted (row 0, GTP 5, on top).
    bottom, top = ax.get_ylim()
    assert bottom > top
    ax.figure.canvas.draw()  # renders without a display


def test_columns_skip_the_letter_i():
    ax = draw_board(np.zeros((10, 10), np.int8))
    xs, ys = _tick_labels(ax)
    assert "".join(xs[i] for i in range(10)) == "ABCDEFGHJK"
    assert ys[0] == "10" and ys[9] == "1"


def test_star_points():
    assert len(star_points(19)) == 9 and (3, 3) in star_points(19) and (9, 9) in star_points(19)
    assert star_points(13) == [(3, 3), (3, 9), (6, 6), (9, 3), (9, 9)]
    assert star_points(9) == [(2, 2), (2, 6), (4, 4), (6, 2), (6, 6)]
    assert star_points(5) == [(2, 2)]
    assert star_points(4) == []
    for size in range(2, 20):
        pts = set(star_points(size))
        assert pts == {(c, r) for r, c in pts} == {(size - 1 - r, c) for r, c in pts}
    ax = draw_board(np.zeros((9, 9), np.int8))
    assert len(_gid(ax, "star")) == 5


def test_heat_map_and_colorbar():
    size = 5
    heat = np.arange(size * size, dtype=np.float32).reshape(size, size)
    heat[0, 0] = np.nan
    ax = draw_board(_board(size, ["C3"]), heat=heat, colorbar=True)
    images = [im for im in ax.images if im.get_gid() == "heat"]
    assert len(images) == 1
    data = images[0].get_array()
    assert data.shape == (size, size) and bool(data.mask[0, 0]) and not data.mask[1:].any()
    assert images[0].get_clim() == (0.0, float(np.nanmax(heat)))
    assert len(ax.figure.axes) == 2  # the board and its colorbar
    # Zeros of a non-negative map (e.g. unvisited points) let the board show; a signed map's
    # zeros are values like any other.
    heat[0, 0] = 0.0
    other = draw_board(_board(size), heat=heat)
    assert bool(next(im for im in other.images if im.get_gid() == "heat").get_array().mask[0, 0])
    other = draw_board(_board(size), heat=heat - 1.0)
    assert not next(im for im in other.images if im.get_gid() == "heat").get_array().mask.any()
    # Stones are drawn above the heat map.
    assert _gid(ax, "stone-black")[0].get_zorder() > images[0].get_zorder()
    buf = io.BytesIO()
    ax.figure.savefig(buf, format="png")
    assert buf.tell() > 1000


def test_policy_with_pass_shows_the_pass_value():
    size = 3
    policy = np.full(size * size + 1, 0.05)
    policy[-1] = 0.55
    ax = draw_board(np.zeros((size, size), np.int8), heat=policy)
    image = next(im for im in ax.images if im.get_gid() == "heat")
    assert image.get_array().shape == (size, size)
    assert ax.get_xlabel() == "pass: 0.55"


def test_last_move_marker():
    b = _board(5, ["C3"], ["D4"])
    ax = draw_board(b, last_move="D4")
    (mark,) = _gid(ax, "last-move")
    assert mark.center == (3, 1) and mark.get_edgecolor()[:3] == (0.0, 0.0, 0.0)  # on white
    ax = draw_board(b, last_move=go.gtp_to_action("C3", 5))
    assert _gid(ax, "last-move")[0].get_edgecolor()[:3] == (1.0, 1.0, 1.0)  # on black
    assert not _gid(draw_board(b, last_move=25), "last-move")  # pass: nothing to mark
    assert _gid(draw_board(b, last_move=(2, 2)), "last-move")[0].center == (2, 2)


def test_no_labels_and_title():
    fig, ax = plt.subplots()
    out = draw_board(np.zeros((4, 4), np.int8), ax=ax, labels=False, title="empty")
    assert out is ax and len(ax.get_xticks()) == 0 and ax.get_title() == "empty"


@pytest.mark.parametrize(
    "board, heat, last, match",
    [
        (np.zeros((3, 4)), None, None, "square"),
        (np.full((3, 3), 2), None, None, "values"),
        (np.zeros((3, 3)), np.zeros(7), None, "heat must have shape"),
        (np.zeros((3, 3)), None, 10, "out of range"),
        (np.zeros((3, 3)), None, "Z9", "GTP vertex"),
    ],
)
def test_bad_input_is_named(board, heat, last, match):
    with pytest.raises(ValueError, match=match):
        draw_board(board, heat=heat, last_move=last)


def test_show_game_replays_the_moves():
    rules = go.Rules(size=5, komi=0.5, history=1)
    moves = ["C3", "D3", "B2", "pass", "D4"]
    boards = game_boards(rules, moves)
    assert len(boards) == len(moves) + 1 and not boards[0].any()
    assert np.array_equal(boards[-1], _board(5, ["C3", "B2", "D4"], ["D3"]))
    fig = show_game(rules, moves, panels=4, cols=2)
    shown = [ax for ax in fig.axes if ax.get_visible()]
    assert len(shown) == 4
    assert shown[0].get_title() == "start"
    assert shown[-1].get_title() == "move 5: B D4"
    assert len(_gid(shown[-1], "stone-black")) == 3 and len(_gid(shown[-1], "stone-white")) == 1
    fig = show_game(rules, moves[:1], panels=8)
    assert len([ax for ax in fig.axes if ax.get_visible()]) == 2  # start and move 1


def test_show_game_rejects_an_illegal_move():
    rules = go.Rules(size=5, history=1)
    with pytest.raises(go.IllegalMoveError, match="C3"):
        show_game(rules, ["C3", "C3"])
