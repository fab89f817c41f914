"""Arena: the match loop on scripted, recording and fake GTP players, tallies, the Elo fit, the
CLI, `alphago-jax evaluate`, a checkpoint vs GnuGo."""

from __future__ import annotations

import math
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import jax
import numpy as np
import pytest

from alphago_jax import cli
from alphago_jax.arena import (
    ArenaError,
    DevicePlayer,
    GTPClient,
    PlayerError,
    PlayerSpecError,
    RandomPlayer,
    ScriptedPlayer,
    SearchPlayer,
    Tally,
    arena_rules,
    bucket_size,
    expected_score,
    fit_elo,
    parse_player,
    play_match,
    players,
    wilson_interval,
)
from alphago_jax.config import make_config
from alphago_jax.rules.go import BLACK, WHITE, Rules
from alphago_jax.sgf import read_sgf, replay

GNUGO = "/usr/games/gnugo"
LINE = re.compile(r"^(.+) vs (.+): (\d+)-(\d+)-(\d+), win rate (\d\.\d{3}) "
                  r"\(95% CI (\d\.\d{3})-(\d\.\d{3})\)(?:, forfeits: A (\d+), B (\d+))?$")


def _match(rules, a, b, games=2, **kw):
    return play_match(rules, a, b, games, jax.random.key(0), **kw)


# ------------------------------------------------------------------------------ scripted referee


def test_illegal_move_forfeits_and_is_recorded(tmp_path):
    rules = Rules(size=5, komi=7.5)
    a = ScriptedPlayer([["C3", "D4"], ["B2"]], name="A")
    b = ScriptedPlayer([["C3"], ["B2"]], name="B")  # game 0: B (white) plays on A's stone
    res = _match(rules, a, b, sgf_dir=tmp_path)
    g0, g1 = res.games
    assert (g0.reason, g0.winner, g0.a_points) == ("forfeit", BLACK, 1.0)
    assert "white (B)" in g0.detail and "occupied" in g0.detail and g0.moves == [12]
    # Game 1: B is black and plays B2; A (white) answers B2 too and forfeits.
    assert (g1.reason, g1.winner, g1.a_points) == ("forfeit", BLACK, 0.0)
    assert res.line().startswith("A vs B: 1-1-0")
    # Illegal moves are forfeits under the rules, not failures of a player.
    assert (res.forfeits, res.failures) == ((1, 1), (0, 0))
    assert res.line().endswith(", forfeits: A 1, B 1") and not (g0.failure or g1.failure)
    rec = read_sgf(tmp_path / "game-0000.sgf")
    assert (rec.black, rec.white, rec.result) == ("A", "B", "B+F")
    assert "forfeit" in rec.comment and "occupied" in rec.comment
    assert rec.moves == [12]


def test_out_of_range_and_ko_are_illegal():
    rules = Rules(size=5, komi=7.5, superko=False)
    res = _match(rules, ScriptedPlayer([[99]]), ScriptedPlayer([[]]), games=1)
    assert res.games[0].reason == "forfeit" and "not an action" in res.games[0].detail
    # Black captures the white stone on C3 by playing D3; White retaking at C3 at once is ko.
    black = ["C4", "B3", "C2", "A1", "D3"]
    white = ["D4", "E3", "D2", "C3", "C3"]
    g = _match(rules, ScriptedPlayer([black]), ScriptedPlayer([white]), games=1).games[0]
    assert (g.reason, g.winner, len(g.moves)) == ("forfeit", BLACK, 9)
    assert "illegal move C3" in g.detail and "ko" in g.detail


def test_resignation_ends_the_game(tmp_path):
    rules = Rules(size=5, komi=7.5)
    res = _match(rules, ScriptedPlayer([["C3"], ["resign"]], name="A"),
                 ScriptedPlayer([["resign"], ["C3", "D3"]], name="B"), sgf_dir=tmp_path)
    g0, g1 = res.games
    assert (g0.reason, g0.winner, g0.result, g0.moves) == ("resign", BLACK, "B+R", [12])
    # Game 1: B is black, plays C3; A (white) resigns.
    assert (g1.reason, g1.winner, g1.result) == ("resign", BLACK, "B+R")
    assert res.tally == Tally(wins=1, losses=1, draws=0)
    assert read_sgf(tmp_path / "game-0001.sgf").result == "B+R"


