"""Transfer across board sizes: does a network trained on 9x9 give a larger board a head start?

Trains (or takes with ``--source RUN``) a source run, then trains two runs on a larger board
(13x13 by default, ``--size 19`` for 19x19) with identical configs and budgets except one:

* ``warm``: ``init_from=SOURCE`` -- starts from the source network (the nets are fully
  convolutional, so the same parameters play any board size);
* ``scratch``: random initialisation.

Both runs keep every ``--checkpoint-every`` iterations' checkpoint. Each checkpoint (and step 0:
the source network as is for ``warm``, the random initialisation for ``scratch``) plays
``--games`` games against uniform random, and ``warm`` plays ``scratch`` at the same step. A
Bradley-Terry (Elo) fit over all those matches (`alphago_jax.arena.elo.fit_elo`, random = 0)
puts every checkpoint on one scale. Results go to OUT:

* ``results.json``: the configs, per-checkpoint rows and the Elo fit;
* ``results.csv``: one row per (run, step): SGD steps done, win rate vs random with its 95%
  Wilson interval, head-to-head score against the other run at that step, Elo and its standard
  error;
* ``transfer.png``: win rate vs random and Elo against training iterations (identical
  self-play and SGD budgets per iteration; the CSV has the SGD steps each checkpoint had done),
  both runs.

Usage (CPU, tiny nets, ~15 minutes on 2 cores)::

    python experiments/transfer.py --out /tmp/transfer
    python experiments/transfer.py --source runs/my-9x9 --size 19 --iterations 200 \\
        --checkpoint-every 25 --games 64 --set selfplay_batch=256 --out runs/transfer-19

Re-running with the same OUT resumes: finished training runs are not retrained (their run
directories resume with nothing left to do).
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import time
from pathlib import Path

import jax

from alphago_jax import arena, runs, train
from alphago_jax.arena.elo import fit_elo
from alphago_jax.checkpoint import Checkpointer, CheckpointError
from alphago_jax.config import ConfigError, TrainConfig
from alphago_jax.trainer import make_train

# The fields that make two networks parameter-compatible; the target runs copy them from the
# source run so that `init_from` loads.
ARCH_FIELDS = ("net", "blocks", "channels", "block_type", "global_pool", "ownership", "history",
               "dtype")
CSV_FIELDS = ["run", "iteration", "sgd_steps", "games", "wins", "losses", "draws",
              "win_rate_vs_random", "ci_low", "ci_high", "h2h_score_vs_other", "elo", "elo_se"]


def _log(msg: str) -> None:
    print(f"transfer: {msg}", file=sys.stderr, flush=True)


def parse_args(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default="/tmp/transfer", help="output directory (and run dirs)")
    ap.add_argument("--source", default=None, help="source run dir (default: train one)")
    ap.add_argument("--source-size", type=int, default=9)
    ap.add_argument("--source-iterations", type=int, default=20)
    ap.add_argument("--size", type=int, default=13, help="target board size (19 for 19x19)")
    ap.add_argument("--iterations", type=int, default=12, help="iterations of each target run")
    ap.add_argument("--checkpoint-every", type=int, default=3)
    ap.add_argument("--blocks", type=int, default=2, help="net of a trained source")
    ap.add_argument("--channels", type=int, default=16, help="net of a trained source")
    ap.add_argument("--batch", type=int, default=32, help="self-play games in lockstep")
    ap.add_argument("--steps", type=int, default=16, help="self-play moves per iteration")
    ap.add_argument("--sims", type=int, default=8, help="simulations (self-play and eval)")
    ap.add_argument("--sgd-steps", type=int, default=4)
    ap.add_argument("--train-batch", type=int, default=128)
    ap.add_argument("--min-buffer", type=int, default=256)
    ap.add_argument("--games", type=int, default=32, help="games per evaluation match")
    ap.add_argument("--no-head-to-head", action="store_true", help="vs random only")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--replot", action="store_true",
                    help="only redraw OUT/transfer.png from OUT/results.json")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="extra config override for the target runs (repeatable)")
    ap.add_argument("--source-set", action="append", default=[], metavar="KEY=VALUE",
                    help="extra config override for a trained source run (repeatable)")
    return ap.parse_args(argv)


def budget(args) -> list[str]:
    """Self-play / learning budget overrides shared by the source and both target runs."""
    sims = args.sims
    return [
        f"num_simulations={sims}", f"max_num_considered_actions={min(sims, 8)}",
        f"eval_simulations={sims}", f"selfplay_batch={args.batch}",
        f"selfplay_steps={args.steps}", f"sgd_steps={args.sgd_steps}",
        f"train_batch={args.train_batch}", f"min_buffer={args.min_buffer}",
        "buffer_capacity=20000", "wandb=false", f"seed={args.seed}",
    ]


def train_run(run_dir: Path, overrides: list[str]) -> None:
    """Trains (or resumes, or finds finished) one run; raises on a failed run."""
    t0 = time.perf_counter()
    code = train.main(str(run_dir), "default", overrides)
    if code != 0:
        raise SystemExit(f"transfer: training {run_dir} failed (exit {code})")
    _log(f"{run_dir} trained in {time.perf_counter() - t0:.0f}s")


def source_run(args, out: Path) -> Path:
    if args.source:
        return Path(args.source)
    run = out / f"source_{args.source_size}x{args.source_size}"
    train_run(run, budget(args) + [
        f"size={args.source_size}", f"blocks={args.blocks}", f"channels={args.channels}",
        f"iterations={args.source_iterations}", "eval_every=0",
        f"checkpoint_every={args.source_iterations}",
    ] + args.source_set)
    return run


def target_overrides(args, source_cfg: TrainConfig) -> list[str]:
    arch = [f"{k}={getattr(source_cfg, k)}" for k in ARCH_FIELDS]
    keep = args.iterations // args.checkpoint_every + 1
    return arch + budget(args) + [
        f"size={args.size}", f"iterations={args.iterations}", "eval_every=0",
        f"checkpoint_every={args.checkpoint_every}", f"keep_checkpoints={keep}",
    ] + args.set


def params_by_step(run: Path, step0_params) -> tuple[dict[int, object], dict[int, int]]:
    """({iteration: params}, {iteration: SGD steps done}) of a run's checkpoints, with
    `step0_params` at iteration 0."""
    params, sgd = {0: step0_params}, {0: 0}
    with Checkpointer(runs.checkpoint_dir(run), async_save=False, writer=False) as ck:
        for step in ck.all_steps():
            params[step] = runs.load_params(run, step).params
            sgd[step] = int((ck.metadata(step) or {}).get("sgd_step", 0))
    return params, sgd


def win_rate(cfg: TrainConfig, params, opponent_params, key, games: int) -> dict:
    """The run's evaluated agent with `params` vs uniform random (`opponent_params=None`) or
    vs the same network with other parameters: the arena's tally as a dict."""
    network = cfg.network()  # a value: every match of one architecture shares its compile
    a = arena.SearchPlayer.from_config(cfg, network, params, name="a")
    b = (arena.RandomPlayer() if opponent_params is None else
         arena.SearchPlayer.from_config(cfg, network, opponent_params, name="b"))
    return arena.play_match(cfg.rules(), a, b, games, key).tally.as_dict()


