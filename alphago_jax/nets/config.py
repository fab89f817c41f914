"""Network hyper-parameters.

`NetConfig` is a frozen (hashable) dataclass rather than a pytree: it only ever describes the
static structure of a network, so it can sit inside a graphdef or be a static jit argument.
It has no defaults of its own: `alphago_jax.config.TrainConfig` holds every network knob with its
default and documentation (`TrainConfig.net_config()` builds one), so the two cannot drift.
The allowed choices of each knob live here, next to the code that implements them.
"""

from __future__ import annotations

import dataclasses

from alphago_jax.nets.layers import ACTIVATIONS

__all__ = [
    "ACTIVATION_NAMES", "DTYPES", "KINDS", "NORMS", "POS_EMBEDDINGS", "NetConfig",
]

KINDS = ("resnet", "transformer")
DTYPES = ("float32", "bfloat16")
POS_EMBEDDINGS = ("learned", "2d")
NORMS = ("masked", "plain")
"""ResNet normalisation and pooling: over the on-board points ('masked') or over every point
('plain', for inputs that are never padded; see `alphago_jax.nets.layers`)."""
ACTIVATION_NAMES = tuple(ACTIVATIONS)  # implemented in layers.py


@dataclasses.dataclass(frozen=True)
class NetConfig:
    """Architecture of a policy/value(/ownership) network.

    Inputs are always channel-last features ``[B, S, S, C]`` whose last channel is the on-board
    mask, so one network handles every board size up to the padded size ``S``. Every field is
    documented on the `TrainConfig` field of the same name (`kind` is `TrainConfig.net`).
    """

    kind: str
    blocks: int
    channels: int
    global_pool: bool
    gpool_every: int
    block_type: str
    activation: str
    norm_groups: int
    policy_channels: int
    value_channels: int
    value_hidden: int
    ownership: bool
    dtype: str
    num_heads: int
    mlp_ratio: int
    pos_embedding: str
    max_board_size: int
    norm: str
    liberties: bool

    def __post_init__(self):
        _check_choice("kind", self.kind, KINDS)
        # block_type is checked against resnet.BLOCKS, where the blocks are (TrainConfig.validate
        # does it; this module is imported by resnet.py, so it cannot look there).
        _check_choice("dtype", self.dtype, DTYPES)
        _check_choice("pos_embedding", self.pos_embedding, POS_EMBEDDINGS)
        _check_choice("activation", self.activation, ACTIVATION_NAMES)
        _check_choice("norm", self.norm, NORMS)
        for name in ("blocks", "channels", "gpool_every", "norm_groups", "policy_channels",
                     "value_channels", "value_hidden", "num_heads", "mlp_ratio",
                     "max_board_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.kind == "transformer":
            if self.channels % self.num_heads:
                raise ValueError(f"channels={self.channels} not divisible by "
                                 f"num_heads={self.num_heads}")
            if self.pos_embedding == "2d" and self.channels % 4:
                raise ValueError(f"'2d' positional embedding needs channels % 4 == 0, "
                                 f"got {self.channels}")

    def gpool_block(self, i: int) -> bool:
        """Whether resnet block ``i`` carries a global pooling branch."""
        offset = min(self.gpool_every // 2, self.blocks - 1)
        return self.global_pool and i % self.gpool_every == offset


def _check_choice(name: str, value: str, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise ValueError(f"{name} must be one of {choices}, got {value!r}")
