"""Tests for the GTP engine's handicap, scoring-support, time-control and analysis-format
commands, without a trained network: each command against GTP v2's success ('= ...') and
failure ('? ...') forms, a qgo-like session, and the analysis lines through an independent
parser of the published formats (`gtp_analysis_parser`)."""

from __future__ import annotations

import dataclasses
import io

import jax.numpy as jnp
import numpy as np
import pytest
from gtp_analysis_parser import parse_response, parse_update
from gtp_helpers import RULES, board_rows, fail, ok, scripted_player
from sgfmill import sgf as sgfmill

from alphago_jax.arena import SearchPlayer
from alphago_jax.config import make_config
from alphago_jax.gtp import GTPEngine
from alphago_jax.gtp import analysis as an
from alphago_jax.gtp.engine import stop_after
from alphago_jax.gtp.handicap import fixed_points, max_fixed_handicap, spread_points
from alphago_jax.gtp.timecontrol import SimulationFitter, TimeControl
from alphago_jax.nets.heads import NetOutput
from alphago_jax.rules.coords import action_to_gtp, gtp_to_action
from alphago_jax.rules.go import BLACK, WHITE
from alphago_jax.search.mcts import SearchResult


def make_engine(actions=(), size=5, **kw) -> GTPEngine:
    rules = dataclasses.replace(RULES, size=size)
    return GTPEngine(scripted_player(list(actions)), rules, log=io.StringIO(), **kw)


def actions(vertices: str, size: int) -> list[int]:
    return [gtp_to_action(v, size) for v in vertices.split()]


# ---------------------------------------------------------------------- handicap
# GTP v2 (draft 2) section 4.1.1's table for 19x19, and its 13x13 and 9x9 versions.
SPEC_TABLE = {
    19: ["D4 Q16", "D4 Q16 D16", "D4 Q16 D16 Q4", "D4 Q16 D16 Q4 K10",
         "D4 Q16 D16 Q4 D10 Q10", "D4 Q16 D16 Q4 D10 Q10 K10", "D4 Q16 D16 Q4 D10 Q10 K4 K16",
         "D4 Q16 D16 Q4 D10 Q10 K4 K16 K10"],
    13: ["D4 K10", "D4 K10 D10", "D4 K10 D10 K4", "D4 K10 D10 K4 G7", "D4 K10 D10 K4 D7 K7",
         "D4 K10 D10 K4 D7 K7 G7", "D4 K10 D10 K4 D7 K7 G4 G10",
         "D4 K10 D10 K4 D7 K7 G4 G10 G7"],
    9: ["C3 G7", "C3 G7 C7", "C3 G7 C7 G3", "C3 G7 C7 G3 E5", "C3 G7 C7 G3 C5 G5",
        "C3 G7 C7 G3 C5 G5 E5", "C3 G7 C7 G3 C5 G5 E3 E7", "C3 G7 C7 G3 C5 G5 E3 E7 E5"],
    7: ["C3 E5", "C3 E5 C5", "C3 E5 C5 E3"],
    10: ["C3 H8", "C3 H8 C8", "C3 H8 C8 H3"],
}


def test_fixed_handicap_placements():
    for size, rows in SPEC_TABLE.items():
        assert max_fixed_handicap(size) == len(rows) + 1
        for n, expected in enumerate(rows, start=2):
            assert " ".join(action_to_gtp(a, size) for a in fixed_points(size, n)) == expected
    assert [max_fixed_handicap(s) for s in (2, 5, 6, 7, 8, 9, 11, 12, 14, 15)] == [
        0, 0, 0, 4, 4, 9, 9, 4, 4, 9]
    with pytest.raises(ValueError):
        fixed_points(19, 10)


