"""On-device replay buffer of self-play positions."""

from alphago_jax.replay.buffer import (
    ReplayBuffer,
    Sample,
    add_positions,
    add_results,
    gather,
    grid_side,
    init,
    num_ready,
    on_board,
    padded_symmetry_gather,
    ready,
    sample,
    transform_padded,
)

__all__ = [
    "ReplayBuffer", "Sample", "add_positions", "add_results", "gather", "grid_side", "init",
    "num_ready", "on_board", "padded_symmetry_gather", "ready", "sample", "transform_padded",
]