def evaluate(args, cfg: TrainConfig, warm: dict, scratch: dict):
    """Matches of every checkpoint vs random, and warm vs scratch at equal steps.

    Both runs' checkpoints at one step play with the same keys (common random numbers: the
    random opponent's choices are the same), so their difference is less noisy.

    Returns:
      (rows {(run, step): summary}, h2h {step: summary of warm vs scratch}).
    """
    key = jax.random.key(args.seed + 1)
    rows, h2h = {}, {}
    for name, by_step in (("warm", warm), ("scratch", scratch)):
        for step, params in by_step.items():
            t0 = time.perf_counter()
            r = win_rate(cfg, params, None, jax.random.fold_in(key, step), args.games)
            rows[(name, step)] = r
            _log(f"{name}@{step} vs random: {r['wins']}-{r['losses']}-{r['draws']} "
                 f"({time.perf_counter() - t0:.0f}s)")
    if not args.no_head_to_head:
        for step in sorted(set(warm) & set(scratch)):
            r = win_rate(cfg, warm[step], scratch[step], jax.random.fold_in(key, 10_000 + step),
                         args.games)
            h2h[step] = r
            _log(f"warm@{step} vs scratch@{step}: {r['wins']}-{r['losses']}-{r['draws']}")
    return rows, h2h


