"""The Go API in one namespace: `from alphago_jax import go`.

    rules = go.Rules(size=9, komi=7.5)
    state = rules.init()
    state = rules.step(state, go.gtp_to_action("E5", 9))
"""

from alphago_jax.features.planes import (
    features,
    num_planes,
    pad_board,
    pad_policy,
    unpad_board,
    unpad_policy,
)
from alphago_jax.rules.coords import action_to_gtp, action_to_sgf, gtp_to_action, sgf_to_action
from alphago_jax.rules.go import (
    BLACK,
    EMPTY,
    REASONS,
    WHITE,
    GoState,
    IllegalMoveError,
    Rules,
)
from alphago_jax.rules.symmetry import (
    NUM_SYMMETRIES,
    inverse,
    transform_action,
    transform_board,
    transform_planes,
    transform_policy,
)

__all__ = [
    "BLACK", "EMPTY", "NUM_SYMMETRIES", "REASONS", "WHITE", "GoState", "IllegalMoveError",
    "Rules", "action_to_gtp", "action_to_sgf", "features", "gtp_to_action", "inverse",
    "num_planes", "pad_board", "pad_policy", "sgf_to_action", "transform_action",
    "transform_board", "transform_planes", "transform_policy", "unpad_board", "unpad_policy",
]
