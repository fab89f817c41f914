"""Functional API: build a network, split it into (graphdef, params), apply it as a pure function.

```python
model = make_network(cfg, num_planes, nnx.Rngs(0))
graphdef, params = split(model)
apply = make_apply(graphdef)
out = jax.jit(apply)(params, x)          # NetOutput; params is an ordinary pytree
```
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
from flax import nnx

from alphago_jax.nets.config import NetConfig
from alphago_jax.nets.heads import NetOutput
from alphago_jax.nets.resnet import ResNet
from alphago_jax.nets.transformer import Transformer

Params = Any  # nnx.State pytree of float32 arrays
ApplyFn = Callable[[Params, jax.Array], NetOutput]


def make_network(config: NetConfig, num_planes: int, rngs: nnx.Rngs) -> nnx.Module:
    """Builds the network described by ``config``.

    Args:
      config: architecture.
      num_planes: input feature channels C, the trailing on-board mask included.
      rngs: parameter rngs, e.g. ``nnx.Rngs(key)``.

    Returns:
      A module mapping features [B, S, S, C] to a `NetOutput`, for any S (up to
      ``max_board_size`` for a learned-position transformer).
    """
    cls = ResNet if config.kind == "resnet" else Transformer
    return cls(config, num_planes, rngs=rngs)


def split(model: nnx.Module) -> tuple[nnx.GraphDef, Params]:
    """Splits a network into its static graphdef and its parameter pytree."""
    graphdef, params, *rest = nnx.split(model, nnx.Param, ...)
    # The nets hold only parameters (no running stats, no rng state); anything else would be
    # silently dropped by `make_apply`, so refuse it.
    if any(jax.tree.leaves(r) for r in rest):
        raise ValueError("network holds non-parameter state; it cannot be applied functionally")
    return graphdef, params


def make_apply(graphdef: nnx.GraphDef) -> ApplyFn:
    """Returns ``apply(params, x) -> NetOutput``, pure and usable in jit / scan / vmap.

    Args:
      graphdef: from `split`.

    Returns:
      A function of params (the pytree from `split`) and features [B, S, S, C].
    """

    def apply(params: Params, x: jax.Array) -> NetOutput:
        return nnx.merge(graphdef, params)(x)

    return apply


def count_params(params: Params) -> int:
    """Total number of scalar parameters."""
    return int(sum(math.prod(leaf.shape) for leaf in jax.tree.leaves(params)))


def _cost_flops(cost) -> float:
    """Reads 'flops' from a cost analysis (a dict, or a list of per-module dicts in old jax)."""
    if cost is None:
        return 0.0
    if isinstance(cost, dict):
        cost = [cost]
    return float(sum(c.get("flops", 0.0) for c in cost if c))


def flops_per_eval(apply: ApplyFn, params: Params, input_shape: Sequence[int]) -> float:
    """FLOPs of one position's evaluation, from XLA's cost analysis of the compiled function.

    Args:
      apply: from `make_apply`.
      params: parameter pytree.
      input_shape: [S, S, C] or [1, S, S, C] (a batch of one is evaluated).

    Returns:
      FLOPs per evaluation. If the backend reports no cost analysis, a rough analytic estimate:
      every parameter used once per board point (2 FLOPs per multiply-add), attention ignored.
    """
    shape = tuple(input_shape)
    shape = (1, *shape) if len(shape) == 3 else shape
    spec = jax.ShapeDtypeStruct(shape, jnp.float32)
    abstract = jax.tree.map(lambda a: jax.ShapeDtypeStruct(a.shape, a.dtype), params)
    try:
        flops = _cost_flops(jax.jit(apply).lower(abstract, spec).compile().cost_analysis())
    except Exception:  # backends without cost analysis raise assorted errors
        flops = 0.0
    if flops > 0:
        return flops
    return 2.0 * count_params(params) * shape[1] * shape[2]


def describe(config: NetConfig, params: Params, flops: float) -> str:
    """One-line summary, e.g. ``resnet/preact 6x64 gpool own f32 | 1.23M params | 0.45 GFLOP``."""
    if config.kind == "resnet":
        arch = f"resnet/{config.block_type} {config.blocks}x{config.channels}"
        if config.global_pool:
            arch += f" gpool/{config.gpool_every}"
    else:
        arch = (f"transformer {config.blocks}x{config.channels} h{config.num_heads} "
                f"mlp{config.mlp_ratio} pos={config.pos_embedding}")
    tags = ["own" if config.ownership else "no-own", config.activation,
            "bf16" if config.dtype == "bfloat16" else "f32"]
    return (f"{arch} {' '.join(tags)} | {count_params(params) / 1e6:.3f}M params | "
            f"{flops / 1e9:.4f} GFLOP/eval")