def test_fixed_handicap_command():
    eng = make_engine(size=9)
    ok(eng, "boardsize 9")
    assert eng.handle("3 fixed_handicap 9") == f"=3 {SPEC_TABLE[9][-1]}\n\n"
    assert fail(eng, "4 fixed_handicap 2") == "?4 board not empty\n\n"
    ok(eng, "clear_board")
    for bad in ("1", "0", "10"):
        assert eng.handle(f"fixed_handicap {bad}") == "? invalid number of stones\n\n"
    for bad in ("", "two", "2 3", "-2"):
        fail(eng, f"fixed_handicap {bad}", "syntax error")
    ok(eng, "boardsize 8")
    fail(eng, "fixed_handicap 5", "invalid number of stones")  # even boards: 4 at most
    assert ok(eng, "fixed_handicap 4") == "C3 F6 C6 F3"
    ok(eng, "boardsize 5")
    fail(eng, "fixed_handicap 2", "invalid number of stones")  # below 7x7: none
    ok(eng, "play b C3")
    fail(eng, "fixed_handicap 2", "board not empty")
    ok(eng, "clear_board")
    ok(eng, "play b pass")  # a pass is a move: the handicap must come first
    fail(eng, "fixed_handicap 2", "board not empty")
    assert "fixed_handicap" in ok(eng, "list_commands").split("\n")


def test_handicap_game_state_and_sgf(tmp_path):
    eng = make_engine(actions("E5", 9), size=9)
    ok(eng, "boardsize 9")
    ok(eng, "komi 0.5")
    assert ok(eng, "fixed_handicap 2") == "C3 G7"
    rows = board_rows(eng)
    assert rows[6][2] == "X" and rows[2][6] == "X" and sum(r.count("X") for r in rows) == 2
    text = ok(eng, "showboard")
    assert "white to play, move 1" in text and "handicap 2" in text
    fail(eng, "undo", "cannot undo")  # handicap stones are not moves
    assert ok(eng, "genmove w") == "E5"  # White moves first: nothing inserted
    assert eng.game.moves == [gtp_to_action("E5", 9)]
    ok(eng, "play b D4")
    game = sgfmill.Sgf_game.from_string(ok(eng, "printsgf").strip())
    root = game.get_root()
    assert game.get_handicap() == 2 and root.get("PL") == "w" and game.get_komi() == 0.5
    assert root.get_setup_stones() == ({(2, 2), (6, 6)}, set(), set())
    assert [n.get_move() for n in game.get_main_sequence()[1:]] == [("w", (4, 4)),
                                                                     ("b", (3, 3))]
    ok(eng, "undo")
    ok(eng, "undo")
    assert eng.game.moves == [] and sum(r.count("X") for r in board_rows(eng)) == 2
    # The record goes through loadsgf with its handicap.
    path = tmp_path / "h.sgf"
    ok(eng, "play w E5")
    ok(eng, f"printsgf {path}")
    other = make_engine(size=9)
    ok(other, f"loadsgf {path}")
    assert other.game.handicap == 2 and board_rows(other) == board_rows(eng)
    assert "HA[2]" in ok(other, "printsgf") and "black to play" in ok(other, "showboard")
    assert ok(eng, "final_score") == "B+0.5"  # 2 - 1 - 0.5: the empty points are neutral


def test_set_free_handicap():
    eng = make_engine(size=9)
    ok(eng, "boardsize 9")
    assert ok(eng, "set_free_handicap A1 J9 e5") == ""
    assert eng.game.setup_black == actions("A1 J9 E5", 9) and eng.game.handicap == 3
    assert "white to play" in ok(eng, "showboard")
    fail(eng, "set_free_handicap C3 G7", "board not empty")
    for bad in ("C3", "", "C3 C3", "C3 pass", "C3 Z9", "C3 K1", "C3 I3", "C3 J10"):
        ok(eng, "clear_board")
        fail(eng, f"set_free_handicap {bad}", "bad vertex list")
        assert eng.game.setup_black == [] and eng.game.handicap == 0
    eng5 = make_engine()
    points = " ".join(action_to_gtp(a, 5) for a in range(24))  # all but one point: allowed
    ok(eng5, f"set_free_handicap {points}")
    ok(eng5, "clear_board")
    fail(eng5, f"set_free_handicap {points} E1", "bad vertex list")  # the whole board


