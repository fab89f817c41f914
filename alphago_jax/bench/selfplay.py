"""Search + self-play throughput: our self-play loop vs a pgx-style AlphaZero loop.

`alphago-jax bench selfplay --size S --batch B --sims N --blocks K --channels C` times, in one
process and through the same harness:

1. **alphago-jax**: `alphago_jax.selfplay.selfplay.run` for `steps` lockstep moves of B games with
   Gumbel search over our rules and our K x C ResNet (replay-buffer writes included: they are part
   of self-play).
2. **pgx-style loop** (when pgx imports and not `--no-pgx`), as pgx's examples/alphazero does it:
   pgx's Go environment with the whole pgx `State` as the mctx embedding, a recurrent function that
   calls `env.step`, that example's network design (`AZNet`: a K x C pre-activation ResNet with
   batch norm in inference mode, a 2-channel policy head and a tanh value head) on pgx's
   observation, the same Gumbel search settings, auto-reset of finished games, no replay buffer.

`--breakdown` adds the figures that say where the time goes: the pgx-style loop with *our* network
(same network in both loops, so only rules + tree differ), both loops with a near-free network
(rules + tree + loop alone), and one batched evaluation of each network.

Both use history 8, so the inputs are comparable: our features have 2 * 8 + 3 = 19 planes, pgx's
observation 17. Both play Tromp-Taylor with komi 7.5, no suicide, positional superko and a
2 * S * S move cap. pgx only registers 9x9 and 19x19 with `pgx.make`; other sizes build
`pgx.go.Go(size=S)` directly.

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
from alphago_jax.nets import NetOutput, Network, scalar_value
from alphago_jax.search.mcts import SearchSettings
from alphago_jax.selfplay import selfplay
from alphago_jax.trainer import Trainer, device_slice, make_mesh

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
    trainer = Trainer(cfg, mesh=make_mesh(jax.devices()[:1]))  # one device's loop
    carry = trainer.init(key)

    @functools.partial(jax.jit, donate_argnums=1)
    def run(params, carry, key):
        sp, buf = carry
        sp, buf, stats = selfplay.run(
            trainer.rules, trainer.network, trainer.settings, params, sp, buf, key, steps
        )
        return (sp, buf), stats["games"]

    return trainer, run, carry.train.params, device_slice((carry.selfplay, carry.replay))


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


class AZNet(nnx.Module):
    """The network design of pgx's examples/alphazero, in NNX.

    A 3x3 stem conv, `blocks` pre-activation residual blocks (BN -> ReLU -> 3x3 conv, twice, +
    identity), BN -> ReLU, then a policy head (1x1 conv to 2 channels, BN, ReLU, dense to the
    actions) and a value head (1x1 conv to 1 channel, BN, ReLU, dense to `channels`, ReLU, dense
    to 1, tanh). Batch norm runs in inference mode, as it does during self-play.
    """

    def __init__(self, planes: int, size: int, channels: int, blocks: int, rngs: nnx.Rngs):
        c = channels

        def bn(n):
            return nnx.BatchNorm(n, use_running_average=True, rngs=rngs)

        self.stem = nnx.Conv(planes, c, (3, 3), rngs=rngs)
        self.norms = nnx.List([bn(c) for _ in range(2 * blocks + 1)])
        self.convs = nnx.List([nnx.Conv(c, c, (3, 3), rngs=rngs) for _ in range(2 * blocks)])
        self.policy_conv, self.policy_norm = nnx.Conv(c, 2, (1, 1), rngs=rngs), bn(2)
        self.policy_out = nnx.Linear(2 * size * size, size * size + 1, rngs=rngs)
        self.value_conv, self.value_norm = nnx.Conv(c, 1, (1, 1), rngs=rngs), bn(1)
        self.value_hidden = nnx.Linear(size * size, c, rngs=rngs)
        self.value_out = nnx.Linear(c, 1, rngs=rngs)

    def __call__(self, x: jax.Array) -> tuple[jax.Array, jax.Array]:
        """``x: [B, S, S, planes]`` -> (policy logits [B, S*S + 1], value [B] in [-1, 1])."""
        h = self.stem(x)
        for i in range(0, len(self.convs), 2):
            y = self.convs[i](jax.nn.relu(self.norms[i](h)))
            h = h + self.convs[i + 1](jax.nn.relu(self.norms[i + 1](y)))
        h = jax.nn.relu(self.norms[-1](h))
        p = jax.nn.relu(self.policy_norm(self.policy_conv(h)))
        logits = self.policy_out(p.reshape(p.shape[0], -1))
        v = jax.nn.relu(self.value_norm(self.value_conv(h)))
        v = jax.nn.relu(self.value_hidden(v.reshape(v.shape[0], -1)))
        return logits, jnp.tanh(self.value_out(v)[:, 0])


# An evaluation function: (params, observation bool[B, S, S, 17]) -> (logits [B, A], value [B]).
EvalFn = Callable[[Any, jax.Array], tuple[jax.Array, jax.Array]]


def aznet_eval(cfg: TrainConfig, planes: int, key) -> tuple[str, EvalFn, Any]:
    """pgx's example network: (description, eval_fn, params)."""
    model = AZNet(planes, cfg.size, cfg.channels, cfg.blocks, nnx.Rngs(key))
    graphdef, params = nnx.split(model)

    def eval_fn(params, obs):
        return nnx.merge(graphdef, params)(obs.astype(jnp.float32))

    n = sum(x.size for x in jax.tree.leaves(params))
    return f"AZNet (pgx example) {cfg.blocks}x{cfg.channels} ({n:,} params)", eval_fn, params


