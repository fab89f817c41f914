"""Search + self-play throughput: our self-play loop vs a pgx-style AlphaZero loop.

`alphago-jax bench selfplay --size S --batch B --sims N --blocks K --channels C` times, in one
process and through the same harness:

1. **alphago-jax**: `alphago_jax.selfplay.selfplay.run` for `steps` lockstep moves of B games with
   Gumbel search over our rules (replay-buffer writes included: they are part of self-play).
2. **pgx-style loop** (when pgx imports and not `--no-pgx`): pgx's Go environment with the whole
   pgx `State` as the mctx embedding, a recurrent function that calls `env.step`, the same network
   architecture on pgx's observation, the same Gumbel search settings, auto-reset of finished games
   and no replay buffer.

Both use history 8, so the inputs are comparable: our features have 2 * 8 + 3 = 19 planes, pgx's
observation 17 (+ the on-board mask plane our networks require = 18). Both play Tromp-Taylor with
komi 7.5, no suicide, positional superko and a 2 * S * S move cap. pgx only registers 9x9 and
19x19 with `pgx.make`; other sizes build `pgx.go.Go(size=S)` directly.

moves/s = B * steps / seconds, best of `repeats` timed runs after a compile-and-warm-up run. Each
run continues the games (and buffer) the previous run left, as training does.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import mctx
from flax import nnx

from alphago_jax.config import TrainConfig, make_config
from alphago_jax.nets import (
    count_params,
    describe,
    flops_per_eval,
    make_apply,
    make_network,
    scalar_value,
    split,
)
from alphago_jax.search.mcts import SearchSettings
from alphago_jax.selfplay import selfplay
from alphago_jax.train import Trainer, net_config

HISTORY = 8  # pgx's Go observation stacks 8 positions per player
_NEG = -1e9  # prior logit of illegal moves (finite: mctx subtracts logits)

# A timed loop: run(params, carry, key) -> (carry, games finished), jitted with the carry donated.
RunFn = Callable[[Any, Any, jax.Array], tuple[Any, jax.Array]]


def bench_config(size: int, batch: int, sims: int, blocks: int, channels: int) -> TrainConfig:
    """The default preset with the benchmark's settings (full search on every move)."""
    return make_config("default", {
        "size": size,
        "selfplay_batch": batch,
        "num_simulations": sims,
        "max_num_considered_actions": min(16, size * size + 1),
        "blocks": blocks,
        "channels": channels,
        "history": HISTORY,
        "playout_cap_fraction": 1.0,
        "buffer_capacity": max(TrainConfig.buffer_capacity, batch),
    })


def time_loop(run: RunFn, params, carry, batch: int, steps: int, repeats: int,
              seed: int = 0) -> tuple[float, int]:
    """Moves/s of `run` (best of `repeats` after a warm-up run) and the games it finished."""
    carry, games = jax.block_until_ready(run(params, carry, jax.random.key(seed)))
    total = int(games)
    best = float("inf")
    for r in range(repeats):
        t0 = time.perf_counter()
        carry, games = jax.block_until_ready(run(params, carry, jax.random.key(seed + 1 + r)))
        best = min(best, time.perf_counter() - t0)
        total += int(games)
    return batch * steps / best, total


# ---------------------------------------------------------------------- ours
def ours(cfg: TrainConfig, steps: int, key) -> tuple[Trainer, RunFn, Any, Any]:
    """Our self-play loop: (trainer, run, params, (SelfPlayState, ReplayBuffer))."""
    trainer = Trainer(cfg)
    carry = trainer.init(key)

    @functools.partial(jax.jit, donate_argnums=1)
    def run(params, carry, key):
        sp, buf = carry
        sp, buf, stats = selfplay.run(
            trainer.rules, trainer.apply, trainer.settings, params, sp, buf, key, steps
        )
        return (sp, buf), stats["games"]

    return trainer, run, carry.train.params, (carry.selfplay, carry.replay)


# ---------------------------------------------------------------------- pgx-style baseline
def pgx_go(size: int):
    """pgx's Go environment, or None when pgx is not installed (it is only a baseline)."""
    try:
        import pgx
        from pgx.go import Go
    except ImportError:
        return None
    name = f"go_{size}x{size}"
    return pgx.make(name) if name in pgx.available_envs() else Go(size=size, komi=7.5)


def pgx_planes(observation: jax.Array) -> jax.Array:
    """pgx's observation bool[B, S, S, 17] -> float32[B, S, S, 18] with the on-board mask last."""
    x = observation.astype(jnp.float32)
    return jnp.concatenate([x, jnp.ones(x.shape[:-1] + (1,), jnp.float32)], axis=-1)


def pgx_evaluate(apply, params, state):
    """(prior logits float32[B, A] masked by the legal moves, value float32[B] for the mover)."""
    out = apply(params, pgx_planes(state.observation))
    logits = jnp.where(state.legal_action_mask, out.policy_logits.astype(jnp.float32), _NEG)
    return logits, scalar_value(out.value_logits)