def test_place_free_handicap_without_network():
    eng = make_engine(size=9)
    ok(eng, "boardsize 9")
    assert ok(eng, "place_free_handicap 4") == "C3 G7 C7 G3"  # the fixed pattern first
    fail(eng, "place_free_handicap 2", "board not empty")
    ok(eng, "clear_board")
    for bad in ("1", "0", "81"):
        fail(eng, f"place_free_handicap {bad}", "invalid number of stones")
    fail(eng, "place_free_handicap x", "syntax error")
    vertices = ok(eng, "place_free_handicap 20").split()
    assert len(vertices) == len(set(vertices)) == 20
    for size, n in ((5, 4), (3, 8), (19, 30)):
        points = spread_points(size, n)
        assert len(set(points)) == n and all(0 <= p < size * size for p in points)


# ---------------------------------------------------------------------- scoring support
def test_final_status_list():
    eng = make_engine()
    for move in ("b C3", "w D3", "b C4", "w pass", "b E5"):
        ok(eng, f"play {move}")
    alive = ok(eng, "final_status_list alive").split("\n")  # one chain per line
    assert sorted(" ".join(sorted(line.split())) for line in alive) == ["C3 C4", "D3", "E5"]
    assert ok(eng, "final_status_list dead") == "" and ok(eng, "final_status_list seki") == ""
    assert ok(eng, "final_status_list DEAD") == ""
    for bad in ("", "alive dead", "white_territory", "x" * 100):
        fail(eng, f"final_status_list {bad}", "syntax error")
    ok(eng, "clear_board")
    assert ok(eng, "final_status_list alive") == ""


def _left_is_black(rules, state, key):
    """An ownership estimate: columns A-C are Black's, D-E White's (5x5)."""
    return np.tile(np.array([1.0, 1.0, 1.0, -1.0, -1.0]), 5)


def test_genmove_cleanup_captures_dead_stones():
    # A player that always passes and wants to resign; the estimate calls A3 dead.
    eng = GTPEngine(scripted_player([25] * 20, value=-0.9), RULES, log=io.StringIO(),
                    ownership=_left_is_black, resign_threshold=-0.5)
    for move in ("b C1", "w A3", "b C2", "w D3", "b C3", "w D4", "b C4", "w D5", "b C5",
                 "w D1"):
        ok(eng, f"play {move}")
    assert ok(eng, "alphago-dead_stones") == "A3"
    assert ok(eng, "final_status_list dead") == ""  # Tromp-Taylor: A3 still counts
    assert ok(eng, "genmove b") == "resign"
    played = []
    for _ in range(5):
        move = ok(eng, "kgs-genmove_cleanup b")  # never resigns, never passes while A3 stands
        played.append(move)
        if move == "pass":
            break
        ok(eng, "play w pass")
    assert played == ["A4", "B3", "A2", "pass"]  # A3's liberties, then done
    assert "A3" not in ok(eng, "final_status_list alive").replace("\n", " ").split()
    assert ok(eng, "kgs-genmove_cleanup w") == "pass"  # no dead black stones
    fail(eng, "kgs-genmove_cleanup", "syntax error")
    fail(eng, "kgs-genmove_cleanup x", "invalid color")
    assert "kgs-genmove_cleanup" in ok(eng, "list_commands").split("\n")


@dataclasses.dataclass(frozen=True)
class OracleNet:
    """A hashable stand-in network: uniform policy, value 0, and an ownership head that reads
    the ownership (+1 = Black's) from its parameters and turns it to the side to move."""

    history: int

    def __call__(self, params, x):
        b, s = x.shape[0], x.shape[1]
        black = x[:, 0, 0, 2 * self.history]  # 1 when Black is to move
        sign = jnp.where(black > 0.5, 1.0, -1.0)[:, None, None]
        own = params["own"].reshape(1, s, s) * sign
        return NetOutput(jnp.zeros((b, s * s + 1)), jnp.zeros((b, 3)), own)


