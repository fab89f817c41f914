"""Batched MCTS (mctx Gumbel MuZero or PUCT) over the JAX rules."""

from alphago_jax.search.mcts import (
    SearchResult,
    SearchSettings,
    evaluate,
    make_recurrent_fn,
    node_bytes,
    run_search,
    search,
    strip,
)

__all__ = [
    "SearchResult", "SearchSettings", "evaluate", "make_recurrent_fn", "node_bytes",
    "run_search", "search", "strip",
]
