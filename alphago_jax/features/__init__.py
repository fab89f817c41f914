"""Network input features and board-size padding."""

from alphago_jax.features.planes import (
    NEG_LOGIT,
    features,
    num_planes,
    pad_board,
    pad_policy,
    planes_from,
    unpad_board,
    unpad_policy,
)

__all__ = [
    "NEG_LOGIT", "features", "num_planes", "pad_board", "pad_policy",
    "planes_from", "unpad_board", "unpad_policy",
]
