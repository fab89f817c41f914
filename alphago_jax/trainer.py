"""The compiled training iteration and its state, data parallel over a device mesh.

`make_train(cfg)` builds a `Trainer` whose `iteration(carry, key)` is one compiled function:
self-play `selfplay_steps` lockstep moves with search -> write positions to the replay buffer ->
`sgd_steps` optimizer steps. The host loop that calls it lives in `alphago_jax.loop`, the run
directory (config, checkpoints, warm starts) in `alphago_jax.runs`.

The iteration runs on every device of a one-axis mesh ("data", default: all devices of all
processes). Each device plays `selfplay_batch / D` games into its own replay shard of
`buffer_capacity / D` positions and samples `train_batch / D` positions per SGD step; the
gradients are averaged over the devices, so every device holds the same network. One device is
the same program on a mesh of one.

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
import numpy as np
from jax.sharding import Mesh, NamedSharding
from jax.sharding import PartitionSpec as P

from alphago_jax.config import TrainConfig
from alphago_jax.learner import TrainState, make_optimizer, reanalyse, sgd_steps
from alphago_jax.nets import policy_head_mask
from alphago_jax.replay import buffer as replay
from alphago_jax.search.mcts import node_bytes
from alphago_jax.selfplay import selfplay

DATA = "data"
"""The mesh axis a run is split over (data parallelism)."""

_MAX_ID = 2**31 - 1  # game ids are int32


def make_mesh(devices=None) -> Mesh:
    """A one-axis mesh ("data") over `devices` (default: every device of every process)."""
    devices = list(jax.devices() if devices is None else devices)
    # Auto axis: outside the shard_map'd iteration, per-device state indexes and reshards like
    # any array (`device_slice`, host code); inside, every collective is explicit anyway.
    return jax.make_mesh((len(devices),), (DATA,), devices=devices,
                         axis_types=(jax.sharding.AxisType.Auto,))


def describe_mesh(mesh: Mesh) -> str:
    """'data=2 (cpu)', or 'data=8 (tpu, 2 processes)'."""
    devices = list(mesh.devices.flat)
    processes = len({d.process_index for d in devices})
    where = devices[0].platform + (f", {processes} processes" if processes > 1 else "")
    return f"{DATA}={mesh.size} ({where})"


def device_slice(tree, device: int = 0):
    """One device's part of per-device state (`Carry.selfplay`, `Carry.replay`): the leading
    device axis indexed at `device`."""
    return jax.tree.map(lambda x: x[device], tree)


def _lead(tree):
    """A device's state with the leading device axis (of length 1 inside `shard_map`) added."""
    return jax.tree.map(lambda x: x[None], tree)


def id_span(devices: int, num_sizes: int) -> int:
    """Game ids per device: device d numbers its games from `d * id_span` (a multiple of
    `num_sizes`, so `id % num_sizes` still names the board size), so ids never collide across
    devices and each device's ids still cycle through every row of its buffer's result table
    (interleaving ids across devices would leave rows unused when D and the table size share a
    factor). Device 0 numbers its games as a one-device run does."""
    return _MAX_ID // devices // num_sizes * num_sizes


