"""One-shot accelerator check: every figure the README's GPU table needs, in at most 8 minutes.

`alphago-jax bench gpu` runs each stage in its own Python process with its own time limit, so a
stage that fails, runs out of memory or hangs in a compile prints its failure and the check goes
on with the next one; the total never exceeds `TOTAL_LIMIT_S`. The stages:

1. ``env``: versions (jax, jaxlib, flax, optax, chex, orbax, mctx, pgx), backend, device kind and
   memory.
2. ``rules``: random-play steps/s at batch 8192 on 9x9 and 19x19, ours and pgx's
   (`bench.rules`).
3. ``selfplay9``: 9x9 self-play moves/s at batch 1024, 32 Gumbel simulations, a 6x128 bfloat16
   net; one batched evaluation and the network's share of a move; the null-network loop
   (`bench.selfplay`).
4. ``pgx9``: the pgx-style loop at the same settings (pgx's example network, AZNet).
5. ``train9``: the gpu-9x9 preset's compile time, seconds per iteration (SGD in every timed
   iteration: ``min_buffer=0``) and peak device memory.
6. ``selfplay19``: 19x19 self-play at batch 512 with the gpu-19x19 preset's net and search.

Each stage process prints its own lines and then one ``FIGURES {json}`` line; the parent prints
the stage's lines as they come and a table of every figure at the end. ``--toy`` runs every stage
at toy sizes (CPU, well under a minute on an idle machine) to check the script itself.
mctx and pgx come from wheels on the device machine (`experiments/gpu_check.sh`); wandb is not
needed.
"""

from __future__ import annotations

import dataclasses
import importlib.metadata
import json
import subprocess
import sys
import time
from collections.abc import Callable
from typing import NamedTuple

TOTAL_LIMIT_S = 470.0
"""Wall-clock budget of all stages together (8 minutes on one device, less a margin)."""

_FIGURES = "FIGURES "


class Sizes(NamedTuple):
    """The settings of one run of the check (full or toy)."""

    rules_sizes: tuple[int, ...]
    rules_batch: int
    rules_length: int
    sp_size: int
    sp_batch: int
    sp_sims: int
    sp_blocks: int
    sp_channels: int
    sp_steps: int
    repeats: int
    train_preset: str
    train_overrides: tuple[str, ...]
    train_iterations: int
    big_size: int
    big_batch: int
    big_sims: int
    big_blocks: int


FULL = Sizes(
    rules_sizes=(9, 19), rules_batch=8192, rules_length=64,
    sp_size=9, sp_batch=1024, sp_sims=32, sp_blocks=6, sp_channels=128, sp_steps=16, repeats=2,
    train_preset="gpu-9x9", train_overrides=("min_buffer=0",), train_iterations=3,
    big_size=19, big_batch=512, big_sims=64, big_blocks=10,
)
TOY = Sizes(
    rules_sizes=(9,), rules_batch=8, rules_length=4,
    sp_size=5, sp_batch=4, sp_sims=2, sp_blocks=1, sp_channels=8, sp_steps=1, repeats=1,
    train_preset="gpu-9x9",
    train_overrides=("min_buffer=0", "size=5", "blocks=1", "channels=8", "selfplay_batch=4",
                     "selfplay_steps=2", "sgd_steps=2", "train_batch=8", "buffer_capacity=64",
                     "num_simulations=2", "fast_simulations=2", "max_num_considered_actions=2",
                     "policy_channels=8", "value_channels=8", "value_hidden=8"),
    train_iterations=1,
    # The same program as the 9x9 stage's: with a persistent compilation cache (the tests set
    # one) the toy 19x19 stage compiles nothing.
    big_size=5, big_batch=4, big_sims=2, big_blocks=1,
)
TOY_LIMIT_S = 600.0
"""Per-stage limit of a toy run: it checks the script on a CPU, where XLA compiles dominate."""


class Stage(NamedTuple):
    """One stage: its name, its time limit (seconds) and the function its process runs."""

    name: str
    limit_s: float
    run: Callable[[Sizes, Callable[[str], None]], dict]


