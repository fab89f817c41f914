"""experiments/margins.py: a ladder's games split by colour, routs and close games."""

import json

from experiment_scripts import load_experiment


def _margins():
    return load_experiment("margins")


def _game(a, b, a_black, a_points, score):
    return {"kind": "game", "a": a, "b": b, "game": 0, "opening": 0, "opening_moves": 4,
            "a_black": a_black, "moves": [], "a_points": a_points, "reason": "score",
            "score": score, "detail": ""}


def _ladder(tmp_path, games):
    (tmp_path / "ladder").mkdir()
    setup = {"kind": "setup", "size": 7, "komi": 7.5}
    lines = [json.dumps(r) for r in [setup, *games]]
    (tmp_path / "ladder" / "ladder.jsonl").write_text("\n".join(lines) + "\n")


def test_routs_and_close_games_by_colour(tmp_path, capsys):
    # Scores are Black's margin: as White the checkpoint wins with a negative one.
    _ladder(tmp_path, [
        _game("ckpt@10", "gnugo:1", True, 1.0, 1.5),     # close win as Black
        _game("ckpt@10", "gnugo:1", True, 0.0, -56.5),   # rout lost as Black
        _game("ckpt@10", "gnugo:1", False, 1.0, -41.5),  # rout won as White
        _game("ckpt@10", "gnugo:1", False, 0.0, 2.5),    # close loss as White
        _game("ckpt@10", "gnugo:1", False, 0.0, 24.5),   # half the board: a rout
        _game("gnugo:1", "gnugo:5", True, 1.0, 60.0),    # references' games are left out
    ])
    m = _margins()
    assert m.main([str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "| ckpt@10 | gnugo:1 | 1-1-0 | 1-2-0 | 1 / 2 | 1-1-0 |" in out
    assert "gnugo:5" not in out


def test_a_run_without_a_ladder_is_one_clear_error(tmp_path, capsys):
    assert _margins().main([str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "has no ladder" in err and "Traceback" not in err
