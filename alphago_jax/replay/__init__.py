"""On-device replay buffer of self-play positions."""

from alphago_jax.replay.buffer import (
    ReplayBuffer,
    Sample,
    add_positions,
    add_results,
    init,
    num_ready,
    ready,
    sample,
)

__all__ = [
    "ReplayBuffer", "Sample", "add_positions", "add_results", "init", "num_ready", "ready",
    "sample",
]
