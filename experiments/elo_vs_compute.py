"""Elo against training compute for several laddered runs, one line per run.

    python experiments/elo_vs_compute.py runs/default runs/su02 --out docs/elo_vs_compute.png

Each run must have been rated by `alphago-jax ladder` with the same anchor (GnuGo level 1 = 0 by
default), so the runs share one scale. Prints one row per rated checkpoint: run, step,
device-seconds, FLOPs, Elo and its 95% interval.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from alphago_jax.arena.ladder import Z95, ladder_path, rate, read_ladder, training_figures


def curve(run: Path, anchor: str):
    _, records = read_ladder(ladder_path(run))
    fit = rate(records, anchor, 0.0).as_dict()
    steps = sorted(int(k.split("@")[1]) for k in fit if k.startswith("ckpt@"))
    figures, _ = training_figures(run, steps)
    return [(s, figures["device_s"].get(s), figures["flops"].get(s), *fit[f"ckpt@{s}"])
            for s in steps]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("runs", nargs="+")
    ap.add_argument("--anchor", default="gnugo:1")
    ap.add_argument("--out", default="elo_vs_compute.png")
    a = ap.parse_args(argv)
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4), sharey=True)
    print(f"{'run':24} {'step':>5} {'device-s':>9} {'FLOPs':>9} {'Elo':>6} {'95% CI':>12}")
    for run in a.runs:
        pts = curve(Path(run), a.anchor)
        for s, dev, fl, elo, se in pts:
            print(f"{run:24} {s:5d} {dev or 0:9.0f} {fl or 0:9.3g} {elo:6.0f} "
                  f"{elo - Z95 * se:5.0f}..{elo + Z95 * se:.0f}")
        for ax, i in zip(axes, (1, 2), strict=True):
            xs = [(p[i], p[3], Z95 * p[4]) for p in pts if p[i] is not None]
            if xs:
                x, y, e = zip(*xs, strict=True)
                ax.errorbar(x, y, yerr=e, marker="o", capsize=3, label=Path(run).name)
    for ax, label in zip(axes, ("training device-seconds", "training FLOPs"), strict=True):
        ax.axhline(0, color="grey", ls=":", label=f"{a.anchor} (anchor)")
        ax.set(xlabel=label, ylabel="Elo")
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(a.out, dpi=90)
    print(f"plot: {a.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
