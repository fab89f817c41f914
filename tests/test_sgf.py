"""Tests for alphago_jax.sgf: FF[4] round trips, a real-game-like record, setup stones, and
errors that name the file and the move."""

from __future__ import annotations

import functools
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from sgfmill import sgf as sgfmill_sgf

from alphago_jax.rules import BLACK, WHITE, Rules
from alphago_jax.sgf import (
    MAX_MOVES,
    GameRecord,
    SGFError,
    read_sgf,
    read_sgf_games,
    record_steps,
    replay,
    result_string,
    rules_for,
    save_sgf,
    setup_actions,
    write_sgf,
)


@functools.partial(jax.jit, static_argnums=0)
def _random_step(rules: Rules, state, key, pass_prob):
    """A random legal move; passes with probability `pass_prob` (always when nothing else)."""
    legal = rules.legal_mask(state)
    k1, k2 = jax.random.split(key)
    points = legal[:-1]
    move = jax.random.categorical(k1, jnp.where(points, 0.0, -jnp.inf))
    want_pass = jax.random.bernoulli(k2, pass_prob) | ~jnp.any(points)
    action = jnp.where(want_pass, rules.pass_action, move).astype(jnp.int32)
    return action, rules.step(state, action)


def random_game(rules: Rules, key, length: int):
    """A random legal game of `length` moves that ends with two passes (record, final state)."""
    state = rules.init()
    moves = []
    for i in range(length):
        # No two passes in a row before the end (that would end the game).
        no_pass = (moves and moves[-1] == rules.pass_action) or i == length - 3
        p = 1.0 if i >= length - 2 else 0.0 if no_pass else 0.15
        action, state = _random_step(rules, state, jax.random.fold_in(key, i), p)
        moves.append(int(action))
    assert bool(rules.is_over(state))
    return moves, state


@pytest.mark.parametrize("size,length,seed", [(5, 30, 0), (9, 70, 1), (9, 40, 2)])
def test_round_trip_random_games(size, length, seed):
    rules = Rules(size=size, komi=7.5)
    moves, final = random_game(rules, jax.random.key(seed), length)
    assert rules.pass_action in moves[:-2]  # passes inside the game, not only at its end
    score = float(rules.score(final))
    record = GameRecord(size=size, komi=7.5, moves=moves, black="net A", white="net B",
                        result=result_string(score), comment="round trip")
    text = write_sgf(record)
    assert text.startswith("(;GM[1]FF[4]CA[UTF-8]AP[alphago-jax]SZ[")
    assert f"SZ[{size}]KM[7.5]RU[Tromp-Taylor]PB[net A]PW[net B]RE[" in text
    assert ";B[];W[])" in text.replace("\n", "")  # passes are empty values
    back = read_sgf(text)
    assert back == record
    states = replay(back, rules)
    assert len(states) == len(moves) + 1
    np.testing.assert_array_equal(np.asarray(states[-1].boards), np.asarray(final.boards))
    np.testing.assert_array_equal(np.asarray(states[-1].hash), np.asarray(final.hash))
    assert float(rules.score(states[-1])) == score

    # An independent parser sees the same main line.
    game = sgfmill_sgf.Sgf_game.from_bytes(text.encode())
    assert game.get_size() == size and game.get_komi() == 7.5
    seen = []
    for node in game.get_main_sequence()[1:]:
        colour, point = node.get_move()
        seen.append(size * size if point is None else (size - 1 - point[0]) * size + point[1])
        assert colour == ("b" if len(seen) % 2 else "w")
    assert seen == moves


def test_save_and_read_file(tmp_path):
    record = GameRecord(size=5, komi=0.5, moves=[12, 25, 0], result="B+R",
                        black="a]b\\c", white="日本")
    path = tmp_path / "g.sgf"
    save_sgf(record, path)
    assert read_sgf(path) == record
    assert read_sgf(str(path)) == record
    assert read_sgf(path).source == str(path)


REAL_GAME = r"""
(;GM[1]FF[4]CA[UTF-8]AP[CGoban:3]ST[2]
RU[Japanese]SZ[9]KM[6.50]
PW[White Player]PB[Black Player]WR[3k]BR[4k]DT[2024-05-01]
RE[B+2.5]C[A short game \] with an escaped bracket]
;B[ee]C[first
move];W[gc];B[ba]  ;W[aa]
;B[ab]
(;W[tt];B[])
(;W[cg];B[gg]))
"""


