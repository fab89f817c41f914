"""SGF (FF[4]) game records: read, write and replay through the checked rules."""

from alphago_jax.sgf import sgf
from alphago_jax.sgf.sgf import *  # noqa: F403

__all__ = [*sgf.__all__]
