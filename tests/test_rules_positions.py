"""Hand-built Go positions with the answers written down.

Positions are drawn as ASCII (row 0 = top, X black, O white, . empty) and built by playing their
stones through the checked `Rules.play`: black and white alternately, a pass where one colour has
no stones left. Setup never captures (every chain of a drawn position has a liberty, and a chain
part-way through the setup has at least as many). Points are written ``(row, col)``; the GTP name
(column letter skipping I, row counted from the bottom) appears in error messages.
"""

from __future__ import annotations

import re

import jax
import numpy as np
import pytest
from go_reference import RefGame

from alphago_jax.rules import (
    BLACK,
    GAME_OVER,
    LEGAL,
    OCCUPIED,
    OUT_OF_RANGE,
    REPEAT,
    SUICIDE,
    WHITE,
    GoState,
    IllegalMoveError,
    Rules,
)

R5 = Rules(size=5, komi=0.5)  # positional superko, multi-stone suicide allowed
R5_SIMPLE = Rules(size=5, komi=0.5, superko=False)
R5_NO_SUICIDE = Rules(size=5, komi=0.5, suicide=False)


_jit_mask = jax.jit(lambda rules, state: rules.legal_mask(state), static_argnums=0)
_jit_step = jax.jit(lambda rules, state, a: rules.step(state, a), static_argnums=0)
_jit_status = jax.jit(lambda rules, state, a: rules.move_status(state, a), static_argnums=0)


def _mask(rules: Rules, state: GoState) -> np.ndarray:
    return np.asarray(_jit_mask(rules, state))


def parse(diagram: str) -> list[int]:
    """Row-major +1/-1/0 values of an ASCII diagram (X black, O white, . empty)."""
    values = {"X": BLACK, "O": WHITE, ".": 0}
    rows = [line.split() for line in diagram.strip().splitlines()]
    assert all(len(r) == len(rows) for r in rows), "diagram must be square"
    return [values[ch] for row in rows for ch in row]


def pt(rules: Rules, row: int, col: int) -> int:
    return row * rules.size + col


def gtp(rules: Rules, row: int, col: int) -> str:
    return "ABCDEFGHJKLMNOPQRST"[col] + str(rules.size - row)


def setup_moves(rules: Rules, diagram: str, to_play: int = BLACK) -> list[int]:
    """The diagram's stones in row-major order, alternating colours, with passes to fill in."""
    values = parse(diagram)
    stones = {c: [p for p, v in enumerate(values) if v == c] for c in (BLACK, WHITE)}
    moves, colour = [], BLACK
    while stones[BLACK] or stones[WHITE]:
        moves.append(stones[colour].pop(0) if stones[colour] else rules.pass_action)
        colour = -colour
    if colour != to_play:
        moves.append(rules.pass_action)  # the last setup move is a stone, so this ends nothing
    return moves


def setup(rules: Rules, diagram: str, to_play: int = BLACK) -> GoState:
    """The position of `diagram` with `to_play` to move, played through `Rules.play`."""
    state = play_all(rules, rules.init(), setup_moves(rules, diagram, to_play))
    assert_board(rules, state, diagram)
    assert int(state.to_play) == to_play
    return state


def play_all(rules: Rules, state: GoState, moves) -> GoState:
    for a in moves:
        state = rules.play(state, a)
    return state


def ascii_of(rules: Rules, state: GoState) -> str:
    chars = {1: "X", -1: "O", 0: "."}
    board = np.asarray(rules.board(state))
    return "\n".join(" ".join(chars[int(v)] for v in row) for row in board)


def assert_board(rules: Rules, state: GoState, diagram: str) -> None:
    want = np.array(parse(diagram), np.int8).reshape(rules.size, rules.size)
    got = np.asarray(rules.board(state))
    assert np.array_equal(got, want), f"expected\n{diagram.strip()}\ngot\n{ascii_of(rules, state)}"


def assert_same_state(a: GoState, b: GoState) -> None:
    for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True):
        assert x.dtype == y.dtype and np.array_equal(np.asarray(x), np.asarray(y))


def status(rules: Rules, state: GoState, action: int) -> int:
    return int(_jit_status(rules, state, action))


# --------------------------------------------------------------------------------------- ko
KO = """
. X O . .
X O . O .
. X O . .
. . . . .
. . . . .
"""
# Black takes at (1,2); White may not retake at (1,1) at once.
KO_TAKEN = """
. X O . .
X . X O .
. X O . .
. . . . .
. . . . .
"""
# After a ko threat (White (4,4), Black answers (3,4)) White retakes.
KO_RETAKEN = """
. X O . .
X O . O .
. X O . .
. . . . X
. . . . O
"""