def test_double_pass_ends_and_scores():
    rules = Rules(size=5, komi=7.5)
    res = _match(rules, ScriptedPlayer([["C3", "pass", "D4"]]),
                 ScriptedPlayer([["pass", "pass", "E5"]]), games=1)
    g = res.games[0]
    # B C3, W pass, B pass: two passes in a row end the game; Black owns all 25 points.
    assert g.moves == [12, 25, 25] and g.reason == "score"
    assert g.score == pytest.approx(25 - 7.5) and g.result == "B+17.5" and g.a_points == 1.0


def test_draw_with_integer_komi(tmp_path):
    rules = Rules(size=5, komi=5.0)
    black = [f"C{r}" for r in range(5, 0, -1)]  # Black walls off columns a-c: 15 points
    white = [f"D{r}" for r in range(5, 0, -1)]  # White columns d-e: 10 points
    res = _match(rules, ScriptedPlayer([black]), ScriptedPlayer([white]), games=1,
                 sgf_dir=tmp_path)
    g = res.games[0]
    assert g.reason == "score" and g.score == 0.0 and g.winner == 0 and g.result == "0"
    assert res.tally == Tally(wins=0, losses=0, draws=1) and res.tally.win_rate == 0.5
    rec = read_sgf(tmp_path / "game-0000.sgf")
    states = replay(rec, rules)  # the record replays through the checked rules
    assert float(rules.score(states[-1])) == 0.0 and len(rec.moves) == 12


def test_move_cap_ends_the_game():
    rules = Rules(size=5, komi=0.5, max_moves=3)
    res = _match(rules, ScriptedPlayer([["A1", "B1", "C1"]]),
                 ScriptedPlayer([["E5", "D5"]]), games=1)
    g = res.games[0]
    assert len(g.moves) == 3 and g.reason == "score" and g.winner == BLACK


def test_many_games_rotate_through_slots():
    rules = Rules(size=5, komi=0.5)
    a = ScriptedPlayer([["resign"], ["pass"]], name="A")
    b = ScriptedPlayer([["pass"]], name="B")
    res = _match(rules, a, b, games=7, parallel=3)
    assert [g.game for g in res.games] == list(range(7))
    # Even games: A (black) resigns at once. Odd games: B passes, A passes -> W+0.5 for A.
    for g in res.games:
        if g.game % 2 == 0:
            assert (g.reason, g.winner, g.a_points) == ("resign", WHITE, 0.0)
        else:
            assert (g.reason, g.winner, g.a_points) == ("score", WHITE, 1.0)


# ------------------------------------------------------------------------------ device players


class Recorder(DevicePlayer):
    """A device player that passes and records what the match loop asks it to search."""

    history = 1
    config = None

    def __init__(self, name):
        self.name = name
        self.to_play: list[list[int]] = []  # per call: the side to move in each searched game

    def select(self, rules, states, key):
        self.to_play.append(np.asarray(states.to_play).tolist())
        return np.full(len(self.to_play[-1]), rules.pass_action, np.int32)


def test_bucket_sizes():
    assert [bucket_size(k, 5) for k in range(1, 6)] == [3, 3, 3, 5, 5]
    assert [bucket_size(k, 1) for k in (0, 1)] == [1, 1]


def test_device_players_search_only_their_games_and_stop_early():
    rules = Rules(size=5, komi=0.5)
    a, b = Recorder("A"), Recorder("B")
    res = _match(rules, a, b, games=5)
    # Pass, pass: every game ends after two moves, long before the move cap.
    assert res.steps == 2 < rules.move_cap
    assert all(g.moves == [25, 25] and g.reason == "score" for g in res.games)
    # Move 1: A is Black in games 0, 2, 4, B in 1, 3; move 2 the other way round. Each searches
    # only the games where it is to move, in batches of ceil(5 / 2) = 3 (B's 2 games padded
    # with a copy of one of them), never all 5.
    assert a.to_play == [[BLACK] * 3, [WHITE] * 3]
    assert b.to_play == [[BLACK] * 3, [WHITE] * 3]