def test_ownership_head_and_gogui_dead_stones():
    own = jnp.asarray(_left_is_black(None, None, None), jnp.float32)
    cfg = make_config("default", ["size=5"])
    player = SearchPlayer("oracle", OracleNet(RULES.history), {"own": own},
                          cfg.eval_settings(4), RULES.history)
    eng = GTPEngine(player, RULES, log=io.StringIO())
    for move in ("b C1", "w A3", "b E2"):
        ok(eng, f"play {move}")
    rows = ok(eng, "alphago-ownership").strip("\n").split("\n")
    assert rows == ["1.000 1.000 1.000 -1.000 -1.000"] * 5
    assert set(ok(eng, "alphago-dead_stones").split()) == {"A3", "E2"}
    # place_free_handicap follows the policy (uniform here: the lowest points first).
    ok(eng, "clear_board")
    assert ok(eng, "place_free_handicap 3") == "A5 B5 C5"
    commands = ok(eng, "gogui-analyze_commands").split("\n")
    assert "plist/Dead stones (estimate)/alphago-dead_stones" in commands
    for line in commands:
        kind, label, command = line.split("/")
        assert kind in ("dboard", "string", "plist") and label and command in ok(
            eng, "list_commands").split("\n")


# ---------------------------------------------------------------------- time control
def test_time_commands_forms():
    eng = make_engine()
    assert ok(eng, "time_settings 300 30 5") == "" and ok(eng, "time_left b 100 0") == ""
    assert ok(eng, "time_left white 12.5 3") == ""
    for bad in ("", "300 30", "300 30 5 1", "x 30 5", "300 30 -1", "300 -30 5", "300 30 2.5",
                "300 nan 5"):
        fail(eng, f"time_settings {bad}", "syntax error")
    for bad in ("", "b 100", "x 100 0", "b -1 0", "b 100 x"):
        fail(eng, f"time_left {bad}", "syntax error" if bad[:1] != "x" else "invalid color")


def test_time_control_budgets():
    tc = TimeControl()
    assert tc.budget(BLACK, 81) is None  # no time_settings: no limit
    tc.settings(60, 0, 0)  # absolute: 60 s for the game
    assert tc.budget(BLACK, 81) == pytest.approx(0.8 * 60 / 27 - 0.1)
    assert tc.budget(BLACK, 9) == pytest.approx(0.8 * 6 - 0.1)  # at least 10 moves left
    tc.spend(BLACK, 59.99)
    assert tc.budget(BLACK, 81) == 0.0
    tc.settings(0, 1, 0)  # byo-yomi time without stones: no limit (GTP 4.2)
    assert tc.budget(WHITE, 81) is None
    tc.settings(10, 30, 5)  # Canadian: 10 s, then 5 stones per 30 s
    assert tc.budget(WHITE, 81) == pytest.approx(0.8 * 6 - 0.1)  # one stone's byo-yomi share
    tc.spend(WHITE, 12)  # main time runs out: the period started 2 s ago, this stone counted
    assert tc.clocks[WHITE].time == pytest.approx(28) and tc.clocks[WHITE].stones == 5
    tc.left(WHITE, 20, 4)
    assert tc.budget(WHITE, 81) == pytest.approx(0.8 * 5 - 0.1)
    for _ in range(4):
        tc.spend(WHITE, 1)
    assert (tc.clocks[WHITE].time, tc.clocks[WHITE].stones) == (30, 5)  # a new period
    fresh = TimeControl()
    fresh.left(BLACK, 0, 0)  # an empty clock says nothing
    assert fresh.budget(BLACK, 81) is None
    fresh.left(BLACK, 5, 0)  # time_left alone (no time_settings) is a limit too
    assert fresh.budget(BLACK, 81) == pytest.approx(0.8 * 5 / 27 - 0.1)