@pytest.mark.parametrize("rules", [R5, R5_SIMPLE], ids=["superko", "simpleko"])
def test_simple_ko_and_retake_after_threat(rules: Rules):
    s = setup(rules, KO)
    s = rules.play(s, pt(rules, 1, 2))
    assert_board(rules, s, KO_TAKEN)
    retake = pt(rules, 1, 1)
    assert not _mask(rules, s)[retake]
    assert status(rules, s, retake) == REPEAT
    s = play_all(rules, s, [pt(rules, 4, 4), pt(rules, 3, 4)])  # threat and answer
    assert _mask(rules, s)[retake]
    s = rules.play(s, retake)
    assert_board(rules, s, KO_RETAKEN)
    # Now Black may not retake at once.
    assert status(rules, s, pt(rules, 1, 2)) == REPEAT
    assert not _mask(rules, s)[pt(rules, 1, 2)]


# ---------------------------------------------------------------------------- triple ko
# Three kos: Black can take at A = (0,3) and C = (4,6), White can take at B = (6,3).
TRIPLE_KO = """
. X O . O . .
. . X O . . .
. . . . . . X
. . . . . X O
. . . . . O .
. . O X . . O
. O X . X . .
"""
R7 = Rules(size=7, komi=0.5)
R7_SIMPLE = Rules(size=7, komi=0.5, superko=False)
# B takes A, W takes B, B takes C, W retakes A, B retakes B; W retaking C would recreate
# TRIPLE_KO itself, six moves back: simple ko only looks one position back and allows it.
_CYCLE = [(0, 3), (6, 3), (4, 6), (0, 2), (6, 2), (3, 6)]
# The position after the fifth move: only ko C is taken (by Black at (4,6)).
TRIPLE_KO_AFTER_5 = """
. X O . O . .
. . X O . . .
. . . . . . X
. . . . . X .
. . . . . O X
. . O X . . O
. O X . X . .
"""


@pytest.mark.parametrize("rules", [R7, R7_SIMPLE], ids=["superko", "simpleko"])
def test_triple_ko_cycle_is_forbidden_only_by_superko(rules: Rules):
    s = setup(rules, TRIPLE_KO)
    ref = RefGame(7, komi=0.5, superko=rules.superko)
    for a in setup_moves(rules, TRIPLE_KO):
        ref.play(a)
    moves = [pt(rules, r, c) for r, c in _CYCLE]
    for a in moves[:5]:
        s = rules.play(s, a)
        ref.play(a)
    assert_board(rules, s, TRIPLE_KO_AFTER_5)
    last = moves[5]
    want_legal = not rules.superko
    assert bool(_mask(rules, s)[last]) == want_legal
    assert ref.legal_mask()[last] == want_legal  # the independent reference agrees
    if rules.superko:
        assert status(rules, s, last) == REPEAT
        with pytest.raises(IllegalMoveError, match="ko"):
            rules.play(s, last)
    else:
        s = rules.play(s, last)
        assert_board(rules, s, TRIPLE_KO)
        # ... and the cycle can go round again.
        assert _mask(rules, s)[moves[0]]


# ---------------------------------------------------------------------------- snapback
SNAPBACK = """
. O X . .
. O X . .
X X . . .
. . . . .
. . . . .
"""
# Black throws in at (0,0); White captures it at (1,0), leaving the three white stones with
# the single liberty (0,0); Black plays there again and captures three. Not a ko: the board is
# new, so it is legal under both ko rules.
SNAPBACK_THROW_IN_CAPTURED = """
. O X . .
O O X . .
X X . . .
. . . . .
. . . . .
"""
SNAPBACK_DONE = """
X . X . .
. . X . .
X X . . .
. . . . .
. . . . .
"""


@pytest.mark.parametrize("rules", [R5, R5_SIMPLE], ids=["superko", "simpleko"])
def test_snapback(rules: Rules):
    s = setup(rules, SNAPBACK)
    s = play_all(rules, s, [pt(rules, 0, 0), pt(rules, 1, 0)])
    assert_board(rules, s, SNAPBACK_THROW_IN_CAPTURED)
    assert _mask(rules, s)[pt(rules, 0, 0)]
    s = rules.play(s, pt(rules, 0, 0))
    assert_board(rules, s, SNAPBACK_DONE)


# ---------------------------------------------------------------------------- suicide
# White to play at (0,0) would have no liberty and captures nothing.
SINGLE_SUICIDE = """
. X . . .
X . . . .
. . . . .
. . . . .
. . . . .
"""