# ---------------------------------------------------------------------- stages (child process)
def _version(dist: str) -> str:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def stage_env(sizes: Sizes, print_fn) -> dict:
    """Versions, backend, device kind and memory."""
    del sizes
    import jax

    figures = {d: _version(d) for d in ("jax", "jaxlib", "flax", "optax", "chex",
                                         "orbax-checkpoint", "mctx", "pgx")}
    dev = jax.devices()[0]
    figures.update(backend=jax.default_backend(), devices=len(jax.devices()),
                   device_kind=dev.device_kind)
    stats = _memory_stats(dev)
    figures["memory_gb"] = round(stats["bytes_limit"] / 1e9, 1) if "bytes_limit" in stats else "n/a"
    print_fn(" ".join(f"{k}={v}" for k, v in figures.items()))
    return figures


def _memory_stats(dev) -> dict:
    try:
        return dev.memory_stats() or {}
    except Exception:  # not every backend reports memory
        return {}


def stage_rules(sizes: Sizes, print_fn) -> dict:
    """Random-play steps/s, ours and pgx's, on each size."""
    from alphago_jax.bench import rules

    rows = rules.run(sizes=sizes.rules_sizes, batch=sizes.rules_batch,
                     length=sizes.rules_length, repeats=sizes.repeats, print_fn=print_fn)
    return {f"{'pgx' if r['env'].startswith('pgx') else 'ours'}_{r['size']}x{r['size']}"
            f"_steps_per_s": round(r["steps_per_s"]) for r in rows}


def _bench_cfg(size: int, batch: int, sims: int, blocks: int, channels: int):
    from alphago_jax.bench import selfplay as sb

    cfg = sb.bench_config(size, batch, sims, blocks, channels)
    return dataclasses.replace(cfg, dtype="bfloat16").validate()


def _selfplay(cfg, sizes: Sizes, print_fn, null: bool) -> dict:
    """Our loop's moves/s, one evaluation and the network's share; the null loop's moves/s."""
    import jax
    import jax.numpy as jnp

    from alphago_jax.bench import selfplay as sb

    key = jax.random.key(0)
    b, steps, sims = cfg.selfplay_batch, sizes.sp_steps, cfg.num_simulations
    t0 = time.perf_counter()
    trainer, run, params, carry = sb.ours(cfg, steps, key)
    print_fn(f"network: {trainer.describe(params)}")
    mps, games = sb.time_loop(run, params, carry, b, steps, sizes.repeats)
    out = {"moves_per_s": round(mps, 1), "wall_incl_compile_s": round(time.perf_counter() - t0, 1)}
    print_fn(f"ours: {mps:,.1f} moves/s ({games} games finished; "
             f"{out['wall_incl_compile_s']:.0f} s with compile)")
    x = jnp.ones((b, cfg.size, cfg.size, 2 * sb.HISTORY + 3), jnp.float32)
    ms = sb.ms_per_eval(trainer.network, params, x)
    per_move_ms = b / mps * 1e3
    out.update(eval_ms=round(ms, 3), net_share=round((sims + 1) * ms / per_move_ms, 3))
    print_fn(f"one evaluation of {b}: {ms:.2f} ms; {sims + 1} per move = {(sims + 1) * ms:.1f} "
             f"of {per_move_ms:.1f} ms per lockstep move -> network share {out['net_share']:.0%}")
    if null:
        run0, p0, c0 = sb._ours_null(cfg, steps, key)
        nmps, _ = sb.time_loop(run0, p0, c0, b, steps, sizes.repeats)
        out["null_moves_per_s"] = round(nmps, 1)
        print_fn(f"null network (rules + tree + loop): {nmps:,.1f} moves/s")
    return out


def stage_selfplay9(sizes: Sizes, print_fn) -> dict:
    cfg = _bench_cfg(sizes.sp_size, sizes.sp_batch, sizes.sp_sims, sizes.sp_blocks,
                     sizes.sp_channels)
    return _selfplay(cfg, sizes, print_fn, null=True)


