"""Scaling laws across board sizes (after Jones, "Scaling Scaling Laws with Board Games", 2021).

A grid of board sizes x model sizes (blocks x channels) x compute budgets. The budgets are the
checkpoints along each training run (Jones' snapshots), plus one run per seed. For each size:

1. **References.** A fixed reference set that does not depend on the grid's runs -- uniform
   random (0 Elo), searches with a uniform prior and a hand-written area value
   (`alphago_jax.scaling.reference_agent`) at several simulation counts, and an *anchor*: one
   separately trained network (fixed recipe, its own seed) at a few simulation counts, because
   trained agents soon beat every cheap heuristic search -- plays a round robin and is rated
   once (Bradley-Terry, `alphago_jax.arena.fit_elo`).
2. **Runs.** Each (net, seed) trains with `alphago_jax.train.main` (a tiny preset built from
   overrides), keeping every checkpoint.
3. **Ratings.** Every checkpoint, searching with each test-time simulation count, plays an
   adaptive gauntlet against the references (the next opponent is the reference closest to its
   current estimate) and gets the maximum-likelihood Elo with the references' ratings fixed, so
   all agents share one scale per board size.
4. **Fits.** Elo vs log10(training FLOPs) (`alphago_jax.scaling.train_flops`) of the best agents
   is fitted by an incline meeting a plateau (`fit_frontier`); the compute to reach the plateau
   is compared across sizes; the same agents at several test-time simulation counts give the
   train-compute vs test-compute trade-off (iso-Elo lines, `tradeoff`).

Usage::

    python experiments/scaling_laws.py --grid cpu --out runs/scaling_cpu   # < 1 h on 2 cores
    python experiments/scaling_laws.py --grid gpu-small --out runs/scaling_gpu

Writes to OUT: ``references/size{S}.json`` (reference matches and ratings), ``anchors/NAME/``
(the anchor runs), ``runs/NAME/``
(training run directories with ``rated.json``: every checkpoint's compute and Elo at each
simulation count with its matches), ``scaling.json`` (everything: grid, references, runs,
checkpoints, compute, Elo, match counts, fits, the plateau comparison, the trade-off, timings),
and the plots ``frontier.png``, ``plateau.png`` and ``tradeoff.png``. Re-running skips finished
references, runs and ratings (resume-safe); `--refit` only redoes the fits and plots.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import sys
import time
import zlib
from pathlib import Path

# Every grid self-plays from the empty board (`random_opening_moves=0`), as the stored cpu study
# was measured before the default took random openings.
GRIDS: dict[str, dict] = {
    # 2 sizes x 3 nets x 6 checkpoints (log-spaced); 3 test-time simulation counts.
    # < 1 h on 2 CPU cores.
    "cpu": dict(
        sizes=(5, 7),
        nets=((1, 8), (2, 16), (3, 32)),
        steps={5: (5, 10, 20, 40, 80, 160), 7: (5, 10, 20, 40, 80, 160)},
        seeds=(0,),
        train=("num_simulations=8", "max_num_considered_actions=4", "selfplay_batch=32",
               "selfplay_steps=16", "buffer_capacity=8000", "min_buffer=256",
               "train_batch=128", "sgd_steps=4", "lr_schedule=constant", "temperature_moves=4",
               "eval_every=0", "wandb=false",
               "random_opening_moves=0"),
        eval_sims=8,
        test_sims=(2, 8, 32),
        ref_sims=(2, 8, 32),
        ref_value="area",
        anchor=dict(blocks=3, channels=32, seed=1000, sims=(8, 32)),
        ref_games=40,
        games=24,
        max_refs=3,
    ),
    # A micro grid for tests: 1 size, 1 net, 2 iterations.
    "micro": dict(
        sizes=(5,),
        nets=((1, 8),),
        steps={5: (1, 2)},
        seeds=(0,),
        train=("num_simulations=2", "max_num_considered_actions=2", "selfplay_batch=4",
               "selfplay_steps=4", "max_moves=0", "buffer_capacity=64", "min_buffer=8",
               "train_batch=16", "sgd_steps=1", "temperature_moves=2", "eval_every=0",
               "wandb=false", "random_opening_moves=0"),
        eval_sims=2,
        test_sims=(2,),
        ref_sims=(2,),
        ref_value="area",
        ref_games=4,
        games=4,
        max_refs=1,
    ),
    # One GPU for a few hours: 4 sizes x 4 nets x 7 checkpoints x 2 seeds.
    "gpu-small": dict(
        sizes=(5, 7, 9, 11),
        nets=((2, 32), (4, 64), (6, 96), (8, 128)),
        steps={n: tuple(k * 2**j for j in range(7)) for n, k in ((5, 5), (7, 8), (9, 12),
                                                                  (11, 20))},
        seeds=(0, 1),
        train=("num_simulations=32", "max_num_considered_actions=16", "selfplay_batch=512",
               "selfplay_steps=32", "buffer_capacity=500000", "min_buffer=20000",
               "train_batch=512", "sgd_steps=16", "playout_cap_fraction=0.25",
               "fast_simulations=8", "ownership=true", "dtype=bfloat16", "lr_schedule=constant",
               "eval_every=0", "random_opening_moves=0"),
        staged=True,
        eval_sims=32,
        test_sims=(4, 16, 64, 256),
        ref_sims=(4, 16, 64, 256),
        anchor=dict(blocks=8, channels=128, seed=1000, sims=(32, 128)),
        ref_value="area",
        ref_games=256,
        games=256,
        max_refs=3,
    ),
    # Several GPU-days: up to 13x13, nets up to 10x256 (Jones' largest Hex boards were 9x9).
    "gpu-large": dict(
        sizes=(7, 9, 11, 13),
        nets=((4, 64), (6, 128), (10, 128), (10, 256)),
        steps={n: tuple(k * 2**j for j in range(8)) for n, k in ((7, 8), (9, 16), (11, 24),
                                                                  (13, 40))},
        seeds=(0, 1),
        train=("num_simulations=64", "max_num_considered_actions=16", "selfplay_batch=1024",
               "selfplay_steps=32", "buffer_capacity=1000000", "min_buffer=100000",
               "train_batch=1024", "sgd_steps=32", "playout_cap_fraction=0.25",
               "fast_simulations=16", "ownership=true", "dtype=bfloat16", "history=4",
               "lr_schedule=constant", "eval_every=0",
               "random_opening_moves=0"),
        staged=True,
        eval_sims=64,
        test_sims=(8, 32, 128, 512),
        ref_sims=(8, 32, 128, 512),
        anchor=dict(blocks=10, channels=256, seed=1000, sims=(64, 256)),
        ref_value="area",
        ref_games=512,
        games=256,
        max_refs=3,
    ),
}


@dataclasses.dataclass(frozen=True)
class Run:
    """One training run of the grid."""

    size: int
    blocks: int
    channels: int
    seed: int
    steps: tuple[int, ...]
    """Checkpoint steps rated (log-spaced budgets); the run trains to the last."""
    staged: bool = False
    """Train in stages ending at each rated step, keeping only those checkpoints (one compile
    per stage; for big replay buffers). Otherwise one call checkpoints every gcd(steps)."""

    @property
    def iterations(self) -> int:
        return max(self.steps)

    @property
    def checkpoint_every(self) -> int:
        return math.gcd(*self.steps)

    @property
    def name(self) -> str:
        return f"s{self.size}-b{self.blocks}c{self.channels}-seed{self.seed}"

    @property
    def net(self) -> str:
        return f"{self.blocks}x{self.channels}"

    def overrides(self, grid: dict, iterations: int | None = None) -> list[str]:
        """The run's config overrides (training to `iterations`, default the last step)."""
        if self.staged:
            every, keep = self.iterations, len(self.steps)
        else:
            every = self.checkpoint_every
            keep = self.iterations // every + 1
        return [*grid["train"], f"size={self.size}", f"blocks={self.blocks}",
                f"channels={self.channels}", f"seed={self.seed}",
                f"iterations={iterations or self.iterations}", f"checkpoint_every={every}",
                f"keep_checkpoints={keep}"]


