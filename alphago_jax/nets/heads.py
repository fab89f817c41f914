"""Policy, value and ownership heads shared by both trunks, and output helpers.

The heads use only per-point (1x1) layers and masked pooling, so their parameter shapes do not
depend on the board size and padding does not change their outputs on real points.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
from flax import nnx

from alphago_jax.nets.config import NetConfig
from alphago_jax.nets.layers import (
    ACTIVATIONS,
    NEG_INF,
    BoardMask,
    GlobalPoolBias,
    MaskedGroupNorm,
    masked_global_pool,
)

__all__ = [
    "NetOutput", "scalar_value", "value_target_classes",
]

WIN, DRAW, LOSS = 0, 1, 2  # value classes, from the side to move's perspective
VALUE_CLASSES = 3


class NetOutput(NamedTuple):
    """What a network evaluation returns (all float32).

    Attributes:
      policy_logits: [B, S*S + 1] move logits, pass last; off-board points are -1e9.
      value_logits: [B, 3] logits of (win, draw, loss) for the side to move.
      ownership: [B, S, S] in [-1, 1], +1 = owned by the side to move, 0 off-board; None when
        the network has no ownership head.
    """

    policy_logits: jax.Array
    value_logits: jax.Array
    ownership: jax.Array | None


def scalar_value(value_logits: jax.Array) -> jax.Array:
    """Expected outcome for the side to move.

    Args:
      value_logits: [..., 3] (win, draw, loss) logits.

    Returns:
      [...] float32 P(win) - P(loss), in [-1, 1].
    """
    p = jax.nn.softmax(value_logits.astype(jnp.float32), axis=-1)
    return p[..., WIN] - p[..., LOSS]


def value_target_classes(outcome: jax.Array) -> jax.Array:
    """Maps game outcomes to value classes.

    Args:
      outcome: [...] +1 win, 0 draw, -1 loss, from the side to move's view (only the sign counts).

    Returns:
      [...] int32 class index: 0 win, 1 draw, 2 loss.
    """
    return (1 - jnp.sign(outcome)).astype(jnp.int32)


class Heads(nnx.Module):
    """Policy (KataGo-style, with a pooled bias and a pooled pass logit), value and ownership."""

    def __init__(self, cfg: NetConfig, in_channels: int, *, rngs: nnx.Rngs):
        """Creates the heads.

        Args:
          cfg: network config (head widths, activation, dtype, ownership flag).
          in_channels: channels of the trunk features.
          rngs: parameter rngs.
        """
        dtype = jnp.dtype(cfg.dtype)
        cp, cv, g = cfg.policy_channels, cfg.value_channels, cfg.norm_groups
        self.activation = cfg.activation
        self.policy_conv = nnx.Linear(in_channels, cp, use_bias=False, dtype=dtype, rngs=rngs)
        self.policy_pool = GlobalPoolBias(in_channels, cp, cp, kernel_size=1, groups=g,
                                          activation=cfg.activation, dtype=dtype, rngs=rngs)
        self.pass_dense = nnx.Linear(3 * cp, 1, dtype=dtype, rngs=rngs)
        self.policy_norm = MaskedGroupNorm(cp, g, dtype=dtype)
        self.policy_out = nnx.Linear(cp, 1, use_bias=False, dtype=dtype, rngs=rngs)
        self.value_conv = nnx.Linear(in_channels, cv, use_bias=False, dtype=dtype, rngs=rngs)
        self.value_norm = MaskedGroupNorm(cv, g, dtype=dtype)
        self.value_hidden = nnx.Linear(3 * cv, cfg.value_hidden, dtype=dtype, rngs=rngs)
        self.value_out = nnx.Linear(cfg.value_hidden, VALUE_CLASSES, dtype=dtype, rngs=rngs)
        self.ownership_out = (nnx.Linear(cv, 1, dtype=dtype, rngs=rngs)
                              if cfg.ownership else None)

    def __call__(self, x: jax.Array, m: BoardMask) -> NetOutput:
        """Evaluates the heads on trunk features ``x: [B, S, S, C]`` (zero off-board)."""
        act = ACTIVATIONS[self.activation]
        b, s = x.shape[0], x.shape[1]

        pooled = self.policy_pool.pooled(x, m)  # [B, 3cp]
        p = self.policy_conv(x) + self.policy_pool.dense(pooled)[:, None, None, :]
        p = act(self.policy_norm(m.zero_off(p), m))
        point_logits = self._on_board(self.policy_out(p)[..., 0].astype(jnp.float32), m, NEG_INF)
        point_logits = point_logits.reshape(b, s * s)
        pass_logit = self.pass_dense(pooled).astype(jnp.float32)
        policy_logits = jnp.concatenate([point_logits, pass_logit], axis=-1)

        v = act(self.value_norm(m.zero_off(self.value_conv(x)), m))
        hidden = act(self.value_hidden(masked_global_pool(v, m)))
        value_logits = self.value_out(hidden).astype(jnp.float32)

        ownership = None
        if self.ownership_out is not None:
            own = jnp.tanh(self.ownership_out(v)[..., 0].astype(jnp.float32))
            ownership = self._on_board(own, m, 0.0)
        return NetOutput(policy_logits, value_logits, ownership)

    @staticmethod
    def _on_board(x: jax.Array, m: BoardMask, off: float) -> jax.Array:
        """``x: [B, S, S]`` with `off` on the off-board points (unchanged without a mask)."""
        return x if m.mask is None else jnp.where(m.mask[..., 0] > 0, x, off)
