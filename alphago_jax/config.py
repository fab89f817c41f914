"""The training configuration: one typed dataclass, a docstring per field, named presets, and
`key=value` overrides (the form wandb sweep agents pass) checked before anything compiles."""

from __future__ import annotations

import ast
import dataclasses
import difflib
import inspect
import json
import types
import typing
from pathlib import Path


class ConfigError(ValueError):
    """An unknown key or a bad value in a config or its overrides."""


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    # ---------------------------------------------------------------- game
    size: int = 7
    """Board side (2..19)."""
    komi: float = 7.5
    """Points given to White."""
    superko: bool = True
    """Positional superko in the legal mask (False: simple ko)."""
    suicide: bool = False
    """Allow multi-stone suicide (Tromp-Taylor allows it; GnuGo and most servers do not)."""
    max_moves: int = 0
    """Move cap (passes included); 0 means 2 * size * size."""
    history: int = 2
    """Board positions in the network input (features have 2 * history + 3 planes)."""
    # ---------------------------------------------------------------- network
    net: str = "resnet"
    """Network kind: 'resnet' or 'transformer'."""
    blocks: int = 3
    """Residual (or transformer) blocks."""
    channels: int = 32
    """Channels (or model width)."""
    block_type: str = "preact"
    """ResNet block: 'preact' (conv-norm-act x2 + identity) or 'mlp_ln' (Dense-LayerNorm-Swish)."""
    global_pool: bool = True
    """KataGo-style global pooling inside residual blocks."""
    ownership: bool = False
    """Ownership head and auxiliary loss."""
    dtype: str = "float32"
    """Compute dtype of the network: 'float32' or 'bfloat16' (parameters stay float32)."""
    # ---------------------------------------------------------------- search
    search: str = "gumbel"
    """'gumbel' (mctx.gumbel_muzero_policy) or 'puct' (mctx.muzero_policy with Dirichlet noise)."""
    num_simulations: int = 16
    """Simulations per full search."""
    max_num_considered_actions: int = 8
    """Gumbel: actions sampled at the root for sequential halving."""
    gumbel_scale: float = 1.0
    """Gumbel: scale of the root Gumbel noise (0 = deterministic)."""
    value_scale: float = 0.1
    """Gumbel qtransform: scale of the completed Q values."""
    maxvisit_init: float = 50.0
    """Gumbel qtransform: visit offset in the sigma transform."""
    rescale_values: bool = True
    """Gumbel qtransform: rescale Q values to [0, 1] by the min/max in the tree."""
    dirichlet_alpha: float = 0.3
    """PUCT: Dirichlet noise concentration at the root."""
    dirichlet_fraction: float = 0.25
    """PUCT: weight of the Dirichlet noise in the root prior."""
    pb_c_init: float = 1.25
    """PUCT: exploration constant."""
    # ---------------------------------------------------------------- warm starts, board mixes
    init_from: str = ""
    """Run directory (self-play or supervised) whose latest network parameters initialise a fresh
    run; the architecture must match, the board size may differ (the nets are fully
    convolutional). '' = random initialisation. Ignored when the run directory resumes."""
    sizes: str = ""
    """Multi-size training: comma-separated board sizes, e.g. '5,7,9'. Every iteration self-plays
    `selfplay_batch` games of each size, padded to the largest (= `size`) with the on-board mask,
    into one replay buffer. '' = `size` only."""
    bootstrap_iterations: int = 0
    """Random-play value bootstrap: the first N iterations self-play uniformly random legal moves
    (no search) and train the value head only, so search starts from a value net that knows end
    positions. 0 = off."""
    # ---------------------------------------------------------------- self-play
    selfplay_batch: int = 64
    """Games advanced in lockstep."""
    selfplay_steps: int = 32
    """Self-play moves per game per training iteration."""
    temperature_moves: int = 8
    """Moves per game sampled from the search policy; later moves take its best action."""
    temperature: float = 1.0
    """Sampling temperature for those first moves."""
    playout_cap_fraction: float = 1.0
    """Probability a move gets the full search and becomes a policy target (KataGo: 0.25);
    the rest get `fast_simulations` and are not recorded. 1.0 disables playout-cap randomization.
    Drawn once per step for the whole lockstep batch."""
    fast_simulations: int = 4
    """Simulations of the cheap search used with playout-cap randomization."""
    resign_threshold: float = -0.9
    """Resign when the searched value stays below this (-1 disables resignation)."""
    resign_moves: int = 3
    """Consecutive own moves below the threshold before resigning."""
    no_resign_fraction: float = 0.1
    """Fraction of games never resigned, to measure false resignations."""
    policy_target: str = "soft"
    """'soft' (search policy) or 'hard' (one-hot of the chosen move)."""
    symmetries: bool = True
    """Store every position under a random one of the 8 board symmetries."""
    # ---------------------------------------------------------------- replay and learning
    buffer_capacity: int = 50_000
    """Positions kept in the on-device replay buffer (oldest out first)."""
    min_buffer: int = 1_000
    """Finished positions needed before SGD starts."""
    train_batch: int = 256
    """Positions per SGD step."""
    sgd_steps: int = 8
    """SGD steps per training iteration."""
    optimizer: str = "adamw"
    """'adamw' or 'sgd' (with momentum)."""
    learning_rate: float = 2e-3
    """Peak learning rate."""
    lr_schedule: str = "warmup_cosine"
    """'constant', 'cosine' or 'warmup_cosine' (decay over all SGD steps of the run)."""
    warmup_steps: int = 100
    """Linear warm-up SGD steps (warmup_cosine)."""
    weight_decay: float = 1e-4
    """Decoupled weight decay (adamw) or L2 (sgd)."""
    momentum: float = 0.9
    """SGD momentum."""
    grad_clip: float = 1.0
    """Global gradient-norm clip (0 disables)."""
    value_weight: float = 1.0
    """Weight of the value cross-entropy in the loss."""
    ownership_weight: float = 0.1
    """Weight of the ownership loss (with `ownership`)."""
    # ---------------------------------------------------------------- run
    seed: int = 0
    """Seed of every random choice in the run."""
    iterations: int = 120
    """Training iterations (self-play + SGD each)."""
    eval_every: int = 50
    """Iterations between evaluations (win rate vs random and vs the previous checkpoint)."""
    eval_games: int = 64
    """Games per evaluation."""
    eval_simulations: int = 16
    """Simulations per move for the evaluated agent."""
    checkpoint_every: int = 25
    """Iterations between checkpoints."""
    keep_checkpoints: int = 3
    """Checkpoints kept."""
    wandb: bool = True
    """Log to wandb (offline unless WANDB_MODE says otherwise)."""
    wandb_project: str = "alphago-jax"
    """wandb project."""

    # ---------------------------------------------------------------- derived
    @property
    def move_cap(self) -> int:
        return self.max_moves or 2 * self.size * self.size

    @property
    def board_sizes(self) -> tuple[int, ...]:
        """The board sizes self-played, ascending: `sizes` parsed, or (size,) when it is ''.

        Raises:
          ConfigError: `sizes` is not a comma-separated list of integers.
        """
        if not self.sizes.strip():
            return (self.size,)
        try:
            return tuple(sorted(int(s) for s in self.sizes.split(",")))
        except ValueError:
            raise ConfigError(
                f"sizes must be comma-separated board sizes like '5,7,9', got {self.sizes!r}"
            ) from None

    def validate(self) -> TrainConfig:
        """Raises ConfigError naming the first bad value; returns self."""
        checks = [
            (2 <= self.size <= 19, "size must be in 2..19"),
            (self.history >= 1, "history must be >= 1"),
            (self.net in ("resnet", "transformer"), "net must be 'resnet' or 'transformer'"),
            (self.block_type in ("preact", "mlp_ln"), "block_type must be 'preact' or 'mlp_ln'"),
            (self.dtype in ("float32", "bfloat16"), "dtype must be 'float32' or 'bfloat16'"),
            (self.search in ("gumbel", "puct"), "search must be 'gumbel' or 'puct'"),
            (self.policy_target in ("soft", "hard"), "policy_target must be 'soft' or 'hard'"),
            (self.optimizer in ("adamw", "sgd"), "optimizer must be 'adamw' or 'sgd'"),
            (
                self.lr_schedule in ("constant", "cosine", "warmup_cosine"),
                "lr_schedule must be 'constant', 'cosine' or 'warmup_cosine'",
            ),
            (self.blocks >= 1 and self.channels >= 1, "blocks and channels must be >= 1"),
            (self.num_simulations >= 1, "num_simulations must be >= 1"),
            (self.fast_simulations >= 1, "fast_simulations must be >= 1"),
            (self.max_num_considered_actions >= 1, "max_num_considered_actions must be >= 1"),
            (0.0 < self.playout_cap_fraction <= 1.0, "playout_cap_fraction must be in (0, 1]"),
            (0.0 <= self.no_resign_fraction <= 1.0, "no_resign_fraction must be in [0, 1]"),
            (-1.0 <= self.resign_threshold <= 1.0, "resign_threshold must be in [-1, 1]"),
            (self.selfplay_batch >= 1 and self.selfplay_steps >= 1, "selfplay sizes must be >= 1"),
            (self.train_batch >= 1 and self.sgd_steps >= 0, "train_batch >= 1, sgd_steps >= 0"),
            (
                self.buffer_capacity >= self.selfplay_batch,
                "buffer_capacity must be >= selfplay_batch",
            ),
            (0 <= self.min_buffer <= self.buffer_capacity, "min_buffer must be in [0, capacity]"),
            (self.learning_rate > 0, "learning_rate must be > 0"),
            (self.iterations >= 0, "iterations must be >= 0"),
            (self.eval_every >= 0 and self.checkpoint_every >= 1, "bad eval/checkpoint period"),
            (self.keep_checkpoints >= 1, "keep_checkpoints must be >= 1"),
            (0 <= self.max_moves <= 30000, "max_moves must be in 0..30000"),
            (self.temperature > 0, "temperature must be > 0"),
            (self.resign_moves >= 1, "resign_moves must be >= 1"),
            (self.eval_simulations >= 1, "eval_simulations must be >= 1"),
            (self.warmup_steps >= 0, "warmup_steps must be >= 0"),
        ]
        for ok, message in checks:
            if not ok:
                raise ConfigError(f"{message} (config: {self.short()})")
        self._validate_multisize()
        return self

    def _validate_multisize(self) -> None:
        """Checks `sizes` (and `size` against it) and `bootstrap_iterations`."""
        sizes = self.board_sizes
        problems = [
            (all(2 <= n <= 19 for n in sizes), f"sizes must all be in 2..19, got {self.sizes!r}"),
            (len(set(sizes)) == len(sizes), f"sizes must not repeat a size, got {self.sizes!r}"),
            (
                max(sizes) == self.size,
                f"size must equal the largest of sizes={self.sizes!r} (the replay grid), "
                f"got size={self.size}",
            ),
            (self.bootstrap_iterations >= 0, "bootstrap_iterations must be >= 0"),
        ]
        for ok, message in problems:
            if not ok:
                raise ConfigError(f"{message} (config: {self.short()})")

    def short(self) -> str:
        d = dataclasses.asdict(self)
        keys = ("size", "net", "blocks", "channels", "search", "num_simulations", "selfplay_batch")
        return ", ".join(f"{k}={d[k]}" for k in keys)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.to_dict(), indent=2, sort_keys=True) + "\n")

    @classmethod
    def load(cls, path: str | Path) -> TrainConfig:
        try:
            data = json.loads(Path(path).read_text())
        except (OSError, json.JSONDecodeError) as e:
            raise ConfigError(f"cannot read config {path}: {e}") from e
        return from_dict(data, source=str(path))