def test_device_batch_grows_when_more_games_are_its_turn():
    # Two slots. Game 1 (B black) ends at move 2, so game 2 (A black) starts at step 2 in that
    # slot while game 0 is at its move 3 (Black's): A is to move in both slots.
    rules = Rules(size=5, komi=0.5)
    a = Recorder("A")
    b = ScriptedPlayer([["C3", "D3", "B3"], ["pass"]], name="B")
    res = _match(rules, a, b, games=4, parallel=2)
    assert [len(t) for t in a.to_play[:3]] == [1, 1, 2]
    assert a.to_play[1] == [WHITE] and a.to_play[2] == [BLACK, BLACK]
    assert {len(t) for t in a.to_play} <= {1, 2}
    assert res.games[1].moves == [25, 25] and res.games[0].moves[:4] == [25, 12, 25, 13]
    assert res.steps < rules.move_cap


def test_random_players_fill_the_board_legally():
    rules = Rules(size=5, komi=0.5, max_moves=200)
    res = _match(rules, RandomPlayer("r1"), RandomPlayer("r2"), games=5)
    # A move scattered to the wrong game would soon be illegal there and forfeit it.
    assert all(g.reason == "score" for g in res.games), [g.detail for g in res.games]
    assert res.steps == max(len(g.moves) for g in res.games) <= rules.move_cap
    assert res.tally.games == 5


def test_history_must_fit_the_rules():
    class Deep(Recorder):
        history = 3

    with pytest.raises(ArenaError, match="history"):
        _match(Rules(size=5, komi=0.5, history=2), Deep("deep"), RandomPlayer())


# ------------------------------------------------------------------------------ GTP


FAKE_GTP = textwrap.dedent("""\
    import sys, time
    mode = sys.argv[1]
    for line in sys.stdin:
        words = line.split()
        if not words:
            continue
        if words[0] == "quit":
            print("=\\n", flush=True)
            break
        if words[0] == "genmove":
            if mode == "refuse":
                print("? nope\\n", flush=True); continue
            if mode == "exit":
                sys.exit(3)
            if mode == "hang":
                time.sleep(30)
            if mode == "badvertex":
                print("= Z99\\n", flush=True); continue
            print("= pass\\n", flush=True); continue
        if words[0] == "play" and mode == "refuseplay":
            print("? illegal move\\n", flush=True); continue
        print("=\\n", flush=True)
""")


@pytest.fixture(scope="module")
def fake_gtp(tmp_path_factory):
    path = tmp_path_factory.mktemp("gtp") / "fake_gtp.py"
    path.write_text(FAKE_GTP)
    return lambda mode: f"gtp:{sys.executable} {path} {mode}"


@pytest.mark.parametrize("mode,why", [
    ("refuse", "? nope"), ("exit", "exited (code 3)"), ("hang", "no reply"),
    ("badvertex", "bad vertex"), ("refuseplay", "illegal move"),
])
def test_protocol_errors_forfeit(fake_gtp, mode, why, tmp_path):
    rules = Rules(size=5, komi=7.5)
    engine = parse_player(fake_gtp(mode), gtp_timeout=1.0)
    res = _match(rules, RandomPlayer(), engine, games=2, sgf_dir=tmp_path)
    for g in res.games:
        assert g.reason == "forfeit" and g.a_points == 1.0, g
        assert why in g.detail and fake_gtp(mode) in g.detail
    assert res.line().startswith("random vs gtp:")
    assert res.line().endswith(", forfeits: A 0, B 2") and res.failures == (0, 2)
    assert "forfeit" in read_sgf(tmp_path / "game-0001.sgf").comment


def _send_within(client, command, seconds):
    """`client.send(command)` in a thread: (PlayerError raised, seconds taken); the test fails,
    and the engine is killed, when it has not returned after `seconds` (the old client hung)."""
    import concurrent.futures
    import time

    pool = concurrent.futures.ThreadPoolExecutor(1)
    t0 = time.monotonic()
    future = pool.submit(client.send, command)
    try:
        future.result(timeout=seconds)
    except PlayerError as e:
        return e, time.monotonic() - t0
    except concurrent.futures.TimeoutError:
        client.proc.kill()
        pytest.fail(f"send({command!r}) still waiting after {seconds}s")
    finally:
        pool.shutdown(wait=False)
    pytest.fail(f"send({command!r}) returned a reply")


