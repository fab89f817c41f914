"""Scaling laws (after Jones 2021): training compute in FLOPs, Elo on a fixed reference scale,
and the incline-plateau compute frontier with its train/test compute trade-off."""

from alphago_jax.scaling.compute import (
    LEARNER_FORWARD_EQUIVALENTS,
    IterationFlops,
    checkpoint_flops,
    evals_per_move,
    iteration_flops,
    net_flops_per_eval,
    search_flops_per_move,
    train_flops,
)
from alphago_jax.scaling.frontier import (
    FrontierFit,
    PlateauTrend,
    TradeOff,
    compute_to_reach,
    fit_frontier,
    frontier_points,
    incline_plateau,
    iso_elo_train_compute,
    plateau_trend,
    tradeoff,
)
from alphago_jax.scaling.rating import (
    RANDOM,
    AgentElo,
    ReferenceNet,
    elo_vs_references,
    next_reference,
    play_pair,
    rate_references,
    reference_agent,
)

__all__ = [
    "LEARNER_FORWARD_EQUIVALENTS", "RANDOM", "AgentElo", "FrontierFit",
    "IterationFlops", "ReferenceNet", "PlateauTrend", "TradeOff", "checkpoint_flops",
    "compute_to_reach", "elo_vs_references", "evals_per_move", "fit_frontier",
    "frontier_points", "incline_plateau", "iso_elo_train_compute", "iteration_flops",
    "net_flops_per_eval", "next_reference", "play_pair", "plateau_trend",
    "rate_references", "reference_agent", "search_flops_per_move",
    "train_flops", "tradeoff",
]
