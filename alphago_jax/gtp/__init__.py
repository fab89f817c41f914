"""GTP (Go Text Protocol v2) engine: play and analyse a checkpoint from GoGui, Sabaki, Lizzie,
qgo, gogui-twogtp or kgsGtp (handicap, dead-stone cleanup, time control, live analysis)."""

from alphago_jax.gtp.engine import GTPEngine, GTPError, from_checkpoint, search_move, stop_after

__all__ = ["GTPEngine", "GTPError", "from_checkpoint", "search_move", "stop_after"]