def test_gtp_deadline_holds_while_the_engine_prints(monkeypatch):
    # With no limit on chatter, only the deadline stops `yes` (which prints faster than the
    # client reads): it is checked before every line, not only when the engine is quiet.
    monkeypatch.setattr(players, "_MAX_NOISE", 10**12, raising=False)
    client = GTPClient("yes", timeout=1.0)
    err, took = _send_within(client, "boardsize 5", 6.0)
    assert "no reply to 'boardsize 5' within 1s" in str(err) and took < 3.0
    assert client.proc.poll() is not None and not client.alive  # killed


def test_gtp_flood_is_bounded_and_killed():
    # `yes` prints lines as fast as it can and never replies: the client neither waits out the
    # whole timeout nor keeps what it prints.
    client = GTPClient("yes", timeout=30.0)
    err, took = _send_within(client, "boardsize 5", 10.0)
    assert "not a reply to 'boardsize 5'" in str(err) and took < 5.0
    assert client.proc.poll() is not None and client._lines.maxsize > 0


def test_failed_engine_is_killed_and_replaced(fake_gtp):
    seat = parse_player(fake_gtp("refuse"), gtp_timeout=5.0).seat()
    rules = Rules(size=5, komi=7.5)
    seat.new_game(rules, 0)
    proc = seat.client.proc
    with pytest.raises(PlayerError, match="nope"):
        seat.genmove(BLACK)
    assert seat.client is None and proc.poll() is not None
    seat.new_game(rules, 1)  # the next game starts a fresh engine
    assert seat.client.alive and seat.client.proc.pid != proc.pid
    seat.close()


def test_gtp_timeout_must_be_positive():
    for bad in (0, -1, float("nan"), float("inf")):
        with pytest.raises(PlayerSpecError, match="timeout"):
            parse_player(f"gtp:{sys.executable}", gtp_timeout=bad)
        with pytest.raises(ValueError, match="timeout"):
            GTPClient([sys.executable], timeout=bad)


def test_gtp_client_round_trip_and_close(fake_gtp):
    client = GTPClient(fake_gtp("pass")[4:], timeout=5.0)
    assert client.send("boardsize 5") == ""
    assert client.send("genmove b") == "pass"
    client.close()
    assert client.proc.poll() is not None
    with pytest.raises(PlayerError, match="closed"):
        client.send("clear_board")


def test_bad_specs():
    for spec in ["foo", "ckpt:", "gtp:", "gtp:/no/such/engine --x", "ckpt:/no/such/run"]:
        with pytest.raises(PlayerSpecError):
            parse_player(spec)
    assert cli.main(["arena", "random", "nonsense"]) == 2
    assert cli.main(["arena", "random", f"gtp:{sys.executable}", "--suicide"]) == 2


def test_arena_rules_defaults():
    r = arena_rules([RandomPlayer(), RandomPlayer()])
    assert (r.size, r.komi, r.superko, r.suicide) == (9, 7.5, True, False)
    r = arena_rules([RandomPlayer()], size=5, komi=2.0, superko=False, suicide=True)
    assert (r.size, r.komi, r.superko, r.suicide) == (5, 2.0, False, True)


# ------------------------------------------------------------------------------ summary line


def test_summary_line_format():
    line = Tally(3, 1, 2).line("A", "B")
    lo, hi = wilson_interval(4 / 6, 6)
    assert line == f"A vs B: 3-1-2, win rate 0.667 (95% CI {lo:.3f}-{hi:.3f})"
    m = LINE.match(Tally(0, 40, 0).line("ckpt:runs/x@5:8", "gtp:gnugo --level 1"))
    assert m and m.group(1) == "ckpt:runs/x@5:8" and m.group(6) == "0.000"