def stage_pgx9(sizes: Sizes, print_fn) -> dict:
    """The pgx-style loop (pgx env, pgx's example network) at the self-play stage's settings."""
    import jax

    from alphago_jax.bench import selfplay as sb

    cfg = _bench_cfg(sizes.sp_size, sizes.sp_batch, sizes.sp_sims, sizes.sp_blocks,
                     sizes.sp_channels)
    env = sb.pgx_go(cfg.size)
    if env is None:
        print_fn("pgx-style loop: skipped (pgx is not installed)")
        return {"moves_per_s": "n/a (pgx not installed)"}
    text, run, params, state = sb.pgx_loop(env, cfg, cfg.search_settings(), sizes.sp_steps,
                                           jax.random.key(1))
    mps, games = sb.time_loop(run, params, state, cfg.selfplay_batch, sizes.sp_steps,
                              sizes.repeats)
    print_fn(f"pgx-style loop, {text} (float32): {mps:,.1f} moves/s ({games} games finished)")
    return {"moves_per_s": round(mps, 1)}


def stage_train9(sizes: Sizes, print_fn) -> dict:
    """Compile time, seconds per iteration and peak memory of a preset's training iteration."""
    import jax

    from alphago_jax.config import make_config
    from alphago_jax.trainer import make_train

    cfg = make_config(sizes.train_preset, ["wandb=false", *sizes.train_overrides])
    trainer = make_train(cfg)
    carry = jax.block_until_ready(trainer.init(jax.random.key(0)))
    t0 = time.perf_counter()
    compiled = trainer.iteration.lower(carry, jax.random.key(1)).compile()
    out = {"compile_s": round(time.perf_counter() - t0, 1)}
    print_fn(f"{sizes.train_preset} {' '.join(sizes.train_overrides)}: compile "
             f"{out['compile_s']:.1f} s ({'cpu' if trainer.cpu_forms else 'accelerator'} forms)")
    times = []
    for it in range(sizes.train_iterations + 1):  # the first call is not timed
        t0 = time.perf_counter()
        carry, metrics = compiled(carry, jax.random.fold_in(jax.random.key(2), it))
        metrics = jax.device_get(metrics)
        times.append(time.perf_counter() - t0)
        print_fn(f"iteration {it}: {times[-1]:.2f} s, trained={int(metrics['trained'])}, "
                 f"full searches {int(metrics['full_searches'])}/{cfg.selfplay_steps}")
    timed = times[1:]
    moves = cfg.selfplay_batch * cfg.selfplay_steps
    out.update(iter_s=round(min(timed), 3), moves_per_s=round(moves / min(timed), 1))
    stats = _memory_stats(jax.devices()[0])
    out["peak_gb"] = (round(stats["peak_bytes_in_use"] / 1e9, 2)
                      if "peak_bytes_in_use" in stats else "n/a")
    print_fn(f"best iteration {out['iter_s']:.3f} s ({out['moves_per_s']:,.0f} self-play "
             f"moves/s with SGD), peak memory {out['peak_gb']} GB")
    return out


