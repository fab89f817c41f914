"""GTP / SGF coordinate conversions."""

import pytest

from alphago_jax.rules.coords import (
    GTP_COLUMNS,
    action_to_gtp,
    action_to_sgf,
    gtp_to_action,
    interior_points,
    sgf_to_action,
)

SIZES = (2, 5, 9, 13, 19)


@pytest.mark.parametrize("size", SIZES)
def test_gtp_round_trip_every_action(size):
    names = [action_to_gtp(a, size) for a in range(size * size + 1)]
    assert names[-1] == "pass"
    assert len(set(names)) == len(names)
    for a, name in enumerate(names):
        assert "I" not in name
        assert gtp_to_action(name, size) == a
        assert gtp_to_action(name.lower(), size) == a


@pytest.mark.parametrize("size", SIZES)
def test_sgf_round_trip_every_action(size):
    names = [action_to_sgf(a, size) for a in range(size * size + 1)]
    assert names[-1] == ""
    assert len(set(names)) == len(names)
    for a, name in enumerate(names):
        assert sgf_to_action(name, size) == a


def test_gtp_known_vertices():
    assert GTP_COLUMNS == "ABCDEFGHJKLMNOPQRST"
    assert gtp_to_action("T19", 19) == 18  # top-right corner: row 0, col 18
    assert gtp_to_action("A1", 19) == 18 * 19  # bottom-left
    assert gtp_to_action("A19", 19) == 0
    assert gtp_to_action("J1", 19) == 18 * 19 + 8  # J is the 9th column because I is skipped
    assert gtp_to_action("H1", 19) == 18 * 19 + 7
    assert action_to_gtp(0, 9) == "A9"
    assert action_to_gtp(80, 9) == "J1"
    assert action_to_gtp(3 * 9 + 3, 9) == "D6"
    assert gtp_to_action("D4", 9) == 5 * 9 + 3
    assert gtp_to_action("  Pass ", 9) == 81
    assert gtp_to_action("PASS", 19) == 361


def test_sgf_known_points():
    assert action_to_sgf(3 * 19 + 3, 19) == "dd"
    assert action_to_sgf(1, 9) == "ba"  # column first, then row
    assert sgf_to_action("ab", 9) == 9
    assert sgf_to_action("ss", 19) == 360
    for size in (9, 13, 19):
        assert sgf_to_action("tt", size) == size * size
        assert sgf_to_action("", size) == size * size


@pytest.mark.parametrize(
    "vertex,size,why",
    [
        ("I5", 19, "letter I"),
        ("i5", 9, "letter I"),
        ("Z3", 19, "unknown column"),
        ("A0", 9, "off the 9x9"),
        ("A10", 9, "off the 9x9"),
        ("K1", 9, "off the 9x9"),  # K is the 10th column
        ("T20", 19, "off the 19x19"),
        ("", 9, "malformed"),
        ("44", 9, "malformed"),
        ("A", 9, "malformed"),
        ("A1b", 9, "malformed"),
        ("A-1", 9, "malformed"),
        ("resign", 9, "malformed"),
    ],
)
def test_gtp_errors_name_vertex(vertex, size, why):
    with pytest.raises(ValueError) as e:
        gtp_to_action(vertex, size)
    assert repr(vertex) in str(e.value)
    assert why in str(e.value)


@pytest.mark.parametrize(
    "point,size,why",
    [
        ("ja", 9, "off the 9x9"),
        ("aj", 9, "off the 9x9"),
        ("zz", 19, "off the 19x19"),
        ("a", 9, "malformed"),
        ("abc", 9, "malformed"),
        ("AA", 9, "malformed"),
        ("a1", 9, "malformed"),
    ],
)
def test_sgf_errors_name_point(point, size, why):
    with pytest.raises(ValueError) as e:
        sgf_to_action(point, size)
    assert repr(point) in str(e.value)
    assert why in str(e.value)


@pytest.mark.parametrize("fn", [action_to_gtp, action_to_sgf])
def test_action_out_of_range(fn):
    for bad in (-1, 82):
        with pytest.raises(ValueError, match=str(bad)):
            fn(bad, 9)


def test_interior_points_are_the_points_off_the_first_line():
    # Golden: 5x5 keeps its 3x3 centre (rows and columns 1-3), 3x3 its one centre point, 2x2 none.
    assert interior_points(5).tolist() == [6, 7, 8, 11, 12, 13, 16, 17, 18]
    assert interior_points(3).tolist() == [4]
    assert interior_points(2).tolist() == []
    assert len(interior_points(19)) == 17 * 17
