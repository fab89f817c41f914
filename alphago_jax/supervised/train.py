"""`alphago-jax supervised`: a supervised warm start from game records.

The network learns to predict the recorded move (policy) and the recorded result (value) of
positions from SGF games (`alphago_jax.supervised.dataset`), with the self-play run's pieces
unchanged: the same network (`TrainConfig` net fields), optimizer (`learner.make_optimizer`),
loss and update (`learner.loss_fn` / `sgd_step`) and replay sampling (random board symmetries).

SGD runs as jitted blocks of a few steps (`learner.sgd_steps`, the self-play learner's fully
unrolled steps); Python loops over the blocks, evaluates and logs.

The run directory is a training run directory like any other: ``config.json`` (the
`TrainConfig`) and ``checkpoints/0`` holding the SL network's ``params`` item alone (no optimizer
state, games or replay buffer: `alphago_jax.runs`). So `runs.load_params`, ``alphago-jax
evaluate``, the arena's ``ckpt:DIR`` player, ``alphago-jax gtp --checkpoint DIR`` and an RL warm
start (``init_from=DIR``) read it unchanged; ``train`` refuses to resume it. It also holds
``metrics.jsonl`` (train and held-out losses and accuracies by SGD step) and ``supervised.json``
(the SL settings and the dataset summary).
"""

from __future__ import annotations

import dataclasses
import json
import sys
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax

from alphago_jax import runs
from alphago_jax.checkpoint import Checkpointer
from alphago_jax.config import ConfigError, Range, TrainConfig, make_config
from alphago_jax.learner import TrainState, make_optimizer, sgd_steps
from alphago_jax.logging import RunLogger
from alphago_jax.nets import scalar_value, value_target_classes
from alphago_jax.replay.buffer import ReplayBuffer
from alphago_jax.sgf import SGFError
from alphago_jax.supervised.dataset import (
    DatasetError,
    SupervisedData,
    batch_at,
    build_dataset,
    num_positions,
)

CHECKPOINT_STEP = 0
"""The SL checkpoint's step: the run is an RL run at iteration 0 that has not self-played."""


@dataclasses.dataclass(frozen=True)
class SLSettings:
    """Settings of a supervised run that are not part of `TrainConfig`.

    The network, optimizer, learning rate schedule (over `steps`), batch size (`train_batch`),
    board and rules come from the `TrainConfig`.

    Attributes:
      steps: SGD steps.
      holdout: fraction of games held out for evaluation, in [0, 1).
      eval_every: SGD steps between evaluations (metrics.jsonl rows); the first row is step 0.
      chunk: SGD steps per compiled call (unrolled).
      eval_batch: positions per evaluation call.
      train_eval_positions: training positions evaluated the same way as the held-out set
        (the first ones in file order), to compare train and held-out accuracy.
      strict: raise on a malformed SGF or an illegal move instead of skipping it.
    """

    steps: int = 2000
    holdout: float = 0.1
    eval_every: int = 100
    chunk: int = 4
    eval_batch: int = 512
    train_eval_positions: int = 2048
    strict: bool = False

    def validate(self) -> SLSettings:
        """Checks every number (finite, in its range).

        Raises:
          ConfigError: naming the first bad setting, its range and the value given.
        """
        for key, rng in SL_RANGES.items():
            problem = rng.check(f"--{key.replace('_', '-')}", getattr(self, key))
            if problem:  # named as the command-line option that sets it
                raise ConfigError(problem)
        return self


SL_RANGES: dict[str, Range] = {
    "steps": Range(1),
    "holdout": Range(0, 1, hi_open=True),
    "eval_every": Range(1),
    "chunk": Range(1),
    "eval_batch": Range(1),
    "train_eval_positions": Range(0),
}
"""The allowed range of every number of `SLSettings` (as `config.RANGES` for `TrainConfig`)."""


