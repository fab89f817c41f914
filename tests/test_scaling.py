"""Tests for alphago_jax.scaling: FLOPs accounting, the incline-plateau frontier fit, Elo against
fixed references, reference agents and matches, and a micro scaling-law grid end to end."""

from __future__ import annotations

import importlib.util
import json
import math
import os
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from experiment_scripts import load_experiment

from alphago_jax.arena import expected_score, fit_elo
from alphago_jax.config import make_config
from alphago_jax.features.planes import planes_from
from alphago_jax.nets import scalar_value
from alphago_jax.rules.go import Rules
from alphago_jax.scaling import (
    RANDOM,
    ReferenceNet,
    checkpoint_flops,
    compute_to_reach,
    elo_vs_references,
    fit_frontier,
    frontier_points,
    incline_plateau,
    iso_elo_train_compute,
    iteration_flops,
    net_flops_per_eval,
    next_reference,
    plateau_trend,
    play_pair,
    reference_agent,
    search_flops_per_move,
    tradeoff,
    train_flops,
)

HAVE_SCIPY = importlib.util.find_spec("scipy") is not None
ROOT = Path(__file__).resolve().parents[1]

# ------------------------------------------------------------------------------ FLOPs


def _cfg(*extra):
    return make_config("default", [
        "size=5", "selfplay_batch=4", "selfplay_steps=3", "num_simulations=5",
        "fast_simulations=2", "playout_cap_fraction=0.25", "train_batch=8", "sgd_steps=2",
        "iterations=5", "buffer_capacity=64", "min_buffer=8", *extra])


def test_flops_accounting_matches_hand_computation():
    cfg, f = _cfg(), 1000.0
    it = iteration_flops(cfg, f)
    # 4 games x 3 moves x (0.25 x (5 + 1) + 0.75 x (2 + 1)) evaluations of 1000 FLOPs
    assert it.evals_per_move == pytest.approx(3.75)
    assert it.selfplay == pytest.approx(4 * 3 * 3.75 * 1000)  # 45,000
    assert it.learner == pytest.approx(8 * 2 * 3 * 1000)  # 48,000
    assert train_flops(cfg, f) == pytest.approx(5 * (45_000 + 48_000))
    assert train_flops(cfg, f, 2, trained_iterations=1) == pytest.approx(2 * 45_000 + 48_000)
    assert checkpoint_flops(cfg, f, [1, 3]) == {1: pytest.approx(93_000),
                                                 3: pytest.approx(279_000)}
    # No playout cap: every move is a full search of 5 + 1 evaluations.
    full = _cfg("playout_cap_fraction=1.0")
    assert iteration_flops(full, f).selfplay == pytest.approx(4 * 3 * 6 * 1000)
    assert search_flops_per_move(f, 16) == pytest.approx(17_000)
    with pytest.raises(ValueError, match="trained_iterations"):
        train_flops(cfg, f, 2, trained_iterations=3)


def test_flops_bootstrap_and_multi_size():
    boot = _cfg("bootstrap_iterations=2")
    # Bootstrap iterations play random moves (no evaluations) but still train.
    assert train_flops(boot, 1000.0) == pytest.approx(3 * 45_000 + 5 * 48_000)
    multi = _cfg("size=7", "sizes=5,7")
    exact = iteration_flops(multi, {5: 500.0, 7: 1000.0})
    assert exact.selfplay == pytest.approx(4 * 3 * 3.75 * (500 + 1000))
    assert exact.learner == pytest.approx(8 * 2 * 3 * 1000)  # on the 7x7 replay grid
    scaled = iteration_flops(multi, 1000.0)  # F(5) = F(7) x 25 / 49
    assert scaled.selfplay == pytest.approx(4 * 3 * 3.75 * 1000 * (1 + 25 / 49))
    with pytest.raises(ValueError, match="board size 5"):
        iteration_flops(multi, {7: 1000.0})


def test_flops_count_the_reanalyse_searches():
    re = _cfg("reanalyse_fraction=0.25")  # train_batch 8: 2 positions per SGD step
    it = iteration_flops(re, 1000.0)
    # 2 SGD steps x 2 positions x (5 + 1) evaluations of 1000 FLOPs
    assert it.reanalyse == pytest.approx(2 * 2 * 6 * 1000)
    assert it.total == pytest.approx(45_000 + 48_000 + 24_000)
    assert train_flops(re, 1000.0) == pytest.approx(5 * (45_000 + 48_000 + 24_000))
    assert iteration_flops(_cfg(), 1000.0).reanalyse == 0.0


