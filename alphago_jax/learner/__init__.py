"""The learner: loss, optimizer and SGD updates shared by self-play and supervised training."""

from alphago_jax.learner import learner, loss
from alphago_jax.learner.learner import *  # noqa: F403
from alphago_jax.learner.loss import *  # noqa: F403

__all__ = [*learner.__all__, *loss.__all__]
