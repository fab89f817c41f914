"""Tests for the supervised warm start: SGF dataset pipeline, SL training, the run directory.

The sample set tests/data/sgf/ holds short 7x7 GnuGo self-play games made by
experiments/make_gnugo_dataset.py.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from experiment_scripts import load_experiment

from alphago_jax.checkpoint import Checkpointer
from alphago_jax.cli import main as cli_main
from alphago_jax.config import make_config
from alphago_jax.learner import LossWeights, loss_fn
from alphago_jax.logging import read_metrics
from alphago_jax.rules.go import BLACK, WHITE
from alphago_jax.runs import load_params
from alphago_jax.sgf import MAX_MOVES, GameRecord, SGFError, read_sgf, save_sgf, write_sgf
from alphago_jax.supervised import (
    DatasetError,
    SLSettings,
    SupervisedLearner,
    batch_at,
    build_dataset,
    find_sgf_files,
    load_games,
    parse_result,
    split_dataset,
    split_games,
    to_buffer,
)
from alphago_jax.supervised import main as sl_main

DATA = Path(__file__).parent / "data" / "sgf"
CFG = make_config("7x7")  # the 7x7 records of tests/data/sgf
RULES = CFG.rules()  # 7x7, komi 7.5, superko, no suicide, history 2


def _kept_records() -> list[GameRecord]:
    records = [read_sgf(f) for f in find_sgf_files(DATA)]
    return [r for r in records if r.size == 7 and parse_result(r.result) is not None and r.moves]


@pytest.fixture(scope="module")
def loaded():
    return load_games(DATA, RULES, log=None)


# ---------------------------------------------------------------------- dataset
def test_sample_set_is_small_and_varied():
    files = find_sgf_files(DATA)
    assert 20 <= len(files) <= 40
    assert sum(f.stat().st_size for f in files) < 100_000
    records = [read_sgf(f) for f in files]
    assert len({tuple(r.moves) for r in records}) == len(records)  # no two games alike
    winners = {parse_result(r.result) for r in records}
    assert {1, -1} <= winners  # both colours win some games


def test_parse_result():
    assert parse_result("B+3.5") == 1 and parse_result("W+0.5") == -1
    assert parse_result("B+R") == 1 and parse_result("w+resign") == -1
    assert parse_result("B+") == 1
    assert parse_result("0") == 0 and parse_result("Draw") == 0 and parse_result("jigo") == 0
    for unusable in ("", "?", "Void", "B+T", "W+Time", "B+F", "nonsense"):
        assert parse_result(unusable) is None, unusable


def test_positions_match_the_records(loaded):
    games, summary = loaded
    kept = _kept_records()
    assert summary.files == len(find_sgf_files(DATA))
    assert summary.games == len(games) == len(kept) > 0
    assert summary.positions == sum(len(r.moves) for r in kept)
    p = RULES.num_points
    for g, r in zip(games, kept, strict=True):
        n = len(r.moves)
        assert g.boards.shape == (n, RULES.history, p) and g.legal.shape == (n, p)
        np.testing.assert_array_equal(g.actions, r.moves)  # policy target = the played move
        assert g.result == parse_result(r.result)
        # Colours alternate from Black, and position i + 1 shows move i's stone (or a pass).
        np.testing.assert_array_equal(g.to_play, [BLACK if i % 2 == 0 else WHITE
                                                  for i in range(n)])
        assert not g.boards[0].any()  # the empty board
        for i, a in enumerate(r.moves[:-1]):
            if a < p:
                assert g.legal[i, a] and g.boards[i, 0, a] == 0
                assert g.boards[i + 1, 0, a] == g.to_play[i]
                np.testing.assert_array_equal(g.boards[i + 1, 1], g.boards[i, 0])  # history


def test_buffer_targets_and_value_sign(loaded):
    games, _ = loaded
    buf = to_buffer(games, RULES, ownership=True)
    n = sum(g.num_positions for g in games)
    batch = jax.jit(batch_at, static_argnums=2)(buf, jnp.arange(n), RULES.size)
    actions = np.concatenate([g.actions for g in games])
    to_play = np.concatenate([g.to_play for g in games])
    result = np.concatenate([np.full(g.num_positions, g.result) for g in games])
    policy = np.asarray(batch.policy)
    np.testing.assert_array_equal(policy.argmax(-1), actions)
    np.testing.assert_array_equal(policy.sum(-1), 1.0)
    value = np.asarray(batch.value)
    np.testing.assert_array_equal(value, result * to_play)  # the side to move's view
    for colour in (BLACK, WHITE):  # both colours see wins and losses
        assert {1.0, -1.0} <= set(value[to_play == colour])
    # GnuGo captures dead stones, so final area maps are valid ownership targets.
    assert any(g.ownership_valid for g in games)
    assert float(batch.own_weight.max()) == 1.0


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_skips_other_sizes_bad_results_and_reports_malformed(tmp_path):
    files = find_sgf_files(DATA)[:4]
    for f in files:
        shutil.copy(f, tmp_path / f.name)
    (tmp_path / "sub").mkdir()  # found recursively
    save_sgf(GameRecord(size=5, komi=0.5, moves=[12, 6], result="B+R"), tmp_path / "sub" / "a.sgf")
    save_sgf(GameRecord(size=9, komi=7.5, moves=[40], result="W+2.5"), tmp_path / "b.sgf")
    save_sgf(GameRecord(size=7, komi=7.5, moves=[24, 10], result="B+T"), tmp_path / "t.sgf")
    save_sgf(GameRecord(size=7, komi=7.5, moves=[24, 24], result="W+R"), tmp_path / "ill.sgf")
    save_sgf(GameRecord(size=7, komi=7.5, moves=[24, 10, 49], result="W+R"), tmp_path / "wr.sgf")
    _write(tmp_path / "broken.sgf", "(;GM[1]FF[4]SZ[7];B[dd];W[cc")
    messages = []
    games, summary = load_games(tmp_path, RULES, log=messages.append)
    assert summary.files == len(files) + 6
    assert summary.games == len(files) + 1 == len(games)
    assert summary.skipped == {"size 5x5": 1, "size 9x9": 1, "no usable result": 1,
                               "malformed": 1, "illegal move": 1}
    bad = dict((Path(f).name, m) for f, m in summary.errors)
    assert set(bad) == {"broken.sgf", "ill.sgf"}
    assert "move 2" in bad["ill.sgf"] and "ill.sgf" in bad["ill.sgf"]
    assert any("broken.sgf" in m for m in messages) and any("ill.sgf" in m for m in messages)
    assert any("broken.sgf" in line for line in summary.lines())
    wr = next(g for g in games if g.source.endswith("wr.sgf"))  # a resignation: White won
    assert wr.result == -1 and not wr.ownership_valid
    with pytest.raises(SGFError, match="broken.sgf"):
        build_dataset(tmp_path, RULES, strict=True, log=None)


def test_every_game_of_a_collection_is_used_or_counted(tmp_path):
    """A file of several games: each is kept or skipped with its reason (the games after the
    first used to be neither read nor counted); a record too long to replay is skipped."""
    games = [GameRecord(size=7, komi=7.5, moves=[24, 10], result="B+R"),
             GameRecord(size=9, komi=7.5, moves=[40], result="W+2.5"),
             GameRecord(size=7, komi=7.5, moves=[24, 24], result="W+R"),
             GameRecord(size=7, komi=7.5, moves=[0, 1] * (MAX_MOVES // 2 + 1), result="B+R"),
             GameRecord(size=7, komi=6.5, moves=[10, 24, 11], result="W+R")]
    text = "".join(write_sgf(g) for g in games) + "(;GM[1]SZ[25];B[aa])\n"
    path = _write(tmp_path / "many.sgf", text)
    messages = []
    kept, summary = load_games(tmp_path, RULES, log=messages.append)
    assert (summary.files, summary.records, summary.games) == (1, 6, 2)
    assert [g.source for g in kept] == [f"{path} game 1", f"{path} game 5"]
    assert [g.actions.tolist() for g in kept] == [[24, 10], [10, 24, 11]]
    assert summary.skipped == {"size 9x9": 1, "illegal move": 1, "too long": 1, "malformed": 1}
    bad = dict(summary.errors)
    assert set(bad) == {f"{path} game {i}" for i in (3, 4, 6)}
    assert "move 2" in bad[f"{path} game 3"]
    assert f"record too long: {MAX_MOVES + 2} moves" in bad[f"{path} game 4"]
    assert "unsupported board size" in bad[f"{path} game 6"]
    assert len(messages) == 3 and "(6 games), 2 games kept" in summary.lines()[0]
    with pytest.raises(SGFError, match="game 3: move 2"):
        load_games(tmp_path, RULES, strict=True, log=None)


def test_bad_input_gets_a_clear_error(tmp_path):
    with pytest.raises(DatasetError, match="does not exist"):
        build_dataset(tmp_path / "nope", RULES, log=None)
    with pytest.raises(DatasetError, match="no .sgf files"):
        build_dataset(tmp_path, RULES, log=None)
    save_sgf(GameRecord(size=9, komi=7.5, moves=[40], result="B+1"), tmp_path / "nine.sgf")
    with pytest.raises(DatasetError, match=r"no usable 7x7 games.*size 9x9: 1"):
        build_dataset(tmp_path, RULES, log=None)


def test_holdout_split_is_by_game_and_seeded(loaded):
    train, held = split_games(25, 0.2, seed=3)
    assert len(held) == 5 and len(train) == 20
    assert sorted(np.concatenate([train, held]).tolist()) == list(range(25))
    again = split_games(25, 0.2, seed=3)
    np.testing.assert_array_equal(held, again[1])
    assert any(not np.array_equal(held, split_games(25, 0.2, seed=s)[1]) for s in range(4, 8))
    assert len(split_games(5, 0.01, seed=0)[1]) == 1  # at least one game held out
    with pytest.raises(ValueError, match="holdout"):
        split_games(5, 1.0, seed=0)

    games, summary = loaded
    data = split_dataset(games, summary, RULES, holdout=0.25, seed=1, log=None)
    s = data.summary
    assert not set(data.train_sources) & set(data.holdout_sources)
    assert s.train_games + s.holdout_games == s.games and s.holdout_games > 0
    assert s.train_positions + s.holdout_positions == s.positions
    assert int(data.holdout.game_id.shape[0]) == s.holdout_positions
    again = split_dataset(games, summary, RULES, holdout=0.25, seed=1, log=None)
    assert again.holdout_sources == data.holdout_sources
    other = split_dataset(games, summary, RULES, holdout=0.25, seed=2, log=None)
    assert other.holdout_sources != data.holdout_sources


# ---------------------------------------------------------------------- training and the run dir
TINY = ["size=7", "blocks=1", "channels=8", "train_batch=64", "--learning-rate=3e-3",
        "lr_schedule=constant", "wandb=false", "selfplay_batch=4", "buffer_capacity=64",
        "min_buffer=0"]


def test_sl_cli_run_trains_and_loads(tmp_path, loaded):
    # One test (not a shared fixture), so that pytest-xdist never trains it twice.
    run = tmp_path / "run"
    code = cli_main(["supervised", "--data", str(DATA), "--run-dir", str(run), "--steps", "24",
                     "--eval-every", "12", "--chunk", "1", "--holdout", "0.2", *TINY])
    assert code == 0
    assert (run / "supervised.json").is_file()

    # The loss goes down; accuracies and held-out metrics are logged.
    rows = {r["step"]: r for r in read_metrics(run)}
    assert sorted(rows) == [0, 12, 24]
    first, last = rows[0], rows[24]
    assert last["train_eval_policy_loss"] < first["train_eval_policy_loss"]
    assert last["train_eval_value_loss"] < first["train_eval_value_loss"]
    for key in ("holdout_top1", "holdout_value_sign_acc", "holdout_policy_loss",
                "holdout_value_loss", "policy_loss", "value_loss"):
        assert key in last
    assert 0.0 <= last["holdout_top1"] <= 1.0

    # The run directory loads like an RL run's network; it saves the parameters alone (no
    # empty replay buffer, games or optimizer state).
    loaded_run = load_params(run)
    params, cfg = loaded_run.params, loaded_run.cfg
    assert loaded_run.step == 0
    assert cfg.blocks == 1 and cfg.channels == 8
    with Checkpointer(run / "checkpoints", writer=False) as ckpt:
        assert ckpt.items(0) == ["params"]
        assert ckpt.metadata(0)["kind"] == "supervised"
    # The checkpoint holds the trained network: it reproduces the last logged evaluation.
    data = split_dataset(*loaded, RULES, holdout=0.2, seed=cfg.seed, log=None)
    learner = SupervisedLearner(cfg, steps=24)
    ev = learner.evaluate(params, data.holdout)
    assert ev["top1"] == pytest.approx(last["holdout_top1"])
    assert ev["policy_loss"] == pytest.approx(last["holdout_policy_loss"], rel=1e-5)
    # Its per-position losses are learner.loss_fn's on a full batch.
    idx = jnp.arange(64)
    batch = batch_at(data.train, idx, 7)
    _, m = jax.jit(loss_fn, static_argnums=(1, 3))(params, loaded_run.network, batch,
                                                   LossWeights(1.0, 0.0))
    ev64 = learner.evaluate(params, data.train, limit=64)
    assert ev64["policy_loss"] == pytest.approx(float(m["policy_loss"]), rel=1e-5)
    assert ev64["value_loss"] == pytest.approx(float(m["value_loss"]), rel=1e-5)
    # A supervised run does not resume: a second one into the same directory is refused.
    assert cli_main(["supervised", "--data", str(DATA), "--run-dir", str(run), *TINY]) == 2


def test_cli_rejects_bad_input(tmp_path, capsys):
    assert cli_main(["supervised", "--data", str(tmp_path / "none"), "--run-dir",
                     str(tmp_path / "r"), *TINY]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert cli_main(["supervised", "--data", str(DATA), "--run-dir", str(tmp_path / "r"),
                     "blockz=2"]) == 2
    assert "blockz" in capsys.readouterr().err


def test_main_refuses_a_run_dir_that_is_a_file_and_nonsense_settings(tmp_path, capsys):
    (tmp_path / "file").write_text("x")
    assert sl_main(str(DATA), str(tmp_path / "file"), overrides=TINY) == 2
    assert "is a file, not a directory" in capsys.readouterr().err
    (tmp_path / "r" / "checkpoints").mkdir(parents=True)
    (tmp_path / "r" / "checkpoints").rmdir()
    (tmp_path / "r" / "checkpoints").write_text("x")
    assert sl_main(str(DATA), str(tmp_path / "r"), overrides=TINY) == 2
    assert "already holds checkpoints" in capsys.readouterr().err
    for settings, words in ((SLSettings(holdout=float("nan")), "--holdout must be finite and "
                             "in [0, 1), got nan"), (SLSettings(chunk=0), "--chunk must be >= 1")):
        assert sl_main(str(DATA), str(tmp_path / "s"), overrides=TINY, settings=settings) == 2
        assert words in capsys.readouterr().err
    assert not (tmp_path / "s").exists()


# ---------------------------------------------------------------------- the GnuGo dataset script
def _script():
    return load_experiment("make_gnugo_dataset")


def test_gnugo_game_specs_are_seeded_per_game():
    script = _script()
    a = script.game_specs(6, [1, 5, 10], seed=3)
    assert a == script.game_specs(6, [1, 5, 10], seed=3)
    assert a[:4] == script.game_specs(4, [1, 5, 10], seed=3)  # game i ignores --games
    assert a != script.game_specs(6, [1, 5, 10], seed=4)
    assert {s.black_level for s in a} | {s.white_level for s in a} <= {1, 5, 10}


@pytest.mark.skipif(shutil.which("gnugo") is None and not Path("/usr/games/gnugo").exists(),
                    reason="GnuGo is not installed")
def test_gnugo_script_writes_scored_games(tmp_path):
    script = _script()
    assert script.main(["--out", str(tmp_path), "--games", "1", "--size", "5", "--komi", "0.5",
                        "--levels", "1", "--random-moves", "2", "--workers", "1"]) == 0
    record = read_sgf(tmp_path / "game_00000.sgf")
    assert record.size == 5 and record.komi == 0.5 and "level 1" in record.black
    assert record.moves[-2:] == [25, 25] or len(record.moves) == 50  # two passes or the cap
    rules = make_config("default", ["size=5", "komi=0.5"]).rules()
    games, summary = load_games(tmp_path, rules, log=None)
    assert summary.games == 1 and games[0].ownership_valid  # RE agrees with our count