@chex.dataclass(frozen=True)
class Carry:
    """Everything an iteration changes; what a checkpoint saves (see `runs.save_state`).

    `train` and `iteration` are replicated on every device of the mesh. `selfplay` and `replay`
    are per-device state with a leading device axis D (sharded along it: device d holds row d,
    see `device_slice`). `selfplay` is one `SelfPlayState`, or with several board sizes a tuple
    of them, one per size in ascending order.
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
      mesh: the one-axis ("data") device mesh the run is split over; `share` is one device's
        part of it (`TrainConfig.data_parallel`).
      network: the run's `nets.Network` (a hashable value).
      rules: the rules on the run's (largest) board; `rules_by_size` on each self-played size.
      optimizer: the optax optimizer (schedule over `cfg.schedule_steps`).
      iteration: jitted `(carry, key) -> (carry, metrics)`, donating the carry.
      bootstrap_iteration: the same for random-play value-bootstrap iterations.
      backend: the backend whose compiled forms are used ('cpu', 'gpu', 'tpu'; default: JAX's
        default backend); `cpu_forms` is True on 'cpu'.
    """

    def __init__(self, cfg: TrainConfig, backend: str | None = None, mesh: Mesh | None = None):
        self.cfg = cfg.validate()
        self.mesh = make_mesh() if mesh is None else mesh
        self.num_devices = self.mesh.size
        self.share = cfg.data_parallel(self.num_devices)
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
        self.learner = cfg.learner_settings(self.num_devices)
        self.settings = cfg.selfplay_settings(id_stride=len(self.sizes))
        self.reanalyse = cfg.reanalyse_settings(self.num_devices)  # None: off
        self._init = jax.jit(self._sharded(self._device_init, P()))
        self.iteration = jax.jit(self._sharded_iteration(False), donate_argnums=0)
        # The random-play value bootstrap: its own compiled function, chosen by the host loop.
        self.bootstrap_iteration = jax.jit(self._sharded_iteration(True), donate_argnums=0)

    # ------------------------------------------------------------------ the mesh
    # shard_map rather than a sharded jit: each device's self-play games and replay ring are an
    # independent program over per-device state (its own ring pointer, game ids and keys), and
    # the only cross-device traffic is explicit (the gradient pmean, the ready-count psum, the
    # metrics). A sharded jit would have to infer all that from shardings, and a gather of the
    # ring or a resharding of the games it chose would be silent; here the one-device body runs
    # as written on each device. check_vma=False: mctx's search loops start from constants and
    # become device-varying, which the varying-axis type check refuses; what is replicated
    # (parameters, metrics, decisions) is so by construction: computed from pmean/psum results.
    def _specs(self) -> Carry:
        """The carry's partition specs: per-device state split on its leading axis."""
        return Carry(train=P(), selfplay=P(DATA), replay=P(DATA), iteration=P())

    def _sharded(self, body, in_specs):
        return jax.shard_map(body, mesh=self.mesh, in_specs=in_specs,
                             out_specs=self._specs(), check_vma=False)

    def _sharded_iteration(self, bootstrap: bool):
        body = functools.partial(self._device_iteration, bootstrap=bootstrap)
        return jax.shard_map(body, mesh=self.mesh, in_specs=(self._specs(), P()),
                             out_specs=(self._specs(), P()), check_vma=False)

    def shardings(self) -> Carry:
        """The carry's `NamedSharding`s (a tree like the carry)."""
        abstract = jax.eval_shape(self._init, jax.random.key(0))
        replicated, split = NamedSharding(self.mesh, P()), NamedSharding(self.mesh, P(DATA))
        return Carry(
            train=jax.tree.map(lambda _: replicated, abstract.train),
            selfplay=jax.tree.map(lambda _: split, abstract.selfplay),
            replay=jax.tree.map(lambda _: split, abstract.replay),
            iteration=replicated,
        )

    def replicate(self, tree):
        """Host or one-device values (the same on every process) as arrays replicated over the
        mesh, e.g. warm-started parameters."""
        sharding = NamedSharding(self.mesh, P())

        def put(x):
            x = np.asarray(jax.device_get(x))
            return jax.make_array_from_callback(x.shape, sharding, lambda idx: x[idx])

        return jax.tree.map(put, tree)

    # ------------------------------------------------------------------ state
    def init(self, key) -> Carry:
        """A fresh run: parameters from `key`, empty buffers, games at move 0 (device d's
        games drawn with `jax.random.fold_in(key, d)`)."""
        return self._init(key)

    def abstract_carry(self) -> Carry:
        """The carry's shapes, dtypes and shardings, nothing computed (restore targets)."""
        abstract = jax.eval_shape(self._init, jax.random.key(self.cfg.seed))
        return jax.tree.map(lambda a, s: jax.ShapeDtypeStruct(a.shape, a.dtype, sharding=s),
                            abstract, self.shardings())

    def fresh_train_state(self, params) -> TrainState:
        """`params` with a fresh optimizer state at SGD step 0."""
        return TrainState(params=params, opt_state=self.optimizer.init(params), step=jnp.int32(0))

    @functools.partial(jax.jit, static_argnums=0)
    def _init_params(self, key):
        """Fresh network parameters, initialised in one compiled call."""
        return self.network.init(key)

    def _device_init(self, key) -> Carry:
        """One device's fresh carry (inside `shard_map`): the same parameters everywhere, its
        own games, game ids and replay shard."""
        d = jax.lax.axis_index(DATA)
        k_net, k_sp = jax.random.split(key)
        params = self._init_params(k_net)
        buf = replay.init(self.rules, self.share.buffer_capacity, self.cfg.history,
                          self.cfg.ownership, num_sizes=len(self.sizes))
        return Carry(
            train=self.fresh_train_state(params),
            selfplay=_lead(self._init_selfplay(jax.random.fold_in(k_sp, d), d)),
            replay=_lead(buf),
            iteration=jnp.int32(0),
        )

    def _init_selfplay(self, key, device):
        b = self.share.selfplay_batch
        first = device * id_span(self.num_devices, len(self.sizes))
        if not self.multi:
            return selfplay.init(self.rules, b, key, self.settings, first)
        return tuple(
            selfplay.init(self.rules_by_size[n], b, jax.random.fold_in(key, i), self.settings,
                          first + i)
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
                                self.learner, unroll=self.cpu_forms, sample=sample,
                                axis_name=DATA)
        # Each device's losses are on its share of the batch: their mean is the whole batch's.
        losses = jax.lax.pmean(losses, DATA)
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

    def _device_iteration(self, carry: Carry, key, bootstrap: bool = False):
        """`_iteration` on one device (inside `shard_map`): its slice of the per-device state,
        its own key (no two devices play the same games)."""
        local = carry.replace(selfplay=device_slice(carry.selfplay),
                              replay=device_slice(carry.replay))
        key = jax.random.fold_in(key, jax.lax.axis_index(DATA))
        new, metrics = self._iteration(local, key, bootstrap)
        return new.replace(selfplay=_lead(new.selfplay), replay=_lead(new.replay)), metrics

    def _iteration(self, carry: Carry, key, bootstrap: bool = False):
        """One device's iteration on its own games and replay shard; the "train yet?" decision,
        the gradients and the metrics are the mesh's (collectives over `DATA`)."""
        k_sp, k_sgd = jax.random.split(key)
        sp, buf, stats = self._selfplay(
            carry.train.params, carry.selfplay, carry.replay, k_sp, bootstrap
        )
        n_ready = replay.num_ready(buf)
        # The global count, so every device makes the same decision. With min_buffer > 0 every
        # shard must also hold a finished position (an empty shard would sample empty slots);
        # for one device that is implied, so it decides as before.
        total_ready = jax.lax.psum(n_ready, DATA)
        all_ready = (jax.lax.pmin(n_ready, DATA) > 0) | (self.cfg.min_buffer == 0)
        trained = (total_ready >= self.cfg.min_buffer) & all_ready
        ts, losses = self._train_or_keep(carry.train, buf, k_sgd, bootstrap, trained)
        metrics = {**_reduce_stats(stats), **losses, "buffer_ready": total_ready,
                   "trained": trained.astype(jnp.int32),
                   "bootstrap": jnp.int32(bootstrap)}
        new = Carry(train=ts, selfplay=sp, replay=buf, iteration=carry.iteration + 1)
        return new, metrics


def _reduce_stats(stats: dict) -> dict:
    """Self-play statistics of the whole mesh: counts summed over the devices, the mean root
    value (`root_value_abs`) averaged (every device plays as many games)."""
    return {k: jax.lax.pmean(v, DATA) if k == "root_value_abs" else jax.lax.psum(v, DATA)
            for k, v in stats.items()}


def make_train(cfg: TrainConfig, backend: str | None = None, mesh: Mesh | None = None
               ) -> Trainer:
    return Trainer(cfg, backend, mesh)
