"""On-device replay buffer of self-play positions."""

from alphago_jax.replay import buffer
from alphago_jax.replay.buffer import *  # noqa: F403

__all__ = [*buffer.__all__]
