"""Matches between players -- the one home of matches in the package.

* players as values (`players`): `RandomPlayer`, `SearchPlayer` (a network searching: a
  checkpoint, the training run's agent, a scaling reference), host players (`GTPPlayer`,
  `ScriptedPlayer`), and `parse_player` for specs;
* one batched match loop (`match.play_match`) returning a `MatchResult` whose `tally` is the
  one score summary (`tally.Tally`, `wilson_interval`);
* one Bradley-Terry fit (`elo.fit_elo`), free or against players of fixed ratings;
* seeded balanced openings to start games from (`openings.draw_openings`);
* the ``alphago-jax arena`` job (`referee.main`) and the ``alphago-jax ladder`` job
  (`ladder.main`: a run's checkpoints against fixed references, resumable).
"""

from alphago_jax.arena.elo import EloFit, expected_score, fit_elo, pair_table
from alphago_jax.arena.match import (
    ArenaError,
    GameResult,
    MatchResult,
    arena_rules,
    bucket_size,
    describe_rules,
    opening_of,
    play_match,
    save_game,
    start_positions,
)
from alphago_jax.arena.openings import draw_openings
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
    "checkpoint_steps", "describe_rules", "draw_openings", "expected_score", "fit_elo",
    "load_run", "opening_of", "pair_table", "parse_player", "play_match", "save_game",
    "start_positions", "wilson_interval",
]
