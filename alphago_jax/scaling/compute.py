"""Training and test-time compute of a run, in FLOPs (the x axis of a scaling law).

Accounting (what `iteration_flops` counts, per training iteration; F(n) = FLOPs of one network
evaluation of one position on an n x n board, from `alphago_jax.nets.flops_per_eval`):

* **Self-play**: for each board size n self-played (`size`, or every size in `sizes`, each at
  its native size), `selfplay_batch` games each make `selfplay_steps` moves; every move is one
  search of ``num_simulations + 1`` network evaluations (the root, then one per simulation).
  With playout-cap randomization (``playout_cap_fraction = f < 1``) a move gets the full search
  with probability f and the fast one (``fast_simulations + 1`` evaluations) otherwise, so a
  move costs ``f * (num_simulations + 1) + (1 - f) * (fast_simulations + 1)`` evaluations in
  expectation. Games that end restart in place, so every lockstep move is a searched move.
  Random-play bootstrap iterations (`bootstrap_iterations`) search nothing: 0 evaluations.
* **Learner**: `sgd_steps` steps of `train_batch` positions on the replay grid (`size`, the
  largest), each position one forward and one backward pass, counted as
  ``LEARNER_FORWARD_EQUIVALENTS = 3`` forward evaluations F(size) (the backward pass costs about
  twice the forward; bootstrap iterations leave the policy head as it was but still
  backpropagate through the whole network). The trainer computes the SGD steps in every
  iteration and discards them until the buffer holds `min_buffer` positions, so they are spent
  compute and counted in every iteration (pass `trained_iterations` to count only the applied ones).
* **Reanalyse** (`reanalyse_fraction` > 0): each non-bootstrap iteration searches `sgd_steps` x
  ``round(reanalyse_fraction * train_batch)`` (at least 1) replayed positions with self-play's
  full search, ``num_simulations + 1`` evaluations each (`alphago_jax.learner.reanalyse`).

Left out: evaluation games during training (monitoring, not training), the rules engine and the
tree bookkeeping (not network FLOPs; on an accelerator they are a small share), the optimizer
update (O(parameters), not O(parameters x points)).

F is given either as one number, F(size), with the other sizes of a multi-size run scaled by
their number of points (a convolutional net's FLOPs are proportional to the points), or as a
mapping {n: F(n)} (exact; `net_flops_per_eval(cfg, n)` computes each).

Test-time compute of an agent is ``(simulations + 1) * F`` per move (`search_flops_per_move`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import NamedTuple

from alphago_jax.config import TrainConfig

LEARNER_FORWARD_EQUIVALENTS = 3.0
"""Forward-pass equivalents of one training example: forward (1) + backward (~2)."""

FlopsPerEval = float | Mapping[int, float]


class IterationFlops(NamedTuple):
    """FLOPs of one training iteration.

    Attributes:
      selfplay: network FLOPs of the self-play searches.
      learner: FLOPs of the SGD steps.
      evals_per_move: expected network evaluations per self-play move.
      reanalyse: FLOPs of the reanalyse searches.
    """

    selfplay: float
    learner: float
    evals_per_move: float
    reanalyse: float = 0.0

    @property
    def total(self) -> float:
        return self.selfplay + self.learner + self.reanalyse


def reanalysed_positions(cfg: TrainConfig) -> int:
    """Positions reanalyse searches in one iteration: `sgd_steps` batches of
    `ReanalyseSettings.count` (0 when off)."""
    settings = cfg.reanalyse_settings()
    return 0 if settings is None else cfg.sgd_steps * settings.count


def evals_per_move(cfg: TrainConfig) -> float:
    """Expected network evaluations of one self-play move (playout-cap mix included)."""
    f = cfg.playout_cap_fraction
    return f * (cfg.num_simulations + 1) + (1.0 - f) * (cfg.fast_simulations + 1)


def _flops_at(flops_per_eval: FlopsPerEval, size: int, n: int) -> float:
    """F(n): from the mapping, or F(size) scaled by points."""
    if isinstance(flops_per_eval, Mapping):
        if n not in flops_per_eval:
            raise ValueError(f"flops_per_eval has no entry for board size {n} "
                             f"(has {sorted(flops_per_eval)})")
        f = float(flops_per_eval[n])
    else:
        f = float(flops_per_eval) * (n * n) / (size * size)
    if f < 0:
        raise ValueError(f"flops_per_eval must be >= 0, got {f} for size {n}")
    return f


def iteration_flops(cfg: TrainConfig, flops_per_eval: FlopsPerEval, bootstrap: bool = False
                    ) -> IterationFlops:
    """FLOPs of one training iteration (see the module docstring).

    Args:
      cfg: the run's config.
      flops_per_eval: F(size) (float) or {board size: F} for every self-played size and `size`.
      bootstrap: a random-play bootstrap iteration (no search, so no self-play evaluations).

    Returns:
      IterationFlops.
    """
    per_move = 0.0 if bootstrap else evals_per_move(cfg)
    moves = cfg.selfplay_batch * cfg.selfplay_steps
    selfplay = sum(moves * per_move * _flops_at(flops_per_eval, cfg.size, n)
                   for n in cfg.board_sizes)
    f_size = _flops_at(flops_per_eval, cfg.size, cfg.size)
    learner = cfg.train_batch * cfg.sgd_steps * LEARNER_FORWARD_EQUIVALENTS * f_size
    reanalyse = 0.0 if bootstrap else (reanalysed_positions(cfg) * (cfg.num_simulations + 1)
                                        * f_size)
    return IterationFlops(selfplay=selfplay, learner=learner, evals_per_move=per_move,
                          reanalyse=reanalyse)


def train_flops(
    cfg: TrainConfig,
    flops_per_eval: FlopsPerEval,
    iterations: int | None = None,
    trained_iterations: int | None = None,
) -> float:
    """Cumulative training FLOPs after `iterations` iterations (default: the whole run).

    Args:
      cfg: the run's config.
      flops_per_eval: F(size), or {board size: F}.
      iterations: k, iterations done (checkpoint step k); None means `cfg.iterations`.
      trained_iterations: how many of them applied their SGD steps (e.g. the sum of the logged
        `trained` metric); None counts the learner in all k (the compute train.py spends).

    Returns:
      FLOPs: self-play and reanalyse of k iterations (the first `bootstrap_iterations` without
      search) plus the learner's.
    """
    k = cfg.iterations if iterations is None else iterations
    if k < 0:
        raise ValueError(f"iterations must be >= 0, got {k}")
    boot = min(k, int(getattr(cfg, "bootstrap_iterations", 0) or 0))
    search = iteration_flops(cfg, flops_per_eval)
    random_play = iteration_flops(cfg, flops_per_eval, bootstrap=True)
    learned = k if trained_iterations is None else trained_iterations
    if not 0 <= learned <= k:
        raise ValueError(f"trained_iterations must be in 0..{k}, got {trained_iterations}")
    return ((k - boot) * (search.selfplay + search.reanalyse) + boot * random_play.selfplay
            + learned * search.learner)


def checkpoint_flops(cfg: TrainConfig, flops_per_eval: FlopsPerEval, steps: Iterable[int]
                     ) -> dict[int, float]:
    """{checkpoint step k: cumulative training FLOPs at k} for a run's checkpoints."""
    return {int(k): train_flops(cfg, flops_per_eval, int(k)) for k in steps}


def search_flops_per_move(flops_per_eval: float, simulations: int) -> float:
    """Test-time FLOPs of one move of an agent searching `simulations` simulations."""
    if simulations < 0:
        raise ValueError(f"simulations must be >= 0, got {simulations}")
    return (simulations + 1) * flops_per_eval


def net_flops_per_eval(cfg: TrainConfig, size: int | None = None) -> float:
    """F for a run's network on a `size` board (default `cfg.size`), from XLA's cost analysis
    of one forward pass of a single position (`nets.Network.flops`); nothing is trained."""
    return cfg.validate().network().flops(cfg.size if size is None else size)
