"""The compiled training iteration and its state.

`make_train(cfg)` builds a `Trainer` whose `iteration(carry, key)` is one compiled function:
self-play `selfplay_steps` lockstep moves with search -> write positions to the replay buffer ->
`sgd_steps` optimizer steps. The host loop that calls it lives in `alphago_jax.loop`, the run
directory (config, checkpoints, warm starts) in `alphago_jax.runs`.

With `sizes` (e.g. '5,7,9') one iteration self-plays a batch of each size (each at its native
size, the network being size-agnostic) into one replay buffer padded to the largest; with
`bootstrap_iterations` the first iterations are `bootstrap_iteration`s (random play; the policy
head is left untouched). With `reanalyse_fraction` part of each SGD batch gets fresh search
targets (`alphago_jax.learner.reanalyse`), searched inside the same compiled iteration.
"""

from __future__ import annotations

import functools

import chex
import jax
import jax.numpy as jnp

from alphago_jax.config import TrainConfig
from alphago_jax.learner import TrainState, make_optimizer, reanalyse, sgd_steps
from alphago_jax.nets import policy_head_mask
from alphago_jax.replay import buffer as replay
from alphago_jax.search.mcts import node_bytes
from alphago_jax.selfplay import selfplay


@chex.dataclass(frozen=True)
class Carry:
    """Everything an iteration changes; what a checkpoint saves (see `runs.save_state`).

    `selfplay` is one `SelfPlayState`, or with several board sizes a tuple of them, one per
    size in ascending order.
    """

    train: TrainState
    selfplay: selfplay.SelfPlayState
    replay: replay.ReplayBuffer
    iteration: chex.Array


SIZE_STAT_KEYS = ("games", "black_wins", "moves_in_games", "positions")
"""Self-play statistics also logged per board size (`games_5x5`, ...) in multi-size runs."""