PRESETS: dict[str, dict] = {
    # The main job: 7x7 on a 2-core CPU in under 20 minutes.
    "default": {},
    # A 9x9 smoke run of a few minutes on CPU.
    "tiny-9x9": dict(
        size=9, blocks=2, channels=16, num_simulations=8, max_num_considered_actions=4,
        selfplay_batch=32, selfplay_steps=16, iterations=20, buffer_capacity=20_000,
        min_buffer=256, train_batch=128, sgd_steps=4, eval_every=10, eval_games=16,
        eval_simulations=8, checkpoint_every=10,
    ),
    "gpu-9x9": dict(
        size=9, blocks=6, channels=128, num_simulations=32, max_num_considered_actions=16,
        selfplay_batch=1024, selfplay_steps=32, buffer_capacity=1_000_000, min_buffer=50_000,
        train_batch=1024, sgd_steps=32, iterations=2_000, eval_every=100, eval_games=256,
        eval_simulations=32, checkpoint_every=50, dtype="bfloat16", history=4, ownership=True,
        playout_cap_fraction=0.25, fast_simulations=8, temperature_moves=20,
    ),
    "gpu-19x19": dict(
        size=19, blocks=10, channels=128, num_simulations=64, max_num_considered_actions=16,
        selfplay_batch=512, selfplay_steps=32, buffer_capacity=1_000_000, min_buffer=100_000,
        train_batch=1024, sgd_steps=32, iterations=5_000, eval_every=200, eval_games=128,
        eval_simulations=64, checkpoint_every=50, dtype="bfloat16", history=8, ownership=True,
        playout_cap_fraction=0.25, fast_simulations=16, temperature_moves=30,
    ),
    # 5x5 on CPU: a few iterations of random-play value bootstrap, then normal self-play.
    "bootstrap-5x5": dict(
        size=5, blocks=2, channels=16, num_simulations=8, max_num_considered_actions=4,
        selfplay_batch=32, selfplay_steps=16, iterations=40, bootstrap_iterations=5,
        buffer_capacity=10_000, min_buffer=256, train_batch=128, sgd_steps=4, eval_every=10,
        eval_games=64, eval_simulations=8, checkpoint_every=10,
    ),
    # One net for 5x5, 7x7 and 9x9 (replay padded to 9x9), CPU-sized like tiny-9x9.
    "multisize-9": dict(
        size=9, sizes="5,7,9", blocks=2, channels=16, num_simulations=8,
        max_num_considered_actions=4, selfplay_batch=16, selfplay_steps=16, iterations=30,
        buffer_capacity=20_000, min_buffer=256, train_batch=128, sgd_steps=4, eval_every=10,
        eval_games=16, eval_simulations=8, checkpoint_every=10,
    ),
}