def grid_runs(grid: dict) -> list[Run]:
    runs = []
    for size in grid["sizes"]:
        for blocks, channels in grid["nets"]:
            for seed in grid["seeds"]:
                runs.append(Run(size, blocks, channels, seed, tuple(grid["steps"][size]),
                                grid.get("staged", False)))
    return runs


def _log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def _read_json(path: Path):
    return json.loads(path.read_text()) if path.exists() else None


def _write_json(path: Path, data) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=1, sort_keys=False) + "\n")
    tmp.replace(path)  # atomic: an interrupted write never leaves a half file behind


# ------------------------------------------------------------------------------ references


def size_rules(grid: dict, size: int):
    """The rules every agent of one board size plays under (the runs' own rules)."""
    from alphago_jax.config import make_config

    return make_config("default", [*grid["train"], f"size={size}"]).rules()


def anchor_run(grid: dict, size: int) -> Run | None:
    """The fixed reference training run of one size (None if the grid has no anchors).

    A separately trained network (its own recipe and seed, not one of the grid's runs) whose
    final checkpoint joins the reference set: the heuristic references are too weak to rate
    the best agents, and an anchor extends the scale upwards without moving it.
    """
    spec = grid.get("anchor")
    if not spec:
        return None
    return Run(size, spec["blocks"], spec["channels"], spec["seed"],
               (max(grid["steps"][size]),))


