"""Policy/value networks (flax NNX): masked resnet and transformer trunks with shared heads."""

from alphago_jax.nets.api import (
    count_params,
    describe,
    flops_per_eval,
    make_apply,
    make_network,
    split,
)
from alphago_jax.nets.config import NetConfig
from alphago_jax.nets.heads import NetOutput, scalar_value, value_target_classes

__all__ = [
    "NetConfig", "NetOutput", "count_params", "describe", "flops_per_eval", "make_apply",
    "make_network", "scalar_value", "split", "value_target_classes",
]