def test_simulation_fitter_climbs_one_level_at_a_time():
    fit = SimulationFitter(floor=16, cap=200)
    assert fit.levels() == [16, 32, 64, 128, 200]
    assert fit.choose(None) == 200 and fit.choose(100.0) == 16  # speed unknown: the floor
    fit.record(16, 5.0)  # the first search of a level compiled: not a measure
    assert fit.choose(100.0) == 16
    fit.record(16, 0.16)  # 10 ms per simulation
    assert fit.choose(100.0) == 32  # one level above the largest compiled
    fit.record(32, 9.0)
    fit.record(32, 0.32)
    assert fit.choose(100.0) == 64 and fit.choose(0.5) == 32 and fit.choose(0.0) == 16
    assert fit.choose(100.0, board=13) == 16  # another board: measured afresh
    fit.record(16, 0.16, program="komi 0.5")  # another program compiles again: not measured
    assert fit.choose(100.0, program="komi 0.5") == 32  # (the speed is the board's)
    assert SimulationFitter(floor=16, cap=4).levels() == [4]


@dataclasses.dataclass(frozen=True, eq=False)
class TimedPlayer(SearchPlayer):
    """A SearchPlayer stand-in whose search costs 50 ms per simulation of a fake clock and
    always passes; it records the simulations it was asked for."""

    calls: list = dataclasses.field(default_factory=list)
    now: list = dataclasses.field(default_factory=lambda: [0.0])

    def move(self, rules, states, key):
        self.calls.append(self.simulations)
        self.now[0] += 0.05 * self.simulations
        a = rules.num_actions
        policy = jnp.zeros((1, a)).at[0, -1].set(1.0)
        result = SearchResult(jnp.array([a - 1]), policy, jnp.zeros(1), jnp.zeros(1),
                              jnp.ones((1, a), bool), jnp.zeros((1, a), jnp.int32))
        return jnp.array([a - 1]), result

    def with_simulations(self, simulations, name=None):
        return dataclasses.replace(self, settings=self.settings._replace(
            num_simulations=simulations))


def test_time_control_fits_simulations_per_move():
    cfg = make_config("default", ["size=5"])
    player = TimedPlayer("timed", None, None, cfg.eval_settings(16), RULES.history)
    eng = GTPEngine(player, RULES, log=io.StringIO(), min_simulations=2,
                    clock=lambda: player.now[0])
    ok(eng, "time_settings 60 0 0")  # 60 s absolute: 4.7 s for an early 5x5 move
    for i in range(6):
        ok(eng, f"genmove {'bw'[i % 2]}")
    # The floor until a search is timed, then one level up per move: 4, 8, 16 (the cap).
    assert player.calls == [2, 2, 4, 8, 16, 16]
    ok(eng, "time_left b 0.5 0")  # nearly out of time: the floor
    ok(eng, "genmove b")
    assert player.calls[-1] == 2
    ok(eng, "time_left w 10 5")  # byo-yomi: 2 s a stone, 0.8 s for 16 simulations fits
    ok(eng, "genmove w")
    assert player.calls[-1] == 16
    assert eng.time.clocks[WHITE].stones == 4  # the engine runs its clock between time_lefts
    ok(eng, "time_settings 0 1 0")  # no time limit: the configured simulations
    ok(eng, "genmove b")
    assert player.calls[-1] == 16


# ---------------------------------------------------------------------- a qgo-like session
def test_qgo_like_session():
    """The commands qgo 2.1 sends for a 9x9 handicap game against the engine as White
    (un-numbered), with its `undo 0`, a game re-sent after undo, passes and the score."""
    eng = make_engine(actions("E5 G3 pass", 9), size=9)
    script = [
        ("protocol_version", "2"), ("boardsize 9", ""), ("clear_board", ""), ("komi 0.5", ""),
        ("fixed_handicap 2", "C3 G7"), ("genmove white", "E5"), ("play black C7", ""),
        ("genmove white", "G3"), ("undo 0", ""), ("undo 0", ""),
        # qgo re-sends the whole game after an undo
        ("clear_board", ""), ("komi 0.5", ""), ("fixed_handicap 2", "C3 G7"),
        ("play white E5", ""), ("play black C7", ""), ("genmove white", "pass"),
        ("play black pass", ""), ("final_score", "B+1.5"),
    ]
    for command, expected in script:
        assert eng.handle(command) == f"= {expected}\n\n", command
    record = sgfmill.Sgf_game.from_string(ok(eng, "printsgf").strip())
    assert record.get_handicap() == 2 and record.get_root().get("RE") is not None
    assert [n.get_move()[0] for n in record.get_main_sequence()[1:]] == ["w", "b", "w", "b"]