def field_docs() -> dict[str, str]:
    """Each field's docstring (the string literal after it in the class body)."""
    src = inspect.getsource(TrainConfig)
    tree = ast.parse(src).body[0]
    docs, last = {}, None
    for node in tree.body:
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            last = node.target.id
        elif last and isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
            docs[last] = " ".join(str(node.value.value).split())
            last = None
        else:
            last = None
    return docs


def _field_types() -> dict[str, type]:
    hints = typing.get_type_hints(TrainConfig)
    return {f.name: hints[f.name] for f in dataclasses.fields(TrainConfig)}


def _parse_value(key: str, raw, typ: type):
    """Converts `raw` (a string from the command line, or a JSON/wandb value) to `typ`."""
    if isinstance(typ, types.UnionType):
        typ = next(t for t in typing.get_args(typ) if t is not type(None))
    try:
        if typ is bool:
            if isinstance(raw, bool):
                return raw
            text = str(raw).strip().lower()
            if text in ("1", "true", "yes", "on"):
                return True
            if text in ("0", "false", "no", "off"):
                return False
            raise ValueError("expected true/false")
        if typ is int:
            if isinstance(raw, str) and "e" in raw.lower():
                raw = float(raw)  # "1e4" is an integer; "9.5e0" is not (checked below)
            if isinstance(raw, bool) or (isinstance(raw, float) and not raw.is_integer()):
                raise ValueError("expected an integer")
            return int(raw)
        if typ is float:
            if isinstance(raw, bool):
                raise ValueError("expected a number")
            return float(raw)
        if typ is str:
            return str(raw)
    except (TypeError, ValueError) as e:
        raise ConfigError(f"bad value for {key}: {raw!r} ({e}; type {typ.__name__})") from None
    raise ConfigError(f"unsupported type for {key}: {typ}")


