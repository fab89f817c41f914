"""Elo on a fixed scale: agents rated by their results against a fixed set of reference players.

For scaling laws the Elo of every agent of a grid must sit on one scale that does not move as
agents are added. So, per board size:

1. a *reference set* that does not depend on the grid -- uniform random (anchored at 0 Elo) and
   `reference_agent`s, searches with a uniform prior and a fixed hand-written value
   (`ReferenceNet`), at several simulation counts -- is rated once, by a round robin and
   `alphago_jax.arena.fit_elo`;
2. each agent plays some of the references, and its Elo is the Bradley-Terry maximum-likelihood
   rating with the references' ratings held fixed (`elo_vs_references`, `fit_elo` with `fixed`),
   so rating one agent never changes another's.

Agents are arena players (`arena.RandomPlayer`, `arena.SearchPlayer`) and matches are arena
matches (`play_pair`, through `arena.play_match`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import NamedTuple

import jax
import jax.numpy as jnp

from alphago_jax.arena import MatchResult, RandomPlayer, SearchPlayer, Tally, fit_elo, play_match
from alphago_jax.config import TrainConfig
from alphago_jax.nets.heads import NetOutput
from alphago_jax.rules.go import Rules

REFERENCE_VALUES = ("area", "zero")

RANDOM = RandomPlayer()
"""The reference anchored at 0 Elo."""


# ------------------------------------------------------------------------------ references


@dataclasses.dataclass(frozen=True)
class ReferenceNet:
    """A fixed evaluation function: uniform policy prior and a hand-written value.

    A frozen (hashable) value, so equal references share one compiled search: it is a jit
    static argument like a `nets.Network`.

    Attributes:
      komi: the rules' komi (the value is for the side to move, so it matters who is Black).
      history: positions in the features (the planes layout depends on it).
      value: 'area' -- tanh of the Tromp-Taylor margin estimated from the current position
        (stones, plus empty points touching only one colour's stones, minus komi), divided by
        `scale` times the board's points; 'zero' -- 0 everywhere (search sees only game ends).
      scale: fraction of the board's points one unit of tanh argument is worth.
    """

    komi: float
    history: int
    value: str = "area"
    scale: float = 0.2

    def __post_init__(self):
        if self.value not in REFERENCE_VALUES:
            raise ValueError(f"reference value must be one of {REFERENCE_VALUES}, "
                             f"got {self.value!r}")

    def __call__(self, params, x: jax.Array) -> NetOutput:
        """Evaluates features `x[B, S, S, 2 * history + 3]`; `params` are ignored."""
        del params
        k = self.history
        b, s = x.shape[0], x.shape[1]
        logits = jnp.zeros((b, s * s + 1), jnp.float32)
        if self.value == "zero":
            v = jnp.zeros((b,), jnp.float32)
        else:
            own, opp = x[..., 0], x[..., k]
            black = x[:, 0, 0, 2 * k]  # 1 when Black is to move
            empty = x[..., 2 * k + 2] * (1.0 - own - opp)
            t_own, t_opp = _touches(own), _touches(opp)
            area = own + empty * t_own * (1 - t_opp) - opp - empty * t_opp * (1 - t_own)
            margin = area.sum(axis=(1, 2)) + jnp.where(black > 0.5, -self.komi, self.komi)
            points = x[..., 2 * k + 2].sum(axis=(1, 2))
            v = jnp.tanh(margin / (self.scale * points))
        # (win, draw, loss) logits whose P(win) - P(loss) is v: a = atanh(v), draw impossible.
        a = jnp.arctanh(jnp.clip(v, -0.999, 0.999))
        value_logits = jnp.stack([a, jnp.full_like(a, -30.0), -a], axis=-1)
        return NetOutput(policy_logits=logits, value_logits=value_logits, ownership=None)


def _touches(stones: jax.Array) -> jax.Array:
    """float[B, S, S]: 1 on points next to a stone of `stones` (float[B, S, S])."""
    pad = jnp.pad(stones, ((0, 0), (1, 1), (1, 1)))
    near = pad[:, :-2, 1:-1] + pad[:, 2:, 1:-1] + pad[:, 1:-1, :-2] + pad[:, 1:-1, 2:]
    return (near > 0).astype(jnp.float32)


def reference_agent(rules: Rules, simulations: int, value: str = "area",
                    considered: int = 16) -> SearchPlayer:
    """A search agent with a uniform prior and a fixed value (`ReferenceNet`).

    Its name is ``ref-{value}:{simulations}``. It searches with Gumbel MuZero (sequential
    halving over `considered` sampled root actions, the config's default Gumbel settings) and
    plays the search's action.
    """
    if simulations < 1:
        raise ValueError(f"reference simulations must be >= 1, got {simulations}")
    history = min(2, rules.history)
    settings = TrainConfig(search="gumbel", max_num_considered_actions=considered
                           ).search_settings(simulations)
    return SearchPlayer(name=f"ref-{value}:{simulations}",
                        network=ReferenceNet(rules.komi, history, value), params=jnp.zeros(()),
                        settings=settings, history=history, selection="search")


# ------------------------------------------------------------------------------ matches


def play_pair(rules: Rules, a, b, games: int, key: jax.Array) -> MatchResult:
    """`games` games of A against B (arena players), colours alternating, all in one batch.

    A is Black in even games, so each plays each colour equally often. Each player searches
    only the games where it is to move, and its search compiles once per (rules, network,
    settings) and is reused against every opponent (`arena.play_match`); parameters are
    traced, so checkpoints of one architecture share it. Stops when every game is over.

    Raises:
      ValueError: `games` odd or < 2, or a player's history above `rules.history`.
    """
    if games < 2 or games % 2:
        raise ValueError(f"games must be even and >= 2, got {games}")
    return play_match(rules, a, b, games, key)


# ------------------------------------------------------------------------------ ratings


def rate_references(results: Sequence[tuple[str, str, Tally]], anchor: str = "random",
                    prior_sd: float = 1000.0) -> dict[str, tuple[float, float]]:
    """{name: (Elo, stderr)} of the reference players from their matches (`fit_elo`).

    Args:
      results: (player a, player b, a's tally) per match.
      anchor: the player rated 0.
      prior_sd: see `fit_elo`.
    """
    fit = fit_elo([(a, b, t.points, t.games) for a, b, t in results], anchor=anchor,
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
    """Bradley-Terry rating of one agent against opponents of fixed ratings: `fit_elo` with
    every opponent held fixed, and the same weak Gaussian prior, centred on `prior_mean`.

    Args:
      results: (opponent's fixed Elo R_j, points scored s_j (wins + draws / 2), games n_j).
      prior_sd: prior standard deviation in Elo.
      prior_mean: prior centre (default: the games-weighted mean opponent Elo).
      iterations: Newton steps at most.

    Returns:
      AgentElo.

    Raises:
      ValueError: no results, or a record with no games or points outside 0..games.
    """
    if not results:
        raise ValueError("no results to rate")
    if any(n <= 0 or not 0 <= s <= n for _, s, n in results):
        raise ValueError(f"bad (elo, points, games) records: {list(results)}")
    records = [("agent", f"ref{j}", s, n) for j, (_, s, n) in enumerate(results)]
    fixed = {f"ref{j}": r for j, (r, _, _) in enumerate(results)}
    fit = fit_elo(records, prior_sd=prior_sd, iterations=iterations, fixed=fixed,
                  prior_mean=prior_mean)
    return AgentElo(elo=float(fit.ratings[0]), stderr=float(fit.stderr[0]),
                    games=int(fit.games[0]), in_range=bool(fit.in_range[0]))


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
