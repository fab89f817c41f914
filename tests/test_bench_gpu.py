"""`alphago-jax bench gpu`: the stage runner (failures and time-outs do not stop the check) and
the toy dry run on CPU, in which every stage must print its figures."""

import os
import subprocess
import sys

from alphago_jax.bench import gpu


def _child(code: str) -> list[str]:
    return [sys.executable, "-c", code]


def test_stage_that_fails_or_hangs_reports_and_returns():
    lines = []
    failed = gpu.run_child("boom", _child("print('half way', flush=True); raise SystemExit(3)"),
                           30, lines.append)
    assert failed.status == "failed (rc 3)" and failed.figures == {}
    hung = gpu.run_child("hang", _child("import time; print('x', flush=True); time.sleep(60)"),
                         2, lines.append)
    assert hung.status == "timed out after 2 s" and hung.wall_s < 30
    assert "    half way" in lines  # a failed stage shows its last lines
    ok = gpu.run_child("fine", _child("print('FIGURES {\"moves_per_s\": 12.5}')"), 30,
                       lines.append)
    assert ok.status == "ok" and ok.figures == {"moves_per_s": 12.5}
    rows = gpu.table([failed, hung, ok])
    assert any(r.split()[:2] == ["boom", "(none)"] and "failed (rc 3)" in r for r in rows)
    assert any(r.split() == ["fine", "moves_per_s", "12.5"] for r in rows)


def test_toy_dry_run_prints_every_stage_figure(tmp_path):
    # The device image has no wandb: make it unimportable to prove no stage needs it.
    (tmp_path / "wandb").mkdir()
    (tmp_path / "wandb" / "__init__.py").write_text("raise ImportError('no wandb here')\n")
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(tmp_path), *filter(None, [env.get("PYTHONPATH")])])
    proc = subprocess.run([sys.executable, "-m", "alphago_jax.cli", "bench", "gpu", "--toy"],
                          capture_output=True, text=True, env=env, timeout=3000)
    out = proc.stdout
    assert proc.returncode == 0, out[-3000:] + proc.stderr[-3000:]
    table = out[out.index("stage       figure"):].splitlines()[2:]
    figures = {}
    for row in table:
        stage, name, value = row.split(None, 2)
        figures.setdefault(stage, {})[name] = value
    for stage in gpu.STAGES:
        assert stage.name in figures and "(none)" not in figures[stage.name], (stage, out)
    assert float(figures["selfplay9"]["moves_per_s"].replace(",", "")) > 0
    assert float(figures["selfplay9"]["null_moves_per_s"].replace(",", "")) > 0
    assert float(figures["train9"]["iter_s"]) > 0
    assert figures["env"]["backend"] == "cpu"
    if figures["env"]["pgx"] != "not installed":
        assert float(figures["pgx9"]["moves_per_s"].replace(",", "")) > 0
        assert figures["ratio"]["selfplay9_ours_over_pgx"].endswith("x")
