"""GTP (Go Text Protocol v2) engine: play a checkpoint from GoGui, Sabaki or gogui-twogtp."""

from alphago_jax.gtp.engine import GTPEngine, GTPError, NetworkPlayer, from_checkpoint

__all__ = ["GTPEngine", "GTPError", "NetworkPlayer", "from_checkpoint"]
