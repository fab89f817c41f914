"""Bad input gets one clear message, a non-zero exit and no traceback.

The rule: bad input of any kind -- a command-line number, a file in a run directory, a GTP
engine's output -- gets one message naming what was wrong and what to do, a non-zero exit, and
no traceback. Each probe below is a command line that once hung, passed silently or ended in a
traceback. Number probes fail while the command line is parsed, before anything loads or
compiles, so the table runs in well under a second a probe.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from alphago_jax import cli

R = ["random", "random"]
A, EV, GTP = ["arena", *R], ["evaluate", "--run-dir", "{dir}"], ["gtp", "--checkpoint", "{dir}"]
BR, BS = ["bench", "rules", "--no-pgx"], ["bench", "selfplay", "--no-pgx"]
SL = ["supervised", "--data", "{dir}"]
LA = ["ladder", "{dir}"]

# (argv, exit status, what stderr must say). "{dir}" is an empty directory, "{file}" a file.
PROBES = [
    # arena
    ([*A, "--games", "0"], 2, "argument --games: must be an integer >= 1, got 0"),
    ([*A, "--games", "-3"], 2, "argument --games: must be an integer >= 1, got -3"),
    ([*A, "--games", "many"], 2, "argument --games: must be an integer >= 1, got many"),
    ([*A, "--games", str(2**40)], 2, "argument --games: must be an integer in 1..2147483647"),
    ([*A, "--size", "25"], 2, "argument --size: must be an integer in 2..19, got 25"),
    ([*A, "--size", "1"], 2, "argument --size: must be an integer in 2..19, got 1"),
    ([*A, "--komi", "nan"], 2, "argument --komi: must be a finite number, got nan"),
    ([*A, "--komi=-inf"], 2, "argument --komi: must be a finite number, got -inf"),
    ([*A, "--max-moves", "0"], 2, "argument --max-moves: must be an integer in 1..30000, got 0"),
    ([*A, "--max-moves", "100000"], 2, "argument --max-moves: must be an integer in 1..30000"),
    ([*A, "--parallel", "0"], 2, "argument --parallel: must be an integer >= 1, got 0"),
    ([*A, "--gtp-timeout", "0"], 2,
     "argument --gtp-timeout: must be a finite number of seconds > 0, got 0"),
    ([*A, "--gtp-timeout", "-1"], 2, "argument --gtp-timeout: must be a finite number of seconds"),
    ([*A, "--gtp-timeout", "nan"], 2, "argument --gtp-timeout: must be a finite number of seconds"),
    ([*A, "--seed", "-1"], 2, "argument --seed: must be an integer in 0..4294967295, got -1"),
    ([*A, "--seed", str(10**20)], 2, "argument --seed: must be an integer in 0..4294967295"),
    # evaluate
    ([*EV, "--sims", "0"], 2, "argument --sims: must be an integer >= 1, got 0"),
    ([*EV, "--games", "0"], 2, "argument --games: must be an integer >= 1, got 0"),
    ([*EV, "--seed", str(2**40)], 2, "argument --seed: must be an integer in 0..4294967295"),
    # gtp (checked before the engine is built)
    ([*GTP, "--sims", "0"], 2, "argument --sims: must be an integer >= 1, got 0"),
    ([*GTP, "--komi", "nan"], 2, "argument --komi: must be a finite number, got nan"),
    ([*GTP, "--resign-threshold", "2"], 2,
     "argument --resign-threshold: must be a finite number in [-1, 1], got 2"),
    ([*GTP, "--resign-threshold", "-1.5"], 2, "argument --resign-threshold: must be a finite"),
    ([*GTP, "--resign-threshold", "nan"], 2, "argument --resign-threshold: must be a finite"),
    ([*GTP, "--seed", "-5"], 2, "argument --seed: must be an integer in 0..4294967295, got -5"),
    # bench rules
    ([*BR, "--batch", "0"], 2, "argument --batch: must be an integer >= 1, got 0"),
    ([*BR, "--batch", "-4"], 2, "argument --batch: must be an integer >= 1, got -4"),
    ([*BR, "--length", "0"], 2, "argument --length: must be an integer >= 1, got 0"),
    ([*BR, "--repeats", "0"], 2, "argument --repeats: must be an integer >= 1, got 0"),
    ([*BR, "--sizes", "5,25"], 2, "argument --sizes: board sizes must be in 2..19, got [25]"),
    # bench selfplay
    ([*BS, "--size", "25"], 2, "argument --size: must be an integer in 2..19, got 25"),
    ([*BS, "--batch", "0"], 2, "argument --batch: must be an integer >= 1, got 0"),
    ([*BS, "--sims", "0"], 2, "argument --sims: must be an integer >= 1, got 0"),
    ([*BS, "--blocks", "0"], 2, "argument --blocks: must be an integer >= 1, got 0"),
    ([*BS, "--channels", "0"], 2, "argument --channels: must be an integer >= 1, got 0"),
    ([*BS, "--steps", "0"], 2, "argument --steps: must be an integer >= 1, got 0"),
    ([*BS, "--repeats", "0"], 2, "argument --repeats: must be an integer >= 1, got 0"),
    # ladder
    ([*LA, "--steps", "x"], 2, "argument --steps: expected checkpoint steps like 25,50"),
    ([*LA, "--steps", "-1"], 2, "argument --steps: expected checkpoint steps like 25,50"),
    ([*LA, "--openings", "0"], 2, "argument --openings: must be an integer in 1..1000, got 0"),
    ([*LA, "--opening-moves", "3"], 2, "argument --opening-moves: must be even"),
    ([*LA, "--opening-moves", "0"], 2, "argument --opening-moves: must be an integer in 2..20"),
    ([*LA, "--sims", "0"], 2, "argument --sims: must be an integer >= 1, got 0"),
    ([*LA, "--anchor-elo", "nan"], 2, "argument --anchor-elo: must be a finite number"),
    ([*LA, "--references", ","], 2, "argument --references: expected players like"),
    ([*LA, "--gtp-timeout", "0"], 2, "argument --gtp-timeout: must be a finite number of"),
    # supervised: the run directory argument
    ([*SL, "--run-dir", "{file}"], 2,
     "argument --run-dir: {file} is a file, not a directory: name a new run directory"),
    ([*SL, "--run-dir", "{file}/run"], 2,
     "argument --run-dir: {file}/run is inside the file {file}, not a directory"),
]


def _ids(probes):
    return [" ".join(argv).replace("{dir}", "D").replace("{file}", "F") for argv, *_ in probes]


@pytest.fixture
def places(tmp_path):
    """{dir}: an empty directory; {file}: a regular file."""
    (tmp_path / "d").mkdir()
    (tmp_path / "f").write_text("not a directory\n")
    return {"{dir}": str(tmp_path / "d"), "{file}": str(tmp_path / "f")}


def _fill(text: str, places: dict[str, str]) -> str:
    for key, value in places.items():
        text = text.replace(key, value)
    return text


def run_cli(argv: list[str]) -> int:
    """`cli.main(argv)`'s exit status, whether it returns it or argparse exits with it."""
    try:
        return cli.main(argv)
    except SystemExit as e:
        return e.code


