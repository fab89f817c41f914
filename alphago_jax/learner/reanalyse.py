"""Reanalyse (MuZero Reanalyse, EfficientZero): fresh search targets for replayed positions.

A fraction of every SGD batch (`TrainConfig.reanalyse_fraction`) gets its policy target -- and
with `reanalyse_value` its search value -- from a new search with the current network instead
of the one made when the position was played. Everything happens inside the compiled iteration
and per device (no collectives):

1. `prepare` draws the positions of all of an iteration's SGD steps at once (`sgd_steps` x
   `count` ready slots, uniformly), rebuilds their `GoState`s from the buffer
   (`rebuild_states`, i.e. `Rules.from_history`) and searches them in one batch with self-play's
   full search settings; the targets follow self-play's rule (`selfplay.policy_target`: the
   improved policy, or for 'hard' a one-hot of `selfplay.choose_action`'s move).
2. `make_sampler` gives `learner.sgd_steps` the batch of step i: a plain replay sample whose
   first `count` rows are step i's reanalysed positions with their new targets.

Approximations (also in the config fields' docstrings):

* The network is the one at the start of the iteration's SGD steps (the one self-play just
  used), so a target is at most `sgd_steps` updates old. One batched search per iteration
  rather than one per SGD step keeps the compiled iteration small (the steps are unrolled on
  CPU) and gives the accelerator one large batch.
* Rebuilt states are exact in board, side to move, move count (the move cap holds), consecutive
  passes and simple ko (the previous board is in the stored history), but positional superko is
  checked only against the `history` stored boards, not the whole game. So the root may allow
  a move that repeats an older position: the new policy is masked with the legal points stored
  when the position was played (the whole-game superko) and renormalised. Inside the tree,
  superko is as approximate as in any search (see `search.mcts`).
* Symmetries: the stored (untransformed) position is searched and its new policy then goes
  through the sample's symmetry exactly like a stored policy. Searching the transformed position
  would be just as valid Go, but its Zobrist hashes and chains would have to be rebuilt under
  the symmetry; the two differ only in the search's random noise.
* Value: with `reanalyse_value` the search's root value replaces the stored search value of
  those rows, so it enters the loss through `value_target` ('search': all of it; 'mix': with
  weight `value_target_mix`; 'outcome' would ignore it, which the config refuses).
* Random-play (bootstrap) iterations do not reanalyse, and multi-size buffers are refused (one
  compiled search per board size would be needed).
"""

from __future__ import annotations

from typing import NamedTuple

import chex
import jax
import jax.numpy as jnp

from alphago_jax.learner.learner import LearnerSettings
from alphago_jax.replay import buffer as replay
from alphago_jax.rules.go import GoState, Rules
from alphago_jax.search.mcts import run_search
from alphago_jax.selfplay.selfplay import SelfPlaySettings, choose_action, policy_target

__all__ = [
    "Reanalysed", "ReanalyseSettings", "make_sampler", "prepare", "rebuild_states",
    "search_targets",
]


class ReanalyseSettings(NamedTuple):
    """What reanalyse does (`TrainConfig` fields of the same names; `selfplay` is the run's
    self-play settings, whose full search and target rule it repeats)."""

    reanalyse_fraction: float
    reanalyse_value: bool
    train_batch: int
    selfplay: SelfPlaySettings

    @property
    def count(self) -> int:
        """Reanalysed positions per SGD batch: the fraction of `train_batch`, rounded, and at
        least 1 when the fraction is > 0."""
        if self.reanalyse_fraction <= 0:
            return 0
        return min(self.train_batch, max(1, round(self.reanalyse_fraction * self.train_batch)))


class Reanalysed(NamedTuple):
    """Fresh targets for T SGD steps of M positions each (A = actions).

    Attributes:
      idx: int32[T, M] buffer slots.
      policy: float32[T, M, A] new policy targets (untransformed, as stored).
      value: float32[T, M] new root values for the side to move.
    """

    idx: chex.Array
    policy: chex.Array
    value: chex.Array