def _check_keys(keys, source: str) -> None:
    known = _field_types()
    for key in keys:
        if key not in known:
            close = difflib.get_close_matches(key, list(known), n=3)
            hint = f"; did you mean {', '.join(close)}?" if close else ""
            raise ConfigError(f"unknown config key {key!r} in {source}{hint}")


def from_dict(data: dict, base: TrainConfig | None = None, source: str = "config") -> TrainConfig:
    """A validated config: `base` (default: the defaults) with `data`'s keys replaced."""
    _check_keys(data, source)
    types_ = _field_types()
    values = {k: _parse_value(k, v, types_[k]) for k, v in data.items()}
    return dataclasses.replace(base or TrainConfig(), **values).validate()


def parse_overrides(items: list[str]) -> dict[str, str]:
    """`["lr=1e-3", "--size=9", "size 9"]`-style items -> {key: raw value}."""
    out = {}
    for item in items:
        text = item[2:] if item.startswith("--") else item
        if "=" not in text:
            raise ConfigError(f"override {item!r} is not of the form key=value")
        key, value = text.split("=", 1)
        out[key.strip().replace("-", "_")] = value.strip()
    return out


def make_config(preset: str = "default", overrides: list[str] | dict | None = None) -> TrainConfig:
    """The named preset with overrides applied, validated."""
    if preset not in PRESETS:
        raise ConfigError(f"unknown preset {preset!r}; choose from {', '.join(PRESETS)}")
    base = from_dict(PRESETS[preset], source=f"preset {preset}")
    if overrides is None:
        return base
    items = overrides if isinstance(overrides, dict) else parse_overrides(list(overrides))
    return from_dict(items, base=base, source="overrides")