def test_real_game_like_record():
    record = read_sgf(REAL_GAME, source_name="real.sgf")
    assert record.size == 9 and record.komi == 6.5
    assert (record.black, record.white, record.result) == ("Black Player", "White Player",
                                                           "B+2.5")
    assert record.rules == "Japanese"
    assert record.comment == "A short game ] with an escaped bracket"
    # Main line only; "tt" and "" are passes.
    assert record.moves == [40, 24, 1, 0, 9, 81, 81]
    assert record.first_player == BLACK and not record.setup_black
    rules = rules_for(record)
    assert not rules.suicide and not rules.superko and rules.komi == 6.5
    states = replay(record)
    board = np.asarray(rules.board(states[5]))
    assert board[0, 0] == 0  # B[ab] captured W[aa]
    assert board[0, 1] == BLACK and board[1, 0] == BLACK and board[4, 4] == BLACK
    assert board[2, 6] == WHITE
    assert bool(rules.is_over(states[-1]))


def test_setup_stones_and_player_to_move():
    text = "(;GM[1]FF[4]SZ[9]KM[0.5]HA[3]AB[cc][gg]AB[]AW[ee]PL[W];W[ce];B[ec])"
    with pytest.raises(SGFError, match="repeated|setup point"):
        read_sgf(text)
    text = "(;GM[1]FF[4]SZ[9]KM[0.5]HA[3]AB[cc][gg][cg]AW[ee:ef]PL[W];W[ce];B[ec])"
    record = read_sgf(text)
    assert record.setup_black == [20, 60, 56]
    assert record.setup_white == [40, 49]  # a compressed rectangle
    assert record.first_player == WHITE and record.moves == [38, 22]
    assert record.colour_of(0) == WHITE and record.colour_of(1) == BLACK
    acts = setup_actions(record)
    # B, W, B, W, B stones; White moves first, so no trailing pass is needed.
    assert acts == [20, 40, 60, 49, 56]
    states = replay(record)
    board = np.asarray(states[0].boards[0]).reshape(9, 9)
    assert board[2, 2] == board[6, 6] == board[6, 2] == BLACK
    assert board[4, 4] == board[5, 4] == WHITE
    assert int(states[0].to_play) == WHITE and int(states[0].passes) == 0
    final = np.asarray(states[-1].boards[0]).reshape(9, 9)
    assert final[4, 2] == WHITE and final[2, 4] == BLACK
    assert read_sgf(write_sgf(record)) == record
    assert "PL[W]" in write_sgf(record)

    # Handicap stones without moves: White to play; a pass is inserted to get there.
    hc = read_sgf("(;SZ[9]AB[cc][gg])")
    assert hc.first_player == WHITE and setup_actions(hc) == [20, 81, 60]
    assert int(replay(hc)[0].to_play) == WHITE


def test_same_colour_twice_inserts_a_pass():
    record = read_sgf("(;SZ[5];B[aa];B[bb];W[cc])")
    assert record.moves == [0, 25, 6, 12]
    assert write_sgf(record).endswith(";B[aa];W[];B[bb];W[cc])\n")


def test_result_string():
    assert result_string(3.5) == "B+3.5"
    assert result_string(-0.5) == "W+0.5"
    assert result_string(-12.0) == "W+12"
    assert result_string(0.0) == "0"
    assert result_string(None) == ""
    assert result_string(None, BLACK) == "W+R"
    assert result_string(5.0, WHITE) == "B+R"


def _sgf_file(tmp_path: Path, text: str, name: str = "bad.sgf") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    "text,move,pattern",
    [
        ("(;GM[1]SZ[9];B[aa];W[bb]", 2, "missing '\\)'"),  # unbalanced: unclosed
        ("(;GM[1]SZ[9];B[aa](;W[bb])))", 2, "unexpected"),  # unbalanced: extra ')'
        ("(;GM[1]SZ[9];B[aa];W[bb", 2, "unterminated"),
        ("(;GM[1]SZ[9];B[aa];W[zz];B[cc])", 2, "bad property W\\[zz\\]"),  # off the board
        ("(;GM[1]SZ[9];B[aa];W[b])", 2, "malformed SGF point"),
        ("(;GM[1]SZ[9];B[aa]W[bb])", 1, "both a black and a white move"),
        ("(;GM[1]SZ[9];B[aa];W[bb];AB[cc])", 3, "setup stones after"),
        ("(;GM[1]SZ[9];B[aa]B[bb])", 2, "repeated"),
        ("(;GM[1]SZ[9];B[aa];W)", 2, "no value"),
    ],
)
def test_malformed_files_name_file_and_move(tmp_path, text, move, pattern):
    path = _sgf_file(tmp_path, text)
    with pytest.raises(SGFError, match=pattern) as info:
        read_sgf(path)
    assert info.value.source == str(path) and info.value.move == move
    assert str(path) in str(info.value) and f"move {move}" in str(info.value)