def reference_players(grid: dict, size: int, out: Path):
    """(rules, reference players): random, heuristic searches, and the anchor (if trained).

    Every player is an arena player; checkpoints of one architecture share one compiled search
    (their network is a hashable value, their parameters are traced)."""
    from alphago_jax.arena import SearchPlayer
    from alphago_jax.runs import load_params
    from alphago_jax.scaling import RANDOM, reference_agent

    rules = size_rules(grid, size)
    refs = [RANDOM] + [reference_agent(rules, s, grid["ref_value"]) for s in grid["ref_sims"]]
    anchor = anchor_run(grid, size)
    if anchor is not None:
        run = load_params(out / "anchors" / anchor.name)
        refs += [SearchPlayer.from_run(run, s, name=f"anchor-{anchor.net}@{run.step}:{s}")
                 for s in grid["anchor"]["sims"]]
    return rules, refs


def rate_reference_set(grid: dict, size: int, rules, refs, out: Path, seed: int) -> dict:
    """Round robin of the reference players of one size, Bradley-Terry rated (random = 0).

    Each pairing's result is cached in references/size{S}.json and reused on a re-run.
    """
    import jax

    from alphago_jax.arena import Tally
    from alphago_jax.scaling import play_pair, rate_references

    path = out / "references" / f"size{size}.json"
    cached = (_read_json(path) or {}).get("matches", [])
    t0 = time.perf_counter()
    matches = []
    key = jax.random.key(seed)
    for i, a in enumerate(refs):
        for j, b in enumerate(refs[i + 1:], start=i + 1):
            old = [m for m in cached if {m["a"], m["b"]} == {a.name, b.name}
                   and m["games"] == grid["ref_games"]]
            if old:
                matches.append(old[0])
                continue
            t = time.perf_counter()
            r = play_pair(rules, b, a, grid["ref_games"], jax.random.fold_in(key, 100 * i + j))
            matches.append({**r.as_dict(), "seconds": round(time.perf_counter() - t, 2)})
            _log(f"size {size}: {r.line()} ({time.perf_counter() - t:.1f}s)")
            _write_json(path, {"size": size, "matches": matches})
    ratings = rate_references([(m["a"], m["b"], Tally(m["wins"], m["losses"], m["draws"]))
                               for m in matches])
    data = {"size": size, "games": grid["ref_games"], "value": grid["ref_value"],
            "sims": list(grid["ref_sims"]), "anchor": grid.get("anchor"),
            "players": [r.name for r in refs], "matches": matches,
            "ratings": {k: {"elo": v[0], "stderr": v[1]} for k, v in ratings.items()},
            "seconds": round(time.perf_counter() - t0, 1)}
    _write_json(path, data)
    return data


