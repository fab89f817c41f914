"""Policy/value networks (flax NNX): masked resnet and transformer trunks with shared heads."""

from alphago_jax.nets import api, config, heads
from alphago_jax.nets.api import *  # noqa: F403
from alphago_jax.nets.config import *  # noqa: F403
from alphago_jax.nets.heads import *  # noqa: F403

__all__ = [*api.__all__, *config.__all__, *heads.__all__]
