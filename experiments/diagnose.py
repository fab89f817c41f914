"""Diagnose a run's agent: value calibration per colour, value saturation, root Q values,
passing, and the noise floor of the losses.

    python experiments/diagnose.py RUN [--step N] [--games 256] [--out docs/diagnosis/NAME]

Plays `--games` self-play games with the run's checkpoint (its full self-play search, its
temperature moves, its self-play action selection, no resignation, so every position gets the
game's real outcome) and records at every position: move number, colour to move, the network's
value, the searched value, the spread of the root's Q values, the prior and the improved policy's
mass on pass, and whether the move was a pass. Writes `summary.json` and plots into `--out` and
prints the tables. Every number it prints comes from those games and the run's metrics.jsonl.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import mctx
import numpy as np

from alphago_jax.runs import load_params
from alphago_jax.search.mcts import SearchResult, policy_value, run_policy
from alphago_jax.selfplay.selfplay import choose_action


def make_step(loaded, sims: int | None):
    cfg, net = loaded.cfg, loaded.network
    rules, settings = cfg.rules(), cfg.search_settings(sims)
    selfplay_settings = cfg.selfplay_settings()  # self-play's own move choice
    p = rules.num_points

    @jax.jit
    def step(params, states, key):
        k_search, k_act = jax.random.split(key)
        out, logits, value, legal = run_policy(rules, net, cfg.history, settings, params,
                                               states, k_search)
        tree = out.search_tree.summary()
        visited = tree.visit_counts > 0
        q = jnp.where(visited, tree.qvalues, jnp.nan)
        result = SearchResult(
            action=out.action.astype(jnp.int32), policy=out.action_weights,
            value=policy_value(out), prior_value=value, legal=legal,
            visits=out.search_tree.children_visits[:, mctx.Tree.ROOT_INDEX],
        )
        action = choose_action(k_act, result, states.move_count, selfplay_settings)
        prior = jax.nn.softmax(logits, axis=-1)
        record = {
            "move": states.move_count, "to_play": states.to_play, "net_value": value,
            "search_value": result.value,
            "q_std": jnp.nanstd(q, axis=-1), "q_range": jnp.nanmax(q, -1) - jnp.nanmin(q, -1),
            "prior_pass": prior[:, p], "policy_pass": result.policy[:, p],
            "passed": action == p,
            "policy_entropy": -jnp.sum(jnp.where(result.policy > 0,
                                                 result.policy * jnp.log(result.policy), 0.0), -1),
            "live": ~jax.vmap(rules.is_over)(states),
        }
        nxt = jax.vmap(rules.step)(states, action)
        return nxt, record

    return rules, step


def play(loaded, games: int, sims: int | None, seed: int):
    rules, step = make_step(loaded, sims)
    states = jax.vmap(lambda _: rules.init())(jnp.arange(games))
    key = jax.random.key(seed)
    records = []
    for _ in range(rules.max_moves or 2 * rules.size * rules.size):
        key, k = jax.random.split(key)
        states, rec = step(loaded.params, states, k)
        records.append(jax.device_get(rec))
        if not bool(np.any(rec["live"])):
            break
    score = np.asarray(jax.vmap(rules.score)(states))
    cols = {k: np.stack([r[k] for r in records], 1) for k in records[0]}  # [G, T]
    live = cols.pop("live")
    black_result = np.sign(score)  # +1 Black won, -1 White won
    mover_outcome = black_result[:, None] * cols["to_play"]  # the mover's realised result
    flat = {k: v[live] for k, v in cols.items()}
    flat["outcome"] = mover_outcome[live]
    return flat, score


def bucket_table(flat, edges):
    rows = []
    for colour, name in ((1, "black"), (-1, "white")):
        for lo, hi in zip(edges[:-1], edges[1:], strict=True):
            m = (flat["to_play"] == colour) & (flat["move"] >= lo) & (flat["move"] < hi)
            if m.sum() == 0:
                continue
            rows.append({
                "colour": name, "moves": f"{lo}-{hi - 1}", "n": int(m.sum()),
                "net_value": float(flat["net_value"][m].mean()),
                "search_value": float(flat["search_value"][m].mean()),
                "outcome": float(flat["outcome"][m].mean()),
                "saturated": float((np.abs(flat["net_value"][m]) > 0.9).mean()),
                "q_range": float(np.nanmean(flat["q_range"][m])),
                "prior_pass": float(flat["prior_pass"][m].mean()),
                "passed": float(flat["passed"][m].mean()),
            })
    return rows


def calibration(flat, bins=10):
    """Realised mover outcome per bin of predicted value, per colour."""
    out = {}
    edges = np.linspace(-1, 1, bins + 1)
    for colour, name in ((1, "black"), (-1, "white")):
        m = flat["to_play"] == colour
        v, o = flat["net_value"][m], flat["outcome"][m]
        idx = np.clip(np.digitize(v, edges) - 1, 0, bins - 1)
        out[name] = [
            {"pred": float(v[idx == i].mean()), "real": float(o[idx == i].mean()),
             "n": int((idx == i).sum())}
            for i in range(bins) if (idx == i).any()
        ]
    return out


def loss_floor(flat, run_dir: Path):
    """The losses' noise floor against what training reported at the end."""
    # Value: the cross-entropy of a perfect predictor of the mean outcome per (colour, move)
    # cell still pays the outcome's Bernoulli entropy; the policy's floor is the improved
    # policy's entropy (a soft target's cross-entropy can't go below it).
    ent = []
    for colour in (1, -1):
        for mv in np.unique(flat["move"]):
            m = (flat["to_play"] == colour) & (flat["move"] == mv)
            if m.sum() < 8:
                continue
            pw = np.clip((flat["outcome"][m] > 0).mean(), 1e-6, 1 - 1e-6)
            ent.append((m.sum(), -(pw * np.log(pw) + (1 - pw) * np.log(1 - pw))))
    n = sum(c for c, _ in ent)
    value_floor = sum(c * e for c, e in ent) / max(n, 1)
    reported = {}
    metrics = run_dir / "metrics.jsonl"
    if metrics.exists():
        rows = [json.loads(line) for line in metrics.read_text().splitlines() if line.strip()]
        tail = [r for r in rows if r.get("trained", 1)][-10:]
        for k in ("policy_loss", "value_loss", "pi", "v"):
            vals = [r[k] for r in tail if k in r]
            if vals:
                reported[k] = float(np.mean(vals))
    return {"value_ce_floor_per_move_cell": float(value_floor),
            "policy_target_entropy": float(flat["policy_entropy"].mean()),
            "reported_last10": reported}


