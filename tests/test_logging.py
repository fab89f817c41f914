"""Tests for alphago_jax.logging: metrics.jsonl, the progress bar, and wandb (no network)."""

from __future__ import annotations

import json

import jax.numpy as jnp
import numpy as np
import pytest

from alphago_jax.logging import (
    METRICS_FILE,
    WANDB_ID_FILE,
    MetricsError,
    RunLogger,
    metric_series,
    read_metrics,
    repair_metrics,
    resolve_wandb_mode,
    to_float,
)


@pytest.fixture(autouse=True)
def quiet_wandb(monkeypatch):
    """No inherited wandb settings, and no banner output."""
    for name in ("WANDB_MODE", "WANDB_DIR", "WANDB_RUN_ID", "WANDB_RESUME"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("WANDB_SILENT", "true")


def test_metrics_jsonl_round_trip_with_conversions(tmp_path):
    with RunLogger(tmp_path, {"lr": 0.1}, total=3, use_wandb=False, progress=False) as logger:
        out = logger.log(1, {"loss": jnp.float32(2.5), "games": np.int64(7), "ok": np.bool_(True)})
        assert out == {"loss": 2.5, "games": 7.0, "ok": 1.0}
        assert all(type(v) is float for v in out.values())
        logger.log(np.int32(2), {"loss": jnp.array([1.25]), "positions_per_s": 1e4})
        with pytest.raises(TypeError, match="'bad' must be a numeric scalar"):
            logger.log(3, {"bad": jnp.zeros(3)})
    lines = (tmp_path / METRICS_FILE).read_text().splitlines()
    assert len(lines) == 2 and json.loads(lines[0])["step"] == 1
    records = read_metrics(tmp_path)
    assert [r["step"] for r in records] == [1, 2]
    assert records[0]["loss"] == 2.5 and records[1]["positions_per_s"] == 1e4
    assert all(isinstance(r["time"], float) for r in records)
    steps, losses = metric_series(records, "loss")
    np.testing.assert_array_equal(steps, [1, 2])
    np.testing.assert_array_equal(losses, [2.5, 1.25])
    assert not (tmp_path / WANDB_ID_FILE).exists()  # wandb off: nothing of it is touched


def test_read_metrics_resumed_run_and_torn_line(tmp_path):
    assert read_metrics(tmp_path) == []
    for steps in ((1, 2, 3), (3, 4)):  # the second run resumed from a checkpoint at step 2
        with RunLogger(tmp_path, use_wandb=False, progress=False) as logger:
            for s in steps:
                logger.log(s, {"loss": float(s) + 0.5 * (steps[0] == 3)})
    with open(tmp_path / METRICS_FILE, "a") as f:
        f.write('{"step": 5, "lo')  # killed mid-write
    records = read_metrics(tmp_path)
    assert [(r["step"], r["loss"]) for r in records] == [(1, 1), (2, 2), (3, 3.5), (4, 4.5)]
    assert len(read_metrics(tmp_path, dedupe=False)) == 5


def _lines(path) -> list[str]:
    return (path / METRICS_FILE).read_text().splitlines()


def test_repair_metrics_drops_a_torn_line_and_steps_after_the_checkpoint(tmp_path):
    """A resume from checkpoint k: the torn tail goes (the next record would be glued onto it)
    and so do the records after k (logged again); every other line stays as written."""
    rows = [json.dumps({"step": s, "time": 1.0, "loss": s / 10}) for s in (1, 2, 3)]
    (tmp_path / METRICS_FILE).write_text("\n".join(rows) + '\n{"step": 4, "lo')
    assert repair_metrics(tmp_path, keep_through=2) == [
        "dropped a torn last line", "dropped 1 record(s) after step 2 (the run logs those steps "
        "again)"]
    assert _lines(tmp_path) == rows[:2]
    with RunLogger(tmp_path, use_wandb=False, progress=False) as logger:
        logger.log(3, {"loss": 0.25})
    assert [(r["step"], r["loss"]) for r in read_metrics(tmp_path, dedupe=False)] == [
        (1, 0.1), (2, 0.2), (3, 0.25)]
    # Nothing to mend: the file is not rewritten.
    before = (tmp_path / METRICS_FILE).stat().st_mtime_ns
    assert repair_metrics(tmp_path, keep_through=3) == []
    assert (tmp_path / METRICS_FILE).stat().st_mtime_ns == before
    assert repair_metrics(tmp_path / "none", keep_through=0) == []


def test_repair_metrics_mends_files_of_earlier_versions(tmp_path):
    """Before repairs, a resumed run glued its first record onto the torn line; a complete last
    line may also lack its newline. Both are mended, keeping every complete record."""
    glued = '{"step": 3, "lo{"step": 2, "time": 2.0, "loss": 0.5}'
    (tmp_path / METRICS_FILE).write_text(
        '{"step": 1, "time": 1.0}\n' + glued + '\n{"step": 3, "time": 3.0}')
    assert [r["step"] for r in read_metrics(tmp_path, dedupe=False)] == [1, 2, 3]
    assert repair_metrics(tmp_path, keep_through=3) == [
        "recovered 1 record(s) glued onto a torn one", "added a missing final newline"]
    assert _lines(tmp_path) == ['{"step": 1, "time": 1.0}', glued[15:], '{"step": 3, "time": 3.0}']
    assert (tmp_path / METRICS_FILE).read_text().endswith("\n")


def test_a_bad_line_before_the_last_is_an_error_naming_it(tmp_path):
    text = '{"step": 1}\n[1, 2]\n{"step": 2}\n'
    (tmp_path / METRICS_FILE).write_text(text)
    for call in (lambda: read_metrics(tmp_path), lambda: repair_metrics(tmp_path, 0)):
        with pytest.raises(MetricsError, match=r"metrics.jsonl:2: not a metrics record: '\["):
            call()
    assert (tmp_path / METRICS_FILE).read_text() == text  # never rewritten


def test_the_metrics_file_is_opened_at_the_first_record(tmp_path):
    with RunLogger(tmp_path, use_wandb=False, progress=False):
        pass
    assert not (tmp_path / METRICS_FILE).exists()


def test_progress_bar_shows_key_metrics(tmp_path, capsys):
    logger = RunLogger(tmp_path, total=10, initial=2, use_wandb=False, progress=True)
    logger.log(3, {"games_per_s": 1234.5, "positions_per_s": 5.5e6, "buffer_fill": 0.5,
                   "policy_loss": 2.0, "aux_loss": 0.125, "other": 9.0})
    assert logger.bar.n == 3
    postfix = logger.bar.postfix
    for part in ("games/s=1.23k", "pos/s=5.5M", "buf=0.5", "pi=2", "aux_loss=0.125"):
        assert part in postfix
    assert "other" not in postfix
    logger.log(5, {"loss": 1.0})
    assert logger.bar.n == 5
    logger.close()
    logger.close()  # idempotent
    assert "5/10" in capsys.readouterr().err


def test_wandb_mode_resolution(monkeypatch):
    assert resolve_wandb_mode() == "offline"
    monkeypatch.setenv("WANDB_MODE", "disabled")
    assert resolve_wandb_mode() == "disabled"
    assert resolve_wandb_mode(config={"wandb_mode": "online"}) == "online"
    assert resolve_wandb_mode("offline", {"wandb_mode": "online"}) == "offline"
    monkeypatch.setenv("WANDB_MODE", "dryrun")
    assert resolve_wandb_mode() == "offline"
    with pytest.raises(ValueError, match="unknown wandb mode"):
        resolve_wandb_mode("sometimes")


def test_wandb_disabled_mode(tmp_path):
    with RunLogger(tmp_path, {"seed": 1}, mode="disabled", progress=False) as logger:
        assert logger.wandb_run is not None
        logger.log(1, {"loss": 1.0})
    assert read_metrics(tmp_path)[0]["loss"] == 1.0
    assert not (tmp_path / "wandb").exists()


def test_wandb_offline_writes_run_dir_and_resumes_same_id(tmp_path, monkeypatch):
    monkeypatch.setenv("WANDB_MODE", "offline")
    config = {"size": 7, "lr": 0.01}
    with RunLogger(tmp_path, config, total=4, progress=False) as logger:
        run_id = (tmp_path / WANDB_ID_FILE).read_text().strip()
        assert logger.wandb_run.id == run_id
        assert logger.wandb_run.config["size"] == 7
        logger.log(1, {"loss": 2.0, "win_rate_vs_random": 0.25})
        logger.log(2, {"loss": 1.5, "win_rate_vs_random": 0.5})
        # Metrics sit at the top level of the run (where a sweep's metric is read).
        assert logger.wandb_run.summary["win_rate_vs_random"] == 0.5
    runs = sorted((tmp_path / "wandb").glob("offline-run-*"))
    assert len(runs) == 1 and runs[0].name.endswith(run_id)
    assert (runs[0] / f"run-{run_id}.wandb").stat().st_size > 0
    # A resumed run continues the same wandb run id.
    with RunLogger(tmp_path, config, total=4, initial=2, progress=False) as logger:
        assert logger.wandb_run.id == run_id
        logger.log(3, {"loss": 1.0})
    runs = sorted((tmp_path / "wandb").glob("offline-run-*"))
    assert len(runs) == 2 and all(run_id in r.name for r in runs)


def test_to_float_rejects_non_numbers():
    assert to_float(np.float16(0.5)) == 0.5
    assert to_float(jnp.bfloat16(1.5)) == 1.5
    with pytest.raises(TypeError, match="numeric scalar"):
        to_float("abc", "name")
