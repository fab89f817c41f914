"""Network input features and board-size padding."""

from alphago_jax.features import planes
from alphago_jax.features.planes import *  # noqa: F403

__all__ = [*planes.__all__]
