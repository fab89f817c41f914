"""Matches between players -- the one home of matches in the package.

* players as values (`players`): `RandomPlayer`, `SearchPlayer` (a network searching: a
  checkpoint, the training run's agent, a scaling reference), host players (`GTPPlayer`,
  `ScriptedPlayer`), and `parse_player` for specs;
* one batched match loop (`match.play_match`) returning a `MatchResult` whose `tally` is the
  one score summary (`tally.Tally`, `wilson_interval`);
* one Bradley-Terry fit (`elo.fit_elo`), free or against players of fixed ratings;
* the ``alphago-jax arena`` job (`referee.main`).
"""

from alphago_jax.arena.elo import EloFit, expected_score, fit_elo, pair_table
from alphago_jax.arena.match import (
    ArenaError,
    GameResult,
    MatchResult,
    arena_rules,
    bucket_size,
    describe_rules,
    play_match,
    save_game,
)
from alphago_jax.arena.players import (
    RESIGN,
    DevicePlayer,
    GTPClient,
    GTPPlayer,
    HostPlayer,
    PlayerError,
    PlayerSpecError,
    RandomPlayer,
    ScriptedPlayer,
    SearchPlayer,
    Seat,
    checkpoint_steps,
    load_run,
    parse_player,
)
from alphago_jax.arena.tally import Tally, wilson_interval

__all__ = [
    "RESIGN", "ArenaError", "DevicePlayer", "EloFit", "GTPClient", "GTPPlayer", "GameResult",
    "HostPlayer", "MatchResult", "PlayerError", "PlayerSpecError", "RandomPlayer",
    "ScriptedPlayer", "SearchPlayer", "Seat", "Tally", "arena_rules", "bucket_size",
    "checkpoint_steps", "describe_rules", "expected_score", "fit_elo", "load_run",
    "pair_table", "parse_player", "play_match", "save_game", "wilson_interval",
]