def rebuild_states(rules: Rules, buf: replay.ReplayBuffer, idx: chex.Array) -> GoState:
    """The searchable states of the positions at `idx` (int32[N]), batch axis N.

    See `Rules.from_history` for what is exact and what is not."""
    if buf.board_size is not None:
        raise ValueError("reanalyse cannot rebuild positions of a multi-size (padded) buffer")
    chex.assert_shape(buf.boards, (None, None, rules.num_points))
    return jax.vmap(rules.from_history)(
        buf.boards[idx], buf.to_play[idx], buf.move_count[idx], buf.passes[idx]
    )


def search_targets(rules: Rules, apply, settings: SelfPlaySettings, params, states: GoState,
                   key) -> tuple[chex.Array, chex.Array]:
    """Self-play's full search of `states` and its targets.

    Returns:
      (policy float32[N, A] by `selfplay.policy_target`, value float32[N] the searched root
      value for the side to move).
    """
    k_search, k_act = jax.random.split(key)
    result = run_search(rules, apply, settings.history, settings.full, params, states, k_search)
    action = choose_action(k_act, result, states.move_count, settings)
    return policy_target(result, action, settings), result.value


def _mask_stored_legal(policy: chex.Array, legal: chex.Array, fallback: chex.Array):
    """`policy` [N, A] restricted to the stored legal points [N, A - 1] (+ pass) and
    renormalised; rows left with no mass take `fallback`."""
    keep = jnp.concatenate([legal, jnp.ones(legal.shape[:1] + (1,), bool)], axis=-1)
    masked = jnp.where(keep, policy, 0.0)
    total = jnp.sum(masked, axis=-1, keepdims=True)
    renormed = jnp.where(total > 0, masked / jnp.maximum(total, 1e-12), fallback)
    # Rows the mask does not touch stay bit-identical to the search's policy.
    touched = jnp.any(~keep & (policy > 0), axis=-1, keepdims=True)
    return jnp.where(touched, renormed, policy)


def prepare(rules: Rules, apply, settings: ReanalyseSettings, params, buf: replay.ReplayBuffer,
            key, steps: int) -> Reanalysed:
    """Draws `steps` x `settings.count` ready positions and searches them in one batch."""
    m = settings.count
    k_idx, k_search = jax.random.split(key)
    idx, _ = replay.sample_indices(buf, k_idx, steps * m)
    states = rebuild_states(rules, buf, idx)
    policy, value = search_targets(rules, apply, settings.selfplay, params, states, k_search)
    policy = _mask_stored_legal(policy, buf.legal[idx], buf.policy[idx])
    a = rules.num_actions
    chex.assert_shape(policy, (steps * m, a))
    return Reanalysed(idx=idx.reshape(steps, m), policy=policy.reshape(steps, m, a),
                      value=value.reshape(steps, m))


def make_sampler(re: Reanalysed, settings: ReanalyseSettings, learner: LearnerSettings,
                 buf: replay.ReplayBuffer):
    """The `sample(key, i)` of `learner.sgd_steps` that puts `re` (from `prepare`) into batches.

    Returns:
      `(key, i) -> Sample`: a replay sample of `learner.train_batch` positions whose first
      `settings.count` rows are step i's reanalysed positions with their new policy (and, with
      `reanalyse_value`, search value), all under random symmetries as in `replay.sample`.
    """
    m, size = settings.count, learner.size

    def sample(k, i):
        idx, sym = replay.sample_indices(buf, k, learner.train_batch)
        idx = idx.at[:m].set(re.idx[i])
        batch = replay.gather(buf, idx, size)
        batch = batch.replace(policy=batch.policy.at[:m].set(re.policy[i]))
        if settings.reanalyse_value:
            batch = batch.replace(search_value=batch.search_value.at[:m].set(re.value[i]))
        if not learner.symmetries:
            return batch
        return replay.apply_symmetries(buf, batch, idx, sym, size)

    return sample
