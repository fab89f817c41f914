"""Elo ratings from pairwise match results: a Bradley-Terry model fitted by maximum likelihood.

P(i beats j) = 1 / (1 + 10^((r_j - r_i) / 400)). A draw counts as half a win for each side. The
fit maximises the binomial log-likelihood of the points scored plus a weak Gaussian prior
(standard deviation `prior_sd` Elo): without it a player who won or lost every game would have
an infinite rating. Standard errors come from the inverse Hessian (the observed information) at
the optimum. Two uses, one likelihood:

* every rating free (a tournament): the prior pulls ratings towards their mean, and depends only
  on differences, so which player is the anchor (rating fixed at 0) changes no difference;
* some players held at `fixed` ratings (agents rated against references of known Elo): the
  free ratings sit on the fixed players' scale, and the prior pulls each towards `prior_mean`
  (default: the games-weighted mean rating of its own fixed opponents), so rating one agent
  never moves another's unless they played each other.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import NamedTuple

import numpy as np

ELO_PER_NAT = 400.0 / math.log(10.0)  # Elo points per unit of the logistic's natural scale


class EloFit(NamedTuple):
    """Fitted ratings.

    Attributes:
      players: names, in the order of the arrays.
      ratings: float[N] Elo: the anchor at 0, or on the fixed players' scale.
      stderr: float[N] standard errors (0 for the anchor and the fixed players).
      anchor: the anchor's name; None when players were held at fixed ratings.
      games: int[N] games each player played.
      in_range: bool[N] False for a player who won every game against its strongest opponent or
        lost every game against its weakest: its rating is then only a bound (pulled in by the
        prior).
    """

    players: list[str]
    ratings: np.ndarray
    stderr: np.ndarray
    anchor: str | None
    games: np.ndarray
    in_range: np.ndarray

    def as_dict(self) -> dict[str, tuple[float, float]]:
        return {p: (float(r), float(s)) for p, r, s in
                zip(self.players, self.ratings, self.stderr, strict=True)}


def pair_table(
    results: Iterable[tuple[str, str, float, float]], players: Sequence[str] | None = None
) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Points and game counts per pair from (a, b, points of a, games) records.

    Returns:
      (players, points float[N, N] points of row vs column, games float[N, N] symmetric).

    Raises:
      ValueError: a player against itself, or points outside 0..games.
    """
    results = list(results)
    names = list(players) if players is not None else []
    for a, b, _, _ in results:
        for p in (a, b):
            if p not in names:
                names.append(p)
    idx = {p: i for i, p in enumerate(names)}
    n = len(names)
    points, games = np.zeros((n, n)), np.zeros((n, n))
    for a, b, pts, g in results:
        i, j = idx[a], idx[b]
        if i == j:
            raise ValueError(f"a player cannot play itself: {a!r}")
        if not 0 <= pts <= g:
            raise ValueError(f"{a} vs {b}: points {pts} outside 0..{g}")
        points[i, j] += pts
        points[j, i] += g - pts
        games[i, j] += g
        games[j, i] += g
    return names, points, games


def fit_elo(
    results: Iterable[tuple[str, str, float, float]],
    anchor: str | None = None,
    players: Sequence[str] | None = None,
    prior_sd: float = 1000.0,
    iterations: int = 100,
    fixed: Mapping[str, float] | None = None,
    prior_mean: float | None = None,
) -> EloFit:
    """Maximum a-posteriori Elo ratings of the players in `results`.

    Args:
      results: (player a, player b, points scored by a (wins + draws / 2), games) per match;
        several records for one pair add up.
      anchor: the player rated 0 (default: the first player); not with `fixed`.
      players: order of the output (default: order of first appearance).
      prior_sd: standard deviation in Elo of the prior on ratings.
      iterations: Newton steps at most.
      fixed: {player: Elo} held fixed; the others are rated on their scale.
      prior_mean: with `fixed`, the prior's centre in Elo for every free player (default, per
        free player: the mean rating of its fixed opponents weighted by the games against each;
        for one who met none, of all fixed players weighted by their games).

    Returns:
      EloFit.

    Raises:
      ValueError: no results, an unknown anchor or fixed player, both an anchor and fixed
        players, or bad records (see `pair_table`).
    """
    names, points, games = pair_table(results, players)
    if not names:
        raise ValueError("no results to rate")
    lam = (ELO_PER_NAT / prior_sd) ** 2  # prior precision on the natural scale
    if fixed:
        if anchor is not None:
            raise ValueError("give an anchor or fixed ratings, not both")
        theta, held, precision, centre = _fixed_prior(names, games, fixed, lam, prior_mean)
    else:
        anchor = names[0] if anchor is None else anchor
        if anchor not in names:
            raise ValueError(f"anchor {anchor!r} is not among the players {names}")
        theta, held = np.zeros(len(names)), np.arange(len(names)) == names.index(anchor)
        # The prior acts on deviations from the mean rating (a projection: P^T P = P).
        precision, centre = lam * (np.eye(len(names)) - 1.0 / len(names)), np.zeros(len(names))
    free = np.flatnonzero(~held)
    theta = _newton(theta, free, points, games, precision, centre, iterations)
    h = _hessian(theta, games, precision)
    cov = np.linalg.inv(-h[np.ix_(free, free)]) if free.size else np.zeros((0, 0))
    stderr = np.zeros(len(names))
    stderr[free] = np.sqrt(np.maximum(np.diag(cov), 0.0))
    ratings = theta if fixed else theta - theta[held][0]
    return EloFit(names, ratings * ELO_PER_NAT, stderr * ELO_PER_NAT, None if fixed else anchor,
                  games.sum(axis=1).astype(int), _in_range(ratings, points, games))