# ---------------------------------------------------------------------- hardening
def test_error_messages_cut_long_input(tmp_path):
    eng = make_engine()
    huge = "A" * 200_000
    for line in (f"play b {huge}", f"play {huge} C3", f"loadsgf {tmp_path}/{huge}",
                 f"set_free_handicap C3 {huge}", f"final_status_list {huge}",
                 f"time_left {huge} 1 1", f"lz-analyze {huge}", f"{huge}", f"12 {huge}",
                 f"boardsize {huge}", f"known_command {huge} x"):
        response = eng.handle(line)
        assert response.startswith("?") and len(response) < 300, response[:300]
    assert "..." in eng.handle(f"play b {huge}")


# ---------------------------------------------------------------------- analysis formats
def _round(visits, q, pv, value=0.1, prior=None):
    """A RoundStats of numpy arrays (one search of a 2x2 board, 5 actions)."""
    a = len(visits)
    prior = np.full(a, 1.0 / a) if prior is None else np.asarray(prior)
    pv = np.asarray(pv)
    return an.RoundStats(np.asarray([visits]), np.asarray([q], np.float32),
                         np.asarray([value]), np.asarray([prior]), np.asarray([0.0]),
                         np.pad(pv, ((0, 0), (0, an.PV_DEPTH - pv.shape[1])),
                                constant_values=-1)[None])


def test_analysis_merges_rounds_and_formats():
    acc = an.Analysis.empty(5)
    no = [-1, -1]
    acc.add(_round([3, 1, 0, 0, 0], [0.5, -0.2, 0, 0, 0], [[0, 3], [1, 2], no, no, no]))
    acc.add(_round([1, 4, 0, 0, 2], [0.1, 0.0, 0, 0, -1.0], [[0, 2], [1, 3], no, no, [4, 0]],
                   value=0.3))
    assert list(acc.visits) == [4, 5, 0, 0, 2] and acc.total_visits == 11
    assert acc.value() == pytest.approx(0.2)
    moves = acc.ranked()
    assert [m.action for m in moves] == [1, 0, 4] and acc.best() == 1
    assert moves[0].value == pytest.approx(-0.2 / 5)
    assert moves[1].value == pytest.approx((3 * 0.5 + 0.1) / 4)
    assert moves[0].pv == [1, 3] and moves[1].pv == [0, 3]  # from the search with most visits
    assert [m.action for m in acc.ranked(min_moves=5)] == [1, 0, 4, 2, 3]
    assert [m.action for m in acc.ranked(max_moves=2)] == [1, 0]
    lz = an.format_lz(acc.ranked(min_moves=4), 2)
    parsed, own = parse_update(lz, "lz", 2)
    assert own is None and [m["move"] for m in parsed] == ["B2", "A2", "pass", "A1"]
    winrate = (1 - 0.2 / 5) / 2
    assert parsed[0] == {"move": "B2", "visits": 5, "winrate": round(10000 * winrate),
                         "prior": 2000, "lcb": round(10000 * (winrate - 0.98 / 5 ** 0.5)),
                         "order": 0, "pv": ["B2", "B1"]}
    assert parsed[3] == {"move": "A1", "visits": 0, "winrate": 6000, "prior": 2000, "lcb": 0,
                         "order": 3, "pv": ["A1"]}  # no visits: the root's value
    kata = an.format_kata(acc.ranked(), 2, ownership=np.array([1.0, -0.0, -0.25, 0.5]))
    parsed, own = parse_update(kata, "kata", 2)
    assert own == [1.0, 0.0, -0.25, 0.5] and "-0 " not in kata
    assert parsed[1]["winrate"] == pytest.approx(0.7, abs=1e-5)
    assert parsed[1]["utility"] == pytest.approx(0.4, abs=1e-5)
    assert parsed[1]["lcb"] == pytest.approx(0.7 - 0.98 / 2, abs=1e-5)
    assert parsed[1]["utilityLcb"] == pytest.approx(2 * (0.7 - 0.98 / 2) - 1, abs=1e-5)