@pytest.mark.parametrize(
    "text,pattern",
    [
        ("(;GM[1]SZ[25])", "unsupported board size"),
        ("(;GM[1]SZ[9:13])", "unsupported board size"),
        ("(;GM[1]SZ[nine])", "bad property SZ"),
        ("(;GM[1]SZ[9]KM[seven])", "bad property KM"),
        ("(;GM[2]SZ[9])", "not a Go record"),
        ("(;GM[1]SZ[9]AB[aa]AW[aa])", "repeat a point"),
        ("GM[1]SZ[9]", "expected '\\('"),
        ("()", "empty game tree"),
    ],
)
def test_unsupported_or_bad_root(text, pattern):
    with pytest.raises(SGFError, match=pattern):
        read_sgf(text, source_name="x.sgf")


def test_every_game_of_a_collection_is_read(tmp_path):
    """A file of several games yields each one, named by its number; a bad game costs only
    itself; a syntax error ends the list (the games after it cannot be told apart)."""
    games = [write_sgf(GameRecord(size=5, komi=0.5, moves=[i, 12], result="B+R")).strip()
             for i in range(3)]
    text = "\n".join([games[0], "(;GM[1]SZ[25];B[aa])", games[1], "(;GM[1]SZ[5];B[aa];W[bb]",
                      games[2]])
    path = _sgf_file(tmp_path, text, "many.sgf")
    entries = read_sgf_games(path)
    assert len(entries) == 4
    first, bad, second, broken = entries
    assert (first.moves, second.moves) == ([0, 12], [1, 12])
    assert (first.source, second.source) == (f"{path} game 1", f"{path} game 3")
    assert isinstance(bad, SGFError) and str(bad).startswith(f"{path} game 2: unsupported board")
    assert isinstance(broken, SGFError) and "game 4, line 8: unbalanced" in str(broken)
    assert read_sgf(path) == first  # read_sgf reads the first game alone

    one = read_sgf_games(_sgf_file(tmp_path, games[2], "one.sgf"))
    assert len(one) == 1 and one[0].source == str(tmp_path / "one.sgf")  # no game number
    assert isinstance(read_sgf_games("(;GM[1]SZ[5];B[aa])x")[-1], SGFError)
    with pytest.raises(SGFError, match="cannot read"):
        read_sgf_games(tmp_path / "nope.sgf")


def test_a_record_too_long_to_replay_says_so():
    record = GameRecord(size=5, komi=0.0, moves=[0, 1] * (MAX_MOVES // 2 + 1))
    assert record_steps(record) == MAX_MOVES + 2
    with pytest.raises(SGFError, match=f"record too long: {MAX_MOVES + 2} moves"):
        replay(record)


def test_missing_file(tmp_path):
    with pytest.raises(SGFError, match="cannot read"):
        read_sgf(tmp_path / "nope.sgf")


@pytest.mark.parametrize(
    "moves,move,reason",
    [
        # W plays on B's stone.
        ("B[cc];W[cc]", 2, "occupied"),
        # Ko: B captures at cb, W retakes at bb at once.
        ("B[ba];W[ca];B[ab];W[cc];B[bc];W[db];B[ee];W[bb];B[cb];W[bb]", 10, "repeats"),
        # Single-stone suicide in the corner.
        ("B[ba];W[ee];B[ab];W[aa]", 4, "suicide"),
        # A move after the game ended with two passes.
        ("B[cc];W[];B[];W[dd]", 4, "over"),
    ],
)
def test_illegal_moves_name_file_and_move(tmp_path, moves, move, reason):
    path = _sgf_file(tmp_path, f"(;GM[1]FF[4]SZ[5]KM[0];{moves})", "illegal.sgf")
    record = read_sgf(path)
    with pytest.raises(SGFError, match=reason) as info:
        replay(record)
    assert info.value.move == move
    assert str(info.value).startswith(f"{path}: move {move}: ")


def test_replay_checks_rules_size():
    record = GameRecord(size=5, komi=0.0, moves=[0])
    with pytest.raises(SGFError, match="rules are for 9x9"):
        replay(record, Rules(size=9))
    with pytest.raises(SGFError, match="out of range"):
        write_sgf(GameRecord(size=5, komi=0.0, moves=[26]))


def test_long_record_gets_a_bigger_move_cap():
    moves, final = random_game(Rules(size=5, komi=0.0, max_moves=400), jax.random.key(3), 90)
    record = GameRecord(size=5, komi=0.0, moves=moves)
    rules = rules_for(record)
    assert rules.move_cap >= 90 > 2 * 5 * 5
    states = replay(record)
    assert len(states) == 91
    np.testing.assert_array_equal(np.asarray(states[-1].boards[0]), np.asarray(final.boards[0]))
