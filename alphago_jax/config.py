"""The training configuration: one typed dataclass, a docstring per field, named presets, and
`key=value` overrides (the form wandb sweep agents pass) checked before anything compiles.

`TrainConfig` is the single source of truth. The settings each part of the package receives
(`NetConfig`, `SearchSettings`, `SelfPlaySettings`, `OptimizerSettings`, `LearnerSettings`) have
no defaults of their own: `derive` fills them from the config fields of the same names. The
allowed choices of a field live in the module that implements them (`search.ALGORITHMS`,
`learner.OPTIMIZERS`, ...) and validation reads them from there."""

from __future__ import annotations

import ast
import dataclasses
import difflib
import inspect
import json
import math
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from alphago_jax.features.planes import num_planes
from alphago_jax.learner.learner import (
    LR_SCHEDULES,
    OPTIMIZERS,
    LearnerSettings,
    OptimizerSettings,
)
from alphago_jax.learner.loss import VALUE_TARGETS
from alphago_jax.learner.reanalyse import ReanalyseSettings
from alphago_jax.nets import DTYPES, KINDS, NORMS, NetConfig, Network
from alphago_jax.nets.resnet import BLOCKS
from alphago_jax.rules.go import Rules
from alphago_jax.search.mcts import ACTION_SELECTIONS, ALGORITHMS, SearchSettings
from alphago_jax.selfplay.selfplay import POLICY_TARGETS, SelfPlaySettings

DATA_PARALLEL_KEYS = ("selfplay_batch", "buffer_capacity", "train_batch")
"""The global counts a data-parallel run splits evenly over its devices."""


class DataParallel(typing.NamedTuple):
    """One device's share of a data-parallel run (`TrainConfig.data_parallel`).

    Attributes:
      devices: devices on the "data" mesh axis (D).
      selfplay_batch: games each device plays per board size (`selfplay_batch` / D).
      buffer_capacity: positions in each device's replay shard (`buffer_capacity` / D).
      train_batch: positions each device samples per SGD step (`train_batch` / D); the gradients
        are averaged over the devices, so one step still sees `train_batch` positions.
    """

    devices: int
    selfplay_batch: int
    buffer_capacity: int
    train_batch: int