class Trainer:
    """The compiled pieces of a run, built once from its config.

    Attributes:
      cfg: the validated config.
      network: the run's `nets.Network` (a hashable value).
      rules: the rules on the run's (largest) board; `rules_by_size` on each self-played size.
      optimizer: the optax optimizer (schedule over `cfg.schedule_steps`).
      iteration: jitted `(carry, key) -> (carry, metrics)`, donating the carry.
      bootstrap_iteration: the same for random-play value-bootstrap iterations.
      backend: the backend whose compiled forms are used ('cpu', 'gpu', 'tpu'; default: JAX's
        default backend); `cpu_forms` is True on 'cpu'.
    """

    def __init__(self, cfg: TrainConfig, backend: str | None = None):
        self.cfg = cfg.validate()
        # XLA:CPU forms (unrolled SGD steps, a select for "train yet?") only where they are
        # faster; on GPU/TPU a rolled scan and a lax.cond (see `_train_or_keep`).
        self.backend = backend or jax.default_backend()
        self.cpu_forms = self.backend == "cpu"
        self.network = cfg.network()
        self.rules = cfg.rules()
        self.sizes = cfg.board_sizes
        self.multi = len(self.sizes) > 1
        self.rules_by_size = {n: cfg.rules(n) for n in self.sizes}
        self.optimizer = make_optimizer(cfg.optimizer_settings(), cfg.schedule_steps)
        self.learner = cfg.learner_settings()
        self.settings = cfg.selfplay_settings(id_stride=len(self.sizes))
        self.reanalyse = cfg.reanalyse_settings()  # None: off
        self.iteration = jax.jit(self._iteration, donate_argnums=0)
        # The random-play value bootstrap: its own compiled function, chosen by the host loop.
        self.bootstrap_iteration = jax.jit(
            functools.partial(self._iteration, bootstrap=True), donate_argnums=0
        )

    # ------------------------------------------------------------------ state
    def init(self, key) -> Carry:
        """A fresh run: parameters from `key`, empty buffer, games at move 0."""
        k_net, k_sp = jax.random.split(key)
        params = self._init_params(k_net)
        return Carry(
            train=self.fresh_train_state(params),
            selfplay=self._init_selfplay(k_sp),
            replay=replay.init(
                self.rules, self.cfg.buffer_capacity, self.cfg.history, self.cfg.ownership,
                num_sizes=len(self.sizes),
            ),
            iteration=jnp.int32(0),
        )

    def abstract_carry(self) -> Carry:
        """The carry's shapes and dtypes, nothing computed (restore targets)."""
        return jax.eval_shape(self.init, jax.random.key(self.cfg.seed))

    def fresh_train_state(self, params) -> TrainState:
        """`params` with a fresh optimizer state at SGD step 0."""
        return TrainState(params=params, opt_state=self.optimizer.init(params), step=jnp.int32(0))

    @functools.partial(jax.jit, static_argnums=0)
    def _init_params(self, key):
        """Fresh network parameters, initialised in one compiled call."""
        return self.network.init(key)

    def _init_selfplay(self, key):
        b = self.cfg.selfplay_batch
        if not self.multi:
            return selfplay.init(self.rules, b, key, self.settings)
        return tuple(
            selfplay.init(self.rules_by_size[n], b, jax.random.fold_in(key, i), self.settings, i)
            for i, n in enumerate(self.sizes)
        )

    def describe(self, params) -> str:
        nodes = node_bytes(self.rules)
        return (f"{self.network.describe(params, self.cfg.size)} | tree node {nodes['total']} B "
                f"(embedding {nodes['embedding']} B)")

    # ------------------------------------------------------------------ compiled iteration
    def _selfplay(self, params, sp, buf, key, bootstrap: bool):
        """Self-play of every board size into the one buffer. Returns (sp, buf, stats)."""
        settings = self.settings._replace(random_play=True) if bootstrap else self.settings
        steps = self.cfg.selfplay_steps
        if not self.multi:
            return selfplay.run(self.rules, self.network, settings, params, sp, buf, key, steps)
        states, per_size = [], []
        for i, n in enumerate(self.sizes):
            sp_n, buf, st = selfplay.run(
                self.rules_by_size[n], self.network, settings, params, sp[i], buf,
                jax.random.fold_in(key, i), steps,
            )
            states.append(sp_n)
            per_size.append(st)
        stats = {k: sum(st[k] for st in per_size) for k in per_size[0] if k != "root_value_abs"}
        stats["root_value_abs"] = jnp.mean(jnp.stack([st["root_value_abs"] for st in per_size]))
        for n, st in zip(self.sizes, per_size, strict=True):
            stats.update({f"{k}_{n}x{n}": st[k] for k in SIZE_STAT_KEYS})
        return tuple(states), buf, stats

    def _train(self, ts: TrainState, buf, key, bootstrap: bool):
        # ---- reanalyse hook (off: the key and the sampling are exactly as without it)
        sample = None
        if self.reanalyse is not None and not bootstrap:
            key, k_re = jax.random.split(key)
            re = reanalyse.prepare(self.rules, self.network, self.reanalyse, ts.params, buf,
                                   k_re, self.cfg.sgd_steps)
            sample = reanalyse.make_sampler(re, self.reanalyse, self.learner, buf)
        # ---- end of reanalyse hook
        new, losses = sgd_steps(ts, buf, key, self.cfg.sgd_steps, self.network, self.optimizer,
                                self.learner, unroll=self.cpu_forms, sample=sample)
        if bootstrap:
            # Random-play positions carry no policy target, so the policy head gets a zero
            # gradient, but weight decay would still shrink it: keep it exactly as it was.
            keep = policy_head_mask(ts.params)
            params = jax.tree.map(lambda k, old, p: old if k else p, keep, ts.params, new.params)
            new = new.replace(params=params)
        return new, losses

    def _train_or_keep(self, ts: TrainState, buf, key, bootstrap: bool, trained):
        """The SGD steps once the buffer holds enough finished positions; else `ts` unchanged
        and zero losses."""
        if self.cpu_forms:
            # A select rather than lax.cond: on XLA:CPU conv gradients inside a cond branch ran
            # ~14x slower (18.4 vs 1.3 CPU-seconds for 8 steps), and the steps wasted before the
            # buffer fills are few.
            new, losses = self._train(ts, buf, key, bootstrap)
            ts = jax.tree.map(lambda a, b: jnp.where(trained, a, b), new, ts)
            return ts, jax.tree.map(lambda v: jnp.where(trained, v, 0.0), losses)

        def keep(ts):
            shapes = jax.eval_shape(lambda t: self._train(t, buf, key, bootstrap)[1], ts)
            return ts, jax.tree.map(lambda x: jnp.zeros(x.shape, x.dtype), shapes)

        return jax.lax.cond(trained, lambda t: self._train(t, buf, key, bootstrap), keep, ts)

    def _iteration(self, carry: Carry, key, bootstrap: bool = False):
        k_sp, k_sgd = jax.random.split(key)
        sp, buf, stats = self._selfplay(
            carry.train.params, carry.selfplay, carry.replay, k_sp, bootstrap
        )
        n_ready = replay.num_ready(buf)
        trained = n_ready >= self.cfg.min_buffer
        ts, losses = self._train_or_keep(carry.train, buf, k_sgd, bootstrap, trained)
        metrics = {**stats, **losses, "buffer_ready": n_ready,
                   "trained": trained.astype(jnp.int32),
                   "bootstrap": jnp.int32(bootstrap)}
        new = Carry(train=ts, selfplay=sp, replay=buf, iteration=carry.iteration + 1)
        return new, metrics


def make_train(cfg: TrainConfig, backend: str | None = None) -> Trainer:
    return Trainer(cfg, backend)
