"""Analysis, tables and plots of a scaling-law results file (`experiments/scaling_laws.py`).

The results dict (``scaling.json``) holds ``grid`` (sizes, nets, eval_sims, test_sims, ...),
``references`` (per size), ``runs`` (one dict per training run with its ``agents``: every
checkpoint ``step`` at every ``sims`` with ``train_flops``, ``test_flops``, ``elo``, ``stderr``,
``games`` and ``matches``) and ``analysis`` (what `analyse` returns). Plot functions return the
matplotlib figure and save it when given a path; they never choose a backend.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from alphago_jax.scaling.frontier import (
    FrontierFit,
    compute_to_reach,
    fit_frontier,
    frontier_points,
    iso_elo_train_compute,
    plateau_trend,
    tradeoff,
)

MARKERS = "osD^vP*X"


def agents_of(results: dict, size: int, sims: int | None = None) -> list[dict]:
    """Rated agents of one board size (optionally at one simulation count), each with its
    run's ``run`` name and ``net`` ('BxC')."""
    return [dict(a, run=r["name"], net=r["net"]) for r in results["runs"]
            if r["run"]["size"] == size for a in r["agents"]
            if sims is None or a["sims"] == sims]


def analyse(results: dict, tolerance: float | None = None, frontier_only: bool = True,
            num_targets: int = 4) -> dict:
    """Frontier fits per size, the compute-to-plateau comparison and the trade-off.

    Args:
      results: the results dict (only ``grid`` and ``runs`` are read).
      tolerance: Elo slack of the frontier (`frontier_points`); None = the median standard
        error of the size's agents (noise should not drop plateau points).
      frontier_only: fit the frontier points only (else every agent).
      num_targets: iso-Elo levels of the trade-off, evenly inside the Elo range every
        simulation count reaches.

    Returns:
      {'fits': {size: FrontierFit dict + tolerance, or {'error': ...}}, 'plateau': [rows],
       'plateau_trend': PlateauTrend dict or None, 'tradeoff': {size: {...}}} (sizes as str).
    """
    grid = results["grid"]
    fits, trade = {}, {}
    for size in grid["sizes"]:
        main = agents_of(results, size, grid["eval_sims"])
        if len(main) >= 3:
            tol = (float(np.median([a["stderr"] for a in main])) if tolerance is None
                   else tolerance)
            try:
                fit = fit_frontier([a["train_flops"] for a in main], [a["elo"] for a in main],
                                   frontier_only=frontier_only, tolerance=tol)
                fits[str(size)] = {**fit.as_dict(), "tolerance": tol}
            except ValueError as e:
                fits[str(size)] = {"error": str(e)}
        agents = agents_of(results, size)
        levels = sorted({a["sims"] for a in agents})
        if len(levels) >= 2:
            tops = [max(a["elo"] for a in agents if a["sims"] == s) for s in levels]
            lows = [min(a["elo"] for a in agents if a["sims"] == s) for s in levels]
            lo, hi = max(lows), min(tops)
            targets = [float(t) for t in np.linspace(lo, hi, num_targets + 2)[1:-1]] if (
                hi > lo) else []
            t = tradeoff(agents, targets)
            trade[str(size)] = {"targets": targets, "rows": t.rows,
                                "slopes": {f"{k:.1f}": v for k, v in t.slopes.items()},
                                "mean_slope": t.mean_slope}
    plateau = [
        {"size": int(size), "c_plateau": f["c_plateau"], "log10_c_plateau": f["log10_c_plateau"],
         "reached": f["plateau_reached"], "plateau_elo": f["plateau"], "slope": f["slope"]}
        for size, f in fits.items() if "error" not in f
    ]
    trend = None
    if len(plateau) >= 2:
        tr = plateau_trend([p["size"] for p in plateau], [p["log10_c_plateau"] for p in plateau])
        trend = {**tr._asdict(), "all_reached": all(p["reached"] for p in plateau)}
    return {"fits": fits, "plateau": plateau, "plateau_trend": trend,
            "reach": _reach(results, fits, num_targets), "tradeoff": trade}