def elo(rows: dict, h2h: dict):
    results = [(f"{name}@{step}", "random", r["wins"] + 0.5 * r["draws"], r["games"])
               for (name, step), r in rows.items()]
    results += [(f"warm@{step}", f"scratch@{step}", r["wins"] + 0.5 * r["draws"], r["games"])
                for step, r in h2h.items()]
    return fit_elo(results, anchor="random")


def table(rows: dict, h2h: dict, fit, sgd_steps: dict[str, dict[int, int]]) -> list[dict]:
    ratings = fit.as_dict()
    out = []
    for (name, step), r in sorted(rows.items()):
        h = h2h.get(step)
        score = None if h is None else (h["win_rate"] if name == "warm" else 1 - h["win_rate"])
        rating, se = ratings[f"{name}@{step}"]
        out.append({
            "run": name, "iteration": step, "sgd_steps": sgd_steps[name][step],
            "games": r["games"],
            "wins": r["wins"], "losses": r["losses"], "draws": r["draws"],
            "win_rate_vs_random": round(r["win_rate"], 4), "ci_low": round(r["ci_low"], 4),
            "ci_high": round(r["ci_high"], 4),
            "h2h_score_vs_other": None if score is None else round(score, 4),
            "elo": round(rating, 1), "elo_se": round(se, 1),
        })
    return out


def budget_line(cfg: dict | TrainConfig) -> str:
    """What one training iteration is, for the plot."""
    c = cfg if isinstance(cfg, dict) else cfg.to_dict()
    return (f"one iteration = {c['selfplay_batch']} games x {c['selfplay_steps']} moves of "
            f"self-play, then {c['sgd_steps']} SGD steps of {c['train_batch']} (from "
            f"{c['min_buffer']} positions in the buffer)")


