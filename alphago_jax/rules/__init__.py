"""Go rules: the Tromp-Taylor engine, coordinates and board symmetries."""

from alphago_jax.rules.go import (
    BLACK,
    EMPTY,
    GAME_OVER,
    LEGAL,
    OCCUPIED,
    OUT_OF_RANGE,
    REASONS,
    REPEAT,
    SUICIDE,
    WHITE,
    GoState,
    IllegalMoveError,
    Rules,
)

__all__ = [
    "BLACK", "EMPTY", "GAME_OVER", "LEGAL", "OCCUPIED", "OUT_OF_RANGE", "REASONS", "REPEAT",
    "SUICIDE", "WHITE", "GoState", "IllegalMoveError", "Rules",
]