def test_parse_analyze_args():
    req = an.parse_analyze_args([])
    assert (req.colour, req.interval, req.min_moves, req.max_moves) == (None, 0.0, 0, None)
    req = an.parse_analyze_args(["W", "50"])
    assert req.colour == WHITE and req.interval == pytest.approx(0.5)
    req = an.parse_analyze_args(["25", "minmoves", "3", "maxmoves", "9", "ownership", "true",
                                 "pvVisits", "false"])
    assert (req.interval, req.min_moves, req.max_moves, req.ownership) == (0.25, 3, 9, True)
    assert an.parse_analyze_args(["b", "interval", "10"]).interval == pytest.approx(0.1)
    for bad in (["interval"], ["interval", "x"], ["minmoves", "-1"], ["ownership", "yes"],
                ["avoid", "b", "D4", "1"], ["frobnicate", "1"], ["b", "w"]):
        with pytest.raises(ValueError):
            an.parse_analyze_args(bad)


def test_analysis_commands_need_a_network():
    eng = make_engine()
    for command in ("lz-analyze 10", "kata-analyze", "lz-genmove_analyze b",
                    "kata-genmove_analyze", "alphago-policy", "alphago-visits",
                    "alphago-value"):
        fail(eng, command, "needs a network player")
    assert ok(eng, "alphago-dead_stones") == ""  # no network: every stone is alive


def test_stream_protocol_with_a_stub_search(monkeypatch):
    """The stream's framing without a real search: '=id', one info line per round at interval
    0, the blank line; genmove_analyze adds 'play VERTEX' and plays it."""
    cfg = make_config("default", ["size=5"])
    player = SearchPlayer("stub", None, None, cfg.eval_settings(4), RULES.history)
    eng = GTPEngine(player, RULES, log=io.StringIO(), analysis_simulations=2)

    hot = [12, 7]  # the stub search's two visited moves

    def fake_round(rules, network, history, settings, params, states, key):
        a = rules.num_actions
        visits = np.zeros(a, np.int32)
        visits[hot] = [2, 1]
        pv = np.full((a, 2), -1)
        pv[hot[0]], pv[hot[1]] = [hot[0], hot[0] + 1], [hot[1], -1]
        return _round(visits, np.where(visits > 0, 0.2, 0.0), pv)

    monkeypatch.setattr(an, "search_round", fake_round)
    text = eng.handle("5 lz-analyze b 0", stop=stop_after(3))
    parsed = parse_response(text, "lz", 5)
    assert parsed["id"] == "5" and len(parsed["updates"]) == 3
    assert [m["visits"] for m in parsed["updates"][2][0]] == [6, 3]
    assert parsed["updates"][0][0][0]["pv"] == ["C3", "D3"]
    assert eng.game.moves == []  # analysis changes nothing
    parsed = parse_response(eng.handle("kata-genmove_analyze b"), "kata", 5, genmove=True)
    assert parsed["play"] == "C3" and len(parsed["updates"]) == 2  # 4 sims in rounds of 2
    assert eng.game.moves == [12]
    hot[:] = [6, 8]
    text = eng.handle("lz-genmove_analyze b")  # Black again: White passes first
    assert parse_response(text, "lz", 5, genmove=True)["play"] == "B4"
    assert eng.game.moves == [12, 25, 6] and eng.game.inserted == [False, True, False]
    assert eng.handle("lz-analyze 0", stop=stop_after(0)) == "=\n\n"