def plot(rows: list[dict], path: Path, title: str, budget: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax_w, ax_e) = plt.subplots(1, 2, figsize=(11, 4.2))
    shift = 0.006 * max([r["iteration"] for r in rows] + [1])  # coinciding points stay visible
    for name, colour, dx in (("warm", "tab:red", -shift), ("scratch", "tab:blue", shift)):
        pts = [r for r in rows if r["run"] == name]
        x = [r["iteration"] + dx for r in pts]
        w = [r["win_rate_vs_random"] for r in pts]
        err = [[a - r["ci_low"] for a, r in zip(w, pts, strict=True)],
               [r["ci_high"] - a for a, r in zip(w, pts, strict=True)]]
        label = "warm start (init_from)" if name == "warm" else "from scratch"
        ax_w.errorbar(x, w, yerr=err, marker="o", capsize=3, color=colour, label=label)
        ax_e.errorbar(x, [r["elo"] for r in pts], yerr=[r["elo_se"] for r in pts], marker="o",
                      capsize=3, color=colour, label=label)
    ax_w.set_ylim(-0.02, 1.02)
    ax_w.set_ylabel("win rate vs uniform random (95% CI)")
    ax_e.axhline(0.0, ls="--", lw=0.8, color="grey")
    ax_e.set_ylabel("Elo (random = 0, ± 1 se)")
    for ax in (ax_w, ax_e):
        ax.set_xlabel("training iteration")
        ax.legend(fontsize=8)
    fig.suptitle(f"{title}\n{budget}", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def write_csv(path: Path, rows: list[dict]) -> None:
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=CSV_FIELDS)
        writer.writeheader()
        writer.writerows(rows)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    out = Path(args.out)
    if args.replot:
        saved = json.loads((out / "results.json").read_text())
        plot(saved["rows"], out / "transfer.png", saved["title"],
             budget_line(saved["target_config"]))
        _log(f"wrote {out / 'transfer.png'}")
        return 0
    out.mkdir(parents=True, exist_ok=True)
    t_start = time.perf_counter()
    try:
        src = source_run(args, out)
        source = runs.load_params(src)
        overrides = target_overrides(args, source.cfg)
        warm_run, scratch_run = out / f"warm_{args.size}x{args.size}", out / (
            f"scratch_{args.size}x{args.size}")
        train_run(warm_run, overrides + [f"init_from={src}"])
        train_run(scratch_run, overrides)
        t_train = time.perf_counter() - t_start

        cfg = TrainConfig.load(scratch_run / "config.json")
        # Step 0 exactly as the runs started: the source net, and scratch's fresh init.
        scratch0 = make_train(cfg).init(
            jax.random.fold_in(jax.random.key(cfg.seed), 0)).train.params
        warm, warm_sgd = params_by_step(warm_run, source.params)
        scratch, scratch_sgd = params_by_step(scratch_run, scratch0)
        # The restored checkpoints' tree structure for every step-0 net: one compile per match
        # kind (a freshly initialised tree can differ in static metadata and would recompile).
        like = scratch[max(scratch)]
        warm[0], scratch[0] = (jax.tree.unflatten(jax.tree.structure(like), jax.tree.leaves(p))
                               for p in (warm[0], scratch[0]))
    except (ConfigError, CheckpointError) as e:
        _log(str(e))
        return 2
    t0 = time.perf_counter()
    # The source on its own board: how strong the transferred network is where it was trained.
    source_vs_random = win_rate(source.cfg, source.params, None, jax.random.key(args.seed + 2),
                                args.games)
    _log(f"source@{source.step} vs random on {source.cfg.size}x"
         f"{source.cfg.size}: win rate {source_vs_random['win_rate']:.3f}")
    rows, h2h = evaluate(args, cfg, warm, scratch)
    t_eval = time.perf_counter() - t0
    fit = elo(rows, h2h)
    records = table(rows, h2h, fit, {"warm": warm_sgd, "scratch": scratch_sgd})

    title = (f"{args.size}x{args.size}: warm start from {Path(src).name}@{source.step} "
             f"({source.cfg.size}x{source.cfg.size}) vs from scratch; "
             f"{cfg.blocks}x{cfg.channels} {cfg.net}, {cfg.num_simulations} sims, "
             f"{args.games} games/point")
    write_csv(out / "results.csv", records)
    (out / "results.json").write_text(json.dumps({
        "title": title,
        "source": {"run": str(src), "step": source.step, "config": source.cfg.to_dict(),
                   "vs_random_at_its_size": source_vs_random},
        "target_config": cfg.to_dict(),
        "rows": records,
        "elo": {p: {"elo": r, "se": s} for p, (r, s) in fit.as_dict().items()},
        "seconds": {"train": round(t_train, 1), "evaluate": round(t_eval, 1)},
        "argv": sys.argv[1:] if argv is None else list(argv),
    }, indent=2) + "\n")
    plot(records, out / "transfer.png", title, budget_line(cfg))
    for r in records:
        print(f"{r['run']:8s} it {r['iteration']:4d} sgd {r['sgd_steps']:5d}  vs random "
              f"{r['win_rate_vs_random']:.3f} ({r['ci_low']:.3f}-{r['ci_high']:.3f})  h2h "
              f"{r['h2h_score_vs_other']}  Elo {r['elo']:.0f} ± {r['elo_se']:.0f}")
    _log(f"wrote {out / 'results.csv'}, {out / 'results.json'}, {out / 'transfer.png'} "
         f"(train {t_train:.0f}s, evaluate {t_eval:.0f}s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