def _fixed_prior(names, games, fixed, lam, prior_mean):
    """(start theta float[N] with the fixed ratings in place, held bool[N], prior precision
    float[N, N], prior centre float[N]), all on the natural scale, for a fit with fixed players.

    The free ratings get independent priors: the fixed ones already pin the scale."""
    unknown = sorted(set(fixed) - set(names))
    if unknown:
        raise ValueError(f"fixed players {unknown} are not among the players {names}")
    held = np.array([p in fixed for p in names])
    theta = np.zeros(len(names))
    theta[held] = [fixed[p] / ELO_PER_NAT for p in names if p in fixed]
    centre = np.zeros(len(names))
    centre[~held] = _prior_centres(theta[held], games[np.ix_(~held, held)], prior_mean)
    theta[~held] = centre[~held]  # the prior's centre: a sensible first guess
    return theta, held, lam * np.diag((~held).astype(float)), centre


def _prior_centres(fixed_theta, games_vs_fixed, prior_mean) -> np.ndarray:
    """Per free player (rows of `games_vs_fixed`, float[F, H]): its prior centre (natural
    scale), the games-weighted mean of its fixed opponents' ratings `fixed_theta` (float[H])."""
    if prior_mean is not None:
        return np.full(len(games_vs_fixed), prior_mean / ELO_PER_NAT)
    total = games_vs_fixed.sum(axis=0)
    fallback = (np.average(fixed_theta, weights=total) if total.sum() > 0
                else float(np.mean(fixed_theta)))
    return np.array([np.average(fixed_theta, weights=w) if w.sum() > 0 else fallback
                     for w in games_vs_fixed])


def _objective(theta, points, games, precision, centre) -> float:
    """Log-likelihood of the points plus the Gaussian log-prior (up to constants)."""
    d = theta[:, None] - theta[None, :]
    # log sigmoid(+-d), stable for large |d|; each pair appears twice, hence the half.
    ll = 0.5 * np.sum(points * -np.logaddexp(0.0, -d) + (games - points) * -np.logaddexp(0.0, d))
    dev = theta - centre
    return ll - 0.5 * dev @ precision @ dev


def _gradient(theta, points, games, precision, centre) -> np.ndarray:
    p = 1.0 / (1.0 + np.exp(theta[None, :] - theta[:, None]))
    return np.sum(points - games * p, axis=1) - precision @ (theta - centre)


def _hessian(theta, games, precision) -> np.ndarray:
    p = 1.0 / (1.0 + np.exp(theta[None, :] - theta[:, None]))
    w = games * p * (1.0 - p)
    return w - np.diag(w.sum(axis=1)) - precision


def _newton(theta, free, points, games, precision, centre, iterations) -> np.ndarray:
    """Maximises `_objective` over `theta[free]` by Newton steps, each halved until the objective
    does not decrease (it is concave, so this converges from anywhere)."""
    value = _objective(theta, points, games, precision, centre)
    for _ in range(iterations):
        g = _gradient(theta, points, games, precision, centre)[free]
        if g.size == 0 or np.max(np.abs(g)) < 1e-10:
            break
        step = np.linalg.solve(_hessian(theta, games, precision)[np.ix_(free, free)], -g)
        t = 1.0
        while True:
            cand = theta.copy()
            cand[free] += t * step
            new = _objective(cand, points, games, precision, centre)
            if new >= value - 1e-12 or t < 1e-6:
                break
            t *= 0.5
        theta, value = cand, new
    return theta


def _in_range(ratings, points, games) -> np.ndarray:
    """Per player: not a clean sweep of its strongest opponent nor a shutout by its weakest."""
    ok = np.ones(len(ratings), bool)
    for i in range(len(ratings)):
        opp = np.flatnonzero(games[i] > 0)
        if opp.size == 0:
            continue
        top, bottom = opp[np.argmax(ratings[opp])], opp[np.argmin(ratings[opp])]
        ok[i] = not (points[i, top] >= games[i, top] or points[i, bottom] <= 0)
    return ok


def expected_score(rating_a: float, rating_b: float) -> float:
    """Expected points of A against B under the Elo model."""
    return 1.0 / (1.0 + 10.0 ** ((rating_b - rating_a) / 400.0))
