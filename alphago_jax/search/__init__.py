"""Batched MCTS (mctx Gumbel MuZero or PUCT) over the JAX rules."""

from alphago_jax.search import mcts
from alphago_jax.search.mcts import *  # noqa: F403

__all__ = [*mcts.__all__]
