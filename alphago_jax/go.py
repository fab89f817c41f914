"""The Go API in one namespace: `from alphago_jax import go`.

    rules = go.Rules(size=9, komi=7.5)
    state = rules.init()
    state = rules.step(state, go.gtp_to_action("E5", 9))
"""

from alphago_jax.features import planes
from alphago_jax.features.planes import *  # noqa: F403
from alphago_jax.rules import coords, go, symmetry
from alphago_jax.rules.coords import *  # noqa: F403
from alphago_jax.rules.go import *  # noqa: F403
from alphago_jax.rules.symmetry import *  # noqa: F403

__all__ = [*go.__all__, *coords.__all__, *planes.__all__, *symmetry.__all__]
