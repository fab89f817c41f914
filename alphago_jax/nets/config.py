"""Network hyper-parameters.

`NetConfig` is a frozen (hashable) dataclass rather than a pytree: it only ever describes the
static structure of a network, so it can sit inside a graphdef or be a static jit argument.
"""

from __future__ import annotations

import dataclasses

KINDS = ("resnet", "transformer")
BLOCK_TYPES = ("preact", "mlp_ln")
DTYPES = ("float32", "bfloat16")
POS_EMBEDDINGS = ("learned", "2d")
ACTIVATION_NAMES = ("relu", "swish", "gelu", "mish")


@dataclasses.dataclass(frozen=True)
class NetConfig:
    """Architecture of a policy/value(/ownership) network.

    Inputs are always channel-last features ``[B, S, S, C]`` whose last channel is the on-board
    mask, so one network handles every board size up to the padded size ``S``.
    """

    kind: str = "resnet"
    """Trunk family: 'resnet' (convolutional) or 'transformer' (one token per point + pass)."""

    blocks: int = 6
    """Number of residual blocks (resnet) or transformer layers."""

    channels: int = 64
    """Trunk width: conv channels for the resnet, token width for the transformer."""

    global_pool: bool = True
    """Give some resnet blocks a KataGo-style global pooling branch (masked channel mean, mean
    scaled by (sqrt(area) - 14) / 10, and max, all over the true board area) that adds a
    per-channel bias. The heads always pool, since they must not depend on the padded size."""

    gpool_every: int = 3
    """With `global_pool`, block ``i`` pools iff ``i % gpool_every == min(gpool_every // 2,
    blocks - 1)``: blocks 1, 4, 7, ... for the default, and always at least one block."""

    block_type: str = "preact"
    """Resnet block: 'preact' (norm -> act -> 3x3 conv, twice, + identity) or 'mlp_ln' (a
    per-point (Dense -> LayerNorm -> Swish) x 4 + identity stack, i.e. 1x1 convs, for depth
    studies; only the 3x3 stem and the pooling mix information across points)."""

    activation: str = "relu"
    """Trunk and head activation: 'relu', 'swish', 'gelu' or 'mish' (mlp_ln blocks use swish)."""

    norm_groups: int = 8
    """Groups of the masked group norm; the used count is gcd(groups, channels) so any width
    works. 1 gives a masked layer norm over the whole board."""

    policy_channels: int = 32
    """Width of the policy head's 1x1 convs."""

    value_channels: int = 32
    """Width of the value (and ownership) head's 1x1 conv."""

    value_hidden: int = 128
    """Hidden units of the value head's MLP on the pooled features."""

    ownership: bool = True
    """Add the ownership head: tanh in [-1, 1] per point, from the side to move's view."""

    value_classes: int = 3
    """Value head classes (win, draw, loss from the side to move's view); fixed at 3."""

    dtype: str = "float32"
    """Compute dtype: 'float32' or 'bfloat16'. Parameters and normalisation statistics stay
    float32, and all outputs are float32."""

    num_heads: int = 4
    """Transformer attention heads; must divide `channels`."""

    mlp_ratio: int = 4
    """Transformer MLP hidden width as a multiple of `channels`."""

    pos_embedding: str = "learned"
    """Transformer positional embedding: 'learned' (a [max_board_size, max_board_size, D]
    table sliced to the input size) or '2d' (fixed sinusoidal, half the width per axis)."""

    max_board_size: int = 19
    """Largest padded input size S the learned positional table supports."""

    def __post_init__(self):
        _check_choice("kind", self.kind, KINDS)
        _check_choice("block_type", self.block_type, BLOCK_TYPES)
        _check_choice("dtype", self.dtype, DTYPES)
        _check_choice("pos_embedding", self.pos_embedding, POS_EMBEDDINGS)
        _check_choice("activation", self.activation, ACTIVATION_NAMES)
        if self.value_classes != 3:
            raise ValueError(f"value_classes must be 3 (win/draw/loss), got {self.value_classes}")
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