def _reach(results: dict, fits: dict, num_targets: int) -> dict:
    """Training compute each size needs to reach common Elo levels (plateaus or not).

    The levels lie evenly below the lowest of the sizes' best measured Elo, so every size
    reaches them inside its data; `flops` reads the fitted frontier, `flops_data` the measured
    frontier (`iso_elo_train_compute`), and `factor_per_size` is the compute multiplier per +1
    board side (`plateau_trend` on the fitted values).
    """
    grid = results["grid"]
    sizes = [int(k) for k, f in fits.items() if "error" not in f]
    if len(sizes) < 2:
        return {"targets": [], "rows": [], "factor_per_size": {}}
    agents = {n: agents_of(results, n, grid["eval_sims"]) for n in sizes}
    best = min(max(a["elo"] for a in agents[n]) for n in sizes)
    targets = [float(t) for t in np.linspace(0.0, best, num_targets + 2)[1:-1]]
    rows, factors = [], {}
    for t in targets:
        logs = []
        for n in sizes:
            c = compute_to_reach(fit_of(fits[str(n)]), t)
            data = iso_elo_train_compute([a["train_flops"] for a in agents[n]],
                                         [a["elo"] for a in agents[n]], t)
            rows.append({"elo": t, "size": n, "flops": c, "flops_data": data})
            if c is not None:
                logs.append((n, np.log10(c)))
        if len(logs) >= 2:
            factors[f"{t:.0f}"] = plateau_trend(*zip(*logs, strict=True)).factor_per_size
    return {"targets": targets, "rows": rows, "factor_per_size": factors}


def fit_of(entry: dict) -> FrontierFit:
    """A FrontierFit back from its dict in ``analysis['fits']``."""
    return FrontierFit(**{k: entry[k] for k in FrontierFit._fields})


def format_tables(analysis: dict) -> str:
    """Markdown tables of the fits and the trade-off."""
    lines = ["Frontier fits: elo(C) = plateau + slope * min(0, log10 C - log10 C_plateau)", "",
             "| size | slope (Elo/decade) | plateau (Elo) | C_plateau (FLOPs) | reached | "
             "rmse (Elo) | points |", "|---|---:|---:|---:|---|---:|---:|"]
    for size, f in analysis["fits"].items():
        if "error" in f:
            lines.append(f"| {size}x{size} | {f['error']} | | | | | |")
            continue
        bound = "" if f["plateau_reached"] else ">= "
        lines.append(
            f"| {size}x{size} | {f['slope']:.0f} | {bound}{f['plateau']:.0f} | "
            f"{bound}{f['c_plateau']:.3g} | {'yes' if f['plateau_reached'] else 'no'} | "
            f"{f['rmse']:.0f} | {f['n_points']} |")
    trend = analysis["plateau_trend"]
    if trend:
        qual = "" if trend["all_reached"] else (
            " (not every plateau reached: these are lower bounds, the largest compute measured)")
        lines += ["", f"Compute to the plateau: x{trend['factor_per_size']:.3g} per +1 board "
                      f"side{qual}."]
    reach = analysis.get("reach") or {}
    if reach.get("rows"):
        sizes = sorted({r["size"] for r in reach["rows"]})
        lines += ["", "Training FLOPs to reach a common Elo (fitted frontier; measured frontier "
                      "in brackets):", "",
                  "| Elo | " + " | ".join(f"{n}x{n}" for n in sizes) + " | x per +1 side |",
                  "|---:|" + "---:|" * (len(sizes) + 1)]
        fmt = lambda v: "-" if v is None else f"{v:.3g}"
        for t in reach["targets"]:
            cells = [f"{fmt(r['flops'])} ({fmt(r['flops_data'])})" for n in sizes
                     for r in reach["rows"] if r["elo"] == t and r["size"] == n]
            factor = reach["factor_per_size"].get(f"{t:.0f}")
            lines.append(f"| {t:.0f} | " + " | ".join(cells) + f" | {fmt(factor)} |")
    for size, t in analysis["tradeoff"].items():
        lines += ["", f"Train/test trade-off {size}x{size} (iso-Elo points):", "",
                  "| Elo | sims | log10 test FLOPs/move | log10 train FLOPs |",
                  "|---:|---:|---:|---:|"]
        lines += [f"| {r['target']:.0f} | {r['sims']} | {r['log10_test_flops']:.2f} | "
                  f"{r['log10_train_flops']:.2f} |" for r in t["rows"]]
        if t["mean_slope"] is not None:
            s = t["mean_slope"]
            lines += ["", f"Mean slope d log10(train) / d log10(test) = {s:.2f}: 10x the "
                          f"test-time compute does the work of {10 ** -s:.3g}x the training "
                          "compute."]
    return "\n".join(lines)


