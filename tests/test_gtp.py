"""Tests for the GTP engine: a scripted session (ids, errors, ko/suicide, undo, scoring,
loadsgf/printsgf), genmove and live analysis with a real checkpoint, the protocol loop's
streaming, and subprocess sessions. Handicap, scoring-support and time-control commands without
a network are in test_gtp_commands.py."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import jax
import numpy as np
import pytest
from gtp_analysis_parser import parse_response
from gtp_helpers import RULES, board_rows, fail, ok, scripted_player

from alphago_jax import cli
from alphago_jax.arena import SearchPlayer
from alphago_jax.checkpoint import Checkpointer
from alphago_jax.config import make_config
from alphago_jax.gtp import GTPEngine, from_checkpoint
from alphago_jax.gtp.engine import stop_after
from alphago_jax.rules import Rules
from alphago_jax.rules.coords import gtp_to_action
from alphago_jax.sgf import read_sgf

TINY = ["size=5", "blocks=1", "channels=8", "eval_simulations=4", "wandb=false"]


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    """A run directory with one checkpoint of a tiny 5x5 net.

    config.json and a parameters-only checkpoint (`runs.save_params`, what supervised runs
    write) of freshly initialised parameters: the engine only needs loadable weights, and
    initialising a whole trainer would compile far more.
    """
    from alphago_jax.runs import save_params

    path = tmp_path_factory.mktemp("gtp") / "run"
    path.mkdir()
    cfg = make_config("default", TINY)
    cfg.save(path / "config.json")
    params = cfg.network().init(jax.random.key(cfg.seed))
    with Checkpointer(path / "checkpoints", async_save=False) as ckpt:
        save_params(ckpt, 1, params)
    return path


@pytest.fixture(scope="module")
def net_engine(run_dir) -> GTPEngine:
    return from_checkpoint(str(run_dir), sims=4, resign_threshold=-1.0)


@pytest.fixture
def engine() -> GTPEngine:
    return GTPEngine(scripted_player([]), RULES, log=io.StringIO())


def test_protocol_basics(engine):
    assert engine.handle("protocol_version") == "= 2\n\n"
    assert engine.handle("12 name") == "=12 alphago-jax\n\n"
    assert engine.handle("13 frobnicate") == "?13 unknown command\n\n"
    assert engine.handle("") is None and engine.handle("   # just a comment\n") is None
    assert engine.handle("  7\tknown_command   play # trailing comment") == "=7 true\n\n"
    assert engine.handle("known_command frobnicate") == "= false\n\n"
    assert engine.handle("8") == "?8 syntax error: missing command\n\n"
    assert engine.handle("version\x01\r\n").startswith("= 0.")  # control characters dropped
    commands = ok(engine, "list_commands").split("\n")
    for c in ("protocol_version", "name", "version", "known_command", "list_commands", "quit",
              "boardsize", "clear_board", "komi", "play", "genmove", "undo", "final_score",
              "showboard", "time_settings", "time_left", "loadsgf", "printsgf",
              # issue 12: handicap, scoring support, live analysis
              "fixed_handicap", "place_free_handicap", "set_free_handicap", "final_status_list",
              "kgs-genmove_cleanup", "lz-analyze", "kata-analyze", "lz-genmove_analyze",
              "kata-genmove_analyze", "gogui-analyze_commands"):
        assert c in commands
    assert all(ok(engine, f"known_command {c}") == "true" for c in commands)
    assert ok(engine, "time_settings 300 30 5") == "" and ok(engine, "time_left b 100 0") == ""
    fail(engine, "boardsize 27", "unacceptable size")
    fail(engine, "boardsize nine", "syntax error")
    fail(engine, "komi", "syntax error")
    fail(engine, "komi seven", "syntax error")
    assert ok(engine, "komi 6.5") == "" and engine.game.rules.komi == 6.5
    assert not engine.quit
    assert engine.handle("99 quit") == "=99 \n\n" and engine.quit


def test_bad_vertices_and_colours(engine):
    fail(engine, "play b", "syntax error")
    fail(engine, "play x C3", "invalid color")
    fail(engine, "play b Z9", "invalid vertex")
    fail(engine, "play b I3", "invalid vertex")
    fail(engine, "play b F1", "off the 5x5 board")
    fail(engine, "play b C0", "off the 5x5 board")
    fail(engine, "5 play b 33", "?5 syntax error")
    assert engine.game.moves == []


# (row, col) -> GTP on 5x5: a ko for White at B4 after Black captures at C4.
KO = ["b B5", "w C5", "b A4", "w C3", "b B3", "w D4", "b E1", "w B4", "b C4"]


def test_ko_suicide_occupied_and_undo(engine):
    for move in KO:
        ok(engine, f"play {move}")
    assert board_rows(engine) == [".XO..", "X.XO.", ".XO..", ".....", "....X"]
    fail(engine, "play w B4", "repeats an earlier board position")  # ko
    fail(engine, "play w A5", "suicide")  # single-stone suicide in the corner
    fail(engine, "play w C4", "occupied")
    fail(engine, "play b C4", "occupied")  # out of turn, still illegal: nothing inserted
    assert len(engine.game.moves) == len(KO)
    ok(engine, "play w E5")  # the engine keeps playing after errors
    ok(engine, "play b E4")
    ok(engine, "play w B4")  # the ko may be retaken after a ko threat
    assert board_rows(engine)[1] == "XO.OX"
    for _ in range(3):
        ok(engine, "undo")
    assert board_rows(engine)[1] == "X.XO."
    ok(engine, "undo")  # undo the capture: the white stone comes back
    assert board_rows(engine) == [".XO..", "XO.O.", ".XO..", ".....", "....X"]
    assert "black to play" in ok(engine, "showboard")
    for _ in range(len(KO) - 1):
        ok(engine, "undo")
    fail(engine, "undo", "cannot undo")


def test_out_of_turn_moves_insert_passes(engine):
    ok(engine, "play w C3")  # Black is to move: a black pass is inserted
    assert engine.game.moves == [25, 12]
    assert "black to play" in ok(engine, "showboard")
    assert ";B[];W[cc])" in ok(engine, "printsgf")
    ok(engine, "undo")  # removes the move and its inserted pass
    assert engine.game.moves == []
    fail(engine, "undo", "cannot undo")


def test_final_score_and_play_after_two_passes(engine):
    ok(engine, "komi 0")
    assert ok(engine, "final_score") == "0"
    ok(engine, "play b C3")
    assert ok(engine, "final_score") == "B+25"
    ok(engine, "komi 0.5")
    ok(engine, "play w D4")
    assert ok(engine, "final_score") == "W+0.5"  # 1 - 1 - 0.5: the empty area is neutral
    ok(engine, "play b pass")
    ok(engine, "play w pass")  # two passes end the game in our rules...
    assert "RE[W+0.5]" in ok(engine, "printsgf")
    ok(engine, "play b B2")  # ...but a controller may play on
    ok(engine, "play w pass")
    ok(engine, "play b pass")
    assert ok(engine, "final_score") == "B+0.5"


def test_move_cap_grows_for_long_games():
    eng = GTPEngine(scripted_player([]), Rules(size=2, komi=0.0), log=io.StringIO())
    cap = eng.game.rules.move_cap
    for i in range(cap + 6):
        ok(eng, f"play {'bw'[i % 2]} pass")
    assert len(eng.game.moves) == cap + 6 and eng.game.rules.move_cap > cap + 6
    ok(eng, "play b A1")
    assert int(eng.game.state.move_count) == cap + 7


def test_resign_and_internal_errors():
    eng = GTPEngine(scripted_player([12, 12], value=-0.99), RULES,
                    resign_threshold=-0.95, log=io.StringIO())
    assert ok(eng, "genmove b") == "resign"
    assert eng.game.moves == [] and ok(eng, "final_score") == "W+R"
    assert "RE[W+R]" in ok(eng, "printsgf")
    eng.resign_threshold = -1.0  # never resigns
    assert ok(eng, "genmove b") == "C3"
    assert ok(eng, "final_score") != "W+R"
    # The player is exhausted: the error is reported and the engine keeps serving.
    assert fail(eng, "3 genmove w", "internal error").startswith("?3 ")
    assert ok(eng, "name") == "alphago-jax"


def test_loadsgf_printsgf_round_trip(engine, tmp_path):
    for move in KO[:6]:
        ok(engine, f"play {move}")
    before = board_rows(engine)
    path = tmp_path / "game.sgf"
    assert ok(engine, f"printsgf {path}") == ""
    text = ok(engine, "printsgf").strip("\n")
    assert path.read_text().strip() == text
    assert read_sgf(path).moves == engine.game.moves
    ok(engine, "clear_board")
    assert board_rows(engine) == ["....."] * 5
    ok(engine, f"loadsgf {path}")
    assert board_rows(engine) == before
    assert "black to play" in ok(engine, "showboard")
    ok(engine, f"loadsgf {path} 3")  # the position before move 3
    assert board_rows(engine) == [".XO..", ".....", ".....", ".....", "....."]
    # A 9x9 handicap record: size and komi come from the file, White to play.
    nine = tmp_path / "nine.sgf"
    nine.write_text("(;GM[1]FF[4]SZ[9]KM[0.5]AB[cc][gg];W[ee])")
    ok(engine, f"loadsgf {nine}")
    assert engine.game.rules.size == 9 and engine.game.rules.komi == 0.5
    rows = board_rows(engine)
    assert rows[2][2] == "X" and rows[6][6] == "X" and rows[4][4] == "O"
    assert "black to play" in ok(engine, "showboard")
    assert "AB[cc][gg]" in ok(engine, "printsgf")
    fail(engine, f"loadsgf {tmp_path / 'missing.sgf'}", "cannot load")
    bad = tmp_path / "bad.sgf"
    bad.write_text("(;GM[1]SZ[5];B[cc];W[cc])")
    fail(engine, f"loadsgf {bad}", "move 2")
    assert engine.game.rules.size == 9  # a failed load keeps the game
    fail(engine, "loadsgf", "syntax error")


def test_run_loop_stops_at_quit():
    eng = GTPEngine(scripted_player([]), RULES, log=io.StringIO())
    out = io.StringIO()
    stdin = io.StringIO("1 name\n\n# comment\nbogus\n2 play b C3\n3 quit\nname\n")
    assert eng.run(stdin, out) == 0
    assert out.getvalue() == "=1 alphago-jax\n\n? unknown command\n\n=2 \n\n=3 \n\n"


def test_genmove_with_checkpoint(net_engine):
    eng = net_engine
    # genmove goes through the arena's player: the run's evaluation search at --sims.
    assert isinstance(eng.player, SearchPlayer) and eng.player.simulations == 4
    ok(eng, "boardsize 5")
    ok(eng, "clear_board")
    for move in ("b C3", "w D4", "b B2"):
        ok(eng, f"play {move}")
    for colour in ("w", "b", "w"):
        legal = np.asarray(eng.game.rules.legal_mask(eng.game.state))
        if colour == "w":  # the engine plays the side that is to move
            assert int(eng.game.state.to_play) == -1
        vertex = ok(eng, f"genmove {colour}")
        assert vertex != "resign"
        action = gtp_to_action(vertex, 5)
        assert legal[action], vertex
        assert eng.game.moves[-1] == action
    # Out of turn: White again after White -> a black pass is inserted first.
    n = len(eng.game.moves)
    assert int(eng.game.state.to_play) == 1
    ok(eng, "genmove w")
    assert len(eng.game.moves) == n + 2 and eng.game.moves[n] == 25
    ok(eng, "boardsize 19")  # a resnet plays any size
    assert board_rows(eng) == ["." * 19] * 19
    ok(eng, "boardsize 5")


def test_live_analysis_with_checkpoint(net_engine):
    """lz-analyze / kata-analyze / genmove_analyze streams of the real search, read by an
    independent parser of the published formats."""
    eng = net_engine
    ok(eng, "boardsize 5")
    ok(eng, "clear_board")
    ok(eng, "play b C3")
    sims = eng.analysis_simulations * eng.analysis_batch
    parsed = parse_response(eng.handle("3 lz-analyze 0", stop=stop_after(3)), "lz", 5)
    assert parsed["id"] == "3" and len(parsed["updates"]) == 3
    totals = [sum(m["visits"] for m in moves) for moves, _ in parsed["updates"]]
    assert totals == [sims, 2 * sims, 3 * sims]  # visits grow round by round
    legal = np.asarray(eng.game.rules.legal_mask(eng.game.state))
    for moves, _ in parsed["updates"]:
        assert all(legal[gtp_to_action(m["move"], 5)] for m in moves)
        assert [m["visits"] for m in moves] == sorted((m["visits"] for m in moves), reverse=True)
    text = eng.handle("kata-analyze b interval 0 minmoves 20 maxmoves 22 ownership true",
                      stop=stop_after(2))
    parsed = parse_response(text, "kata", 5)
    moves, own = parsed["updates"][-1]
    assert 20 <= len(moves) <= 22 and len(own) == 25  # Black's view, after a white pass
    assert eng.game.moves == [12]  # analysis plays nothing
    parsed = parse_response(eng.handle("lz-genmove_analyze w 0"), "lz", 5, genmove=True)
    played = gtp_to_action(parsed["play"], 5)
    assert eng.game.moves == [12, played] and legal[played]
    assert parsed["play"] == parsed["updates"][-1][0][0]["move"]  # the most visited move
    parsed = parse_response(eng.handle("kata-genmove_analyze b"), "kata", 5, genmove=True)
    assert gtp_to_action(parsed["play"], 5) == eng.game.moves[-1]


def test_gogui_analyze_commands_with_checkpoint(net_engine):
    eng = net_engine
    ok(eng, "boardsize 5")
    ok(eng, "clear_board")
    ok(eng, "play b C3")
    for command in ("alphago-policy", "alphago-visits", "alphago-ownership"):
        rows = ok(eng, command).strip("\n").split("\n")  # a GoGui dboard: 5 rows of 5
        values = np.array([[float(x) for x in row.split()] for row in rows])
        assert values.shape == (5, 5) and np.all(np.abs(values) <= 1.0), command
        if command != "alphago-ownership":
            assert values.max() == 1.0 and values[2, 2] == 0.0  # scaled; C3 is occupied
    assert ok(eng, "alphago-value").startswith("white to play: network value ")
    assert ok(eng, "gogui-analyze_commands").split("\n")[0] == (
        "dboard/Policy heat map/alphago-policy")
    # place_free_handicap follows the network's policy: distinct points, White to move.
    ok(eng, "clear_board")
    vertices = ok(eng, "place_free_handicap 3").split()
    assert len(set(vertices)) == 3 and "white to play" in ok(eng, "showboard")


class _Output:
    """A stdout for `GTPEngine.run` that tells when a given text has been written."""

    def __init__(self):
        self.text = ""
        self.changed = threading.Condition()

    def write(self, text):
        with self.changed:
            self.text += text
            self.changed.notify_all()

    def flush(self):
        pass

    def wait_for(self, pattern: str, timeout: float) -> None:
        with self.changed:
            assert self.changed.wait_for(lambda: pattern in self.text, timeout), self.text


def test_run_loop_streams_until_the_next_command(net_engine):
    """Through the protocol loop: lz-analyze streams until the next command arrives, and that
    command is answered at once."""
    eng = net_engine
    ok(eng, "boardsize 5")
    ok(eng, "clear_board")
    read_fd, write_fd = os.pipe()
    stdin, commands = os.fdopen(read_fd, "r"), os.fdopen(write_fd, "w")
    out = _Output()
    thread = threading.Thread(target=eng.run, args=(stdin, out), daemon=True)
    eng.quit = False
    thread.start()
    commands.write("1 lz-analyze 0\n")
    commands.flush()
    out.wait_for("\ninfo move", timeout=300)  # (compiles the search if no test did yet)
    out.wait_for("order 0", timeout=60)
    asked = time.monotonic()
    commands.write("2 name\n")
    commands.flush()
    out.wait_for("=2 alphago-jax\n\n", timeout=60)
    assert time.monotonic() - asked < 30  # at most a round of 4 simulations late
    commands.write("quit\n")
    commands.flush()
    thread.join(timeout=60)
    assert not thread.is_alive()
    commands.close()
    stream, rest = out.text.split("=2 ")
    parsed = parse_response(stream, "lz", 5)
    assert parsed["id"] == "1" and parsed["updates"]
    assert rest == "alphago-jax\n\n= \n\n"
    eng.quit = False  # the engine is shared with other tests


def test_cli_gtp_subprocess(run_dir):
    commands = ("1 protocol_version\nplay b C3\nbogus\n2 showboard\nplay w C3\nfinal_score\n"
                "clear_board\nset_free_handicap B2 D4\nprintsgf\nfinal_status_list alive\n"
                f"play b {'Z' * 100_000}\nquit\n")
    env = dict(os.environ, JAX_PLATFORMS="cpu")
    proc = subprocess.run(
        [sys.executable, "-m", "alphago_jax.cli", "gtp", "--checkpoint", str(run_dir),
         "--sims", "2", "--komi", "0.5", "--no-superko"],
        input=commands, capture_output=True, text=True, timeout=120, env=env,
    )
    assert proc.returncode == 0, proc.stderr
    responses = proc.stdout.split("\n\n")
    assert responses[-1] == ""  # every response ends with a blank line, nothing after
    responses = responses[:-1]
    assert len(responses) == 12
    assert responses[0] == "=1 2"
    assert responses[1] == "= "
    assert responses[2] == "? unknown command"
    assert responses[3].startswith("=2 \n   A B C D E\n") and " 3 . . X . . 3" in responses[3]
    assert responses[4].startswith("? illegal move") and "occupied" in responses[4]
    assert responses[5] == "= B+24.5"
    assert responses[6] == responses[7] == "= "
    assert "HA[2]" in responses[8] and "AB[bd][db]" in responses[8] and "PL[W]" in responses[8]
    assert responses[9] == "= B2\nD4" or responses[9] == "= D4\nB2"
    assert responses[10].startswith("? syntax error") and len(responses[10]) < 300
    assert responses[11] == "= "
    assert "superko False" in proc.stderr and "komi 0.5" in proc.stderr


def test_cli_gtp_bad_checkpoint(tmp_path, capsys):
    assert cli.main(["gtp", "--checkpoint", str(tmp_path / "none")]) == 2
    assert "not a run directory" in capsys.readouterr().err