class ConfigError(ValueError):
    """An unknown key or a bad value in a config or its overrides."""


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    # ---------------------------------------------------------------- game
    size: int = 5
    """Board side (2..19). 5: in the CPU default's 20 minutes a 5x5 agent wins 54-59% of its
    games against GnuGo level 1 (four seeds; 42-54% without random self-play openings), a 7x7
    one 17-42% (README, "The default moved to 5x5"; the `7x7` preset is the previous default)."""
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
    liberties: bool = False
    """The network adds three input planes it computes from the current board: stones whose
    chain has exactly 1, 2 or 3 liberties (`features.liberty_planes`; KataGo's liberty
    features). Stored positions and checkpoints of other runs are unchanged by it; a network's
    parameters depend on it (its stem reads 3 more channels)."""
    # ---------------------------------------------------------------- network
    net: str = "resnet"
    """Trunk family: 'resnet' (convolutional) or 'transformer' (one token per point + pass)."""
    blocks: int = 3
    """Residual blocks (resnet) or transformer layers."""
    channels: int = 32
    """Trunk width: conv channels (resnet) or token width (transformer)."""
    block_type: str = "preact"
    """ResNet block: 'preact' (norm -> act -> 3x3 conv, twice, + identity) or 'mlp_ln' (a
    per-point (Dense -> LayerNorm -> Swish) x 4 + identity stack, i.e. 1x1 convs, for depth
    studies; only the 3x3 stem and the pooling mix information across points)."""
    global_pool: bool = True
    """Give some resnet blocks a KataGo-style global pooling branch (masked channel mean, mean
    scaled by (sqrt(area) - 14) / 10, and max, over the true board area) that adds a per-channel
    bias. The heads always pool, since they must not depend on the padded size."""
    gpool_every: int = 3
    """With `global_pool`, block i pools iff i % gpool_every == min(gpool_every // 2, blocks - 1):
    blocks 1, 4, 7, ... by default, and always at least one block."""
    activation: str = "relu"
    """Trunk and head activation: 'relu', 'swish', 'gelu' or 'mish' (mlp_ln blocks use swish)."""
    norm_groups: int = 8
    """Groups of the masked group norm; gcd(groups, channels) are used, so any width works; 1 is
    a masked layer norm over the whole board."""
    norm: str = "auto"
    """ResNet normalisation and pooling statistics: 'masked' (over the on-board points, read from
    the mask plane: needed when small boards are padded, i.e. multi-size runs), 'plain' (over
    every point, with no masking arithmetic: cheaper, valid only when no input is ever padded) or
    'auto' (plain when `sizes` names one board size, masked otherwise; 'plain' with several sizes
    is refused). Parameters are the same either way, so a checkpoint loads under both, and runs
    saved before this knob existed load as 'auto'. The transformer always masks."""
    policy_channels: int = 32
    """Width of the policy head's 1x1 convs."""
    value_channels: int = 32
    """Width of the value (and ownership) head's 1x1 conv."""
    value_hidden: int = 128
    """Hidden units of the value head's MLP on the pooled features."""
    ownership: bool = False
    """Ownership head (tanh per point, side to move's view) and its auxiliary loss."""
    dtype: str = "float32"
    """Compute dtype of the network: 'float32' or 'bfloat16' (parameters, normalisation
    statistics and outputs stay float32)."""
    num_heads: int = 4
    """Transformer attention heads; must divide `channels`."""
    mlp_ratio: int = 4
    """Transformer MLP hidden width as a multiple of `channels`."""
    pos_embedding: str = "learned"
    """Transformer positional embedding: 'learned' (a [max_board_size, max_board_size, D] table
    sliced to the input size) or '2d' (fixed sinusoidal, half the width per axis)."""
    max_board_size: int = 19
    """Largest padded input size the transformer's learned positional table supports."""
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
    score_utility: float = 0.0
    """Weight of the score in the search's utility (KataGo's score utility, which keeps a signal
    where the win probability saturates): the search maximises (1 - w) * value + w * s, where s =
    (2 / pi) * atan(margin / size) is the mover's expected area margin (komi included) squashed
    into (-1, 1): at the end of a game the exact Tromp-Taylor margin, elsewhere the ownership
    head's sum. The value head still learns the game's win/draw/loss; the stored search value
    (`value_target` 'search') is this utility. Needs `ownership`. 0 = win/loss only."""
    no_eye_fill: bool = True
    """Search: never fill one's own single-point eye (an empty point whose every on-board
    neighbour is one's own stone): it gains nothing under area scoring and can lose the group.
    A Go-knowledge prior (AlphaGo Zero had none); the network's input is unchanged."""
    pass_when_won: bool = True
    """Search: when the opponent has just passed and the Tromp-Taylor count already favours the
    side to move, pass (the game ends with its win; exact, no guess). Without it a saturated
    value lets the agent play on and fill its own eyes (docs/diagnosis.md)."""
    play_cleanup: bool = False
    """Evaluation, arena, ladder and GTP play (never self-play): the agent passes only where the
    pass ends the game with its win (the opponent has just passed and the Tromp-Taylor count
    favours it) or where no other legal move is left. Under capture-all-dead rules (GnuGo's
    --capture-all-dead, a server's cleanup phase) stones count only once captured, and a pass
    before the end is a free move for the opponent. Off by default: against GnuGo level 1 it
    changed 10-30 into 11-29 (docs/diagnosis.md), and two such agents play on to the move cap.
    Self-play always passes freely so that its games end."""
    # ---------------------------------------------------------------- warm starts, board mixes
    init_from: str = ""
    """Run directory (self-play or supervised) whose latest network parameters initialise a fresh
    run; the architecture must match, the board size may differ (the nets are fully
    convolutional), and this run may add an ownership head (initialised fresh). '' = random
    initialisation. Ignored when the run directory resumes."""
    sizes: str = ""
    """Multi-size training: comma-separated board sizes, e.g. '5,7,9'. Every iteration self-plays
    `selfplay_batch` games of each size, padded to the largest (= `size`) with the on-board mask,
    into one replay buffer. '' = `size` only."""
    bootstrap_iterations: int = 0
    """Random-play value bootstrap: the first N iterations self-play uniformly random legal moves
    (no search) and train the trunk and value head on their results; the policy head is left
    exactly as it was (its parameters are restored after those SGD steps), so search starts from a
    value net that knows end positions. 0 = off."""
    # ---------------------------------------------------------------- self-play
    selfplay_batch: int = 64
    """Games advanced in lockstep."""
    selfplay_steps: int = 32
    """Self-play moves per game per training iteration."""
    temperature_moves: int = 8
    """Moves per game sampled from the search policy; later moves take its best action."""
    temperature: float = 1.0
    """Sampling temperature for those first moves."""
    random_opening_moves: int = 4
    """Each self-play game's first N moves are uniformly random legal points off the first line
    (any legal point where none is left) in place of the search's choice, so that self-play
    covers the varied openings that play starts from (the ladder's balanced random openings, an
    opponent's unusual first moves) and not only the network's own. Those positions are still
    searched and stored with the search's policy target (a 'hard' target is the search's move);
    only the move played changes. 0 = off. 4 on the 5x5 default: over four seeds it took the
    default from 143-161 to 175-129 against GnuGo level 1, and self-play's values stopped
    saturating (README, "The default moved to 5x5"); the 7x7 and GPU presets keep 0."""
    selfplay_action: str = "argmax"
    """Self-play's move after the temperature moves: 'argmax' of the improved policy, or
    'search' (Gumbel: sequential halving's own choice; PUCT: the most visited move). See
    `alphago_jax.search.select_action`."""
    playout_cap_fraction: float = 1.0
    """Probability a move gets the full search and becomes a policy target (KataGo: 0.25);
    the rest get `fast_simulations` and are not recorded. 1.0 disables playout-cap randomization.
    Drawn once per step for the whole lockstep batch."""
    fast_simulations: int = 4
    """Simulations of the cheap search used with playout-cap randomization."""
    resign_threshold: float = -1.0
    """Resign when the searched value stays below this (-1, the default, disables resignation:
    games played out teach the value net the endgame and life and death that GnuGo punishes;
    AlphaGo Zero resigned at a threshold tuned for a 5% false-resignation rate)."""
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
    sgd_steps: int = 16
    """SGD steps per training iteration."""
    optimizer: str = "adamw"
    """'adamw' (decoupled weight decay) or 'sgd' (with momentum and L2 weight decay)."""
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
    value_target: str = "outcome"
    """Value-head target: 'outcome' (the game's result), 'search' (the search's value of the
    position, stored when it was played or reanalysed) or 'mix' ((1 - value_target_mix) x
    outcome + value_target_mix x search). The value head is win/draw/loss: a result is one-hot
    (a draw is a draw); a search value v in [-1, 1] becomes ((1 + v) / 2, 0, (1 - v) / 2), whose
    expectation is v (a searched value carries no draw probability)."""
    value_target_mix: float = 0.5
    """With value_target='mix', the search value's weight in [0, 1]."""
    reanalyse_fraction: float = 0.0
    """Reanalyse: this fraction of every SGD batch (rounded, at least one position) gets a fresh
    policy target from self-play's full search with the network of the iteration's start, inside
    the compiled iteration (one batched search per iteration). Positions are rebuilt from the
    buffer: exact in board, side to move, move count (the move cap holds), passes and simple ko;
    superko is checked only against the `history` stored boards (the new policy is then masked
    with the legal points stored at play time). The stored position is searched and its policy
    transformed by the sample's symmetry like a stored one. Not in bootstrap iterations; refused
    with `sizes` (multi-size buffers). 0 = off. See `alphago_jax.learner.reanalyse`."""
    reanalyse_value: bool = False
    """With reanalyse, also replace those positions' search value by the new search's root value
    (it reaches the loss through value_target 'search' or 'mix', so it needs one of them)."""
    # ---------------------------------------------------------------- run
    seed: int = 0
    """Seed of every random choice in the run."""
    iterations: int = 250
    """Training iterations (self-play + SGD each). A resumed run may be given more: it trains
    on from its last checkpoint (see `schedule_iterations`)."""
    schedule_iterations: int = 0
    """Iterations the learning-rate schedule spans (its decay ends at schedule_iterations x
    sgd_steps SGD steps, then holds its end value); 0 means `iterations`. Resuming a run with more
    `iterations` fixes it at the run's original length, so the schedule is not stretched in
    mid-run."""
    eval_every: int = 250
    """Iterations between evaluations (win rate vs random and vs the previous checkpoint); the
    last iteration always evaluates. The default evaluates once, at the end: each evaluation
    took 35-70 s of the 7x7 default's 20 minutes (the ladder rates runs; README, "Outer
    loop")."""
    eval_games: int = 16
    """Games per evaluation (16 at 64 simulations cost about what 64 at 16 did)."""
    eval_simulations: int = 64
    """Simulations per move for the evaluated agent (evaluation, arena, ladder, GTP). 64: the
    7x7 default's checkpoint went 20-20 against GnuGo level 1 at 64 and 11-29 at 16 (README,
    "Outer loop"); search at play time costs no training."""
    eval_action: str = "search"
    """How the evaluated agent picks its move from a search: 'search' or 'argmax' (see
    `selfplay_action`)."""
    checkpoint_every: int = 25
    """Iterations between checkpoints."""
    keep_checkpoints: int = 3
    """Checkpoints kept."""
    cpu_devices: int = 0
    """JAX CPU devices a one-process run splits into (the data mesh axis) on a CPU host. XLA:CPU
    runs one device's program on little more than one core, so one device leaves the others
    idle (the 7x7 default on a 2-core host: 186 positions/s on one device, 376 on two). 0 = one
    per core, lowered to the largest count dividing selfplay_batch, buffer_capacity and
    train_batch; a new run records the count it used here and resumes on it. Ignored where
    JAX_NUM_CPU_DEVICES or XLA_FLAGS (xla_force_host_platform_device_count) set the count, in
    multi-process runs, and once jax has started in the process (an in-process caller); GPU and
    TPU backends do not read it."""
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

    @property
    def schedule_steps(self) -> int:
        """SGD steps the learning-rate schedule spans."""
        return (self.schedule_iterations or self.iterations) * self.sgd_steps

    def rules(self, size: int | None = None) -> Rules:
        """The rules on the run's board, or on a `size` x `size` board (multi-size runs)."""
        return Rules(size=size or self.size, komi=self.komi, superko=self.superko,
                     suicide=self.suicide, max_moves=self.max_moves or None, history=self.history)

    def net_config(self) -> NetConfig:
        return derive(NetConfig, self, kind=self.net, norm=self.resolved_norm)

    @property
    def resolved_norm(self) -> str:
        """`norm` with 'auto' resolved: 'plain' for one board size, 'masked' for several."""
        if self.norm != "auto":
            return self.norm
        return "plain" if len(self.board_sizes) == 1 else "masked"

    def network(self) -> Network:
        """The run's network as a hashable value (architecture + input planes)."""
        return Network(self.net_config(), num_planes(self.history))

    def search_settings(self, num_simulations: int | None = None,
                        play: bool = False) -> SearchSettings:
        """The search with `num_simulations` (default: the full self-play search's); `play`:
        the evaluated agent's (its passes restricted by `play_cleanup`)."""
        return derive(SearchSettings, self, algorithm=self.search,
                      num_simulations=num_simulations or self.num_simulations,
                      pass_only_to_win=play and self.play_cleanup)

    def eval_settings(self, num_simulations: int | None = None) -> SearchSettings:
        """The evaluated agent's search (default: `eval_simulations`)."""
        return self.search_settings(num_simulations or self.eval_simulations, play=True)

    def selfplay_settings(self, **given: Any) -> SelfPlaySettings:
        """Self-play settings; `given` sets the fields that are not config fields
        (`random_play`, `id_stride`)."""
        return derive(SelfPlaySettings, self, full=self.search_settings(),
                      fast=self.search_settings(self.fast_simulations), **given)

    def optimizer_settings(self) -> OptimizerSettings:
        return derive(OptimizerSettings, self)

    def learner_settings(self, devices: int = 1) -> LearnerSettings:
        """The learner's settings; with `devices` > 1, one device's share of the batch
        (`data_parallel(devices).train_batch`)."""
        return derive(LearnerSettings, self, train_batch=self.data_parallel(devices).train_batch)

    def data_parallel(self, devices: int) -> DataParallel:
        """One device's share of the run when it is split over `devices` devices (the "data"
        mesh axis): its games, replay shard and training batch.

        Raises:
          ConfigError: `devices` < 1, or a global number that `devices` does not divide (naming
            the key, its value and the device count).
        """
        if devices < 1:
            raise ConfigError(f"the device count must be >= 1, got {devices}")
        for key in DATA_PARALLEL_KEYS:
            value = getattr(self, key)
            if value % devices:
                raise ConfigError(
                    f"{key}={value} is not divisible by the {devices} devices of the data mesh "
                    f"axis: each device takes {key} / {devices}. Use a multiple of {devices} "
                    f"(e.g. {key}={max(devices, value - value % devices)})"
                )
        return DataParallel(devices, self.selfplay_batch // devices,
                            self.buffer_capacity // devices, self.train_batch // devices)

    def resolved_cpu_devices(self, cores: int) -> int:
        """`cpu_devices` with 0 resolved on a host of `cores` cores: the largest count <= cores
        that divides every batch `data_parallel` splits."""
        if self.cpu_devices:
            return self.cpu_devices
        return max(n for n in range(1, max(cores, 1) + 1)
                   if all(getattr(self, k) % n == 0 for k in DATA_PARALLEL_KEYS))

    def reanalyse_settings(self, devices: int = 1) -> ReanalyseSettings | None:
        """Reanalyse's settings (with `devices` > 1, for one device's share of the batch); None
        when `reanalyse_fraction` is 0 (off)."""
        if self.reanalyse_fraction <= 0:
            return None
        return derive(ReanalyseSettings, self, selfplay=self.selfplay_settings(),
                      train_batch=self.data_parallel(devices).train_batch)

    # ---------------------------------------------------------------- validation
    def validate(self) -> TrainConfig:
        """Checks every field: choices, each number finite and in its range (`RANGES`), and the
        limits fields set on each other.

        Raises:
          ConfigError: naming the first bad key, its allowed range and the value given.
        """
        choices = [
            ("net", KINDS), ("block_type", tuple(BLOCKS)), ("dtype", DTYPES),
            ("norm", ("auto", *NORMS)),
            ("search", ALGORITHMS),
            ("policy_target", POLICY_TARGETS), ("optimizer", OPTIMIZERS),
            ("lr_schedule", LR_SCHEDULES), ("selfplay_action", ACTION_SELECTIONS),
            ("eval_action", ACTION_SELECTIONS), ("value_target", VALUE_TARGETS),
        ]
        for key, allowed in choices:
            if getattr(self, key) not in allowed:
                raise ConfigError(f"{key} must be one of {', '.join(map(repr, allowed))}, got "
                                  f"{getattr(self, key)!r} (config: {self.short()})")
        for key, rng in RANGES.items():
            problem = rng.check(key, getattr(self, key))
            if problem:
                raise ConfigError(f"{problem} (config: {self.short()})")
        for ok, message in self._cross_checks():
            if not ok:
                raise ConfigError(f"{message} (config: {self.short()})")
        try:  # the network's own checks (block types, activations, head counts, ...)
            self.net_config()
        except ValueError as e:
            raise ConfigError(f"{e} (config: {self.short()})") from None
        self._validate_multisize()
        return self

    def _cross_checks(self) -> list[tuple[bool, str]]:
        """(ok, message) of the limits one field sets on another."""
        learned_table = self.net == "transformer" and self.pos_embedding == "learned"
        return [
            (self.reanalyse_fraction == 0 or not self.sizes.strip(),
             "reanalyse_fraction must be 0 with sizes (a multi-size buffer cannot be reanalysed: "
             f"one search per board size would be needed), got {self.reanalyse_fraction}"),
            (not self.reanalyse_value or self.value_target != "outcome",
             "reanalyse_value needs value_target 'search' or 'mix' (with 'outcome' the new "
             "search values would not be used)"),
            (not self.reanalyse_value or self.reanalyse_fraction > 0,
             "reanalyse_value needs reanalyse_fraction > 0"),
            # Random-play positions were never searched: their stored search value is 0.
            (self.bootstrap_iterations == 0 or self.value_target == "outcome",
             f"value_target must be 'outcome' with bootstrap_iterations > 0 (random-play "
             f"positions have no search value), got {self.value_target!r}"),
            (self.buffer_capacity >= self.selfplay_batch,
             f"buffer_capacity must be >= selfplay_batch ({self.selfplay_batch}), got "
             f"{self.buffer_capacity}"),
            (self.min_buffer <= self.buffer_capacity,
             f"min_buffer must be in 0..buffer_capacity ({self.buffer_capacity}), got "
             f"{self.min_buffer}"),
            # A batch larger than the buffer can ever hold would repeat positions in every step.
            (self.train_batch <= self.buffer_capacity,
             f"train_batch must be in 1..buffer_capacity ({self.buffer_capacity}), got "
             f"{self.train_batch}"),
            # A win rate from zero games is a made-up 0.0.
            (self.eval_games >= 1 or not self.eval_every,
             f"eval_games must be >= 1 when eval_every > 0 (eval_every={self.eval_every}), "
             f"got {self.eval_games}"),
            # The score away from the end of a game is read from the ownership head.
            (self.ownership or not self.score_utility,
             f"score_utility > 0 needs ownership=true, got score_utility={self.score_utility}"),
            (not learned_table or self.max_board_size >= self.size,
             f"max_board_size must be >= size ({self.size}) for a transformer's learned "
             f"positional table, got {self.max_board_size}"),
        ]

    def _validate_multisize(self) -> None:
        """Checks `sizes` (and `size` against it)."""
        sizes = self.board_sizes
        problems = [
            (all(2 <= n <= 19 for n in sizes), f"sizes must all be in 2..19, got {self.sizes!r}"),
            (len(set(sizes)) == len(sizes), f"sizes must not repeat a size, got {self.sizes!r}"),
            (
                max(sizes) == self.size,
                f"size must equal the largest of sizes={self.sizes!r} (the replay grid), "
                f"got size={self.size}",
            ),
            # Plain statistics would count the padding of the smaller boards as board points.
            (len(sizes) == 1 or self.norm != "plain",
             f"norm='plain' needs one board size (sizes={self.sizes!r} pads the smaller "
             f"boards): use 'masked' or 'auto'"),
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
        try:
            return from_dict(data, source=str(path))
        except ConfigError as e:
            if str(path) in str(e):
                raise
            raise ConfigError(f"{path}: {e}") from None  # a bad value: say where it is


class Range(typing.NamedTuple):
    """The allowed values of a number: `lo` .. `hi` (None: unbounded), each end included unless
    `lo_open` / `hi_open`. A float must also be finite (NaN and inf are never a setting)."""

    lo: float | None = None
    hi: float | None = None
    lo_open: bool = False
    hi_open: bool = False

    def text(self, integer: bool) -> str:
        """The range as messages name it: 'in 2..19', '>= 1', '> 0', 'in [0, 1)'."""
        lo, hi = (None if v is None else _number(v) for v in (self.lo, self.hi))
        if lo is not None and hi is not None:
            if integer:
                return f"in {lo}..{hi}"
            return f"in {'(' if self.lo_open else '['}{lo}, {hi}{')' if self.hi_open else ']'}"
        if lo is not None:
            return f"{'>' if self.lo_open else '>='} {lo}"
        return f"{'<' if self.hi_open else '<='} {hi}"

    def contains(self, value: float) -> bool:
        lo_ok = self.lo is None or (value > self.lo if self.lo_open else value >= self.lo)
        hi_ok = self.hi is None or (value < self.hi if self.hi_open else value <= self.hi)
        return lo_ok and hi_ok

    def check(self, key: str, value: Any) -> str | None:
        """None when `value` is allowed, else the message: '<key> must be [finite and] <range>,
        got <value>'."""
        integer = isinstance(value, int) and not isinstance(value, bool)
        finite = integer or (isinstance(value, float) and math.isfinite(value))
        # Counters and sizes live in int32 arrays on the device.
        capped = not integer or self.hi is not None or value <= _INT32_MAX
        if finite and capped and self.contains(value):
            return None
        text = self.text(integer)
        if not capped:
            text += f" and <= {_INT32_MAX} (int32)"
        return f"{key} must be {'' if integer else 'finite and '}{text}, got {value!r}"


_INT32_MAX = 2**31 - 1


def _number(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else str(x)


_AT_LEAST_0, _AT_LEAST_1, _POSITIVE = Range(0), Range(1), Range(0, lo_open=True)
_FRACTION = Range(0, 1)

RANGES: dict[str, Range] = {
    # game
    "size": Range(2, 19),
    "komi": Range(-361, 361),  # beyond the largest board's area every game is decided by komi
    "max_moves": Range(0, 30000),  # the rules engine's largest move cap
    "history": Range(1, 32),
    # network
    **dict.fromkeys(("blocks", "channels", "gpool_every", "norm_groups", "policy_channels",
                     "value_channels", "value_hidden", "num_heads", "mlp_ratio"), _AT_LEAST_1),
    "max_board_size": Range(2, 19),
    # search
    "num_simulations": _AT_LEAST_1,
    "max_num_considered_actions": _AT_LEAST_1,
    "gumbel_scale": _AT_LEAST_0,
    "value_scale": _AT_LEAST_0,
    "maxvisit_init": _AT_LEAST_0,
    "dirichlet_alpha": _POSITIVE,
    "dirichlet_fraction": _FRACTION,
    "pb_c_init": _AT_LEAST_0,
    "score_utility": _FRACTION,
    "bootstrap_iterations": _AT_LEAST_0,
    # self-play
    "selfplay_batch": _AT_LEAST_1,
    "selfplay_steps": _AT_LEAST_1,
    "temperature_moves": _AT_LEAST_0,
    "random_opening_moves": _AT_LEAST_0,
    "temperature": _POSITIVE,
    "playout_cap_fraction": Range(0, 1, lo_open=True),
    "fast_simulations": _AT_LEAST_1,
    "resign_threshold": Range(-1, 1),
    "resign_moves": _AT_LEAST_1,
    "no_resign_fraction": _FRACTION,
    # replay and learning (limits between fields: `TrainConfig._cross_checks`)
    "buffer_capacity": _AT_LEAST_1,
    "min_buffer": _AT_LEAST_0,
    "train_batch": _AT_LEAST_1,
    "sgd_steps": _AT_LEAST_0,
    "learning_rate": _POSITIVE,
    "warmup_steps": _AT_LEAST_0,
    "weight_decay": _AT_LEAST_0,
    "momentum": Range(0, 1, hi_open=True),
    "grad_clip": _AT_LEAST_0,
    "value_weight": _AT_LEAST_0,
    "ownership_weight": _AT_LEAST_0,
    "value_target_mix": _FRACTION,
    "reanalyse_fraction": _FRACTION,
    # run
    "seed": Range(0, 2**32 - 1),  # jax.random.key keeps 32 bits: larger seeds repeat smaller ones
    "iterations": _AT_LEAST_0,
    "schedule_iterations": _AT_LEAST_0,
    "eval_every": _AT_LEAST_0,
    "eval_games": _AT_LEAST_0,
    "eval_simulations": _AT_LEAST_1,
    "checkpoint_every": _AT_LEAST_1,
    "keep_checkpoints": _AT_LEAST_1,
    "cpu_devices": Range(0, 4096),
}
"""The allowed range of every int and float field of `TrainConfig` (a test checks that none is
missing); `TrainConfig.validate` checks each one."""


def derive(cls: type, cfg: TrainConfig, **given: Any):
    """An instance of the settings type `cls` (a NamedTuple or dataclass) whose fields are the
    config's fields of the same names; `given` supplies the rest (or renames, like `kind=`).

    Raises:
      TypeError: `cls` has a field that is neither a config field nor given (a settings type
        must not grow a knob the config does not have).
    """
    names = cls._fields if hasattr(cls, "_fields") else [f.name for f in dataclasses.fields(cls)]
    values = {}
    for name in names:
        if name in given:
            values[name] = given[name]
        elif hasattr(cfg, name):
            values[name] = getattr(cfg, name)
        elif name not in getattr(cls, "_field_defaults", {}):
            raise TypeError(f"{cls.__name__}.{name} is not a TrainConfig field")
    return cls(**values)


# One accelerator, 9x9 (the base of gpu-19x19).
_GPU_9X9 = dict(
    size=9, blocks=6, channels=128, num_simulations=32, max_num_considered_actions=16,
    selfplay_batch=1024, selfplay_steps=32, buffer_capacity=1_000_000, min_buffer=50_000,
    train_batch=1024, sgd_steps=32, iterations=2_000, eval_every=100, eval_games=256,
    eval_simulations=32, checkpoint_every=50, dtype="bfloat16", history=4, ownership=True,
    playout_cap_fraction=0.25, fast_simulations=8, temperature_moves=20,
    random_opening_moves=0,
)


# The previous default: 7x7 in under 20 minutes on the 2-core CPU (the README's 7x7 rows),
# self-play from the empty board (random openings measured no better there, docs/diagnosis.md).
_7X7 = dict(size=7, iterations=150, eval_every=150, random_opening_moves=0)


PRESETS: dict[str, dict] = {
    # The main job: 5x5 on a 2-core CPU in under 20 minutes.
    "default": {},
    "7x7": _7X7,
    # A 9x9 smoke run of a few minutes on CPU.
    "tiny-9x9": dict(
        size=9, blocks=2, channels=16, num_simulations=8, max_num_considered_actions=4,
        selfplay_batch=32, selfplay_steps=16, iterations=20, buffer_capacity=20_000,
        min_buffer=256, train_batch=128, sgd_steps=4, eval_every=10, eval_games=16,
        eval_simulations=8, checkpoint_every=10,
    ),
    "gpu-9x9": _GPU_9X9,
    # gpu-9x9 scaled to 19x19: a deeper net, more simulations, a longer input history.
    "gpu-19x19": {**_GPU_9X9, **dict(
        size=19, blocks=10, num_simulations=64, selfplay_batch=512, min_buffer=100_000,
        iterations=5_000, eval_every=200, eval_games=128, eval_simulations=64, history=8,
        fast_simulations=16, temperature_moves=30,
    )},
    # 5x5 on CPU: a few iterations of random-play value bootstrap, then normal self-play.
    "bootstrap-5x5": dict(
        size=5, blocks=2, channels=16, num_simulations=8, max_num_considered_actions=4,
        selfplay_batch=32, selfplay_steps=16, iterations=40, bootstrap_iterations=5,
        buffer_capacity=10_000, min_buffer=256, train_batch=128, sgd_steps=4, eval_every=10,
        eval_games=64, eval_simulations=8, checkpoint_every=10,
    ),
    # The outer-loop recipe on 7x7 (experiments/ablation.py; docs/diagnosis.md says why each
    # part): the `7x7` preset plus a score utility (from an ownership head), a mixed value
    # target and a run of about 2 CPU-hours on a 2-core host. Reanalyse is left out: at 16 SGD
    # steps it adds about half an iteration's cost.
    "strong-7x7": {**_7X7, **dict(
        ownership=True, score_utility=0.2, value_target="mix", value_target_mix=0.5,
        iterations=400, checkpoint_every=50, keep_checkpoints=20, eval_every=100,
    )},
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


def _describe_json(value: Any, limit: int = 60) -> str:
    """A JSON value as a message names it: 'null', 'an array [1, 2]', 'a string "x"'."""
    if value is None:
        return "null"
    try:
        text = json.dumps(value)
    except (TypeError, ValueError):
        text = repr(value)
    text = text if len(text) <= limit else text[:limit] + " ..."
    kind = {list: "an array", str: "a string", bool: "a boolean"}.get(type(value), "a value")
    return f"{'a number' if type(value) in (int, float) else kind} {text}"


def _check_keys(keys, source: str) -> None:
    known = _field_types()
    for key in keys:
        if key not in known:
            close = difflib.get_close_matches(str(key), list(known), n=3)
            hint = f"; did you mean {', '.join(close)}?" if close else ""
            raise ConfigError(f"unknown config key {key!r} in {source}{hint}")


def from_dict(data: dict, base: TrainConfig | None = None, source: str = "config") -> TrainConfig:
    """A validated config: `base` (default: the defaults) with `data`'s keys replaced.

    Raises:
      ConfigError: `data` is not a mapping (e.g. a config.json holding a list or null), an
        unknown key, or a bad value.
    """
    if not isinstance(data, Mapping):
        raise ConfigError(f"{source} must hold a JSON object of config keys and values (like "
                          f'{{"size": 9}}), got {_describe_json(data)}')
    _check_keys(data, source)
    types_ = _field_types()
    values = {k: _parse_value(k, v, types_[k]) for k, v in data.items()}
    return dataclasses.replace(base or TrainConfig(), **values).validate()


def parse_overrides(items: list[str]) -> dict[str, str]:
    """`["learning_rate=1e-3", "--size=9", "--num-simulations=8"]` -> {key: raw value}.

    Each item is `key=value` or `--key=value`; dashes in a key read as underscores.

    Raises:
      ConfigError: an item without '=' (e.g. "size 9" or "size": a value is never taken from
        the next item), naming it and the form to write.
    """
    out = {}
    for item in items:
        text = item[2:] if item.startswith("--") else item
        if "=" not in text:
            key, _, value = text.strip().partition(" ")
            raise ConfigError(f"override {item!r} is not of the form key=value (write "
                              f"{key or 'key'}={value.strip() or 'VALUE'})")
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
