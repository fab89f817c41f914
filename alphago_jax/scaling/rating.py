"""Elo on a fixed scale: agents rated by their results against a fixed set of reference players.

For scaling laws the Elo of every agent of a grid must sit on one scale that does not move as
agents are added. So, per board size:

1. a *reference set* that does not depend on the grid -- uniform random (anchored at 0 Elo) and
   `reference_agent`s, searches with a uniform prior and a fixed hand-written value, at several
   simulation counts -- is rated once, by a round robin and `alphago_jax.arena.elo.fit_elo`;
2. each agent plays some of the references, and its Elo is the Bradley-Terry maximum-likelihood
   rating with the references' ratings held fixed (`elo_vs_references`), so rating one agent
   never changes another's.

Matches run on the device in batches (`play_pair`): two arbitrary agents, each with
its own network (`apply`), history and search settings, or uniform random.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from alphago_jax.arena.elo import ELO_PER_NAT, fit_elo
from alphago_jax.evaluate import wilson_interval
from alphago_jax.nets.heads import NetOutput
from alphago_jax.rules.go import Rules
from alphago_jax.search.mcts import SearchSettings, run_search

REFERENCE_VALUES = ("area", "zero")


class Agent(NamedTuple):
    """A player for `play_pair`.

    Attributes:
      name: label in results.
      apply: network function `apply(params, x[B, S, S, C]) -> NetOutput`; None = uniform random.
      history: board positions in its input features.
      settings: its search settings (None for random).
      params: its network parameters (any pytree; ignored by reference agents).
    """

    name: str
    apply: Any = None
    history: int = 1
    settings: SearchSettings | None = None
    params: Any = None

    @property
    def is_random(self) -> bool:
        return self.apply is None


RANDOM = Agent("random")


# ------------------------------------------------------------------------------ references


@functools.cache
def reference_apply(komi: float, history: int, value: str = "area", scale: float = 0.2):
    """A fixed evaluation function: uniform policy prior and a hand-written value.

    Args:
      komi: the rules' komi (the value is for the side to move, so it matters who is Black).
      history: positions in the features (the planes layout depends on it).
      value: 'area' -- tanh of the Tromp-Taylor margin estimated from the current position
        (stones, plus empty points touching only one colour's stones, minus komi), divided by
        `scale` times the board's points; 'zero' -- 0 everywhere (search sees only game ends).
      scale: fraction of the board's points one unit of tanh argument is worth.

    Returns:
      `apply(params, x[B, S, S, 2 * history + 3]) -> NetOutput`; params are ignored. Cached, so
      equal arguments give the same function (one compile per jitted caller).
    """
    if value not in REFERENCE_VALUES:
        raise ValueError(f"reference value must be one of {REFERENCE_VALUES}, got {value!r}")
    k = history

    def apply(params, x):
        del params
        b, s = x.shape[0], x.shape[1]
        logits = jnp.zeros((b, s * s + 1), jnp.float32)
        if value == "zero":
            v = jnp.zeros((b,), jnp.float32)
        else:
            own, opp = x[..., 0], x[..., k]
            black = x[:, 0, 0, 2 * k]  # 1 when Black is to move
            empty = x[..., 2 * k + 2] * (1.0 - own - opp)

            def touches(stones):  # empty points next to a stone of that colour
                pad = jnp.pad(stones, ((0, 0), (1, 1), (1, 1)))
                near = pad[:, :-2, 1:-1] + pad[:, 2:, 1:-1] + pad[:, 1:-1, :-2] + pad[:, 1:-1, 2:]
                return (near > 0).astype(jnp.float32)

            t_own, t_opp = touches(own), touches(opp)
            area = own + empty * t_own * (1 - t_opp) - opp - empty * t_opp * (1 - t_own)
            margin = area.sum(axis=(1, 2)) + jnp.where(black > 0.5, -komi, komi)
            points = x[..., 2 * k + 2].sum(axis=(1, 2))
            v = jnp.tanh(margin / (scale * points))
        # (win, draw, loss) logits whose P(win) - P(loss) is v: a = atanh(v), draw impossible.
        a = jnp.arctanh(jnp.clip(v, -0.999, 0.999))
        value_logits = jnp.stack([a, jnp.full_like(a, -30.0), -a], axis=-1)
        return NetOutput(policy_logits=logits, value_logits=value_logits, ownership=None)

    return apply


def reference_agent(rules: Rules, simulations: int, value: str = "area",
                    considered: int = 16) -> Agent:
    """A search agent with a uniform prior and a fixed value (`reference_apply`).

    Its name is ``ref-{value}:{simulations}``. It searches with Gumbel MuZero (sequential
    halving over `considered` sampled root actions) and plays the search's action.
    """
    if simulations < 1:
        raise ValueError(f"reference simulations must be >= 1, got {simulations}")
    history = min(2, rules.history)
    settings = SearchSettings(algorithm="gumbel", num_simulations=simulations,
                              max_num_considered_actions=considered)
    apply = reference_apply(rules.komi, history, value)
    return Agent(name=f"ref-{value}:{simulations}", apply=apply,
                 history=history, settings=settings, params=jnp.zeros(()))


# ------------------------------------------------------------------------------ matches


class PairResult(NamedTuple):
    """A's results against B."""

    a: str
    b: str
    wins: int
    losses: int
    draws: int

    @property
    def games(self) -> int:
        return self.wins + self.losses + self.draws

    @property
    def points(self) -> float:
        return self.wins + 0.5 * self.draws

    @property
    def score(self) -> float:
        return self.points / max(self.games, 1)

    def as_dict(self) -> dict:
        lo, hi = wilson_interval(self.score, self.games)
        return {**self._asdict(), "games": self.games, "score": self.score, "ci_low": lo,
                "ci_high": hi}


def _act(rules: Rules, agent_static, params, states, key):
    apply, history, settings = agent_static
    if apply is None:
        legal = jax.vmap(rules.legal_mask)(states)
        # Pass only when no point is legal (as `evaluate`'s random player does).
        points = legal.at[:, -1].set(~jnp.any(legal[:, :-1], axis=-1))
        return jax.random.categorical(key, jnp.where(points, 0.0, -jnp.inf)).astype(jnp.int32)
    result = run_search(rules, apply, history, settings, params, states, key)
    if settings.algorithm == "gumbel":
        return result.action
    return jnp.argmax(result.policy, axis=-1).astype(jnp.int32)


@functools.partial(jax.jit, static_argnums=(0, 1))
def _moves(rules: Rules, agent_static, params, states, idx, key):
    """One agent's moves in the games `idx` (int32[H]) of the batch: int32[H]."""
    return _act(rules, agent_static, params, jax.tree.map(lambda x: x[idx], states), key)


@functools.partial(jax.jit, static_argnums=0)
def _advance(rules: Rules, states, idx_a, act_a, idx_b, act_b):
    """Plays both agents' moves; returns (states, every game over)."""
    actions = jnp.zeros(states.to_play.shape, jnp.int32).at[idx_a].set(act_a).at[idx_b].set(act_b)
    new = jax.vmap(rules.step)(states, actions)
    return new, jnp.all(jax.vmap(rules.is_over)(new))


@functools.partial(jax.jit, static_argnums=(0, 1))
def _start(rules: Rules, num_games: int):
    return jax.vmap(lambda _: rules.init())(jnp.arange(num_games))


@functools.partial(jax.jit, static_argnums=0)
def _outcomes(rules: Rules, states, a_black):
    black = jnp.sign(jax.vmap(rules.score)(states)).astype(jnp.int32)
    return jnp.where(a_black, black, -black)


def play_pair(rules: Rules, a: Agent, b: Agent, games: int, key) -> PairResult:
    """`games` games of A against B, colours alternating, all games in one batch.

    A is Black in even games. Every unfinished game makes one move per step, so at step t it is
    Black's turn in all of them when t is even: A moves in games g with g % 2 == t % 2 and each
    agent searches only the half of the batch where it is to move. Each agent's move function
    is compiled once per (rules, its apply/history/settings, games) and reused against every
    opponent (compiling a search costs far more than a small match); parameters are traced, so
    checkpoints of one architecture share it. Stops when every game is over.

    Raises:
      ValueError: `games` odd or < 2, or an agent's history above `rules.history`.
    """
    if games < 2 or games % 2:
        raise ValueError(f"games must be even and >= 2, got {games}")
    for agent in (a, b):
        if not agent.is_random and agent.history > rules.history:
            raise ValueError(f"{agent.name}: history {agent.history} > rules.history "
                             f"{rules.history}")
    static = lambda ag: (ag.apply, ag.history, ag.settings) if not ag.is_random else (None,) * 3
    sa, sb = static(a), static(b)
    even = jnp.arange(0, games, 2, dtype=jnp.int32)
    odd = even + 1
    states = _start(rules, games)
    for t in range(rules.move_cap):
        k_a, k_b = jax.random.split(jax.random.fold_in(key, t))
        idx_a, idx_b = (even, odd) if t % 2 == 0 else (odd, even)
        act_a = _moves(rules, sa, a.params, states, idx_a, k_a)
        act_b = _moves(rules, sb, b.params, states, idx_b, k_b)
        states, over = _advance(rules, states, idx_a, act_a, idx_b, act_b)
        if bool(over):
            break
    out = np.asarray(_outcomes(rules, states, jnp.arange(games) % 2 == 0))
    return PairResult(a.name, b.name, int((out > 0).sum()), int((out < 0).sum()),
                      int((out == 0).sum()))


# ------------------------------------------------------------------------------ ratings


def rate_references(results: Sequence[PairResult], anchor: str = "random",
                    prior_sd: float = 1000.0) -> dict[str, tuple[float, float]]:
    """{name: (Elo, stderr)} of the reference players from their matches (`fit_elo`)."""
    fit = fit_elo([(r.a, r.b, r.points, r.games) for r in results], anchor=anchor,
                  prior_sd=prior_sd)
    return fit.as_dict()


class AgentElo(NamedTuple):
    """An agent's Elo against fixed references.

    Attributes:
      elo: maximum a-posteriori Elo (the weak prior only matters for clean sweeps).
      stderr: standard error from the observed information.
      games: games played.
      in_range: False when the agent won every game against its strongest opponent or lost
        every game against its weakest: then `elo` is only a bound (pulled in by the prior).
    """

    elo: float
    stderr: float
    games: int
    in_range: bool


def elo_vs_references(
    results: Sequence[tuple[float, float, int]],
    prior_sd: float = 1000.0,
    prior_mean: float | None = None,
    iterations: int = 100,
) -> AgentElo:
    """Bradley-Terry rating of one agent against opponents of fixed ratings.

    Maximises sum_j [s_j log p_j + (n_j - s_j) log(1 - p_j)] - (r - m)^2 / (2 prior_sd^2), with
    p_j = 1 / (1 + 10^((R_j - r) / 400)): the likelihood of `fit_elo` with every other rating
    fixed, and the same weak Gaussian prior, centred on the mean opponent rating `m`.

    Args:
      results: (opponent's fixed Elo R_j, points scored s_j (wins + draws / 2), games n_j).
      prior_sd: prior standard deviation in Elo.
      prior_mean: prior centre (default: the games-weighted mean opponent Elo).
      iterations: Newton steps at most.

    Returns:
      AgentElo.
    """
    if not results:
        raise ValueError("no results to rate")
    ref = np.array([r[0] for r in results], float) / ELO_PER_NAT
    pts = np.array([r[1] for r in results], float)
    n = np.array([r[2] for r in results], float)
    if np.any(n <= 0) or np.any(pts < 0) or np.any(pts > n):
        raise ValueError(f"bad (elo, points, games) records: {list(results)}")
    m = (np.average(ref, weights=n) if prior_mean is None else prior_mean / ELO_PER_NAT)
    lam = (ELO_PER_NAT / prior_sd) ** 2
    theta = m
    for _ in range(iterations):
        p = 1.0 / (1.0 + np.exp(ref - theta))
        g = np.sum(pts - n * p) - lam * (theta - m)
        h = -np.sum(n * p * (1 - p)) - lam
        step = -g / h
        theta += float(np.clip(step, -2.0, 2.0))  # damped: at most ~870 Elo per step
        if abs(step) < 1e-10:
            break
    p = 1.0 / (1.0 + np.exp(ref - theta))
    info = np.sum(n * p * (1 - p)) + lam
    swept_top = pts[np.argmax(ref)] >= n[np.argmax(ref)]
    swept_bottom = pts[np.argmin(ref)] <= 0
    return AgentElo(elo=float(theta * ELO_PER_NAT), stderr=float(ELO_PER_NAT / math.sqrt(info)),
                    games=int(n.sum()), in_range=not (swept_top or swept_bottom))


def next_reference(ref_elo: dict[str, float], estimate: float, played: set[str],
                   score_vs_last: float | None, last: str | None) -> str | None:
    """The next reference to play in an adaptive gauntlet (None when none is left).

    After a lopsided result (score >= 0.8 or <= 0.2) the next stronger (weaker) reference
    unplayed; otherwise the unplayed reference closest in Elo to the current estimate -- the
    opponents that tell the most about the agent.
    """
    left = {k: v for k, v in ref_elo.items() if k not in played}
    if not left:
        return None
    if last is not None and score_vs_last is not None:
        if score_vs_last >= 0.8:
            up = {k: v for k, v in left.items() if v > ref_elo[last]}
            if up:
                return min(up, key=up.get)
        elif score_vs_last <= 0.2:
            down = {k: v for k, v in left.items() if v < ref_elo[last]}
            if down:
                return max(down, key=down.get)
    return min(left, key=lambda k: (abs(left[k] - estimate), k))
