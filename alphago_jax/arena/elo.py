"""Elo ratings from pairwise match results: a Bradley-Terry model fitted by maximum likelihood.

P(i beats j) = 1 / (1 + 10^((r_j - r_i) / 400)). A draw counts as half a win for each side. The
fit maximises the binomial log-likelihood of the points scored plus a weak Gaussian prior that
pulls ratings towards their mean (standard deviation `prior_sd` Elo): without it a player who
won or lost every game would have an infinite rating. The prior depends only on differences,
so which player is the anchor (rating fixed at 0) does not change any rating difference.
Standard errors come from the inverse Hessian (the observed information) at the optimum.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import NamedTuple

import numpy as np

ELO_PER_NAT = 400.0 / math.log(10.0)  # Elo points per unit of the logistic's natural scale


class EloFit(NamedTuple):
    """Fitted ratings.

    Attributes:
      players: names, in the order of the arrays.
      ratings: float[N] Elo, the anchor at 0.
      stderr: float[N] standard errors relative to the anchor (0 for the anchor itself).
      anchor: the anchor's name.
      games: int[N] games each player played.
    """

    players: list[str]
    ratings: np.ndarray
    stderr: np.ndarray
    anchor: str
    games: np.ndarray

    def as_dict(self) -> dict[str, tuple[float, float]]:
        return {p: (float(r), float(s)) for p, r, s in
                zip(self.players, self.ratings, self.stderr, strict=True)}


def tally(
    results: Iterable[tuple[str, str, float, float]], players: Sequence[str] | None = None
) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Points and game counts per pair from (a, b, points of a, games) records.

    Returns:
      (players, points float[N, N] points of row vs column, games float[N, N] symmetric).
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
) -> EloFit:
    """Maximum-likelihood Elo ratings of the players in `results`.

    Args:
      results: (player a, player b, points scored by a (wins + draws / 2), games) per match;
        several records for one pair add up.
      anchor: the player rated 0 (default: the first player).
      players: order of the output (default: order of first appearance).
      prior_sd: standard deviation in Elo of the prior on ratings (around their mean).
      iterations: Newton steps at most.

    Returns:
      EloFit.
    """
    names, points, games = tally(results, players)
    if not names:
        raise ValueError("no results to rate")
    anchor = names[0] if anchor is None else anchor
    if anchor not in names:
        raise ValueError(f"anchor {anchor!r} is not among the players {names}")
    a = names.index(anchor)
    n = len(names)
    free = [i for i in range(n) if i != a]
    lam = (ELO_PER_NAT / prior_sd) ** 2  # prior precision on the natural scale
    centre = np.eye(n) - 1.0 / n  # the prior acts on deviations from the mean rating

    def objective(theta):
        d = theta[:, None] - theta[None, :]
        # log sigmoid(d), stable for large |d|
        log_p = -np.logaddexp(0.0, -d)
        ll = 0.5 * np.sum(points * log_p + (games - points) * (-np.logaddexp(0.0, d)))
        dev = centre @ theta
        return ll - 0.5 * lam * dev @ dev

    def grad_hess(theta):
        d = theta[:, None] - theta[None, :]
        p = 1.0 / (1.0 + np.exp(-d))
        g = np.sum(points - games * p, axis=1) - lam * (centre @ theta)
        w = games * p * (1.0 - p)
        h = w - np.diag(w.sum(axis=1)) - lam * centre
        return g, h

    theta = np.zeros(n)
    value = objective(theta)
    for _ in range(iterations):
        g, h = grad_hess(theta)
        gf, hf = g[free], h[np.ix_(free, free)]
        if gf.size == 0 or np.max(np.abs(gf)) < 1e-10:
            break
        step = np.linalg.solve(hf, -gf)
        t = 1.0
        while True:  # halve the Newton step until the objective does not decrease
            cand = theta.copy()
            cand[free] += t * step
            new = objective(cand)
            if new >= value - 1e-12 or t < 1e-6:
                break
            t *= 0.5
        theta, value = cand, new
    _, h = grad_hess(theta)
    cov = np.linalg.inv(-h[np.ix_(free, free)]) if free else np.zeros((0, 0))
    stderr = np.zeros(n)
    stderr[free] = np.sqrt(np.maximum(np.diag(cov), 0.0))
    return EloFit(names, (theta - theta[a]) * ELO_PER_NAT, stderr * ELO_PER_NAT, anchor,
                  games.sum(axis=1).astype(int))


def expected_score(rating_a: float, rating_b: float) -> float:
    """Expected points of A against B under the Elo model."""
    return 1.0 / (1.0 + 10.0 ** ((rating_b - rating_a) / 400.0))
