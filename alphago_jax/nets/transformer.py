"""Pre-LayerNorm transformer trunk: one token per board point plus one pass token.

Attention never looks at padded points, so padding (and whatever the features hold there) does not
change the outputs. Boards are assumed top-left aligned in the padded array, so a point keeps its
(row, col) and hence its positional embedding whether or not the board is padded.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from alphago_jax.features.planes import LIBERTY_PLANES, with_liberties
from alphago_jax.nets.config import NetConfig
from alphago_jax.nets.heads import Heads, NetOutput
from alphago_jax.nets.layers import NEG_INF, board_mask


def sincos_2d(size: int, width: int) -> np.ndarray:
    """Fixed 2D sinusoidal embedding.

    Args:
      size: board size S.
      width: embedding width D (multiple of 4): the first D/2 encode the row, the rest the column.

    Returns:
      [S, S, D] float32 numpy array (a compile-time constant).
    """
    quarter = width // 4
    freqs = 1.0 / (10000.0 ** (np.arange(quarter) / quarter))
    angles = np.arange(size)[:, None] * freqs[None, :]  # [S, D/4]
    axis = np.concatenate([np.sin(angles), np.cos(angles)], axis=-1)  # [S, D/2]
    rows = np.broadcast_to(axis[:, None, :], (size, size, width // 2))
    cols = np.broadcast_to(axis[None, :, :], (size, size, width // 2))
    return np.concatenate([rows, cols], axis=-1).astype(np.float32)


class SelfAttention(nnx.Module):
    """Multi-head self-attention with a key mask; logits and softmax in float32."""

    def __init__(self, width: int, num_heads: int, *, dtype, rngs: nnx.Rngs):
        """Creates the layer for tokens of ``width`` split over ``num_heads`` heads."""
        self.num_heads = num_heads
        self.qkv = nnx.Linear(width, 3 * width, dtype=dtype, rngs=rngs)
        self.out = nnx.Linear(width, width, dtype=dtype, rngs=rngs)

    def __call__(self, x: jax.Array, key_mask: jax.Array) -> jax.Array:
        """Attends ``x: [B, N, D]`` over keys where ``key_mask: [B, N]`` is True."""
        b, n, d = x.shape
        head_dim = d // self.num_heads
        qkv = self.qkv(x).reshape(b, n, 3, self.num_heads, head_dim)
        q, k, v = qkv[:, :, 0], qkv[:, :, 1], qkv[:, :, 2]
        logits = jnp.einsum("bqhd,bkhd->bhqk", q, k, preferred_element_type=jnp.float32)
        logits = jnp.where(key_mask[:, None, None, :], logits / math.sqrt(head_dim), NEG_INF)
        weights = jax.nn.softmax(logits, axis=-1).astype(v.dtype)
        out = jnp.einsum("bhqk,bkhd->bqhd", weights, v).reshape(b, n, d)
        return self.out(out)


class TransformerBlock(nnx.Module):
    """x + attn(LN(x)); x + MLP(LN(x)) with a GELU MLP."""

    def __init__(self, cfg: NetConfig, *, rngs: nnx.Rngs):
        """Creates the block."""
        d, dtype = cfg.channels, jnp.dtype(cfg.dtype)
        self.norm1 = nnx.LayerNorm(d, dtype=dtype, rngs=rngs)
        self.attn = SelfAttention(d, cfg.num_heads, dtype=dtype, rngs=rngs)
        self.norm2 = nnx.LayerNorm(d, dtype=dtype, rngs=rngs)
        self.mlp_in = nnx.Linear(d, cfg.mlp_ratio * d, dtype=dtype, rngs=rngs)
        self.mlp_out = nnx.Linear(cfg.mlp_ratio * d, d, dtype=dtype, rngs=rngs)

    def __call__(self, x: jax.Array, key_mask: jax.Array) -> jax.Array:
        """Maps tokens ``x: [B, N, D]`` to the same shape; padded tokens come out zero."""
        x = x + self.attn(self.norm1(x), key_mask)
        x = x + self.mlp_out(jax.nn.gelu(self.mlp_in(self.norm2(x))))
        return x * key_mask[..., None].astype(x.dtype)


class Transformer(nnx.Module):
    """Per-point embedding + positions, pass token, pre-LN blocks, final LN, shared heads."""

    def __init__(self, cfg: NetConfig, num_planes: int, *, rngs: nnx.Rngs):
        """Creates the network from a ``kind == 'transformer'`` config (arguments as `ResNet`)."""
        d, dtype = cfg.channels, jnp.dtype(cfg.dtype)
        self.dtype = dtype
        self.pos_kind = cfg.pos_embedding
        self.liberties = cfg.liberties
        self.embed = nnx.Linear(num_planes + LIBERTY_PLANES * cfg.liberties, d, dtype=dtype,
                                rngs=rngs)
        init = nnx.initializers.normal(0.02)
        self.pos = (nnx.Param(init(rngs.params(), (cfg.max_board_size, cfg.max_board_size, d)))
                    if cfg.pos_embedding == "learned" else None)
        self.pass_token = nnx.Param(init(rngs.params(), (d,)))
        self.blocks = nnx.List([TransformerBlock(cfg, rngs=rngs) for _ in range(cfg.blocks)])
        self.final_norm = nnx.LayerNorm(d, dtype=dtype, rngs=rngs)
        self.heads = Heads(cfg, d, rngs=rngs)

    def _positions(self, size: int, width: int) -> jax.Array:
        if self.pos is None:
            return jnp.asarray(sincos_2d(size, width))
        table = self.pos[...]
        if size > table.shape[0]:
            raise ValueError(f"board size {size} exceeds max_board_size {table.shape[0]}")
        return table[:size, :size]

    def __call__(self, x: jax.Array) -> NetOutput:
        """Evaluates ``x: [B, S, S, C]`` float features (last channel = on-board mask)."""
        b, s = x.shape[0], x.shape[1]
        m = board_mask(x, self.dtype)
        if self.liberties:
            x = with_liberties(x)
        # The residual stream is float32; the layers compute in `dtype` (as in the resnet).
        tokens = self.embed(x.astype(self.dtype) * m.mask).astype(jnp.float32)
        tokens = (tokens + self._positions(s, tokens.shape[-1])) * m.mask.astype(jnp.float32)
        pass_tok = jnp.broadcast_to(self.pass_token[...], (b, 1, tokens.shape[-1]))
        seq = jnp.concatenate([tokens.reshape(b, s * s, -1), pass_tok], axis=1)
        key_mask = jnp.concatenate([m.mask.reshape(b, s * s) > 0, jnp.ones((b, 1), bool)], axis=1)
        for blk in self.blocks:
            seq = blk(seq, key_mask)
        seq = self.final_norm(seq)
        grid = seq[:, : s * s].reshape(b, s, s, -1) * m.mask
        return self.heads(grid, m)