def test_net_flops_per_eval_grows_with_net_and_board():
    small = net_flops_per_eval(_cfg("blocks=1", "channels=8"))
    wide = net_flops_per_eval(_cfg("blocks=1", "channels=16"))
    big_board = net_flops_per_eval(_cfg("blocks=1", "channels=8"), size=7)
    assert 0 < small < wide
    # Mostly per-point work: about 49/25 as many FLOPs on 7x7 as on 5x5.
    assert 1.6 < big_board / small < 2.2


# ------------------------------------------------------------------------------ frontier


def _synthetic(slope, plateau, kink, xs, noise, seed, outliers=0):
    rng = np.random.default_rng(seed)
    elo = incline_plateau(xs, slope, plateau, kink) + rng.normal(0, noise, xs.shape)
    elo[rng.choice(len(xs), outliers, replace=False)] -= 400  # bad measurements
    return 10.0**xs, elo


@pytest.mark.parametrize("use_scipy", [False, pytest.param(True, marks=pytest.mark.skipif(
    not HAVE_SCIPY, reason="scipy not installed"))])
def test_fit_recovers_incline_and_plateau(use_scipy):
    xs = np.linspace(10.0, 16.0, 31)
    c, e = _synthetic(250.0, 1200.0, 14.0, xs, noise=25.0, seed=0, outliers=2)
    fit = fit_frontier(c, e, frontier_only=False, use_scipy=use_scipy)
    assert fit.plateau_reached
    assert fit.slope == pytest.approx(250.0, abs=25.0)
    assert fit.plateau == pytest.approx(1200.0, abs=30.0)
    assert fit.log10_c_plateau == pytest.approx(14.0, abs=0.2)
    assert fit.method in (("irls-huber", "scipy-soft_l1") if use_scipy else ("irls-huber",))
    assert fit.scale < 60.0  # the robust scale ignores the two outliers
    # compute_to_reach inverts the incline; nothing beyond a reached plateau.
    assert math.log10(compute_to_reach(fit, fit.plateau - fit.slope)) == pytest.approx(
        fit.log10_c_plateau - 1.0)
    assert fit.compute_to_reach(fit.plateau + 10.0) is None


def test_fit_without_plateau_is_a_line_with_lower_bounds():
    xs = np.linspace(10.0, 13.0, 16)
    c, e = _synthetic(200.0, 2000.0, 15.0, xs, noise=20.0, seed=1)
    fit = fit_frontier(c, e, frontier_only=False, use_scipy=False)
    assert not fit.plateau_reached
    assert fit.slope == pytest.approx(200.0, abs=25.0)
    assert fit.log10_c_plateau == pytest.approx(13.0)  # the largest compute: a lower bound
    assert fit.plateau == pytest.approx(incline_plateau(13.0, 200.0, 2000.0, 15.0), abs=30.0)
    # Past the data an unreached plateau extrapolates the incline.
    assert math.log10(compute_to_reach(fit, fit.plateau + fit.slope)) == pytest.approx(14.0)


def test_fit_uses_the_frontier_and_rejects_too_few_points():
    # Two nets: the small one stalls low; only the best agents per compute shape the fit.
    xs = np.linspace(10.0, 14.0, 9)
    good = incline_plateau(xs, 300.0, 1000.0, 13.0)
    c = np.concatenate([10.0**xs, 10.0**xs[:5] * 1.01])
    e = np.concatenate([good, good[:5] - 300.0])
    idx = frontier_points(c, e)
    assert set(idx.tolist()) <= set(range(9)) and 0 in idx
    fit = fit_frontier(c, e, tolerance=1.0, use_scipy=False)
    assert fit.slope == pytest.approx(300.0, abs=1.0)
    assert fit.log10_c_plateau == pytest.approx(13.0, abs=0.05)
    with pytest.raises(ValueError, match=">= 3 points"):
        fit_frontier([1e10, 1e11], [0.0, 100.0])
    with pytest.raises(ValueError, match="> 0"):
        fit_frontier([0.0, 1e10, 1e11], [0.0, 1.0, 2.0])


