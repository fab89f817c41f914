"""Lockstep batched self-play with search."""

from alphago_jax.selfplay.selfplay import (
    STAT_KEYS,
    SelfPlaySettings,
    SelfPlayState,
    init,
    make_step,
    run,
)

__all__ = ["STAT_KEYS", "SelfPlaySettings", "SelfPlayState", "init", "make_step", "run"]