# ------------------------------------------------------------------------------ runs


def train_run(run: Run, grid: dict, out: Path, folder: str = "runs") -> float:
    """Trains (or resumes) a run in OUT/folder/NAME; returns the seconds spent."""
    from alphago_jax import train

    t0 = time.perf_counter()
    # Staged: a resumed run may change only `iterations`, so each stage continues the last.
    for k in sorted(run.steps) if run.staged else [run.iterations]:
        code = train.main(str(out / folder / run.name), "default", run.overrides(grid, k))
        if code != 0:
            raise RuntimeError(f"training {run.name} failed with exit code {code}")
    return time.perf_counter() - t0


def rate_run(run: Run, grid: dict, out: Path, references: dict, rules, refs, seed: int
             ) -> dict:
    """Every checkpoint of a run at every test-time simulation count, against the references.

    Results accumulate in runs/NAME/rated.json, saved after each agent (resume-safe).
    """
    import jax

    from alphago_jax.arena import SearchPlayer, checkpoint_steps
    from alphago_jax.runs import load_params
    from alphago_jax.scaling import (
        elo_vs_references,
        net_flops_per_eval,
        next_reference,
        play_pair,
        search_flops_per_move,
        train_flops,
    )

    run_dir = out / "runs" / run.name
    path = run_dir / "rated.json"
    data = _read_json(path) or {}
    ref_by_name = {r.name: r for r in refs}
    ref_elo = {k: v["elo"] for k, v in references["ratings"].items()}
    kept = checkpoint_steps(run_dir)
    missing = sorted(set(run.steps) - set(kept))
    if missing:
        raise RuntimeError(f"{run_dir} lacks checkpoints {missing} (it keeps {kept})")
    steps = sorted(run.steps)
    cfg = None
    agents = data.get("agents", [])
    done = {(a["step"], a["sims"]) for a in agents}
    for step in steps:
        todo = [s for s in grid["test_sims"] if (step, s) not in done]
        if not todo:
            continue
        loaded = load_params(run_dir, step)
        cfg = loaded.cfg
        if "flops_per_eval" not in data:
            data["flops_per_eval"] = net_flops_per_eval(cfg)
        flops = data["flops_per_eval"]
        for sims in todo:
            agent = SearchPlayer.from_run(loaded, sims, name=f"{run.name}@{step}:{sims}")
            # Start near the last rating of this run: the previous checkpoint at these sims,
            # else this checkpoint at other sims, else random.
            earlier = ([a for a in agents if a["sims"] == sims]
                       or [a for a in agents if a["step"] == step])
            estimate = earlier[-1]["elo"] if earlier else 0.0
            played, last, score, matches = set(), None, None, []
            t0 = time.perf_counter()
            for m in range(grid["max_refs"]):
                opp = next_reference(ref_elo, estimate, played, score, last)
                if opp is None:
                    break
                tag = zlib.crc32(f"{agent.name}#{m}".encode()) % 2**31
                key = jax.random.fold_in(jax.random.key(seed), tag)
                r = play_pair(rules, agent, ref_by_name[opp], grid["games"], key)
                matches.append(r.as_dict())
                played.add(opp)
                last, score = opp, r.tally.win_rate
                fit = elo_vs_references([(ref_elo[x["b"]], x["wins"] + 0.5 * x["draws"],
                                          x["games"]) for x in matches])
                estimate = fit.elo
            agents.append({
                "step": step, "sims": sims, "train_flops": train_flops(cfg, flops, step),
                "test_flops": search_flops_per_move(flops, sims), "elo": fit.elo,
                "stderr": fit.stderr, "games": fit.games, "in_range": fit.in_range,
                "matches": matches, "seconds": round(time.perf_counter() - t0, 2),
            })
            vs = ", ".join(f"{x['b']} {x['wins']}-{x['losses']}-{x['draws']}" for x in matches)
            _log(f"{agent.name}: Elo {fit.elo:.0f} ± {fit.stderr:.0f} ({vs})")
            data.update(run=dataclasses.asdict(run), name=run.name, net=run.net,
                        overrides=run.overrides(grid), agents=agents)
            _write_json(path, data)
    data["complete"] = True
    _write_json(path, data)
    return data