def ours_eval(cfg: TrainConfig, planes: int, key) -> tuple[str, EvalFn, Any]:
    """Our network on pgx's observation (+ the on-board mask plane it needs)."""
    network = Network(cfg.net_config(), planes + 1)
    params = network.init(key)

    def eval_fn(params, obs):
        x = obs.astype(jnp.float32)
        out = network(params, jnp.concatenate([x, jnp.ones(x.shape[:-1] + (1,))], axis=-1))
        return out.policy_logits, scalar_value(out.value_logits)

    return f"ours on pgx: {network.describe(params, cfg.size)}", eval_fn, params


def null_eval(cfg: TrainConfig, planes: int, key) -> tuple[str, EvalFn, Any]:
    """A near-free stand-in network (uniform prior, zero value) that still reads its input, so
    what is left of a loop's time is rules + tree + loop."""
    del planes, key

    def eval_fn(params, obs):
        touch = jnp.sum(obs, axis=(1, 2, 3)).astype(jnp.float32)[:, None] * params
        return jnp.zeros((obs.shape[0], cfg.size * cfg.size + 1)) + touch, touch[:, 0]

    return "null network", eval_fn, jnp.zeros((), jnp.float32)


def pgx_evaluate(eval_fn: EvalFn, params, state):
    """(prior logits float32[B, A] masked by the legal moves, value float32[B] for the mover)."""
    logits, value = eval_fn(params, state.observation)
    logits = jnp.where(state.legal_action_mask, logits.astype(jnp.float32), _NEG)
    return logits, value.astype(jnp.float32)


def pgx_recurrent_fn(env, eval_fn: EvalFn):
    """mctx recurrent function over pgx states: reward for the player who moved, discount -1
    while the game goes on and 0 (with value 0) once it is over."""

    def recurrent_fn(params, rng_key, action, state):
        del rng_key
        mover = state.current_player
        nxt = jax.vmap(env.step)(state, action)
        reward = jnp.take_along_axis(nxt.rewards, mover[:, None], axis=1)[:, 0]
        logits, value = pgx_evaluate(eval_fn, params, nxt)
        over = nxt.terminated | nxt.truncated
        out = mctx.RecurrentFnOutput(
            reward=reward.astype(jnp.float32),
            discount=jnp.where(over, 0.0, -1.0).astype(jnp.float32),
            prior_logits=logits,
            value=jnp.where(over, 0.0, value).astype(jnp.float32),
        )
        return out, nxt

    return recurrent_fn


def pgx_loop(env, cfg: TrainConfig, settings: SearchSettings, steps: int, key,
             network=aznet_eval):
    """The pgx-style loop: (network description, run, params, batched pgx State)."""
    k_net, k_init = jax.random.split(key)
    text, eval_fn, params = network(cfg, env.observation_shape[-1], k_net)
    recurrent_fn = pgx_recurrent_fn(env, eval_fn)
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
        logits, value = pgx_evaluate(eval_fn, params, state)
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

    state = jax.vmap(env.init)(jax.random.split(k_init, batch))
    return text, run, params, state


def ms_per_eval(eval_fn: EvalFn, params, x, repeats: int = 20) -> float:
    """Milliseconds of one jitted batched evaluation of `x` (best of `repeats`)."""
    f = jax.jit(eval_fn)
    jax.block_until_ready(f(params, x))
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        jax.block_until_ready(f(params, x))
        best = min(best, time.perf_counter() - t0)
    return best * 1e3