def _colors(n: int):
    import matplotlib.pyplot as plt

    return plt.cm.viridis(np.linspace(0.0, 0.85, n))


def _save(fig, path):
    if path is not None:
        fig.tight_layout()
        fig.savefig(Path(path), dpi=100)
    return fig


def plot_frontiers(results: dict, analysis: dict | None = None, path=None):
    """Elo vs training FLOPs per board size (markers: nets) with the fitted frontiers."""
    import matplotlib.pyplot as plt

    grid = results["grid"]
    analysis = analysis or results.get("analysis") or analyse(results)
    nets = [f"{b}x{c}" for b, c in grid["nets"]]
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for color, size in zip(_colors(len(grid["sizes"])), grid["sizes"], strict=True):
        pts = agents_of(results, size, grid["eval_sims"])
        for a in pts:
            ax.errorbar(a["train_flops"], a["elo"], yerr=a["stderr"], color=color, alpha=0.6,
                        marker=MARKERS[nets.index(a["net"]) % len(MARKERS)], ms=4, lw=0.8,
                        capsize=2, ls="none")
        entry = analysis["fits"].get(str(size))
        if pts and entry and "error" not in entry:
            fit = fit_of(entry)
            xs = np.log10([a["train_flops"] for a in pts])
            label = (f"{size}x{size}: {fit.slope:.0f} Elo/decade, plateau "
                     f"{'' if fit.plateau_reached else '>= '}{fit.plateau:.0f}")
            if fit.plateau_reached:
                gx = np.linspace(xs.min() - 0.1, max(xs.max(), fit.log10_c_plateau) + 0.3, 100)
                ax.plot(10**gx, fit.predict(gx), color=color, lw=2, label=label)
            else:  # the incline over the data, then its extrapolation (dashed)
                gx = np.linspace(xs.min() - 0.1, xs.max(), 100)
                ax.plot(10**gx, fit.predict(gx), color=color, lw=2, label=label)
                ex = np.array([xs.max(), xs.max() + 0.3])
                ax.plot(10**ex, fit.plateau + fit.slope * (ex - xs.max()), color=color, lw=1.5,
                        ls="--")
    for i, net in enumerate(nets):
        ax.plot([], [], marker=MARKERS[i % len(MARKERS)], color="grey", ls="none",
                label=f"net {net}")
    if any(agents_of(results, s, grid["eval_sims"]) for s in grid["sizes"]):
        ax.set_xscale("log")
    ax.set_xlabel("training compute (FLOPs)")
    ax.set_ylabel(f"Elo (random = 0), {grid['eval_sims']} sims/move")
    ax.set_title("Compute frontier per board size: incline + plateau fit", fontsize=9)
    ax.legend(fontsize=7)
    return _save(fig, path)