def test_tally_values():
    t = Tally.from_points([1.0, 0.5, 0.0, 1.0, 0.5, 1.0])
    assert t == Tally(wins=3, losses=1, draws=2) and (t.games, t.points) == (6, 4.0)
    lo, hi = wilson_interval(4 / 6, 6)
    assert t.as_dict() == {"games": 6, "wins": 3, "losses": 1, "draws": 2,
                           "win_rate": pytest.approx(4 / 6), "ci_low": lo, "ci_high": hi}
    assert 0.0 < lo < 4 / 6 < hi < 1.0
    # No games: rate 0, the uninformative interval.
    assert Tally(0, 0, 0).as_dict() == {"games": 0, "wins": 0, "losses": 0, "draws": 0,
                                        "win_rate": 0.0, "ci_low": 0.0, "ci_high": 1.0}


def test_wilson_interval():
    assert wilson_interval(0.5, 0) == (0.0, 1.0)
    lo, hi = wilson_interval(0.5, 100)
    assert lo == pytest.approx(0.4038, abs=1e-3) and hi == pytest.approx(0.5962, abs=1e-3)
    lo, hi = wilson_interval(1.0, 10)
    assert hi == 1.0 and 0.6 < lo < 0.75  # all wins: still not certain
    lo, hi = wilson_interval(0.0, 10)
    assert lo == 0.0 and 0.25 < hi < 0.4
    for n in (1, 7, 64, 1000):
        for p in (0.0, 0.1, 0.5, 0.9, 1.0):
            lo, hi = wilson_interval(p, n)
            assert 0.0 <= lo <= p <= hi <= 1.0
    assert np.diff(wilson_interval(0.3, 1000)) < np.diff(wilson_interval(0.3, 50))


def test_cli_prints_the_line_last(fake_gtp, capsys, tmp_path):
    rc = cli.main(["arena", "--size", "5", "--games", "3", "--no-progress", "--sgf-dir",
                   str(tmp_path), "--gtp-timeout", "5", "random", fake_gtp("pass")])
    assert rc == 0
    last = capsys.readouterr().out.strip().splitlines()[-1]
    m = LINE.match(last)
    assert m and m.group(1) == "random" and m.group(2) == fake_gtp("pass")
    # Random as Black fills the board while the engine passes; as White it still wins on area.
    assert (m.group(3), m.group(4), m.group(5)) == ("3", "0", "0")
    assert (m.group(9), m.group(10)) == ("0", "0")  # no forfeits
    assert len(list(tmp_path.glob("*.sgf"))) == 3


# ------------------------------------------------------------------------------ Elo


def _simulate(true, games, rng, draw=0.0):
    names = list(true)
    results = []
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            p = expected_score(true[a], true[b])
            # Draws at rate `draw`, split so the expected score stays p.
            outcomes = rng.random(games)
            d = outcomes < draw
            wins = (~d) & (rng.random(games) < (p - draw / 2) / (1 - draw))
            results.append((a, b, wins.sum() + 0.5 * d.sum(), games))
    return results


def test_elo_recovers_known_ratings():
    true = {"random": 0.0, "weak": 200.0, "strong": 500.0}
    results = _simulate(true, 3000, np.random.default_rng(0), draw=0.1)
    fit = fit_elo(results, anchor="random")
    assert fit.players == list(true) and fit.ratings[0] == 0.0 and fit.stderr[0] == 0.0
    for name, r, s in zip(fit.players[1:], fit.ratings[1:], fit.stderr[1:], strict=True):
        assert 3 < s < 25
        assert abs(r - true[name]) < 4 * s, (name, r, s)
    # The anchor only shifts the ratings.
    other = fit_elo(results, anchor="strong")
    np.testing.assert_allclose(other.ratings - other.ratings[0], fit.ratings, atol=1e-6)


def test_elo_clean_sweep_stays_finite():
    fit = fit_elo([("a", "random", 20, 20), ("b", "a", 10, 20)], anchor="random")
    r = dict(zip(fit.players, fit.ratings, strict=True))
    assert all(math.isfinite(v) for v in fit.ratings) and r["a"] > 300
    assert abs(r["b"] - r["a"]) < 60  # an even match rates them alike
    # Random lost every game to its weakest (only) opponent: its rating is only a bound.
    assert fit.in_range.tolist() == [True, False, True]