class SupervisedLearner:
    """The compiled pieces of a supervised run, built once from its config.

    Args:
      cfg: the run's config (network, optimizer, board, `train_batch`, `symmetries`).
      steps: SGD steps of the run (the learning rate schedule spans them).
    """

    def __init__(self, cfg: TrainConfig, steps: int, eval_batch: int = SLSettings.eval_batch):
        self.cfg = cfg.validate()
        self.network = cfg.network()
        # Game records carry no search value: their value target is always the result.
        self.learner = cfg.learner_settings()._replace(value_target="outcome")
        self.optimizer = make_optimizer(cfg.optimizer_settings(), steps)
        self.eval_batch = eval_batch
        self._blocks: dict[int, object] = {}
        self._eval = jax.jit(self._eval_sums)

    def init(self, key) -> TrainState:
        """The SL train state from fresh network parameters (as a self-play run's init)."""
        params = jax.jit(self.network.init)(jax.random.split(key)[0])
        return TrainState(params=params, opt_state=self.optimizer.init(params), step=jnp.int32(0))

    # ------------------------------------------------------------------ SGD
    def _block(self, n: int):
        """The jitted function doing `n` SGD steps: (ts, buf, key) -> (ts, mean metrics)."""
        if n not in self._blocks:
            def run(ts: TrainState, buf: ReplayBuffer, key):
                return sgd_steps(ts, buf, key, n, self.network, self.optimizer, self.learner)

            self._blocks[n] = jax.jit(run, donate_argnums=0)
        return self._blocks[n]

    def train_steps(self, ts: TrainState, buf: ReplayBuffer, key, n: int):
        """`n` SGD steps on batches sampled from `buf`. Returns (ts, mean metrics)."""
        return self._block(n)(ts, buf, key)

    # ------------------------------------------------------------------ evaluation
    def _eval_sums(self, params, buf: ReplayBuffer, idx, weight):
        """Per-position losses and hits at `idx`, summed with `weight` (0 for padding)."""
        batch = batch_at(buf, idx, self.cfg.size)
        out = self.network(params, batch.x)
        logits = out.policy_logits.astype(jnp.float32)
        # The same cross-entropies as learner.loss_fn, kept per position so padding is exact.
        policy_loss = -jnp.sum(batch.policy * jax.nn.log_softmax(logits, axis=-1), axis=-1)
        value_logits = out.value_logits.astype(jnp.float32)
        value_loss = optax.softmax_cross_entropy_with_integer_labels(
            value_logits, value_target_classes(batch.value)
        )
        # Top-1 among legal moves (pass is always legal): what a greedy player would play.
        legal = jnp.concatenate([buf.legal[idx], jnp.ones((idx.shape[0], 1), bool)], axis=-1)
        top1 = jnp.argmax(jnp.where(legal, logits, -jnp.inf), -1) == jnp.argmax(batch.policy, -1)
        v = scalar_value(value_logits)
        decided = batch.value != 0
        sign_ok = decided & (jnp.sign(v) == batch.value)
        w = weight.astype(jnp.float32)
        return {
            "n": jnp.sum(w),
            "policy_loss": jnp.sum(w * policy_loss),
            "value_loss": jnp.sum(w * value_loss),
            "top1": jnp.sum(w * top1),
            "value_mse": jnp.sum(w * (v - batch.value) ** 2),
            "decided": jnp.sum(w * decided),
            "value_sign": jnp.sum(w * sign_ok),
        }

    def evaluate(self, params, buf: ReplayBuffer, limit: int | None = None) -> dict[str, float]:
        """Mean metrics over the first `limit` (default all) positions of `buf`, no symmetry.

        Returns:
          policy_loss, value_loss (the loss_fn cross-entropies), top1 (move-prediction accuracy
          among legal moves), value_mse, value_sign_acc (sign of the predicted value right, over
          positions of decided games), positions.
        """
        n = num_positions(buf) if limit is None else min(limit, num_positions(buf))
        b = max(min(n, self.eval_batch), 1)  # one compiled shape per buffer
        total: dict[str, float] = {}
        for start in range(0, n, b):
            idx = np.arange(start, start + b)
            weight = idx < n
            sums = self._eval(params, buf, jnp.asarray(np.where(weight, idx, 0), jnp.int32),
                              jnp.asarray(weight))
            for k, v in jax.device_get(sums).items():
                total[k] = total.get(k, 0.0) + float(v)
        count = max(total.get("n", 0.0), 1.0)
        return {
            "policy_loss": total["policy_loss"] / count,
            "value_loss": total["value_loss"] / count,
            "top1": total["top1"] / count,
            "value_mse": total["value_mse"] / count,
            "value_sign_acc": total["value_sign"] / max(total["decided"], 1.0),
            "positions": total["n"],
        }


@dataclasses.dataclass
class SLResult:
    """The outcome of `train_supervised`.

    Attributes:
      params: the trained network parameters (what the checkpoint saves).
      history: the logged metric rows ({"step": ..., name: value}).
    """

    params: object
    history: list[dict]