def plot_plateau(results: dict, analysis: dict | None = None, path=None):
    """Compute to reach the plateau against board size (lower bounds where not reached)."""
    import matplotlib.pyplot as plt

    analysis = analysis or results.get("analysis") or analyse(results)
    rows = analysis["plateau"]
    fig, ax = plt.subplots(figsize=(5.5, 4))
    for r in rows:
        ax.scatter(r["size"], r["c_plateau"], color="C0" if r["reached"] else "C1",
                   marker="o" if r["reached"] else "^", s=40)
    ax.scatter([], [], color="C0", marker="o", label="plateau reached")
    ax.scatter([], [], color="C1", marker="^", label="not reached (lower bound)")
    trend = analysis["plateau_trend"]
    if trend:
        s = np.array([r["size"] for r in rows], float)
        xs = np.linspace(s.min(), s.max(), 20)
        bound = "" if trend["all_reached"] else ", lower bound"
        ax.plot(xs, 10 ** (trend["intercept"] + trend["per_size"] * xs), color="grey", lw=1,
                ls="-" if trend["all_reached"] else ":",
                label=f"plateau: x{trend['factor_per_size']:.3g} per +1 side{bound}")
    reach = analysis.get("reach") or {}
    for color, t in zip(_colors(len(reach.get("targets", []))), reach.get("targets", []),
                        strict=True):
        pts = [(r["size"], r["flops"]) for r in reach["rows"]
               if r["elo"] == t and r["flops"] is not None]
        if pts:
            ax.plot(*zip(*pts, strict=True), marker="s", ms=4, color=color, lw=1,
                    label=f"reach Elo {t:.0f}")
    if rows or (analysis.get("reach") or {}).get("rows"):
        ax.set_yscale("log")
    ax.set_xticks(sorted({int(r["size"]) for r in rows}
                         | {int(r["size"]) for r in (analysis.get("reach") or {}).get("rows", [])}))
    ax.set_xlabel("board size")
    ax.set_ylabel("training compute (FLOPs)")
    ax.set_title("Compute to the plateau, and to common Elo levels", fontsize=9)
    ax.legend(fontsize=7)
    return _save(fig, path)


def plot_tradeoff(results: dict, analysis: dict | None = None, path=None):
    """Top: Elo vs training FLOPs per test-time simulation count (frontier lines); bottom:
    iso-Elo lines, log10 training FLOPs against log10 test-time FLOPs per move."""
    import matplotlib.pyplot as plt

    grid = results["grid"]
    analysis = analysis or results.get("analysis") or analyse(results)
    sizes = [s for s in grid["sizes"] if str(s) in analysis["tradeoff"]]
    if not sizes:
        return None
    fig, axes = plt.subplots(2, len(sizes), figsize=(5 * len(sizes), 7), squeeze=False)
    for col, size in enumerate(sizes):
        ax = axes[0, col]
        for color, sims in zip(_colors(len(grid["test_sims"])), grid["test_sims"], strict=True):
            group = agents_of(results, size, sims)
            if not group:
                continue
            c = np.array([a["train_flops"] for a in group])
            e = np.array([a["elo"] for a in group])
            ax.scatter(c, e, color=color, s=10, alpha=0.5)
            idx = frontier_points(c, e)
            ax.plot(c[idx], e[idx], color=color, lw=1.5, label=f"{sims} sims")
        ax.set_xscale("log")
        ax.set_title(f"{size}x{size}: Elo vs training compute per test-time budget", fontsize=9)
        ax.set_xlabel("training compute (FLOPs)")
        ax.set_ylabel("Elo (random = 0)")
        ax.legend(fontsize=7)
        ax = axes[1, col]
        t = analysis["tradeoff"][str(size)]
        for color, target in zip(_colors(len(t["targets"])), t["targets"], strict=True):
            rows = [r for r in t["rows"] if r["target"] == target]
            if rows:
                ax.plot([r["log10_test_flops"] for r in rows],
                        [r["log10_train_flops"] for r in rows], marker="o", color=color,
                        label=f"Elo {target:.0f}")
        slope = t["mean_slope"]
        ax.set_title(f"{size}x{size}: iso-Elo lines"
                     f"{'' if slope is None else f' (mean slope {slope:.2f})'}", fontsize=9)
        ax.set_xlabel("log10 test-time FLOPs per move")
        ax.set_ylabel("log10 training FLOPs")
        if t["rows"]:
            ax.legend(fontsize=7)
    return _save(fig, path)