# (results, keyword arguments) -> (Elo, stderr, games, in_range), computed with the separate
# Newton solver `scaling.rating.elo_vs_references` had before it became a call of `fit_elo`.
OLD_ELO_VS_REFERENCES = [
    ([(0.0, 7, 10), (200.0, 5.5, 10), (450.0, 2, 10)], {},
     (199.66470078991043, 71.48893048161926, 30, True)),
    ([(100.0, 20, 20)], {}, (951.1771812669514, 412.9713123573537, 20, False)),
    ([(0.0, 3, 8), (300.0, 0, 6)], {}, (-129.2285450526523, 116.90099543083166, 14, True)),
    ([(0.0, 12, 20), (150.0, 9, 20)], {"prior_sd": 300.0, "prior_mean": 50.0},
     (91.73932534443466, 55.310985354372754, 40, True)),
    ([(0.0, 0, 10), (200.0, 0, 10)], {}, (-773.5913559898206, 408.9148752815501, 20, False)),
]


@pytest.mark.parametrize("records,kw,expected", OLD_ELO_VS_REFERENCES)
def test_elo_with_fixed_players_matches_the_old_reference_fit(records, kw, expected):
    results = [("agent", f"ref{j}", s, n) for j, (_, s, n) in enumerate(records)]
    fixed = {f"ref{j}": r for j, (r, _, _) in enumerate(records)}
    fit = fit_elo(results, fixed=fixed, **kw)
    elo, stderr, games, in_range = expected
    assert fit.players[0] == "agent" and fit.anchor is None
    assert fit.ratings[0] == pytest.approx(elo, abs=1e-6)
    assert fit.stderr[0] == pytest.approx(stderr, abs=1e-6)
    assert (int(fit.games[0]), bool(fit.in_range[0])) == (games, in_range)
    # The references keep their ratings, without error.
    np.testing.assert_allclose(fit.ratings[1:], [r for r, _, _ in records], atol=1e-9)
    assert not fit.stderr[1:].any()


def test_elo_fixed_players_rate_agents_independently():
    refs = {"r0": 0.0, "r1": 200.0, "r2": 450.0}
    a = [("A", "r0", 7, 10), ("A", "r1", 5.5, 10), ("A", "r2", 2, 10)]
    alone = fit_elo(a, fixed=refs).as_dict()["A"]
    both = fit_elo(a + [("B", "r2", 9, 10), ("B", "r1", 10, 10)], fixed=refs).as_dict()
    assert both["A"] == pytest.approx(alone) and both["B"][0] > 450.0
    with pytest.raises(ValueError, match="not both"):
        fit_elo(a, anchor="r0", fixed=refs)
    with pytest.raises(ValueError, match="not among"):
        fit_elo(a, fixed={"r9": 0.0})


# ------------------------------------------------------------------------------ checkpoints


TINY = ["size=5", "blocks=1", "channels=8", "num_simulations=2", "eval_simulations=2",
        "wandb=false"]


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    """A 5x5 run directory with one checkpoint (step 1) of a freshly initialised network.

    Written with the run layer's own writers (config.json + the params item, as a supervised
    run saves it): the players read nothing else, and compiling a training iteration would
    cost this file ~30 s.
    """
    from alphago_jax import runs
    from alphago_jax.checkpoint import Checkpointer

    run = tmp_path_factory.mktemp("tiny_run")
    cfg = make_config("default", TINY)
    cfg.save(runs.config_path(run))
    with Checkpointer(runs.checkpoint_dir(run), async_save=False) as ckpt:
        runs.save_params(ckpt, 1, jax.jit(cfg.network().init)(jax.random.key(0)))
    return run