def test_frontier_points_running_maximum():
    c = [1, 2, 3, 4, 5, 5]
    e = [10, 5, 20, 19, 30, 40]
    assert frontier_points(c, e).tolist() == [0, 2, 5]
    assert frontier_points(c, e, tolerance=2.0).tolist() == [0, 2, 3, 5]  # 19: within 2 of 20


def test_plateau_trend_and_tradeoff():
    tr = plateau_trend([5, 7, 9], [10.0, 11.0, 12.0])
    assert tr.per_size == pytest.approx(0.5) and tr.factor_per_size == pytest.approx(10**0.5)
    with pytest.raises(ValueError):
        plateau_trend([5], [10.0])
    # Agents whose Elo = 100 * (log10 train + 2 * log10 test): 10x test compute is worth
    # 100x training compute, so iso-Elo lines have slope -2.
    agents = []
    for sims in (1, 3, 15):
        for lt in np.linspace(10, 14, 9):
            test = 1e6 * (sims + 1)
            agents.append({"sims": sims, "train_flops": 10**lt, "test_flops": test,
                           "elo": 100 * (lt + 2 * math.log10(test))})
    assert iso_elo_train_compute([a["train_flops"] for a in agents[:9]],
                                 [a["elo"] for a in agents[:9]], 100 * (12 + 2 * math.log10(2e6))
                                 ) == pytest.approx(1e12)
    t = tradeoff(agents, [100 * (13 + 2 * 6.6)])
    assert len(t.rows) == 3
    assert t.mean_slope == pytest.approx(-2.0, abs=1e-6)


# ------------------------------------------------------------------------------ Elo


def test_elo_vs_references_recovers_a_known_rating():
    refs = [0.0, 200.0, 400.0, 700.0]
    exact = [(r, 4000 * expected_score(350.0, r), 4000) for r in refs]
    assert elo_vs_references(exact, prior_sd=1e6).elo == pytest.approx(350.0, abs=0.5)
    rng = np.random.default_rng(3)
    sampled = [(r, float(rng.binomial(200, expected_score(350.0, r))), 200) for r in refs]
    fit = elo_vs_references(sampled)
    assert fit.in_range and fit.games == 800
    assert abs(fit.elo - 350.0) < 2.5 * fit.stderr and 10 < fit.stderr < 60
    # The same answer as fit_elo when the references' games pin them (a huge tally each).
    results = [("agent", f"r{i}", p, n) for i, (_, p, n) in enumerate(sampled)]
    results += [(f"r{i}", f"r{j}", 1e6 * expected_score(refs[i], refs[j]), 1e6)
                for i in range(4) for j in range(i + 1, 4)]
    joint = fit_elo(results, anchor="r0").as_dict()["agent"][0]
    assert fit.elo == pytest.approx(joint, abs=3.0)
    # A clean sweep of the strongest reference: a finite bound, flagged out of range.
    sweep = elo_vs_references([(700.0, 20, 20)])
    assert not sweep.in_range and sweep.elo > 700.0 and math.isfinite(sweep.elo)
    with pytest.raises(ValueError):
        elo_vs_references([(0.0, 3, 2)])


def test_elo_vs_references_gives_the_former_solver_numbers():
    # Expected values from elo_vs_references' own Newton solver, before it became `fit_elo`
    # with the references held fixed (tests/test_arena.py checks fit_elo on more cases).
    fit = elo_vs_references([(0.0, 7, 10), (200.0, 5.5, 10), (450.0, 2, 10)])
    assert fit.elo == pytest.approx(199.66470078991043, abs=1e-6)
    assert fit.stderr == pytest.approx(71.48893048161926, abs=1e-6)
    assert (fit.games, fit.in_range) == (30, True)
    fit = elo_vs_references([(0.0, 12, 20), (150.0, 9, 20)], prior_sd=300.0, prior_mean=50.0)
    assert (fit.elo, fit.stderr) == pytest.approx((91.73932534443466, 55.310985354372754),
                                                  abs=1e-6)
    shutout = elo_vs_references([(0.0, 0, 10), (200.0, 0, 10)])
    assert shutout.elo == pytest.approx(-773.5913559898206, abs=1e-6)
    assert shutout.stderr == pytest.approx(408.9148752815501, abs=1e-6)
    assert not shutout.in_range


