"""Tests for the GTP engine: a scripted session (ids, errors, ko/suicide, undo, scoring,
loadsgf/printsgf), genmove with a real checkpoint, and one subprocess session."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import jax
import numpy as np
import pytest

from alphago_jax import cli
from alphago_jax.arena import SearchPlayer
from alphago_jax.checkpoint import Checkpointer
from alphago_jax.config import make_config
from alphago_jax.gtp import GTPEngine, from_checkpoint
from alphago_jax.rules import Rules
from alphago_jax.rules.coords import gtp_to_action
from alphago_jax.sgf import read_sgf

TINY = [
    "size=5", "blocks=1", "channels=8", "iterations=1", "selfplay_batch=4", "selfplay_steps=2",
    "num_simulations=2", "min_buffer=0", "train_batch=8", "sgd_steps=1", "eval_every=0",
    "wandb=false", "buffer_capacity=64", "eval_simulations=4",
]


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    """A run directory with one checkpoint of a tiny 5x5 net.

    The run is written the way `alphago_jax.train.main` writes it (config.json + a checkpoint of
    the trainer's carry, `runs.save_state`) but from freshly initialised parameters: compiling a
    training iteration would cost ~30 s of this file's budget and the engine only needs loadable
    weights.
    """
    from alphago_jax.runs import save_state
    from alphago_jax.trainer import make_train

    path = tmp_path_factory.mktemp("gtp") / "run"
    path.mkdir()
    cfg = make_config("default", TINY)
    cfg.save(path / "config.json")
    carry = make_train(cfg).init(jax.random.key(cfg.seed))
    with Checkpointer(path / "checkpoints", async_save=False) as ckpt:
        save_state(ckpt, 1, carry)
    return path


@pytest.fixture(scope="module")
def net_engine(run_dir) -> GTPEngine:
    return from_checkpoint(str(run_dir), sims=4, resign_threshold=-1.0)


def scripted_player(actions, value=0.0):
    """A player that answers the given actions in turn (for protocol tests without a net)."""
    it = iter(actions)
    return lambda rules, state, key: (next(it), value)


# The tiny run's rules, so that the engines here share compiled moves and scoring.
RULES = Rules(size=5, komi=7.5, superko=True, suicide=False, history=2)


@pytest.fixture
def engine() -> GTPEngine:
    return GTPEngine(scripted_player([]), RULES, log=io.StringIO())


def ok(engine: GTPEngine, line: str) -> str:
    response = engine.handle(line)
    assert response is not None and response.endswith("\n\n"), response
    assert response.startswith("="), f"{line!r} -> {response!r}"
    assert "\n\n" not in response[:-2]  # a blank line would end the response early
    return response[1:].split(" ", 1)[1][:-2] if " " in response else ""


def fail(engine: GTPEngine, line: str, pattern: str = "") -> str:
    response = engine.handle(line)
    assert response is not None and response.startswith("?"), f"{line!r} -> {response!r}"
    assert response.endswith("\n\n") and pattern in response, response
    return response


def board_rows(engine: GTPEngine) -> list[str]:
    """showboard's rows, top first, as '.XO' strings."""
    text = ok(engine, "showboard")
    n = engine.game.rules.size
    lines = text.strip("\n").split("\n")
    return ["".join(line.split()[1:-1]) for line in lines[1:1 + n]]


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
              "showboard", "time_settings", "time_left", "loadsgf", "printsgf"):
        assert c in commands
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


def test_cli_gtp_subprocess(run_dir):
    commands = "1 protocol_version\nplay b C3\nbogus\n2 showboard\nplay w C3\nfinal_score\nquit\n"
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
    assert len(responses) == 7
    assert responses[0] == "=1 2"
    assert responses[1] == "= "
    assert responses[2] == "? unknown command"
    assert responses[3].startswith("=2 \n   A B C D E\n") and " 3 . . X . . 3" in responses[3]
    assert responses[4].startswith("? illegal move") and "occupied" in responses[4]
    assert responses[5] == "= B+24.5"
    assert responses[6] == "= "
    assert "superko False" in proc.stderr and "komi 0.5" in proc.stderr


def test_cli_gtp_bad_checkpoint(tmp_path, capsys):
    assert cli.main(["gtp", "--checkpoint", str(tmp_path / "none")]) == 2
    assert "not a run directory" in capsys.readouterr().err