def plots(flat, table, calib, out: Path):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib missing: no plots", file=sys.stderr)
        return
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.2))
    for name, c in (("black", "k"), ("white", "tab:orange")):
        pts = calib[name]
        axes[0].plot([p["pred"] for p in pts], [p["real"] for p in pts], "o-", color=c,
                     label=name)
        rows = [r for r in table if r["colour"] == name]
        x = [int(r["moves"].split("-")[0]) for r in rows]
        axes[1].plot(x, [r["net_value"] for r in rows], "o-", color=c, label=f"{name} net")
        axes[1].plot(x, [r["outcome"] for r in rows], "x--", color=c, label=f"{name} realised")
        axes[2].plot(x, [r["passed"] for r in rows], "o-", color=c, label=f"{name} passes")
        axes[2].plot(x, [r["saturated"] for r in rows], "x--", color=c,
                     label=f"{name} |v|>0.9")
    axes[0].plot([-1, 1], [-1, 1], ":", color="grey")
    axes[0].set(xlabel="predicted value (mover)", ylabel="realised outcome (mover)",
                title="calibration")
    axes[1].set(xlabel="move number", ylabel="mean value (mover)", title="value by move")
    axes[2].set(xlabel="move number", ylabel="fraction", title="passing and saturation")
    for a in axes:
        a.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out / "calibration.png", dpi=90)
    print(f"wrote {out / 'calibration.png'}")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("run_dir")
    ap.add_argument("--step", type=int, default=None)
    ap.add_argument("--games", type=int, default=256)
    ap.add_argument("--sims", type=int, default=None, help="default: the run's num_simulations")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default=None, help="default: RUN/diagnosis")
    a = ap.parse_args(argv)
    loaded = load_params(a.run_dir, a.step)
    out = Path(a.out or Path(a.run_dir) / "diagnosis")
    out.mkdir(parents=True, exist_ok=True)
    flat, score = play(loaded, a.games, a.sims, a.seed)
    size = loaded.cfg.size
    edges = list(range(0, 2 * size * size + 1, max(2, size)))
    table = bucket_table(flat, edges)
    calib = calibration(flat)
    summary = {
        "run": a.run_dir, "step": loaded.step, "games": a.games,
        "black_win_rate": float((score > 0).mean()),
        "mean_score_black_minus_white": float(score.mean()),
        "game_length": float(len(flat["move"]) / a.games),
        "by_move": table, "calibration": calib,
        "loss_floor": loss_floor(flat, Path(a.run_dir)),
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=1))
    print(f"{a.run_dir} step {loaded.step}: {a.games} self-play games, Black wins "
          f"{summary['black_win_rate']:.3f}, mean score (B-W-komi) {score.mean():+.2f}, "
          f"{summary['game_length']:.1f} moves/game")
    print(f"{'colour':6} {'moves':>7} {'n':>6} {'net_v':>7} {'srch_v':>7} {'real':>7} "
          f"{'|v|>.9':>7} {'Qrange':>7} {'p_pass':>7} {'passed':>7}")
    for r in table:
        print(f"{r['colour']:6} {r['moves']:>7} {r['n']:6d} {r['net_value']:7.3f} "
              f"{r['search_value']:7.3f} {r['outcome']:7.3f} {r['saturated']:7.3f} "
              f"{r['q_range']:7.3f} {r['prior_pass']:7.3f} {r['passed']:7.3f}")
    print("loss floor:", json.dumps(summary["loss_floor"]))
    plots(flat, table, calib, out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