def test_next_reference_walks_towards_even_matches():
    refs = {"random": 0.0, "a": 150.0, "b": 400.0, "c": 900.0}
    assert next_reference(refs, 120.0, set(), None, None) == "a"
    assert next_reference(refs, 500.0, {"a"}, 0.9, "a") == "b"  # crushed a: next stronger
    assert next_reference(refs, -50.0, {"b"}, 0.1, "b") == "a"  # crushed by b: next weaker
    assert next_reference(refs, 420.0, {"b"}, 0.5, "b") == "a"  # close: nearest unplayed
    assert next_reference(refs, 0.0, set(refs), 0.5, "a") is None


# ------------------------------------------------------------------------------ agents


def test_reference_value_is_an_area_estimate():
    rules = Rules(size=5, komi=0.5, history=2, suicide=False)
    board = np.zeros((2, 25), np.int8)
    board[0, [6, 7, 8]] = 1  # three black stones
    legal = np.ones(25, bool)
    apply = ReferenceNet(0.5, 2)
    black = planes_from(jnp.asarray(board), jnp.int8(1), jnp.asarray(legal), 5)[None]
    white = planes_from(jnp.asarray(board), jnp.int8(-1), jnp.asarray(legal), 5)[None]
    vb, vw = (float(scalar_value(apply(None, x).value_logits)[0]) for x in (black, white))
    assert vb > 0.5 and vw == pytest.approx(-vb, abs=1e-5)
    # A value: equal references are equal static arguments, so one compile per caller.
    assert ReferenceNet(0.5, 2) == apply and hash(ReferenceNet(0.5, 2)) == hash(apply)
    zero = ReferenceNet(0.5, 2, "zero")
    assert float(scalar_value(zero(None, black).value_logits)[0]) == pytest.approx(0.0, abs=1e-5)
    assert rules.num_actions == apply(None, black).policy_logits.shape[-1]
    with pytest.raises(ValueError, match="reference value"):
        ReferenceNet(0.5, 2, "nope")


def test_search_reference_beats_random_and_colours_alternate():
    rules = Rules(size=5, komi=7.5, history=2, suicide=False)
    ref = reference_agent(rules, 8)
    r = play_pair(rules, ref, RANDOM, 16, jax.random.key(0))
    assert r.tally.games == 16 and r.a == "ref-area:8" and r.b == "random"
    assert r.tally.win_rate >= 0.75, r.line()
    assert [g.a_black for g in r.games] == [g % 2 == 0 for g in range(16)]
    rr = play_pair(rules, RANDOM, RANDOM, 16, jax.random.key(1))
    assert rr.tally.games == 16
    with pytest.raises(ValueError, match="even"):
        play_pair(rules, ref, RANDOM, 3, jax.random.key(0))


# ------------------------------------------------------------------------------ end to end


@pytest.mark.skipif(not os.environ.get("SCALING_E2E"), reason="~1-2 min of compiles on 2 CPU "
                    "cores; set SCALING_E2E=1 to run")
def test_micro_grid_end_to_end(tmp_path):
    mod = load_experiment("scaling_laws")
    assert mod.main(["--grid", "micro", "--out", str(tmp_path)]) == 0
    results = json.loads((tmp_path / "scaling.json").read_text())
    (run,) = results["runs"]
    assert [a["step"] for a in run["agents"]] == [1, 2]
    cfg = make_config("default", run["overrides"])
    for a in run["agents"]:
        assert a["train_flops"] == pytest.approx(train_flops(cfg, run["flops_per_eval"],
                                                             a["step"]))
        assert a["games"] == sum(m["games"] for m in a["matches"]) == 4
        assert math.isfinite(a["elo"])
    # train.main logs the same cumulative FLOPs.
    logged = [json.loads(line) for line in
              (tmp_path / "runs" / run["name"] / "metrics.jsonl").read_text().splitlines()]
    assert [m["train_flops"] for m in logged] == pytest.approx(
        [train_flops(cfg, run["flops_per_eval"], k) for k in (1, 2)], rel=1e-6)
    assert set(results["references"]["5"]["ratings"]) == {"random", "ref-area:2"}
    assert (tmp_path / "frontier.png").exists()
    # Resume: a second call finds everything done and trains nothing.
    mtime = (tmp_path / "runs" / run["name"] / "rated.json").stat().st_mtime
    assert mod.main(["--grid", "micro", "--out", str(tmp_path)]) == 0
    assert (tmp_path / "runs" / run["name"] / "rated.json").stat().st_mtime == mtime
