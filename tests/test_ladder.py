"""The ladder: seeded balanced openings, matches started from them (device and GTP players), and
the resumable `alphago-jax ladder` job on a tiny run (GnuGo parts skip without GnuGo)."""

from __future__ import annotations

import json
import re
import sys
import textwrap
import types
from pathlib import Path

import jax
import numpy as np
import pytest

from alphago_jax import cli
from alphago_jax.arena import (
    ArenaError,
    GTPPlayer,
    RandomPlayer,
    ScriptedPlayer,
    draw_openings,
    opening_of,
    play_match,
)
from alphago_jax.arena.ladder import (
    DEFAULT_OPENINGS,
    LadderOptions,
    _setup,
    ladder_path,
    pairings,
    read_ladder,
)
from alphago_jax.arena.openings import (
    _symmetries,
    balance_tolerance,
    canonical,
    interior_points,
    is_balanced,
    nearest_stone_balance,
)
from alphago_jax.config import make_config
from alphago_jax.rules.coords import gtp_to_action
from alphago_jax.rules.go import BLACK, Rules
from alphago_jax.sgf import read_sgf

GNUGO = "/usr/games/gnugo"
LAST = re.compile(r"^ladder: (.+) step=(\d+) elo=(-?\d+) \(95% CI (-?\d+)\.\.(-?\d+)\)"
                  r"((?:, vs \S+ \d+-\d+-\d+)+); distinct games (\d+)/(\d+)$")
# Suicide allowed: a ladder without GTP references keeps it (and with them, turns it off).
TINY = ["size=5", "blocks=1", "channels=8", "num_simulations=2", "eval_simulations=2",
        "suicide=true", "wandb=false"]


# ------------------------------------------------------------------------------ openings


def test_openings_are_balanced_distinct_seeded_and_legal():
    size = 9
    rules = Rules(size=size, komi=7.5)
    first = draw_openings(size, 8, 4, seed=0)
    assert len(first) == 8
    assert draw_openings(size, 8, 4, seed=0) == first  # same seed, same set
    assert draw_openings(size, 8, 4, seed=1) != first
    keys = {canonical(o, size) for o in first}
    assert len(keys) == 8  # no two map onto each other under the 8 symmetries
    interior = set(interior_points(size).tolist())
    for o in first:
        assert len(o) == 4 and set(o) <= interior and is_balanced(o, size)
        state = rules.init()
        for m in o:  # legal, by the checked rules
            state = rules.play(state, m)
        board = np.asarray(rules.board(state))
        assert int(state.to_play) == BLACK  # Black to move after it
        assert (board == 1).sum() == (board == -1).sum() == 2  # nothing captured
        assert abs(nearest_stone_balance(board)) <= balance_tolerance(size)


def test_canonical_sees_every_symmetry_and_balance_counts_points():
    size, o = 7, [gtp_to_action("C3", 7), gtp_to_action("E4", 7)]
    for perm in _symmetries(size):
        assert canonical([int(perm[m]) for m in o], size) == canonical(o, size)
    assert canonical([o[1], o[0]], size) != canonical(o, size)  # colours swapped
    board = np.zeros((5, 5), np.int8)
    board[2, 2] = 1
    assert nearest_stone_balance(board) == 25
    board[0, 0], board[4, 4] = -1, 1
    assert nearest_stone_balance(board) > 0
    board[4, 4] = 0
    board[0, 4] = -1  # a white stone in two corners vs black in the centre
    assert nearest_stone_balance(board) == -nearest_stone_balance(-board)


def test_bad_opening_requests():
    with pytest.raises(ValueError, match="even"):
        draw_openings(9, 4, 3, 0)
    with pytest.raises(ValueError, match="off the first line"):
        draw_openings(3, 4, 2, 0)


# ------------------------------------------------------------------------------ the match


def test_each_opening_once_with_each_colour_and_only(tmp_path):
    rules = Rules(size=5, komi=0.5, suicide=False)
    openings = draw_openings(5, 2, 2, seed=3)
    passer = ScriptedPlayer([[]], name="A")  # passes at once: the game is the opening
    res = play_match(rules, passer, ScriptedPlayer([[]], name="B"), 4, jax.random.key(0),
                     sgf_dir=tmp_path, openings=openings)
    seen = {}
    for g in res.games:
        k = opening_of(g.game, len(openings))
        assert g.moves[:2] == openings[k] and g.opening == 2
        assert g.moves[2:] == [rules.pass_action] * 2 and g.reason == "score"
        seen.setdefault(k, []).append(g.a_black)
    assert {k: sorted(v) for k, v in seen.items()} == {0: [False, True], 1: [False, True]}
    rec = read_sgf(tmp_path / "game-0003.sgf")
    assert rec.moves[:2] == openings[1] and "opening" in rec.comment
    # Only some games: the same game numbers, colours and openings.
    part = play_match(rules, passer, ScriptedPlayer([[]], name="B"), 4, jax.random.key(0),
                      openings=openings, only=[3, 1])
    assert [g.game for g in part.games] == [1, 3]
    assert [g.moves for g in part.games] == [res.games[1].moves, res.games[3].moves]
    with pytest.raises(ArenaError, match="game numbers"):
        play_match(rules, passer, passer, 4, jax.random.key(0), only=[4])
    with pytest.raises(ArenaError, match="opening 0"):
        play_match(rules, passer, passer, 2, jax.random.key(0), openings=[[6, 6]])