def test_checkpoint_specs(tiny_run):
    p = parse_player(f"ckpt:{tiny_run}@1:3")
    assert (p.step, p.simulations, p.history) == (1, 3, 2)
    assert parse_player(f"ckpt:{tiny_run}").step == 1
    with pytest.raises(PlayerSpecError, match="no checkpoint for step 7"):
        parse_player(f"ckpt:{tiny_run}@7")
    with pytest.raises(ArenaError, match="conflicts"):
        arena_rules([p], size=9)
    assert arena_rules([p, RandomPlayer()]).size == 5
    assert p.with_simulations(4).name == f"ckpt:{tiny_run}@1:4"
    assert isinstance(p, SearchPlayer) and p.network == make_config("default", TINY).network()


def test_evaluate_job_and_sims_isolation(tiny_run, tmp_path, capsys):
    from alphago_jax import evaluate, runs
    from alphago_jax.arena import players

    # Two loads in one process with different simulation counts do not affect each other.
    three = SearchPlayer.from_run(runs.load_params(tiny_run), 3)
    default = SearchPlayer.from_run(runs.load_params(tiny_run))
    assert (three.simulations, default.simulations) == (3, 2)
    assert (three.name, default.name) == (f"ckpt:{tiny_run}@1:3", f"ckpt:{tiny_run}@1")
    compiled = []
    for sims, used in ((3, 3), (None, 2), (3, 3)):
        assert evaluate.main(str(tiny_run), 2, sims, 0) == 0
        compiled.append(players._search_move._cache_size())
        out, err = capsys.readouterr()
        assert "2 games in" in err and f", {used} simulations per move" in err
        m = LINE.match(out.strip().splitlines()[-1])
        assert m and m.group(1) == f"ckpt:{tiny_run}@1" and m.group(2) == "random"
        assert sum(int(m.group(k)) for k in (3, 4, 5)) == 2
    assert runs.load_params(tiny_run).cfg.eval_simulations == 2
    # A reloaded checkpoint (new parameter arrays, same network and settings) reuses the search
    # compiled for the first load: the parameters are traced, the network a static value.
    assert compiled[2] == compiled[1]
    assert evaluate.main(str(tmp_path / "none"), 2, None, 0) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("alphago-jax evaluate: ")
    assert "not a run directory" in err[0]


@pytest.mark.skipif(not Path(GNUGO).exists(), reason="GnuGo not installed")
def test_checkpoint_vs_gnugo_5x5(tiny_run, tmp_path, capsys):
    spec_b = f"gtp:{GNUGO} --mode gtp --level 1 --chinese-rules --capture-all-dead"
    rc = cli.main(["arena", "--games", "2", "--no-progress", "--sgf-dir", str(tmp_path),
                   f"ckpt:{tiny_run}:2", spec_b])
    assert rc == 0
    out = capsys.readouterr().out.strip().splitlines()
    m = LINE.match(out[-1])
    assert m and m.group(1) == f"ckpt:{tiny_run}:2" and m.group(2) == spec_b
    assert sum(int(m.group(k)) for k in (3, 4, 5)) == 2
    # No game was forfeited: none in the game lines, zero in the summary line.
    assert not any("forfeit" in line for line in out[:-1]), out
    assert (m.group(9), m.group(10)) == ("0", "0")
    rules = Rules(size=5, komi=7.5, superko=True, suicide=False)
    for path in sorted(tmp_path.glob("*.sgf")):
        rec = read_sgf(path)
        assert rec.size == 5 and {rec.black, rec.white} == {f"ckpt:{tiny_run}:2", spec_b}
        final = replay(rec, rules)[-1]
        if rec.result.endswith("+R"):
            continue
        score = float(rules.score(final))
        assert bool(rules.is_over(final))
        assert rec.result == ("0" if score == 0 else f"{'B' if score > 0 else 'W'}+{abs(score):g}")


def test_ratings_script_smoke(fake_gtp, tmp_path):
    script = Path(__file__).resolve().parents[1] / "experiments" / "ratings.py"
    proc = subprocess.run(
        [sys.executable, str(script), "--player", fake_gtp("pass"), "--size", "5", "--games",
         "4", "--out", str(tmp_path), "--no-progress"],
        capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    for name in ("matches.csv", "ratings.csv", "ratings.md", "elo_vs_step.png"):
        assert (tmp_path / name).exists(), name
    assert "random vs gtp:" in proc.stdout and "| `random` | 0 |" in proc.stdout