def stage_selfplay19(sizes: Sizes, print_fn) -> dict:
    cfg = _bench_cfg(sizes.big_size, sizes.big_batch, sizes.big_sims, sizes.big_blocks,
                     sizes.sp_channels)
    return _selfplay(cfg, sizes._replace(sp_steps=max(1, sizes.sp_steps // 4), repeats=1),
                     print_fn, null=False)


STAGES = (
    Stage("env", 40, stage_env),
    Stage("rules", 75, stage_rules),
    Stage("selfplay9", 110, stage_selfplay9),
    Stage("pgx9", 60, stage_pgx9),
    Stage("train9", 110, stage_train9),
    Stage("selfplay19", 75, stage_selfplay19),
)
"""The stages in order; their limits add up to `TOTAL_LIMIT_S`."""


def run_stage(name: str, toy: bool) -> int:
    """The child process: runs one stage and prints its ``FIGURES`` line. Returns the exit code."""
    stage = {s.name: s for s in STAGES}[name]

    def emit(line: str) -> None:
        print(line, flush=True)

    figures = stage.run(TOY if toy else FULL, emit)
    emit(_FIGURES + json.dumps(figures))
    return 0


# ---------------------------------------------------------------------- the parent
class StageResult(NamedTuple):
    name: str
    status: str  # 'ok', 'failed (rc N)' or 'timed out after N s'
    wall_s: float
    figures: dict


def stage_command(name: str, toy: bool) -> list[str]:
    """The command line of one stage's process."""
    return [sys.executable, "-m", "alphago_jax.cli", "bench", "gpu", "--stage", name,
            *(["--toy"] if toy else [])]


def run_child(name: str, cmd: list[str], limit_s: float, print_fn) -> StageResult:
    """Runs one stage's process for at most `limit_s` seconds, echoing its output.

    Returns:
      Its `StageResult`: 'ok' only when it exited with 0 after printing its figures.
    """
    print_fn(f"=== {name} (limit {limit_s:.0f} s)")
    t0 = time.perf_counter()
    figures: dict = {}
    tail: list[str] = []
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            bufsize=1)
    try:
        status = _read_child(proc, limit_s, t0, print_fn, figures, tail)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    if status != "ok":
        print_fn(f"=== {name} {status}; its last lines:")
        for line in tail[-8:]:
            print_fn(f"    {line}")
    return StageResult(name, status, time.perf_counter() - t0, figures)


def _read_child(proc, limit_s, t0, print_fn, figures: dict, tail: list[str]) -> str:
    """Streams the child's output until it exits or its time is up; returns the status."""
    import selectors

    sel = selectors.DefaultSelector()
    sel.register(proc.stdout, selectors.EVENT_READ)
    while True:
        left = limit_s - (time.perf_counter() - t0)
        if left <= 0:
            return f"timed out after {limit_s:.0f} s"
        if not sel.select(timeout=min(left, 1.0)):
            continue
        line = proc.stdout.readline()
        if not line:  # the child closed its output: it has exited or is about to
            rc = proc.wait(timeout=max(1.0, limit_s - (time.perf_counter() - t0)))
            return "ok" if rc == 0 and figures else f"failed (rc {rc})"
        line = line.rstrip("\n")
        if line.startswith(_FIGURES):
            figures.update(json.loads(line[len(_FIGURES):]))
        elif not _noise(line):
            tail.append(line)
            print_fn(f"  {line}")


def _noise(line: str) -> bool:
    """Library warnings that say nothing about the check."""
    return "Warning" in line or "warn(" in line


def table(results: list[StageResult]) -> list[str]:
    """The closing table: one row per figure, stages without figures say why."""
    rows = [f"{'stage':<11} {'figure':<34} value", "-" * 60]
    for r in results:
        if not r.figures:
            rows.append(f"{r.name:<11} {'(none)':<34} {r.status}")
        for k, v in r.figures.items():
            value = f"{v:,}" if isinstance(v, int | float) and not isinstance(v, bool) else v
            rows.append(f"{r.name:<11} {k:<34} {value}")
    sp = {r.name: r.figures for r in results}
    ours, pgx = sp.get("selfplay9", {}).get("moves_per_s"), sp.get("pgx9", {}).get("moves_per_s")
    if all(isinstance(v, int | float) for v in (ours, pgx)):
        rows.append(f"{'ratio':<11} {'selfplay9_ours_over_pgx':<34} {ours / pgx:.2f}x")
    return rows


def main(args, print_fn=print) -> list[StageResult]:
    """Runs every stage (or `args.only`) in its own process; prints each stage and the table."""
    wanted = [s for s in STAGES if not args.only or s.name in args.only]
    start, results = time.perf_counter(), []
    total = len(wanted) * TOY_LIMIT_S if args.toy else TOTAL_LIMIT_S
    print_fn(f"alphago-jax GPU check ({'toy sizes' if args.toy else 'full sizes'}), "
             f"stages: {', '.join(s.name for s in wanted)}; at most {total:.0f} s")
    for stage in wanted:
        left = total - (time.perf_counter() - start)
        if left < 5:
            results.append(StageResult(stage.name, "skipped (no time left)", 0.0, {}))
            print_fn(f"=== {stage.name} skipped: no time left")
            continue
        limit = TOY_LIMIT_S if args.toy else stage.limit_s
        results.append(run_child(stage.name, stage_command(stage.name, args.toy),
                                 min(limit, left), print_fn))
    print_fn(f"=== done in {time.perf_counter() - start:.0f} s")
    for line in table(results):
        print_fn(line)
    return results
