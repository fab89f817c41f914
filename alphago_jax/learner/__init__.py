"""The learner: optimizer, loss and SGD updates shared by self-play and supervised training."""

from alphago_jax.learner.learner import (
    TrainState,
    loss_fn,
    make_optimizer,
    sgd_step,
    sgd_steps,
)

__all__ = ["TrainState", "loss_fn", "make_optimizer", "sgd_step", "sgd_steps"]
