"""GTP (Go Text Protocol v2) engine: play a checkpoint from GoGui, Sabaki or gogui-twogtp."""

from alphago_jax.gtp.engine import GTPEngine, GTPError, from_checkpoint, search_move

__all__ = ["GTPEngine", "GTPError", "from_checkpoint", "search_move"]