# ------------------------------------------------------------------------------ main


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--grid", choices=sorted(GRIDS), default="cpu")
    ap.add_argument("--out", required=True, help="output directory")
    ap.add_argument("--seed", type=int, default=0, help="seed of the rating matches")
    ap.add_argument("--refit", action="store_true", help="only redo fits and plots")
    args = ap.parse_args(argv)
    import matplotlib

    matplotlib.use("Agg")  # files only; before pyplot is imported
    from alphago_jax.scaling import report

    grid = GRIDS[args.grid]
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    t_start = time.perf_counter()
    timings = (_read_json(out / "scaling.json") or {}).get("timings", {})
    runs = grid_runs(grid)
    references, refsets, rated = {}, {}, []
    for size in grid["sizes"]:
        if args.refit:
            references[size] = _read_json(out / "references" / f"size{size}.json")
            continue
        anchor = anchor_run(grid, size)
        if anchor is not None and not _read_json(out / "anchors" / f"{anchor.name}.done"):
            _log(f"training the {size}x{size} anchor {anchor.name}")
            timings[f"anchor_{size}"] = round(train_run(anchor, grid, out, "anchors"), 1)
            _write_json(out / "anchors" / f"{anchor.name}.done", {"done": True})
        t0 = time.perf_counter()
        refsets[size] = reference_players(grid, size, out)
        references[size] = rate_reference_set(grid, size, *refsets[size], out, args.seed)
        timings.setdefault(f"references_{size}", round(time.perf_counter() - t0, 1))
        ratings = ", ".join(f"{k} {v['elo']:.0f}±{v['stderr']:.0f}"
                            for k, v in references[size]["ratings"].items())
        _log(f"references {size}x{size}: {ratings}")
    for run in runs:
        path = out / "runs" / run.name / "rated.json"
        cached = _read_json(path)
        if cached and cached.get("complete") or args.refit:
            if cached:
                rated.append(cached)
            continue
        _log(f"training {run.name} ({run.iterations} iterations)")
        timings[f"train_{run.name}"] = round(train_run(run, grid, out), 1)
        t0 = time.perf_counter()
        rated.append(rate_run(run, grid, out, references[run.size], *refsets[run.size],
                              args.seed))
        timings[f"rate_{run.name}"] = round(time.perf_counter() - t0, 1)
    if not args.refit:
        timings["total_this_invocation"] = round(time.perf_counter() - t_start, 1)
    results = {
        "grid_name": args.grid, "grid": json.loads(json.dumps(grid)),
        "references": {str(k): v for k, v in references.items()},
        "runs": rated, "timings": timings,
    }
    results["analysis"] = report.analyse(results)
    _write_json(out / "scaling.json", results)
    print(report.format_tables(results["analysis"]))
    report.plot_frontiers(results, path=out / "frontier.png")
    report.plot_plateau(results, path=out / "plateau.png")
    report.plot_tradeoff(results, path=out / "tradeoff.png")
    _log(f"wrote {out / 'scaling.json'} and plots; {time.perf_counter() - t_start:.0f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
