"""The training loss: policy and value cross-entropy (+ ownership), and its targets.

What the network is trained towards lives here and nowhere else: `value_target` turns a sampled
batch into the value target, `loss_fn` weighs the heads' losses. Change one of them to change the
idea; the learner, self-play and supervised training call them unchanged.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax

from alphago_jax.nets.heads import scalar_value, value_target_classes
from alphago_jax.replay.buffer import Sample

__all__ = [
    "VALUE_TARGETS", "LossWeights", "loss_fn", "value_target", "wdl_from_scalar",
]

VALUE_TARGETS = ("outcome", "search", "mix")
"""Value targets: the game's result, the search's value of the position, or a mix of both."""


class LossWeights(NamedTuple):
    """Weights of the auxiliary terms and the value target (`TrainConfig` fields of the same
    names)."""

    value_weight: float
    ownership_weight: float
    value_target: str = "outcome"
    value_target_mix: float = 0.0


def wdl_from_scalar(v: jax.Array) -> jax.Array:
    """A scalar value in [-1, 1] as a (win, draw, loss) distribution: [(1 + v) / 2, 0, (1 - v) / 2].

    A searched value says how likely a win is, not how likely a draw is, so its W/D/L target puts
    nothing on draw; its expectation (win - loss, what `heads.scalar_value` reads) is v. Values
    outside [-1, 1] are clipped.

    Args:
      v: float[B].

    Returns:
      float32[B, 3].
    """
    v = jnp.clip(v.astype(jnp.float32), -1.0, 1.0)
    return jnp.stack([(1.0 + v) / 2, jnp.zeros_like(v), (1.0 - v) / 2], axis=-1)


def value_target(batch: Sample, kind: str = "outcome", mix: float = 0.0) -> jax.Array:
    """The value target of each position as (win, draw, loss) probabilities, float32[B, 3].

    Args:
      batch: sampled positions.
      kind: 'outcome' -- a one-hot of its game's result for the side to move (a draw is a draw);
        'search' -- `wdl_from_scalar` of the search value stored with it (or reanalysed);
        'mix' -- (1 - mix) * outcome + mix * search.
      mix: the search value's weight with 'mix', in [0, 1].
    """
    outcome = jax.nn.one_hot(value_target_classes(batch.value), 3, dtype=jnp.float32)
    if kind == "outcome":
        return outcome
    search = wdl_from_scalar(batch.search_value)
    if kind == "search":
        return search
    if kind != "mix":
        raise ValueError(f"value target must be one of {VALUE_TARGETS}, got {kind!r}")
    return (1.0 - mix) * outcome + mix * search


def loss_fn(params, network, batch: Sample, weights: LossWeights):
    """Policy cross-entropy + value (win/draw/loss) cross-entropy (+ ownership squared error).

    Args:
      params: network parameters.
      network: `apply(params, x[B, S, S, C]) -> NetOutput` (a `nets.Network`).
      batch: sampled positions.
      weights: the auxiliary losses' weights.

    Returns:
      (loss, metrics dict of scalars).
    """
    out = network(params, batch.x)
    logp = jax.nn.log_softmax(out.policy_logits.astype(jnp.float32), axis=-1)
    # 0 * log p is 0 even where log p is -1e9 (padded points): no NaN.
    policy_loss = -jnp.mean(jnp.sum(batch.policy * logp, axis=-1))
    target_entropy = -jnp.mean(jnp.sum(jax.scipy.special.xlogy(batch.policy, batch.policy), -1))
    value_logits = out.value_logits.astype(jnp.float32)
    if weights.value_target == "outcome":
        # Integer labels: the same loss as a one-hot target, computed as it always was.
        target = batch.value
        value_loss = jnp.mean(optax.softmax_cross_entropy_with_integer_labels(
            value_logits, value_target_classes(target)))
    else:
        wdl = value_target(batch, weights.value_target, weights.value_target_mix)
        target = wdl[:, 0] - wdl[:, 2]  # the expected outcome, for the calibration metrics
        value_loss = jnp.mean(optax.softmax_cross_entropy(value_logits, wdl))
    loss = policy_loss + weights.value_weight * value_loss
    own_loss = jnp.float32(0.0)
    if out.ownership is not None:
        mask = batch.x[..., -1]  # on-board points
        err = jnp.sum(mask * (out.ownership - batch.ownership) ** 2, axis=(1, 2))
        per = err / jnp.maximum(jnp.sum(mask, axis=(1, 2)), 1.0)
        own_loss = jnp.sum(per * batch.own_weight) / jnp.maximum(jnp.sum(batch.own_weight), 1.0)
        loss = loss + weights.ownership_weight * own_loss
    v = scalar_value(value_logits)
    probs = jax.nn.softmax(out.policy_logits.astype(jnp.float32), axis=-1)
    metrics = {
        "loss": loss,
        "policy_loss": policy_loss,
        "policy_kl": policy_loss - target_entropy,
        "value_loss": value_loss,
        "ownership_loss": own_loss,
        "policy_entropy": -jnp.mean(jnp.sum(jax.scipy.special.xlogy(probs, probs), -1)),
        # Calibration: squared error of the predicted expected outcome and its mean bias.
        "value_mse": jnp.mean((v - target) ** 2),
        "value_bias": jnp.mean(v - target),
    }
    return loss, metrics
