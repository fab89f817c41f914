"""Smoke tests of `alphago-jax bench selfplay` at tiny settings (they check it runs, not speed)."""

import argparse
import importlib.util

import pytest

from alphago_jax.bench import selfplay as bench

HAS_PGX = importlib.util.find_spec("pgx") is not None


def _args(no_pgx: bool) -> argparse.Namespace:
    return argparse.Namespace(size=5, batch=4, sims=2, blocks=1, channels=8, steps=2, repeats=1,
                              no_pgx=no_pgx)


def _rate(line: str) -> float:
    assert line.startswith("alphago-jax selfplay: ") and line.endswith(" moves/s"), line
    return float(line.split()[-2])


def test_bench_selfplay_ours_only():
    lines = []
    result = bench.main(_args(no_pgx=True), print_fn=lines.append)
    assert _rate(lines[-1]) > 0
    assert result["pgx_moves_per_s"] is None
    assert not any(line.startswith("pgx-style") for line in lines)


@pytest.mark.skipif(not HAS_PGX, reason="pgx is not installed")
def test_bench_selfplay_with_pgx():
    lines = []
    result = bench.main(_args(no_pgx=False), print_fn=lines.append)
    assert _rate(lines[-1]) > 0
    assert result["pgx_moves_per_s"] > 0
    ratio_line = lines[-2]
    assert ratio_line.startswith("pgx-style loop: ") and "ratio" in ratio_line
    assert result["ratio"] == pytest.approx(result["ours_moves_per_s"] / result["pgx_moves_per_s"])


def test_cli_config_error_is_one_message(monkeypatch, capsys):
    # Settings valid one by one but refused by the config together: a message, not a traceback.
    from alphago_jax import cli
    from alphago_jax.config import ConfigError

    def refuse(*args, **kwargs):
        raise ConfigError("selfplay_batch must be >= 1, got 0")

    monkeypatch.setattr(bench, "bench_config", refuse)
    assert cli.main(["bench", "selfplay", "--no-pgx"]) == 2
    out, err = capsys.readouterr()
    assert err.strip() == "alphago-jax bench selfplay: selfplay_batch must be >= 1, got 0"
    assert out == ""