@pytest.mark.parametrize("rules", [R5, R5_NO_SUICIDE], ids=["suicide", "nosuicide"])
def test_single_stone_suicide_is_always_illegal(rules: Rules):
    s = setup(rules, SINGLE_SUICIDE, to_play=WHITE)
    mask = _mask(rules, s)
    want = np.array(parse(SINGLE_SUICIDE) + [1]) == 0  # every empty point and pass ...
    want[pt(rules, 0, 0)] = False  # ... except the suicide
    want[-1] = True
    assert np.array_equal(mask, want)
    assert status(rules, s, pt(rules, 0, 0)) == SUICIDE
    # Black may play there (own eye-filling is no suicide: it connects to stones with liberties).
    s_black = rules.play(s, rules.pass_action)
    assert _mask(rules, s_black)[pt(rules, 0, 0)]


# White at (0,0) joins two white stones into a chain of three with no liberty that captures
# nothing: a multi-stone suicide.
MULTI_SUICIDE = """
. O X . .
O X . . .
X . . . .
. . . . .
. . . . .
"""
# With suicide allowed the whole white chain leaves the board; Black's stones stay.
MULTI_SUICIDE_AFTER = """
. . X . .
. X . . .
X . . . .
. . . . .
. . . . .
"""


def test_multi_stone_suicide_legal_iff_allowed():
    for rules, allowed in ((R5, True), (R5_NO_SUICIDE, False)):
        s = setup(rules, MULTI_SUICIDE, to_play=WHITE)
        a = pt(rules, 0, 0)
        assert bool(_mask(rules, s)[a]) == allowed
        assert status(rules, s, a) == (LEGAL if allowed else SUICIDE)
    s = setup(R5, MULTI_SUICIDE, to_play=WHITE)
    s = R5.play(s, pt(R5, 0, 0))
    assert_board(R5, s, MULTI_SUICIDE_AFTER)
    assert int(s.to_play) == BLACK and int(s.passes) == 0
    # Area: Black's 3 stones plus the empty points touching only Black: all 22 of them.
    assert float(R5.score(s)) == 25 - 0.5


# ---------------------------------------------------------------------------- captures
CORNER = """
O X . . .
. . . . .
. . . . .
. . . . .
. . . . .
"""
CORNER_CAPTURED = """
. X . . .
X . . . .
. . . . .
. . . . .
. . . . .
"""
# Two white stones on the first line, captured by Black at (1,3).
EDGE = """
. X O O X
. . X . .
. . . . .
. . . . .
. . . . .
"""
EDGE_CAPTURED = """
. X . . X
. . X X .
. . . . .
. . . . .
. . . . .
"""


def test_capture_in_the_corner():
    s = setup(R5, CORNER)
    s = R5.play(s, pt(R5, 1, 0))
    assert_board(R5, s, CORNER_CAPTURED)


def test_capture_on_the_first_line():
    s = setup(R5, EDGE)
    s = R5.play(s, pt(R5, 1, 3))
    assert_board(R5, s, EDGE_CAPTURED)
    # The captured points are empty and playable again (for White: no ko, 2 stones were taken).
    assert _mask(R5, s)[pt(R5, 0, 2)] and _mask(R5, s)[pt(R5, 0, 3)]


# ---------------------------------------------------------------------------- scoring
# The three black stones on top and the white row share the liberties (0,0) and (0,4) and have
# no others: whoever plays there first is captured (seki). Those points touch both colours, so
# they are nobody's: Black 8 stones + 10 points below, White 5 stones.
SEKI = """
. X X X .
O O O O O
X X X X X
. . . . .
. . . . .
"""


def test_seki_points_are_neutral():
    s = setup(R5, SEKI, to_play=WHITE)
    assert float(R5.score(s)) == 8 + 10 - 5 - 0.5
    # Why it is seki: if White plays a shared liberty, Black captures the whole white row ...
    w = play_all(R5, s, [pt(R5, 0, 0), pt(R5, 0, 4)])
    assert_board(R5, w, """
        . X X X X
        . . . . .
        X X X X X
        . . . . .
        . . . . .
    """)
    # ... and if Black does (after a white pass), White captures the three black stones.
    b = play_all(R5, s, [R5.pass_action, pt(R5, 0, 0), pt(R5, 0, 4)])
    assert_board(R5, b, """
        . . . . O
        O O O O O
        X X X X X
        . . . . .
        . . . . .
    """)


# A white stone that is "dead" by any human judgement still counts when the game ends: it is
# White's, and the empty points around it touch both colours, so Black's wall only owns the
# bottom row. Black 5 + 5, White 1.
DEAD_STONE = """
. . . . .
. . O . .
. . . . .
X X X X X
. . . . .
"""


def test_tromp_taylor_counts_stones_left_on_the_board():
    s = setup(R5, DEAD_STONE, to_play=WHITE)
    s = play_all(R5, s, [R5.pass_action, R5.pass_action])
    assert bool(R5.is_over(s))
    assert float(R5.score(s)) == 10 - 1 - 0.5