def _log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def train_supervised(
    cfg: TrainConfig,
    data: SupervisedData,
    settings: SLSettings,
    key,
    logger=None,
) -> SLResult:
    """SGD on `data.train` for `settings.steps` steps, evaluating every `eval_every` steps.

    Args:
      cfg: the run's config.
      data: the dataset (`build_dataset`).
      settings: SL settings.
      key: PRNG key (network initialisation and batch sampling).
      logger: a `RunLogger` (or anything with `log(step, metrics)`), or None.

    Returns:
      SLResult. Each history row has the train losses averaged over the steps since the last
      row (`policy_loss`, `value_loss`, `loss`, `grad_norm`, ...; absent at step 0),
      `train_eval_*` (a fixed set of training positions, no symmetry) and `holdout_*`
      (`holdout_top1`, `holdout_value_sign_acc`, `holdout_policy_loss`, `holdout_value_loss`,
      `holdout_value_mse`) when games are held out.
    """
    settings.validate()
    learner = SupervisedLearner(cfg, settings.steps, settings.eval_batch)
    k_init, k_sgd = jax.random.split(key)
    ts = learner.init(k_init)
    history: list[dict] = []

    def evaluate(step: int, train_rows: list[dict], steps: int, seconds: float) -> None:
        row: dict = {}
        if train_rows:  # block means, weighted by the steps in each block
            weights = [r.pop("_steps") for r in train_rows]
            for name in train_rows[0]:
                row[name] = float(np.average([r[name] for r in train_rows], weights=weights))
            row["steps_per_s"] = steps / max(seconds, 1e-9)
        if settings.train_eval_positions:
            ev = learner.evaluate(ts.params, data.train, settings.train_eval_positions)
            row.update({f"train_eval_{k}": v for k, v in ev.items() if k != "positions"})
        if data.holdout is not None:
            ev = learner.evaluate(ts.params, data.holdout)
            row.update({f"holdout_{k}": v for k, v in ev.items() if k != "positions"})
        history.append({"step": step, **row})
        if logger is not None:
            logger.log(step, row)

    evaluate(0, [], 0, 0.0)
    done, since, rows, t0 = 0, 0, [], time.perf_counter()
    while done < settings.steps:
        n = min(settings.chunk, settings.steps - done)
        ts, metrics = learner.train_steps(ts, data.train, jax.random.fold_in(k_sgd, done), n)
        rows.append({**{k: float(v) for k, v in jax.device_get(metrics).items()}, "_steps": n})
        done, since = done + n, since + n
        crossed = done // settings.eval_every > (done - n) // settings.eval_every
        if crossed or done == settings.steps:
            evaluate(done, rows, since, time.perf_counter() - t0)
            since, rows, t0 = 0, [], time.perf_counter()
    return SLResult(params=ts.params, history=history)


# ---------------------------------------------------------------------- the CLI job
def main(
    data: str,
    run_dir: str,
    preset: str = "default",
    overrides: list[str] | None = None,
    settings: SLSettings | None = None,
) -> int:
    """`alphago-jax supervised`: reads `data`, trains, writes the run directory.

    Returns:
      0 on success; 2 on bad input (config, settings, data, an existing run), with the reason
      on stderr.
    """

    settings = settings or SLSettings()
    run_path = Path(run_dir)
    try:
        cfg = make_config(preset, list(overrides or []))
        settings.validate()
    except ConfigError as e:
        _log(f"alphago-jax supervised: {e}")
        return 2
    ckpt_dir = run_path / "checkpoints"
    problem = runs.not_a_directory(run_path)
    if problem:
        _log(f"alphago-jax supervised: --run-dir {problem}: name a new run directory")
        return 2
    if ckpt_dir.exists() and (not ckpt_dir.is_dir() or any(ckpt_dir.iterdir())):
        _log(f"alphago-jax supervised: {run_path} already holds checkpoints; supervised runs "
             "do not resume: use a new --run-dir")
        return 2
    try:
        ds = build_dataset(data, cfg.rules(), settings.holdout, cfg.seed, settings.strict,
                           cfg.ownership)
    except (DatasetError, SGFError) as e:
        _log(f"alphago-jax supervised: {e}")
        return 2

    run_path.mkdir(parents=True, exist_ok=True)
    cfg.save(run_path / "config.json")
    info = {"data": str(data), "settings": dataclasses.asdict(settings),
            "dataset": ds.summary.to_dict()}
    (run_path / "supervised.json").write_text(json.dumps(info, indent=2) + "\n")
    _log(f"alphago-jax supervised: {cfg.size}x{cfg.size}, {cfg.net} {cfg.blocks}x{cfg.channels}, "
         f"{settings.steps} steps of {cfg.train_batch}, run dir {run_path}")
    logger = RunLogger(run_path, {**cfg.to_dict(), "supervised": dataclasses.asdict(settings)},
                       total=settings.steps, use_wandb=cfg.wandb, project=cfg.wandb_project)
    t0 = time.perf_counter()
    try:
        result = train_supervised(cfg, ds, settings, jax.random.key(cfg.seed), logger)
    finally:
        logger.close()
    with Checkpointer(ckpt_dir, keep=cfg.keep_checkpoints, async_save=False) as ckpt:
        runs.save_params(ckpt, CHECKPOINT_STEP, result.params, supervised_sgd_steps=settings.steps,
                         data=str(data))
    last = result.history[-1]
    held = (f"held-out top-1 {last['holdout_top1']:.3f}, value sign accuracy "
            f"{last['holdout_value_sign_acc']:.3f}, policy loss "
            f"{last['holdout_policy_loss']:.3f}, value loss {last['holdout_value_loss']:.3f}"
            if "holdout_top1" in last else "no held-out games")
    _log(f"{settings.steps} steps in {time.perf_counter() - t0:.1f}s; checkpoint "
         f"{ckpt_dir}@{CHECKPOINT_STEP}")
    print(f"supervised {run_path}: {held}")
    return 0