def test_device_players_start_from_the_openings():
    rules = Rules(size=5, komi=7.5, suicide=False)
    openings = draw_openings(5, 3, 4, seed=0)
    res = play_match(rules, RandomPlayer("r1"), RandomPlayer("r2"), 6, jax.random.key(1),
                     openings=openings)
    for g in res.games:
        assert g.moves[:4] == openings[opening_of(g.game, 3)] and len(g.moves) > 4


LOGGING_GTP = textwrap.dedent("""\
    import sys
    log = open(sys.argv[1], "a")
    for line in sys.stdin:
        log.write(line); log.flush()
        words = line.split()
        if words and words[0] == "quit":
            print("=\\n", flush=True); break
        print("= pass\\n" if words and words[0] == "genmove" else "=\\n", flush=True)
""")


def test_gtp_players_are_told_the_opening(tmp_path):
    script, log = tmp_path / "gtp.py", tmp_path / "gtp.log"
    script.write_text(LOGGING_GTP)
    engine = GTPPlayer("logger", f"{sys.executable} {script} {log}", timeout=10)
    rules = Rules(size=5, komi=7.5, suicide=False)
    opening = [gtp_to_action(v, 5) for v in ("C3", "D2")]
    res = play_match(rules, RandomPlayer(), engine, 1, jax.random.key(0), openings=[opening])
    assert res.games[0].moves[:2] == opening
    sent = log.read_text().splitlines()
    start = sent.index("clear_board")
    assert sent[start + 2: start + 4] == ["play b C3", "play w D2"]  # after komi


@pytest.mark.skipif(not Path(GNUGO).exists(), reason="GnuGo not installed")
def test_gnugo_plays_on_from_the_opening():
    from alphago_jax.arena.ladder import reference_player

    rules = Rules(size=5, komi=7.5, suicide=False)
    openings = draw_openings(5, 1, 2, seed=0)
    gnugo = reference_player("gnugo:1", True, GNUGO, 30.0)
    res = play_match(rules, gnugo, RandomPlayer(), 2, jax.random.key(0), openings=openings)
    for g in res.games:
        assert g.moves[:2] == openings[0] and g.reason != "forfeit", g.detail


@pytest.mark.skipif(not Path(GNUGO).exists(), reason="GnuGo not installed")
def test_seeded_gnugo_replays_the_same_games():
    from alphago_jax.arena.ladder import reference_player

    rules = Rules(size=7, komi=7.5, suicide=False)
    openings = draw_openings(7, 2, 4, seed=0)

    def games(seed):
        gnugo = reference_player("gnugo:1", True, GNUGO, 30.0, seed)
        assert f"--seed {seed} " in gnugo.command
        res = play_match(rules, gnugo, RandomPlayer(), 4, jax.random.key(0), openings=openings)
        return [g.moves for g in res.games]

    first = games(3)
    assert games(3) == first  # unseeded GnuGo replayed 1 of these 4 games differently


# ------------------------------------------------------------------------------ the job


@pytest.fixture()
def run(tmp_path):
    """A 5x5 run with checkpoints 1 and 2 (fresh networks) and metrics for step 1 only."""
    from alphago_jax import runs
    from alphago_jax.checkpoint import Checkpointer

    run = tmp_path / "run"
    cfg = make_config("default", TINY)
    run.mkdir()
    cfg.save(runs.config_path(run))
    with Checkpointer(runs.checkpoint_dir(run), async_save=False) as ckpt:
        for step in (1, 2):
            params = jax.jit(cfg.network().init)(jax.random.key(step))
            runs.save_params(ckpt, step, params)
    (run / "metrics.jsonl").write_text(json.dumps(
        {"step": 1, "time": 1000.0, "iteration_s": 4.0, "train_flops": 1e9}) + "\n")
    return run


def _ladder(capsys, *args) -> tuple[int, list[str], str]:
    rc = cli.main(["ladder", *map(str, args), "--no-progress"])
    out, err = capsys.readouterr()
    return rc, out.strip().splitlines(), err