# Black owns columns 0-1, White columns 3-4, column 2 is neutral: 10 - 10.
EVEN = """
. X . O .
. X . O .
. X . O .
. X . O .
. X . O .
"""


def test_integer_komi_can_draw():
    s = setup(R5, EVEN)
    assert float(Rules(size=5, komi=0.0).score(s)) == 0.0
    assert float(Rules(size=5, komi=-1.0).score(s)) == 1.0
    assert float(R5.score(s)) == -0.5


# ---------------------------------------------------------------------------- game end
def _assert_finished(rules: Rules, s: GoState) -> None:
    assert bool(rules.is_over(s))
    mask = _mask(rules, s)
    assert mask[rules.pass_action] and not mask[: rules.pass_action].any()
    for a in (0, rules.pass_action):
        assert status(rules, s, a) == GAME_OVER
        assert_same_state(_jit_step(rules, s, a), s)  # a finished game is left unchanged


def test_game_ends_after_two_consecutive_passes():
    s = R5.init()
    s = play_all(R5, s, [R5.pass_action, pt(R5, 2, 2), R5.pass_action])
    assert not bool(R5.is_over(s)) and int(s.passes) == 1  # a move in between resets the count
    s = R5.play(s, R5.pass_action)
    assert int(s.passes) == 2
    _assert_finished(R5, s)


def test_game_ends_at_the_move_cap():
    rules = Rules(size=5, komi=0.5, max_moves=3)
    s = play_all(rules, rules.init(), [0, 1])
    assert not bool(rules.is_over(s))
    s = rules.play(s, 2)
    _assert_finished(rules, s)


def test_default_move_cap_is_twice_the_points():
    rules = Rules(size=2, komi=0.5)
    assert rules.move_cap == 8
    # A 2x2 game without two consecutive passes:
    #   X .   X O   X O   . O   X O   (pass)  X .   X .
    #   . .   . .   X .   . O   . O           X .   X O
    moves = [0, 1, 2, 3, 0, rules.pass_action, 2]
    s = play_all(rules, rules.init(), moves)
    assert not bool(rules.is_over(s)) and int(s.move_count) == 7
    s = rules.play(s, 3)
    assert_board(rules, s, "X .\nX O")
    _assert_finished(rules, s)


# ---------------------------------------------------------------------------- errors
def _raises(text: str):
    return pytest.raises(IllegalMoveError, match=re.escape(text))


def test_illegal_move_error_names_move_and_reason():
    s = R5.play(R5.init(), pt(R5, 0, 0))  # Black A5
    with _raises("illegal move A5 (action 0) by white at move 2: point is occupied"):
        R5.play(s, 0)

    s = setup(R5, SINGLE_SUICIDE, to_play=WHITE)
    n = int(s.move_count) + 1
    with _raises(f"illegal move A5 (action 0) by white at move {n}: suicide is not allowed"):
        R5.play(s, 0)

    s = R5.play(setup(R5, KO), pt(R5, 1, 2))
    assert gtp(R5, 1, 1) == "B4"
    n = int(s.move_count) + 1
    with _raises(f"illegal move B4 (action 6) by white at move {n}: the move repeats an earlier "
                 "board position (ko)"):
        R5.play(s, 6)

    s = play_all(R5, R5.init(), [R5.pass_action, R5.pass_action])
    with _raises("illegal move pass (action 25) by black at move 3: the game is over"):
        R5.play(s, 25)
    with _raises("illegal move C3 (action 12) by black at move 3: the game is over"):
        R5.play(s, 12)

    s = R5.init()
    for bad in (-1, 26, 1000):
        assert status(R5, s, bad) == OUT_OF_RANGE
        with _raises(f"(action {bad}) by black at move 1: action out of range"):
            R5.play(s, bad)
    assert issubclass(IllegalMoveError, ValueError)


def test_step_with_an_illegal_action_plays_a_pass():
    ko = R5.play(setup(R5, KO), pt(R5, 1, 2))  # White may not retake at (1,1)
    suicide = setup(R5, SINGLE_SUICIDE, to_play=WHITE)
    cases = [(ko, pt(R5, 1, 1), REPEAT), (ko, pt(R5, 0, 1), OCCUPIED),
             (suicide, pt(R5, 0, 0), SUICIDE), (suicide, -3, OUT_OF_RANGE),
             (suicide, 26, OUT_OF_RANGE)]
    for state, action, reason in cases:
        assert status(R5, state, action) == reason
        passed = R5.play(state, R5.pass_action)
        assert_same_state(_jit_step(R5, state, action), passed)
        assert int(passed.passes) == int(state.passes) + 1