# ---------------------------------------------------------------------- the CLI job
def _ours_null(cfg: TrainConfig, steps: int, key) -> tuple[RunFn, Any, Any]:
    """Our loop with the null network (rules + tree + loop + replay writes)."""
    trainer = Trainer(cfg, mesh=make_mesh(jax.devices()[:1]))  # one device's loop
    carry = trainer.init(key)
    a = cfg.size * cfg.size + 1

    def apply(params, x):
        touch = jnp.sum(x, axis=(1, 2, 3))[:, None] * params
        return NetOutput(jnp.zeros((x.shape[0], a)) + touch, jnp.zeros((x.shape[0], 3)) + touch,
                         None)

    @functools.partial(jax.jit, donate_argnums=1)
    def run(params, carry, key):
        sp, buf = carry
        sp, buf, stats = selfplay.run(
            trainer.rules, apply, trainer.settings, params, sp, buf, key, steps
        )
        return (sp, buf), stats["games"]

    return run, jnp.zeros((), jnp.float32), device_slice((carry.selfplay, carry.replay))


def breakdown(args, cfg: TrainConfig, env, trainer: Trainer, params, key, print_fn) -> dict:
    """Where the time goes: same-network and null-network loops, and per-evaluation costs."""
    b, steps = cfg.selfplay_batch, args.steps
    out = {}
    text, run, p, state = pgx_loop(env, cfg, trainer.settings.full, steps, key, ours_eval)
    out["pgx_same_net_moves_per_s"], _ = time_loop(run, p, state, b, steps, args.repeats)
    run, p, carry = _ours_null(cfg, steps, key)
    out["ours_null_moves_per_s"], _ = time_loop(run, p, carry, b, steps, args.repeats)
    _, run, p, state = pgx_loop(env, cfg, trainer.settings.full, steps, key, null_eval)
    out["pgx_null_moves_per_s"], _ = time_loop(run, p, state, b, steps, args.repeats)
    x = jnp.ones((b, cfg.size, cfg.size, 2 * HISTORY + 3), jnp.float32)
    out["ours_net_ms"] = ms_per_eval(trainer.network, params, x)
    _, eval_fn, p = aznet_eval(cfg, 17, key)
    obs = jnp.ones((b, cfg.size, cfg.size, 17), jnp.bool_)
    out["aznet_ms"] = ms_per_eval(eval_fn, p, obs)
    evals = cfg.num_simulations + 1
    print_fn(f"pgx-style loop with our network ({text}): "
             f"{out['pgx_same_net_moves_per_s']:,.1f} moves/s")
    print_fn(f"null network (rules + tree + loop only): alphago-jax "
             f"{out['ours_null_moves_per_s']:,.1f} moves/s, pgx-style "
             f"{out['pgx_null_moves_per_s']:,.1f} moves/s -> ratio "
             f"{out['ours_null_moves_per_s'] / out['pgx_null_moves_per_s']:.1f}x")
    print_fn(f"one evaluation of {b} positions: ours {out['ours_net_ms']:.2f} ms, AZNet "
             f"{out['aznet_ms']:.2f} ms; {evals} per move -> network alone caps moves/s at "
             f"{b * 1e3 / (evals * out['ours_net_ms']):,.0f} (ours) and "
             f"{b * 1e3 / (evals * out['aznet_ms']):,.0f} (AZNet)")
    return out


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
        f"(ours: {2 * HISTORY + 3} planes; pgx: 17 planes)"
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
        text, run, p, state = pgx_loop(env, cfg, trainer.settings.full, args.steps, k_pgx)
        print_fn(f"network (pgx-style): {text}")
        pgx_mps, pgx_games = time_loop(run, p, state, cfg.selfplay_batch, args.steps,
                                       args.repeats)
        ratio = ours_mps / pgx_mps
        result.update(pgx_moves_per_s=pgx_mps, ratio=ratio)
        print_fn(f"pgx-style loop: {pgx_mps:,.1f} moves/s ({pgx_games} games finished) "
                 f"-> ratio {ratio:.2f}x (alphago-jax / pgx)")
        if getattr(args, "breakdown", False):
            result.update(breakdown(args, cfg, env, trainer, params, k_pgx, print_fn))
    print_fn(f"alphago-jax selfplay: {ours_mps:.1f} moves/s")
    return result