@pytest.mark.parametrize("argv,code,message", PROBES, ids=_ids(PROBES))
def test_bad_numbers_and_paths(argv, code, message, places, capsys):
    argv = [_fill(a, places) for a in argv]
    assert run_cli(argv) == code
    out, err = capsys.readouterr()
    assert _fill(message, places) in err
    assert "Traceback" not in out + err
    assert err.strip().splitlines()[-1].startswith(f"alphago-jax {argv[0]}")


# ------------------------------------------------------------------ engines that fail

ENGINE_PROBES = [
    ("/bin/false", []),  # exits before the first reply
    ("sleep 1000", ["--gtp-timeout", "0.5"]),  # never reads or answers
    ("yes", []),  # prints without end, never a reply
]


@pytest.mark.parametrize("engine,extra", ENGINE_PROBES, ids=[e for e, _ in ENGINE_PROBES])
def test_failing_engine_is_not_a_clean_sweep(engine, extra, capsys, tmp_path):
    argv = ["arena", "--size", "5", "--games", "4", "--no-progress", "--sgf-dir",
            str(tmp_path), *extra, "random", f"gtp:{engine}"]
    assert run_cli(argv) == 1
    out, err = capsys.readouterr()
    assert out.strip().splitlines()[-1].endswith("4-0-0, win rate 1.000 (95% CI 0.510-1.000), "
                                                 "forfeits: A 0, B 4")
    assert "4 of 4 games were forfeited because a player failed (A 0, B 4" in err
    assert "--allow-forfeits" in err and "Traceback" not in out + err
    assert run_cli([*argv, "--allow-forfeits"]) == 0
    assert capsys.readouterr().out.strip().endswith("forfeits: A 0, B 4")


# ------------------------------------------------------------------ a corrupt checkpoint


@pytest.fixture(scope="module")
def corrupt_run(tmp_path_factory):
    """A 5x5 run directory whose only checkpoint has lost its parameters' OCDBT manifest."""
    import jax

    from alphago_jax import runs
    from alphago_jax.checkpoint import Checkpointer
    from alphago_jax.config import make_config

    run = tmp_path_factory.mktemp("corrupt_run")
    cfg = make_config("default", ["size=5", "blocks=1", "channels=8", "wandb=false"])
    cfg.save(runs.config_path(run))
    with Checkpointer(runs.checkpoint_dir(run), async_save=False) as ckpt:
        runs.save_params(ckpt, 1, jax.jit(cfg.network().init)(jax.random.key(0)))
    manifests = list(run.glob("checkpoints/1/params/manifest.ocdbt"))
    assert manifests, sorted(str(p) for p in run.rglob("*"))
    manifests[0].unlink()
    return run


@pytest.mark.parametrize("command", ["arena", "evaluate"])
def test_corrupt_checkpoint_is_one_message(command, corrupt_run, tmp_path):
    # A subprocess: orbax's leftover callbacks ("Event loop is closed") fire until the
    # interpreter exits, after any in-process capture has been read. It waits a second before
    # exiting, so that they have fired.
    argv = (["arena", f"ckpt:{corrupt_run}", "random", "--games", "2", "--no-progress",
             "--sgf-dir", str(tmp_path)] if command == "arena" else
            ["evaluate", "--run-dir", str(corrupt_run), "--games", "2"])
    code = ("import sys, time; from alphago_jax import cli; code = cli.main(sys.argv[1:]); "
            "time.sleep(1); sys.exit(code)")
    proc = subprocess.run([sys.executable, "-c", code, *argv], capture_output=True, text=True,
                          timeout=300, cwd=Path(__file__).parents[1])
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith(f"alphago-jax {command}: cannot load {corrupt_run}")
    assert "corrupt" in lines[0] and proc.stdout == ""
