"""Rules-engine throughput: random legal moves for a batch of games in one jitted scan.

Our engine and pgx's Go (when pgx is installed) run through the same harness in the same process:
each scan step draws a uniformly random legal move for every game, plays it, and restarts finished
games in place. Steps/s counts game steps (batch * scan length) per second.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp

from alphago_jax.rules import Rules


class Env(NamedTuple):
    """A batched environment as the harness sees it (all functions act on one game)."""

    name: str
    init: Callable  # key -> state
    legal: Callable  # state -> bool[A]
    step: Callable  # (state, action, key) -> state
    done: Callable  # state -> bool


def ours(size: int, superko: bool = True) -> Env:
    rules = Rules(size=size, superko=superko)
    return Env(
        name=f"alphago-jax go {size}x{size}" + ("" if superko else " (simple ko)"),
        init=lambda key: rules.init(),
        legal=rules.legal_mask,
        step=lambda s, a, key: rules.step(s, a),
        done=rules.is_over,
    )


def pgx_env(size: int) -> Env | None:
    """pgx's Go, or None when pgx is not installed (it is only a benchmark baseline)."""
    try:
        import pgx
    except ImportError:
        return None
    env = pgx.make(f"go_{size}x{size}")
    return Env(
        name=f"pgx go_{size}x{size}",
        init=env.init,
        legal=lambda s: s.legal_action_mask,
        step=env.step,
        done=lambda s: s.terminated | s.truncated,
    )


def make_rollout(env: Env, batch: int, length: int):
    """A jitted `(key) -> checksum` that plays `length` random legal steps on `batch` games."""

    def body(carry, key):
        state, fresh = carry
        k_act, k_step = jax.random.split(key)
        mask = jax.vmap(env.legal)(state)
        logits = jnp.where(mask, 0.0, -jnp.inf)
        action = jax.random.categorical(k_act, logits, axis=-1).astype(jnp.int32)
        state = jax.vmap(env.step)(state, action, jax.random.split(k_step, batch))
        done = jax.vmap(env.done)(state)
        state = jax.tree.map(
            lambda f, s: jnp.where(done.reshape(done.shape + (1,) * (s.ndim - 1)), f, s),
            fresh,
            state,
        )
        return (state, fresh), jnp.sum(action)

    @jax.jit
    def rollout(key):
        k_init, k_run = jax.random.split(key)
        state = jax.vmap(env.init)(jax.random.split(k_init, batch))
        (_, _), sums = jax.lax.scan(body, (state, state), jax.random.split(k_run, length))
        return jnp.sum(sums)

    return rollout


def steps_per_second(env: Env, batch: int, length: int, repeats: int = 3, seed: int = 0) -> float:
    """Best of `repeats` timed runs, after one compile-and-warm-up run."""
    rollout = make_rollout(env, batch, length)
    jax.block_until_ready(rollout(jax.random.key(seed)))
    best = float("inf")
    for r in range(repeats):
        t0 = time.perf_counter()
        jax.block_until_ready(rollout(jax.random.key(seed + 1 + r)))
        best = min(best, time.perf_counter() - t0)
    return batch * length / best


def run(
    sizes=(5, 9, 13, 19),
    batch: int = 1024,
    length: int = 64,
    repeats: int = 3,
    compare_pgx: bool = True,
    simple_ko: bool = False,
    print_fn=print,
) -> list[dict]:
    """Measures every size, prints a table, returns its rows."""
    rows = []
    print_fn(f"backend={jax.default_backend()} devices={jax.devices()} batch={batch} scan={length}")
    for size in sizes:
        variants = [ours(size)] + ([ours(size, superko=False)] if simple_ko else [])
        for env in variants:
            sps = steps_per_second(env, batch, length, repeats)
            rows.append({"env": env.name, "size": size, "steps_per_s": sps})
            us = 1e6 / sps * batch
            print_fn(f"{env.name:<36} {sps:>12,.0f} steps/s  ({us:,.0f} us/batch-step)")
        base = pgx_env(size) if compare_pgx and size in (9, 19) else None
        if base is not None:
            sps = steps_per_second(base, batch, length, repeats)
            rows.append({"env": base.name, "size": size, "steps_per_s": sps})
            ratio = rows[-1 - len(variants)]["steps_per_s"] / sps
            print_fn(f"{base.name:<36} {sps:>12,.0f} steps/s  -> alphago-jax / pgx = {ratio:.1f}x")
    return rows
