"""Arena: referee on scripted and fake GTP players, Elo fit, the CLI, a checkpoint vs GnuGo."""

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
    GTPClient,
    PlayerError,
    PlayerSpecError,
    RandomPlayer,
    ScriptedPlayer,
    arena_rules,
    expected_score,
    fit_elo,
    format_line,
    parse_player,
    run_match,
)
from alphago_jax.evaluate import wilson_interval
from alphago_jax.rules.go import BLACK, WHITE, Rules
from alphago_jax.sgf import read_sgf, replay

GNUGO = "/usr/games/gnugo"
LINE = re.compile(r"^(.+) vs (.+): (\d+)-(\d+)-(\d+), win rate (\d\.\d{3}) "
                  r"\(95% CI (\d\.\d{3})-(\d\.\d{3})\)$")


def _match(rules, a, b, games=2, **kw):
    return run_match(rules, a, b, games, jax.random.key(0), progress=False, **kw)


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
    assert (res.wins, res.losses, res.draws) == (1, 1, 0)
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
    assert (res.wins, res.losses, res.draws) == (0, 0, 1) and res.win_rate == 0.5
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
    assert "forfeit" in read_sgf(tmp_path / "game-0001.sgf").comment


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
    line = format_line("A", "B", 3, 1, 2)
    lo, hi = wilson_interval(4 / 6, 6)
    assert line == f"A vs B: 3-1-2, win rate 0.667 (95% CI {lo:.3f}-{hi:.3f})"
    m = LINE.match(format_line("ckpt:runs/x@5:8", "gtp:gnugo --level 1", 0, 40, 0))
    assert m and m.group(1) == "ckpt:runs/x@5:8" and m.group(6) == "0.000"


def test_cli_prints_the_line_last(fake_gtp, capsys, tmp_path):
    rc = cli.main(["arena", "--size", "5", "--games", "3", "--no-progress", "--sgf-dir",
                   str(tmp_path), "--gtp-timeout", "5", "random", fake_gtp("pass")])
    assert rc == 0
    last = capsys.readouterr().out.strip().splitlines()[-1]
    m = LINE.match(last)
    assert m and m.group(1) == "random" and m.group(2) == fake_gtp("pass")
    # Random as Black fills the board while the engine passes; as White it still wins on area.
    assert (m.group(3), m.group(4), m.group(5)) == ("3", "0", "0")
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


# ------------------------------------------------------------------------------ checkpoints


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    """A 5x5 training run with one checkpoint (one tiny iteration of `train.main`)."""
    from alphago_jax import train

    run = tmp_path_factory.mktemp("tiny_run")
    rc = train.main(str(run), "default", [
        "size=5", "blocks=1", "channels=8", "iterations=1", "selfplay_batch=4",
        "selfplay_steps=2", "num_simulations=2", "min_buffer=0", "train_batch=8", "sgd_steps=1",
        "eval_every=0", "wandb=false", "buffer_capacity=64", "eval_simulations=2",
    ])
    assert rc == 0
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
    assert not any("forfeit" in line for line in out), out
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