def test_ladder_completes_resumes_and_survives_a_torn_line(run, capsys):
    rc, out, err = _ladder(capsys, run, "--references", "random", "--anchor", "random",
                           "--openings", "2")
    assert rc == 0, err
    m = LAST.match(out[-1])
    assert m and m.group(1) == str(run) and m.group(2) == "2" and m.group(6).startswith(
        ", vs random ")
    setup, games = read_ladder(ladder_path(run))
    assert setup["sims"] == 2 and len(setup["openings"]) == 2 and len(games) == 8
    assert int(m.group(8)) == 8 and int(m.group(7)) == len({tuple(g["moves"]) for g in games})
    assert (run / "ladder" / "elo.png").exists()
    assert any(line.startswith("note: device_s missing") and "[2]" in line for line in out)
    for g in games:  # every opening once with each colour in every pairing
        assert g["moves"][:4] == setup["openings"][g["opening"]]
    for pair in {(g["a"], g["b"]) for g in games}:
        mine = [(g["opening"], g["a_black"]) for g in games if (g["a"], g["b"]) == pair]
        assert sorted(mine) == [(0, False), (0, True), (1, False), (1, True)]

    # A rerun plays nothing and prints the same last line.
    text = ladder_path(run).read_text()
    rc, out2, err = _ladder(capsys, run, "--references", "random", "--anchor", "random")
    assert rc == 0 and "to play" not in err and out2[-1] == out[-1]
    assert ladder_path(run).read_text() == text

    # A kill in mid-write: the torn line is dropped and that one game played again.
    lines = text.splitlines()
    ladder_path(run).write_text("\n".join(lines[:-1]) + "\n" + lines[-1][:25])
    rc, out3, err = _ladder(capsys, run, "--references", "random", "--anchor", "random")
    assert rc == 0 and "torn last line" in err and "1 game(s) to play" in err
    setup, games = read_ladder(ladder_path(run))
    assert len(games) == 8 and LAST.match(out3[-1])


def test_ladder_bad_input(run, tmp_path, capsys):
    from alphago_jax import runs

    empty = tmp_path / "empty"
    empty.mkdir()
    make_config("default", TINY).save(runs.config_path(empty))
    cases = [
        ([tmp_path / "nowhere"], "not a run directory"),
        ([empty], "no checkpoint"),
        ([run, "--references", "random,foo", "--anchor", "random"], "unknown reference 'foo'"),
        ([run, "--references", "random,gnugo:1", "--gnugo", tmp_path / "no-gnugo"],
         "GnuGo not found"),
        ([run, "--references", "random"], "--anchor gnugo:1 is not among"),
        ([run, "--references", "random", "--anchor", "random", "--steps", "7"],
         "no checkpoint for step(s) [7]"),
    ]
    for args, why in cases:
        rc, out, err = _ladder(capsys, *args)
        lines = err.strip().splitlines()
        assert rc == 2 and len(lines) == 1 and why in lines[0], (args, err)
    # A saved ladder's setup holds: other opening options are refused.
    assert _ladder(capsys, run, "--references", "random", "--anchor", "random", "--latest",
                   "--openings", "1")[0] == 0
    rc, _, err = _ladder(capsys, run, "--references", "random", "--anchor", "random",
                         "--openings", "3")
    assert rc == 2 and "--openings 3 (saved 1)" in err
    # Set up with suicide allowed (no GTP reference then): a GTP reference is refused.
    rc, _, err = _ladder(capsys, run, "--references", f"random,gtp:{sys.executable} x.py",
                         "--anchor", "random")
    assert rc == 2 and "suicide allowed" in err and len(err.strip().splitlines()) == 1


def test_pairings_link_the_references():
    assert pairings(["c1"], ["random", "gnugo:1", "gnugo:5"]) == [
        ("c1", "random"), ("c1", "gnugo:1"), ("c1", "gnugo:5"),
        ("random", "gnugo:1"), ("gnugo:1", "gnugo:5")]


@pytest.mark.skipif(not Path(GNUGO).exists(), reason="GnuGo not installed")
def test_ladder_against_gnugo(run, capsys):
    rc, out, err = _ladder(capsys, run, "--references", "random,gnugo:1", "--openings", "2",
                           "--latest", "--gnugo", GNUGO)
    assert rc == 0, err
    m = LAST.match(out[-1])
    assert m and m.group(2) == "2" and ", vs gnugo:1 " in m.group(6)
    setup, games = read_ladder(ladder_path(run))
    assert setup["suicide"] is False  # GnuGo refuses suicide
    assert len(games) == 12 and not any(g["reason"] == "forfeit" for g in games)
    assert any(line.startswith("gnugo:1 ") and "+- 0" in line for line in out)  # the anchor


def test_a_new_ladder_draws_40_games_per_pairing_by_default(tmp_path):
    # The outer-loop goal counts at least 40 distinct games: 20 openings, each with both colours.
    latest = types.SimpleNamespace(name="ckpt@1", config=make_config("default"), simulations=2,
                                   history=1)
    setup = _setup(tmp_path, None, LadderOptions(), lambda: latest, [RandomPlayer()])
    assert DEFAULT_OPENINGS == 20 and len(setup.openings) == 20
    assert setup.rules.size == 5 and setup.sims == 2
