"""Lockstep batched self-play with search."""

from alphago_jax.selfplay import selfplay
from alphago_jax.selfplay.selfplay import *  # noqa: F403

__all__ = [*selfplay.__all__]
