"""Compile time, seconds per training iteration and memory of the compiled iteration, for the
XLA:CPU forms (unrolled SGD steps, a select) and the accelerator forms (rolled scan, lax.cond).

`alphago-jax bench train --preset tiny-9x9 --iterations 3 [--forms cpu,accelerator] [k=v ...]`
prints one line per form: compile seconds, best and mean seconds per iteration (after the
compiled call's first run), and XLA's memory analysis; the last line is the ratio.
"""

from __future__ import annotations

import time

import jax

from alphago_jax.config import make_config
from alphago_jax.trainer import make_train

FORMS = {"cpu": "cpu", "accelerator": "gpu"}
"""Form name -> the backend whose forms `Trainer` compiles (the device stays the default)."""


def bench_form(cfg, form: str, iterations: int, print_fn=print) -> dict:
    """Compiles one form's iteration and times `iterations` calls (the first one excluded)."""
    trainer = make_train(cfg, backend=FORMS[form])
    carry = jax.block_until_ready(trainer.init(jax.random.key(cfg.seed)))
    t0 = time.perf_counter()
    compiled = trainer.iteration.lower(carry, jax.random.key(1)).compile()
    compile_s = time.perf_counter() - t0
    times = []
    for it in range(iterations + 1):
        t0 = time.perf_counter()
        carry, metrics = compiled(carry, jax.random.fold_in(jax.random.key(2), it))
        jax.block_until_ready(metrics)
        times.append(time.perf_counter() - t0)
    times = times[1:] or times
    out = {"form": form, "compile_s": compile_s, "best_s": min(times),
           "mean_s": sum(times) / len(times)}
    try:
        mem = compiled.memory_analysis()
        out["temp_gb"] = mem.temp_size_in_bytes / 1e9
        out["args_gb"] = mem.argument_size_in_bytes / 1e9
    except Exception:  # not every backend reports it
        pass
    mem_text = (f", memory args {out['args_gb']:.3f} GB temp {out['temp_gb']:.3f} GB"
                if "temp_gb" in out else "")
    print_fn(f"{form} forms: compile {compile_s:.1f} s, iteration {out['best_s']:.3f} s best / "
             f"{out['mean_s']:.3f} s mean over {len(times)}{mem_text}")
    return out


def main(args, print_fn=print) -> dict:
    cfg = make_config(args.preset, ["wandb=false", *args.overrides])
    print_fn(f"backend={jax.default_backend()} devices={jax.devices()} preset={args.preset} "
             f"sgd_steps={cfg.sgd_steps} selfplay {cfg.selfplay_batch}x{cfg.selfplay_steps}")
    results = {f: bench_form(cfg, f, args.iterations, print_fn) for f in args.forms}
    if len(results) == 2:
        a, b = results.values()
        print_fn(f"{a['form']} / {b['form']}: compile {a['compile_s'] / b['compile_s']:.2f}x, "
                 f"iteration {a['best_s'] / b['best_s']:.2f}x")
    return results
