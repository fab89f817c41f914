"""Data parallelism over a device mesh and multi-process runs, on forced CPU devices.

Each multi-device check runs in a subprocess whose device count is set (JAX_NUM_CPU_DEVICES)
before jax is imported: (a) an SGD step split over 2 devices equals the one-device step, (b) 2
devices self-playing equal 2 one-device self-plays under the per-device keys, (c) a 2-device run
resumes bit-identically (tests/scale_checks.py); (d) a 2-process run on localhost trains,
checkpoints, resumes and evaluates; (e) resuming on another device count, a batch the devices do
not divide, and bad multi-process flags are one clear message each.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import jax
import pytest

from alphago_jax import cli, runs
from alphago_jax.checkpoint import Checkpointer
from alphago_jax.config import ConfigError, make_config
from alphago_jax.logging import read_metrics
from alphago_jax.train import host_cores

ROOT = Path(__file__).parents[1]
CHECKS = Path(__file__).parent / "scale_checks.py"
sys.path.insert(0, str(Path(__file__).parent))
from scale_checks import TINY  # noqa: E402


def _env(devices: int) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("JAX_") or
           k.startswith("JAX_PERSISTENT") or k == "JAX_COMPILATION_CACHE_DIR"}
    env.update(JAX_NUM_CPU_DEVICES=str(devices), JAX_PLATFORMS="cpu", WANDB_MODE="disabled",
               PYTHONPATH=os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")]))
    return env


def _cli(argv: list[str], devices: int = 1, timeout: int = 600) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "alphago_jax.cli", *argv], cwd=ROOT,
                          env=_env(devices), capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def checks(tmp_path_factory):
    """The results of tests/scale_checks.py on 2 devices, and the 2-device run it left."""
    run = tmp_path_factory.mktemp("two_device_run")
    proc = subprocess.run([sys.executable, str(CHECKS), str(run)], cwd=ROOT, env=_env(2),
                          capture_output=True, text=True, timeout=1200)
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = json.loads(proc.stdout.strip().splitlines()[-1])
    assert results["devices"] == 2
    return results, run


def test_sgd_step_on_two_devices_equals_one_device_step(checks):
    assert checks[0]["sgd_step"] == "ok", checks[0]["sgd_step"]


def test_two_device_selfplay_equals_one_device_selfplays(checks):
    assert checks[0]["selfplay"] == "ok", checks[0]["selfplay"]


def test_two_device_run_resumes_bit_identically(checks):
    assert checks[0]["resume"] == "ok", checks[0]["resume"]


def test_resume_on_another_device_count_is_refused(checks):
    _, run = checks
    proc = _cli(["train", "--run-dir", str(run), "--iterations=3"], devices=1)
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    assert f"{run} was trained on 2 devices (data=2); this run sees 1" in proc.stderr
    assert f"init_from={run}" in proc.stderr


def test_batch_not_divisible_by_the_devices():
    cfg = make_config("default", TINY)
    assert cfg.data_parallel(2).selfplay_batch == 2 and cfg.data_parallel(4).train_batch == 4
    with pytest.raises(ConfigError, match=r"selfplay_batch=4 is not divisible by the 3 devices"):
        cfg.data_parallel(3)
    with pytest.raises(ConfigError, match=r"train_batch=6 is not divisible by the 4 devices"):
        make_config("default", TINY + ["train_batch=6"]).data_parallel(4)


def test_cpu_devices_resolves_to_cores_dividing_the_batches():
    cfg = make_config("default", TINY)  # selfplay_batch 4, buffer_capacity 48, train_batch 16
    assert [cfg.resolved_cpu_devices(c) for c in (1, 2, 3, 4, 8)] == [1, 2, 2, 4, 4]
    assert make_config("default", TINY + ["cpu_devices=3"]).resolved_cpu_devices(2) == 3


def test_a_new_run_takes_one_cpu_device_per_core_and_records_it(tmp_path):
    env = _env(1)
    del env["JAX_NUM_CPU_DEVICES"]
    env["XLA_FLAGS"] = " ".join(f for f in env.get("XLA_FLAGS", "").split()
                                if "force_host_platform_device_count" not in f)
    want = make_config("default", TINY).resolved_cpu_devices(host_cores())
    run = tmp_path / "r"
    proc = subprocess.run([sys.executable, "-m", "alphago_jax.cli", "train", "--run-dir",
                           str(run), *TINY, "iterations=0"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert f"mesh: data={want} (cpu)" in proc.stderr
    assert json.loads((run / "config.json").read_text())["cpu_devices"] == want
    # A warm start too (its check builds a network, which once started jax on one device).
    source = tmp_path / "source"
    source.mkdir()
    cfg = make_config("default", TINY)
    cfg.save(runs.config_path(source))
    with Checkpointer(runs.checkpoint_dir(source), async_save=False) as ckpt:
        runs.save_params(ckpt, 0, jax.jit(cfg.network().init)(jax.random.key(0)))
    warm = tmp_path / "w"
    proc = subprocess.run([sys.executable, "-m", "alphago_jax.cli", "train", "--run-dir",
                           str(warm), *TINY, "iterations=0", f"init_from={source}"], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert f"mesh: data={want} (cpu)" in proc.stderr
    assert json.loads((warm / "config.json").read_text())["cpu_devices"] == want


@pytest.mark.parametrize("key, saved, before", [
    ("cpu_devices", 0, 1),  # one device
    ("random_opening_moves", 4, 0),  # self-play from the empty board
])
def test_a_run_saved_before_a_key_existed_resumes_as_it_trained(tmp_path, key, saved, before):
    make_config("default", TINY).save(tmp_path / "config.json")
    data = json.loads((tmp_path / "config.json").read_text())
    assert getattr(runs.load_config(tmp_path), key) == saved  # saved with the key: as saved
    del data[key]
    (tmp_path / "config.json").write_text(json.dumps(data))
    assert getattr(runs.load_config(tmp_path), key) == before


@pytest.mark.parametrize("flags, message", [
    (["--process-id", "1"], "the process count is missing"),
    (["--num-processes", "2", "--process-id", "2", "--coordinator", "127.0.0.1:1"],
     "the process id must be in 0..1 (the count is 2), got 2"),
    (["--num-processes", "2", "--process-id", "0"], "2 processes need a coordinator"),
    (["--num-processes", "2", "--process-id", "0", "--coordinator", "localhost"],
     "the coordinator must be HOST:PORT"),
])
def test_bad_multi_process_flags(flags, message, tmp_path, capsys, monkeypatch):
    for name in ("JAX_COORDINATOR_ADDRESS", "JAX_NUM_PROCESSES", "JAX_PROCESS_ID"):
        monkeypatch.delenv(name, raising=False)
    assert cli.main(["train", "--run-dir", str(tmp_path / "r"), *flags]) == 2
    err = capsys.readouterr().err
    assert err.startswith("alphago-jax train: ") and message in err, err
    assert len(err.strip().splitlines()) == 1 and not (tmp_path / "r").exists()


def test_bad_multi_process_environment(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("JAX_PROCESS_ID", "x")
    assert cli.main(["train", "--run-dir", str(tmp_path / "r")]) == 2
    assert "JAX_PROCESS_ID must be an integer, got 'x'" in capsys.readouterr().err


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _two_processes(run: Path, iterations: int) -> list[subprocess.CompletedProcess]:
    """`alphago-jax train` as 2 processes of one run on localhost, 1 CPU device each."""
    port = _free_port()
    argv = ["train", "--run-dir", str(run), "--coordinator", f"127.0.0.1:{port}",
            "--num-processes", "2", *TINY, "checkpoint_every=1", "eval_every=1",
            f"--iterations={iterations}"]
    procs = [subprocess.Popen([sys.executable, "-m", "alphago_jax.cli", *argv, "--process-id",
                               str(i)], cwd=ROOT, env=_env(1), stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for i in range(2)]
    out = []
    for p in procs:
        try:
            stdout, stderr = p.communicate(timeout=900)
        except subprocess.TimeoutExpired:
            for q in procs:
                q.kill()
            raise
        out.append(subprocess.CompletedProcess(p.args, p.returncode, stdout, stderr))
    return out


def test_two_process_run_trains_checkpoints_resumes_and_evaluates(tmp_path):
    run = tmp_path / "run"
    first = _two_processes(run, 1)
    assert [p.returncode for p in first] == [0, 0], [p.stderr[-2000:] for p in first]
    assert "mesh: data=2 (cpu, 2 processes)" in first[0].stderr
    assert "mesh:" not in first[1].stderr  # process 0 alone prints
    assert (run / "checkpoints" / "1").is_dir()
    second = _two_processes(run, 2)
    assert [p.returncode for p in second] == [0, 0], [p.stderr[-2000:] for p in second]
    assert "resumed from iteration 1" in second[0].stderr
    records = read_metrics(run)
    assert [r["step"] for r in records] == [1, 2]  # one writer: no line twice
    assert all(0.0 <= r["win_rate_vs_random"] <= 1.0 for r in records)
    assert (run / "checkpoints" / "2").is_dir()
    ev = _cli(["evaluate", "--run-dir", str(run), "--games", "2"])
    assert ev.returncode == 0, ev.stderr[-2000:]
    assert f"ckpt:{run}@2 vs random" in ev.stdout, ev.stdout
