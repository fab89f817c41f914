"""Go rules: the Tromp-Taylor engine, coordinates and board symmetries."""

from alphago_jax.rules import go
from alphago_jax.rules.go import *  # noqa: F403

__all__ = [*go.__all__]
