"""experiments/ablation.py: the commands each row runs (dry run, nothing trained)."""


from experiment_scripts import load_experiment


def _ablation():
    return load_experiment("ablation")


def _commands(capsys, tmp_path, rows):
    assert _ablation().main(["--out", str(tmp_path), "--dry-run", "--rows", rows]) == 0
    return [line[2:] for line in capsys.readouterr().out.splitlines() if line.startswith("$ ")]


def test_rows_add_up_and_strong_is_the_preset_as_measured(capsys, tmp_path):
    cmds = _commands(capsys, tmp_path, "reanalyse,search,strong")
    train = {c.split("--run-dir ")[1].split()[0]: c for c in cmds if " train " in c}
    ladder = {c.split(" ladder ")[1].split()[0]: c for c in cmds if " ladder " in c}
    sl = f"init_from={tmp_path / 'supervised'}"
    assert any("make_gnugo_dataset.py" in c for c in cmds)  # the warm start's games
    assert sl in train[str(tmp_path / "reanalyse")]
    assert "reanalyse_fraction=0.25" in train[str(tmp_path / "reanalyse")]
    assert "--preset 7x7" in train[str(tmp_path / "reanalyse")]  # the rows are 7x7 runs
    assert ladder[str(tmp_path / "search")].endswith("--sims 256")
    strong = train[str(tmp_path / "strong")]
    assert "--preset strong-7x7" in strong and "init_from" not in strong
    assert "--sims" not in ladder[str(tmp_path / "strong")]


def test_strong_alone_needs_no_warm_start(capsys, tmp_path):
    cmds = _commands(capsys, tmp_path, "strong")
    assert not any("make_gnugo_dataset.py" in c or " supervised " in c for c in cmds)
    assert len(cmds) == 2  # train, ladder
