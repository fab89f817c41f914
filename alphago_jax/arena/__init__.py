"""Matches between players (random, checkpoints, GTP engines), a referee and Elo ratings."""

from alphago_jax.arena.elo import EloFit, expected_score, fit_elo, tally
from alphago_jax.arena.players import (
    RESIGN,
    CheckpointPlayer,
    DevicePlayer,
    GTPClient,
    GTPPlayer,
    HostPlayer,
    PlayerError,
    PlayerSpecError,
    RandomPlayer,
    ScriptedPlayer,
    Seat,
    checkpoint_steps,
    load_checkpoint,
    parse_player,
)
from alphago_jax.arena.referee import (
    ArenaError,
    GameResult,
    MatchResult,
    arena_rules,
    format_line,
    run_match,
    save_game,
)

__all__ = [
    "RESIGN", "ArenaError", "CheckpointPlayer", "DevicePlayer", "EloFit", "GTPClient",
    "GTPPlayer", "GameResult", "HostPlayer", "MatchResult", "PlayerError", "PlayerSpecError",
    "RandomPlayer", "ScriptedPlayer", "Seat", "arena_rules", "checkpoint_steps",
    "expected_score", "fit_elo", "format_line", "load_checkpoint", "parse_player", "run_match",
    "save_game", "tally",
]
