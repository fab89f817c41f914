"""Masked pre-activation residual network (AlphaGo Zero / KataGo style trunk)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import nnx

from alphago_jax.features.planes import LIBERTY_PLANES, with_liberties
from alphago_jax.nets.config import NetConfig
from alphago_jax.nets.heads import Heads, NetOutput
from alphago_jax.nets.layers import (
    ACTIVATIONS,
    BoardMask,
    GlobalPoolBias,
    MaskedGroupNorm,
    board_mask,
)

MLP_LN_DEPTH = 4  # (Dense -> LayerNorm -> Swish) layers per mlp_ln block


def gpool_channels(channels: int) -> int:
    """Channels a global pooling branch pools (a quarter of the trunk, as in KataGo)."""
    return max(1, channels // 4)


class PreactBlock(nnx.Module):
    """norm -> act -> 3x3 conv, twice, + identity; optionally a pooled bias after the first conv."""

    def __init__(self, cfg: NetConfig, gpool: bool, *, rngs: nnx.Rngs):
        """Creates the block (``gpool``: add the global pooling branch)."""
        c, g, dtype = cfg.channels, cfg.norm_groups, jnp.dtype(cfg.dtype)
        self.activation = cfg.activation
        self.norm1 = MaskedGroupNorm(c, g, dtype=dtype)
        self.conv1 = nnx.Conv(c, c, (3, 3), use_bias=False, dtype=dtype, rngs=rngs)
        self.gpool = (GlobalPoolBias(c, gpool_channels(c), c, kernel_size=3, groups=g,
                                     activation=cfg.activation, dtype=dtype, rngs=rngs)
                      if gpool else None)
        self.norm2 = MaskedGroupNorm(c, g, dtype=dtype)
        self.conv2 = nnx.Conv(c, c, (3, 3), use_bias=False, dtype=dtype, rngs=rngs)

    def __call__(self, x: jax.Array, m: BoardMask) -> jax.Array:
        """Maps ``x: [B, S, S, C]`` (zero off-board) to the same shape."""
        act = ACTIVATIONS[self.activation]
        h = act(self.norm1(x, m))
        y = self.conv1(h)
        if self.gpool is not None:
            y = y + self.gpool(h, m)
        h = act(self.norm2(m.zero_off(y), m))
        return x + m.zero_off(self.conv2(h))


class MlpLnBlock(nnx.Module):
    """Per-point (Dense -> LayerNorm -> Swish) x 4 + identity; optional pooled bias after layer 1.

    Without spatial convs, depth can be varied without also growing the receptive field.
    """

    def __init__(self, cfg: NetConfig, gpool: bool, *, rngs: nnx.Rngs):
        """Creates the block (``gpool``: add the global pooling branch)."""
        c, dtype = cfg.channels, jnp.dtype(cfg.dtype)
        self.dense = nnx.List([nnx.Linear(c, c, dtype=dtype, rngs=rngs)
                               for _ in range(MLP_LN_DEPTH)])
        self.norms = nnx.List([nnx.LayerNorm(c, dtype=dtype, rngs=rngs)
                               for _ in range(MLP_LN_DEPTH)])
        self.gpool = (GlobalPoolBias(c, gpool_channels(c), c, kernel_size=1,
                                     groups=cfg.norm_groups, activation="swish", dtype=dtype,
                                     rngs=rngs)
                      if gpool else None)

    def __call__(self, x: jax.Array, m: BoardMask) -> jax.Array:
        """Maps ``x: [B, S, S, C]`` (zero off-board) to the same shape."""
        h = x
        for i, (dense, norm) in enumerate(zip(self.dense, self.norms, strict=True)):
            # LayerNorm of an all-zero padded point is its bias, hence the re-mask.
            h = m.zero_off(jax.nn.swish(norm(dense(h))))
            if i == 0 and self.gpool is not None:
                h = h + m.zero_off(self.gpool(h, m))
        return x + h


BLOCKS = {"preact": PreactBlock, "mlp_ln": MlpLnBlock}
"""Residual block types by `TrainConfig.block_type`: a new block is a class added here."""


class ResNet(nnx.Module):
    """3x3 stem conv -> residual blocks -> norm -> act -> heads."""

    def __init__(self, cfg: NetConfig, num_planes: int, *, rngs: nnx.Rngs):
        """Creates the network.

        Args:
          cfg: config with ``kind == 'resnet'``.
          num_planes: input channels C, the on-board mask (last) included.
          rngs: parameter rngs.
        """
        dtype = jnp.dtype(cfg.dtype)
        block = BLOCKS[cfg.block_type]
        self.dtype = dtype
        self.masked = cfg.norm == "masked"
        self.activation = cfg.activation
        self.liberties = cfg.liberties
        stem_in = num_planes + LIBERTY_PLANES * cfg.liberties
        self.stem = nnx.Conv(stem_in, cfg.channels, (3, 3), use_bias=False, dtype=dtype,
                             rngs=rngs)
        self.blocks = nnx.List([block(cfg, cfg.gpool_block(i), rngs=rngs)
                                for i in range(cfg.blocks)])
        self.final_norm = MaskedGroupNorm(cfg.channels, cfg.norm_groups, dtype=dtype)
        self.heads = Heads(cfg, cfg.channels, rngs=rngs)

    def __call__(self, x: jax.Array) -> NetOutput:
        """Evaluates ``x: [B, S, S, C]`` float features (last channel = on-board mask)."""
        m = board_mask(x, self.dtype, self.masked)
        if self.liberties:
            x = with_liberties(x)
        # Zero the padding first so garbage there cannot leak in through the stem conv. The
        # residual stream stays float32 (only the layers compute in `dtype`), so deep bfloat16
        # nets do not accumulate rounding in the sum of block outputs.
        h = m.zero_off(self.stem(m.zero_off(x.astype(self.dtype)))).astype(jnp.float32)
        for blk in self.blocks:
            h = blk(h, m)
        h = ACTIVATIONS[self.activation](self.final_norm(h, m))
        return self.heads(h, m)
