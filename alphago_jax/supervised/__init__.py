"""Supervised warm start: train the policy/value network on SGF game records.

`build_dataset` turns a directory of SGF files into replay buffers of training positions
(played move = policy target, recorded result = value target, held-out split by game);
`train_supervised` / `main` (``alphago-jax supervised``) train the RL network on them with the
RL optimizer and loss, and write a run directory that `alphago_jax.runs.load_params` loads.
"""

from alphago_jax.supervised.dataset import (
    DatasetError,
    DatasetSummary,
    GamePositions,
    SupervisedData,
    batch_at,
    build_dataset,
    find_sgf_files,
    game_positions,
    load_games,
    num_positions,
    parse_result,
    split_dataset,
    split_games,
    to_buffer,
)
from alphago_jax.supervised.train import (
    SLResult,
    SLSettings,
    SupervisedLearner,
    main,
    train_supervised,
)

__all__ = [
    "DatasetError", "DatasetSummary", "GamePositions", "SLResult", "SLSettings",
    "SupervisedData", "SupervisedLearner", "batch_at", "build_dataset", "find_sgf_files",
    "game_positions", "load_games", "main", "num_positions", "parse_result", "split_dataset",
    "split_games", "to_buffer", "train_supervised",
]
