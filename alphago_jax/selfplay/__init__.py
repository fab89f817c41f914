"""Lockstep batched self-play with search."""

from alphago_jax.selfplay.selfplay import (
    STAT_KEYS,
    SelfPlaySettings,
    SelfPlayState,
    init,
    make_step,
    random_moves,
    run,
)

__all__ = [
    "STAT_KEYS", "SelfPlaySettings", "SelfPlayState", "init", "make_step", "random_moves", "run",
]