def pgx_recurrent_fn(env, apply):
    """mctx recurrent function over pgx states: reward for the player who moved, discount -1
    while the game goes on and 0 (with value 0) once it is over."""

    def recurrent_fn(params, rng_key, action, state):
        del rng_key
        mover = state.current_player
        nxt = jax.vmap(env.step)(state, action)
        reward = jnp.take_along_axis(nxt.rewards, mover[:, None], axis=1)[:, 0]
        logits, value = pgx_evaluate(apply, params, nxt)
        over = nxt.terminated | nxt.truncated
        out = mctx.RecurrentFnOutput(
            reward=reward.astype(jnp.float32),
            discount=jnp.where(over, 0.0, -1.0).astype(jnp.float32),
            prior_logits=logits,
            value=jnp.where(over, 0.0, value).astype(jnp.float32),
        )
        return out, nxt

    return recurrent_fn


def pgx_loop(env, cfg: TrainConfig, settings: SearchSettings, steps: int, key):
    """The pgx-style loop: (net description, run, params, batched pgx State)."""
    k_net, k_init = jax.random.split(key)
    obs_planes = env.observation_shape[-1]
    model = make_network(net_config(cfg), obs_planes + 1, nnx.Rngs(k_net))
    graphdef, params = split(model)
    apply = make_apply(graphdef)
    recurrent_fn = pgx_recurrent_fn(env, apply)
    qtransform = functools.partial(
        mctx.qtransform_completed_by_mix_value,
        value_scale=settings.value_scale,
        maxvisit_init=settings.maxvisit_init,
        rescale_values=settings.rescale_values,
    )
    batch = cfg.selfplay_batch

    def step(carry, key):
        params, state = carry
        k_search, k_reset = jax.random.split(key)
        logits, value = pgx_evaluate(apply, params, state)
        root = mctx.RootFnOutput(prior_logits=logits, value=value, embedding=state)
        out = mctx.gumbel_muzero_policy(
            params, k_search, root, recurrent_fn, settings.num_simulations,
            invalid_actions=~state.legal_action_mask,
            max_num_considered_actions=settings.max_num_considered_actions,
            gumbel_scale=settings.gumbel_scale,
            qtransform=qtransform,
        )
        nxt = jax.vmap(env.step)(state, out.action)
        done = nxt.terminated | nxt.truncated
        fresh = jax.vmap(env.init)(jax.random.split(k_reset, batch))
        state = jax.tree.map(
            lambda f, s: jnp.where(done.reshape(done.shape + (1,) * (s.ndim - 1)), f, s),
            fresh, nxt,
        )
        return (params, state), jnp.sum(done)

    @functools.partial(jax.jit, donate_argnums=1)
    def run(params, state, key):
        (_, state), games = jax.lax.scan(step, (params, state), jax.random.split(key, steps))
        return state, jnp.sum(games)

    shape = (cfg.size, cfg.size, obs_planes + 1)
    flops = flops_per_eval(apply, params, shape)
    text = f"{describe(net_config(cfg), params, flops)} ({count_params(params):,} params)"
    state = jax.vmap(env.init)(jax.random.split(k_init, batch))
    return text, run, params, state


# ---------------------------------------------------------------------- the CLI job
def main(args, print_fn=print) -> dict:
    """Runs the benchmark for parsed CLI `args`; prints a report; returns the figures.

    The last printed line is `alphago-jax selfplay: <moves/s> moves/s`.
    """
    cfg = bench_config(args.size, args.batch, args.sims, args.blocks, args.channels)
    key = jax.random.key(cfg.seed)
    k_ours, k_pgx = jax.random.split(key)
    print_fn(f"backend={jax.default_backend()} devices={jax.devices()}")
    print_fn(
        f"settings: {cfg.size}x{cfg.size}, batch {cfg.selfplay_batch}, gumbel "
        f"{cfg.num_simulations} sims, {cfg.max_num_considered_actions} considered actions, "
        f"{args.steps} steps/run, best of {args.repeats}, history {HISTORY} "
        f"(ours: {2 * HISTORY + 3} planes; pgx: 17 + mask = 18 planes)"
    )
    trainer, run, params, carry = ours(cfg, args.steps, k_ours)
    print_fn(f"network (ours): {trainer.describe(params)}")
    ours_mps, ours_games = time_loop(run, params, carry, cfg.selfplay_batch, args.steps,
                                     args.repeats)
    print_fn(f"alphago-jax loop: {ours_mps:,.1f} moves/s ({ours_games} games finished)")
    result = {"ours_moves_per_s": ours_mps, "pgx_moves_per_s": None, "ratio": None}

    env = None if args.no_pgx else pgx_go(cfg.size)
    if env is None and not args.no_pgx:
        print_fn("pgx-style loop: skipped (pgx is not installed)")
    if env is not None:
        text, run, params, state = pgx_loop(env, cfg, trainer.settings.full, args.steps, k_pgx)
        print_fn(f"network (pgx-style): {text}")
        pgx_mps, pgx_games = time_loop(run, params, state, cfg.selfplay_batch, args.steps,
                                       args.repeats)
        ratio = ours_mps / pgx_mps
        result.update(pgx_moves_per_s=pgx_mps, ratio=ratio)
        print_fn(f"pgx-style loop: {pgx_mps:,.1f} moves/s ({pgx_games} games finished) "
                 f"-> ratio {ratio:.1f}x (alphago-jax / pgx)")
    print_fn(f"alphago-jax selfplay: {ours_mps:.1f} moves/s")
    return result
