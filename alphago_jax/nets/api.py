"""Functional API: a network as a hashable value, applied as a pure function of its parameters.

```python
network = Network(net_config, num_planes)     # frozen, hashable: a jit static argument
params = network.init(key)                    # an ordinary pytree of float32 arrays
out = jax.jit(network)(params, x)             # NetOutput; `network(params, x)` is pure
```

Two `Network`s with equal architecture and input planes are equal, so a compiled function that
takes one as a static argument compiles once per architecture and shape, whoever built it.
"""

from __future__ import annotations

import dataclasses
import functools
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

__all__ = [
    "Network", "count_params", "describe", "flops_per_eval", "make_network",
    "policy_head_mask", "split",
]

Params = Any  # nnx.State pytree of float32 arrays
ApplyFn = Callable[[Params, jax.Array], NetOutput]


def make_network(config: NetConfig, num_planes: int, rngs: nnx.Rngs) -> nnx.Module:
    """Builds the network module described by ``config``.

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
    """Splits a network module into its static graphdef and its parameter pytree."""
    graphdef, params, *rest = nnx.split(model, nnx.Param, ...)
    # The nets hold only parameters (no running stats, no rng state); anything else would be
    # silently dropped by `Network.__call__`, so refuse it.
    if any(jax.tree.leaves(r) for r in rest):
        raise ValueError("network holds non-parameter state; it cannot be applied functionally")
    return graphdef, params


@functools.cache
def _graphdef(config: NetConfig, num_planes: int) -> nnx.GraphDef:
    # Shapes only: building the module eagerly would compile one small XLA call per initialiser.
    model = nnx.eval_shape(lambda: make_network(config, num_planes, nnx.Rngs(0)))
    return split(model)[0]


@dataclasses.dataclass(frozen=True)
class Network:
    """A policy/value network as a value: architecture plus input planes.

    Attributes:
      config: the architecture.
      num_planes: input feature channels C (the trailing on-board mask included).
    """

    config: NetConfig
    num_planes: int

    @property
    def graphdef(self) -> nnx.GraphDef:
        """The module's static structure (built once per architecture)."""
        return _graphdef(self.config, self.num_planes)

    def init(self, key: jax.Array) -> Params:
        """Fresh parameters from `key` (pure; jit it to initialise in one compiled call)."""
        return split(make_network(self.config, self.num_planes, nnx.Rngs(key)))[1]

    def abstract_params(self) -> Params:
        """The parameter pytree's shapes and dtypes (`jax.ShapeDtypeStruct` leaves)."""
        return jax.eval_shape(self.init, jax.random.key(0))

    def __call__(self, params: Params, x: jax.Array) -> NetOutput:
        """Evaluates features ``x: [B, S, S, C]``; pure, usable in jit / scan / vmap."""
        return nnx.merge(self.graphdef, params)(x)

    def flops(self, size: int) -> float:
        """FLOPs of one evaluation on a `size` x `size` board (see `flops_per_eval`)."""
        return _flops(self, size)

    def describe(self, params: Params, size: int) -> str:
        """One-line summary with parameter count and FLOPs per evaluation on `size`."""
        return describe(self.config, params, self.flops(size))


@functools.cache
def _flops(network: Network, size: int) -> float:
    return flops_per_eval(network, network.abstract_params(), (size, size, network.num_planes))


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
      apply: a network (`Network`) or any ``apply(params, x) -> NetOutput``.
      params: parameter pytree (arrays or ShapeDtypeStructs).
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
    """One-line summary, e.g. ``resnet/preact 6x64 gpool own f32 | 1.23M params | 0.45 GFLOP``
    (``libs`` after the dtype for a network with liberty planes)."""
    if config.kind == "resnet":
        arch = f"resnet/{config.block_type} {config.blocks}x{config.channels}"
        if config.global_pool:
            arch += f" gpool/{config.gpool_every}"
        arch += f" {config.norm}-norm"
    else:
        arch = (f"transformer {config.blocks}x{config.channels} h{config.num_heads} "
                f"mlp{config.mlp_ratio} pos={config.pos_embedding}")
    tags = ["own" if config.ownership else "no-own", config.activation,
            "bf16" if config.dtype == "bfloat16" else "f32"] + ["libs"] * config.liberties
    return (f"{arch} {' '.join(tags)} | {count_params(params) / 1e6:.3f}M params | "
            f"{flops / 1e9:.4f} GFLOP/eval")


def policy_head_mask(params: Params) -> Params:
    """A pytree like `params` of Python bools: True on the policy head's parameters (the heads'
    `policy_*` and `pass_*` layers), False on the trunk and the value/ownership heads."""

    def is_policy(path, _):
        keys = [str(getattr(k, "key", getattr(k, "name", k))) for k in path]
        return len(keys) > 1 and keys[0] == "heads" and keys[1].startswith(("policy_", "pass_"))

    return jax.tree_util.tree_map_with_path(is_policy, params)
