"""alphago-jax: JAX-native, vectorized AlphaGo Zero / Gumbel AlphaZero self-play for Go."""

from alphago_jax import go
from alphago_jax.rules import GoState, IllegalMoveError, Rules

__version__ = "0.1.0"

__all__ = ["GoState", "IllegalMoveError", "Rules", "go", "__version__"]
