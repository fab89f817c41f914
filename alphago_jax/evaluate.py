"""Batched matches on the device: a searching agent against uniform random or another agent.

All games advance in lockstep in one compiled scan; the agent plays Black in even-numbered games
and White in odd ones.
"""

from __future__ import annotations

import functools
import math
from typing import NamedTuple

import jax
import jax.numpy as jnp

from alphago_jax.rules.go import BLACK, Rules
from alphago_jax.search.mcts import SearchSettings, run_search


class MatchResult(NamedTuple):
    """Per-game outcomes from player A's view (+1 win, 0 draw, -1 loss) and game lengths."""

    outcome: jax.Array
    moves: jax.Array

    def summary(self) -> dict[str, float]:
        o = jax.device_get(self.outcome)
        n = len(o)
        wins, draws = int((o > 0).sum()), int((o == 0).sum())
        rate = (wins + 0.5 * draws) / max(n, 1)
        lo, hi = wilson_interval(rate, n)
        return {"games": n, "wins": wins, "losses": n - wins - draws, "draws": draws,
                "win_rate": rate, "ci_low": lo, "ci_high": hi}


def wilson_interval(p: float, n: int, z: float = 1.96) -> tuple[float, float]:
    """95% Wilson score interval of a win rate over n games."""
    if n == 0:
        return 0.0, 1.0
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def _agent_action(rules, apply, history, settings, params, states, key):
    result = run_search(rules, apply, history, settings, params, states, key)
    if settings.algorithm == "gumbel":
        return result.action  # Gumbel's own choice: sequential halving over sampled actions
    return jnp.argmax(result.policy, axis=-1).astype(jnp.int32)


def _random_action(rules, states, key):
    legal = jax.vmap(rules.legal_mask)(states)
    # Random players pass only when nothing else is legal, so games end by territory, not by
    # the random side passing early.
    points = legal.at[:, -1].set(~jnp.any(legal[:, :-1], axis=-1))
    return jax.random.categorical(key, jnp.where(points, 0.0, -jnp.inf)).astype(jnp.int32)


@functools.partial(jax.jit, static_argnums=(0, 1, 2, 3, 4, 7))
def play_match(
    rules: Rules,
    apply,
    history: int,
    settings_a: SearchSettings,
    settings_b: SearchSettings | None,
    params_a,
    params_b,
    num_games: int,
    key,
) -> MatchResult:
    """Plays `num_games` games of agent A against agent B (`settings_b=None`: uniform random)."""
    states = jax.vmap(lambda _: rules.init())(jnp.arange(num_games))
    a_black = jnp.arange(num_games) % 2 == 0

    def body(states, k):
        k_a, k_b = jax.random.split(k)
        act_a = _agent_action(rules, apply, history, settings_a, params_a, states, k_a)
        if settings_b is None:
            act_b = _random_action(rules, states, k_b)
        else:
            act_b = _agent_action(rules, apply, history, settings_b, params_b, states, k_b)
        a_moves = (states.to_play == BLACK) == a_black
        return jax.vmap(rules.step)(states, jnp.where(a_moves, act_a, act_b)), None

    states, _ = jax.lax.scan(body, states, jax.random.split(key, rules.move_cap))
    black = jnp.sign(jax.vmap(rules.score)(states)).astype(jnp.int32)
    return MatchResult(outcome=jnp.where(a_black, black, -black), moves=states.move_count)
