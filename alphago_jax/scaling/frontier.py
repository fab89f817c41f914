"""The compute frontier: Elo against log10(training compute), an incline meeting a plateau.

After Jones, "Scaling Scaling Laws with Board Games" (2021): on each board size, the best agent
reachable with compute C gains Elo linearly in log10 C until it meets a plateau (near perfect
play for that board):

    elo(C) = plateau + slope * min(0, log10 C - log10 C_plateau)

`fit_frontier` fits that curve by robust least squares to the frontier points (the best agents
at each compute, `frontier_points`). The kink location makes the model non-linear; for a fixed
kink it is linear in (plateau, slope), so the fit profiles the kink over a fine grid, solving a
Huber-weighted (IRLS) linear fit at each, then (when scipy is installed) polishes all three
parameters with `scipy.optimize.least_squares(loss='soft_l1')`. A plateau counts as reached only
when at least two points lie beyond the kink and the bend improves the robust loss clearly over
a straight line (an F-like test); otherwise the fit is the straight incline, and `plateau` and
`c_plateau` are lower bounds (the fitted Elo at, and the largest, measured compute).

The train/test trade-off (Jones' iso-Elo lines): `iso_elo_train_compute` reads off the training
compute at which a frontier first reaches an Elo; `tradeoff` does so for agents searching with
several test-time simulation counts and fits log10(train compute) against log10(test compute)
per target Elo.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

HUBER_K = 1.345  # Huber threshold in robust standard deviations (95% efficiency for normal noise)
BEND_F_THRESHOLD = 4.0  # F(1, n-3) at ~95% for moderate n: how much the bend must explain


class FrontierFit(NamedTuple):
    """A fitted incline-plateau frontier (Elo vs log10 compute).

    Attributes:
      slope: Elo per factor of 10 in compute on the incline.
      plateau: Elo of the plateau; a lower bound when `plateau_reached` is False.
      log10_c_plateau: log10 of the compute where the incline meets the plateau; when the
        plateau is not reached, log10 of the largest compute measured (a lower bound).
      plateau_reached: whether the data show the bend.
      n_points: points fitted.
      scale: robust scale of the residuals (Elo), MAD-based.
      rmse: root mean square residual (Elo).
      method: 'irls-huber' or 'scipy-soft_l1'.
    """

    slope: float
    plateau: float
    log10_c_plateau: float
    plateau_reached: bool
    n_points: int
    scale: float
    rmse: float
    method: str

    @property
    def c_plateau(self) -> float:
        """Compute (FLOPs) where the plateau starts (a lower bound if not reached)."""
        return 10.0 ** self.log10_c_plateau

    def predict(self, log10_c) -> np.ndarray:
        """Frontier Elo at log10 compute (array-like)."""
        return incline_plateau(np.asarray(log10_c, float), self.slope, self.plateau,
                               self.log10_c_plateau)

    def compute_to_reach(self, elo: float) -> float | None:
        """Compute (FLOPs) at which the frontier reaches `elo`; None above the plateau."""
        return compute_to_reach(self, elo)

    def as_dict(self) -> dict:
        d = self._asdict()
        d["c_plateau"] = self.c_plateau
        return d


def incline_plateau(log10_c: np.ndarray, slope: float, plateau: float, log10_c_plateau: float
                    ) -> np.ndarray:
    """The frontier model: `plateau + slope * min(0, log10_c - log10_c_plateau)`."""
    return plateau + slope * np.minimum(0.0, log10_c - log10_c_plateau)


def frontier_points(compute: Sequence[float], elo: Sequence[float], tolerance: float = 0.0
                    ) -> np.ndarray:
    """Indices of the compute frontier: agents no cheaper agent beats by more than `tolerance`.

    Args:
      compute: [N] training compute of each agent.
      elo: [N] Elo of each agent.
      tolerance: Elo; 0 keeps the strict running maximum (each point better than every cheaper
        one). A positive value also keeps points within `tolerance` of the best cheaper agent,
        so measurement noise past a plateau does not leave the plateau with a single point.

    Returns:
      int indices into the inputs, in order of increasing compute.
    """
    c, e = np.asarray(compute, float), np.asarray(elo, float)
    if c.shape != e.shape or c.ndim != 1:
        raise ValueError(f"compute and elo must be 1-D of one length, got {c.shape}, {e.shape}")
    order = np.lexsort((-e, c))  # by compute, the best first among equal compute
    keep, best = [], -np.inf
    for i in order:
        if e[i] > best - tolerance:
            keep.append(int(i))
        best = max(best, e[i])
    return np.asarray(keep, int)


def _huber_weights(r: np.ndarray, delta: float) -> np.ndarray:
    a = np.abs(r)
    return np.where(a <= delta, 1.0, delta / np.maximum(a, 1e-300))


def _huber_loss(r: np.ndarray, delta: float) -> float:
    a = np.abs(r)
    return float(np.sum(np.where(a <= delta, 0.5 * r * r, delta * (a - 0.5 * delta))))


def _robust_line(u: np.ndarray, y: np.ndarray, delta: float | None, iters: int = 50):
    """y ~ a + b * u by IRLS with Huber weights (`delta=None`: ordinary least squares).

    Returns (a, b, residuals)."""
    design = np.stack([np.ones_like(u), u], axis=1)
    w = np.ones_like(y)
    coef = np.zeros(2)
    for _ in range(iters if delta is not None else 1):
        sw = np.sqrt(w)
        coef, *_ = np.linalg.lstsq(design * sw[:, None], y * sw, rcond=None)
        r = y - design @ coef
        if delta is None:
            break
        new_w = _huber_weights(r, delta)
        if np.allclose(new_w, w, atol=1e-9):
            break
        w = new_w
    return float(coef[0]), float(coef[1]), y - design @ coef


def _profile(x, y, kinks, delta):
    """Best (loss, kink, plateau, slope) over candidate kinks."""
    best = None
    for k in kinks:
        a, b, r = _robust_line(np.minimum(0.0, x - k), y, delta)
        loss = _huber_loss(r, delta) if delta is not None else float(r @ r)
        if best is None or loss < best[0] - 1e-12:
            best = (loss, float(k), a, b)
    return best


def _mad_scale(r: np.ndarray, floor: float) -> float:
    return max(1.4826 * float(np.median(np.abs(r - np.median(r)))), floor)


def _have_scipy() -> bool:
    try:
        import scipy.optimize  # noqa: F401
    except ImportError:
        return False
    return True


def _scipy_polish(x, y, start, scale, lo, hi):
    """(plateau, slope, kink) refined by scipy soft-L1 robust least squares, kink in [lo, hi]."""
    from scipy.optimize import least_squares

    plateau, slope, kink = start
    res = least_squares(
        lambda p: (incline_plateau(x, p[1], p[0], p[2]) - y) / scale,
        x0=[plateau, slope, min(max(kink, lo), hi)],
        bounds=([-np.inf, -np.inf, lo], [np.inf, np.inf, hi]),
        loss="soft_l1", f_scale=HUBER_K,
    )
    return (float(res.x[0]), float(res.x[1]), float(res.x[2])) if res.success else None


def fit_frontier(
    compute: Sequence[float],
    elo: Sequence[float],
    frontier_only: bool = True,
    tolerance: float = 0.0,
    use_scipy: bool | None = None,
    grid: int = 400,
) -> FrontierFit:
    """Fits `incline_plateau` to Elo vs log10(compute) by robust least squares.

    Args:
      compute: [N] training compute (FLOPs, > 0) of each agent.
      elo: [N] Elo of each agent.
      frontier_only: fit only the frontier (`frontier_points`); False fits every point.
      tolerance: passed to `frontier_points`.
      use_scipy: polish with scipy (None: if installed).
      grid: candidate kink positions in the profile search.

    Returns:
      FrontierFit.

    Raises:
      ValueError: fewer than 3 (frontier) points, fewer than 2 distinct compute values, or
        non-positive compute.
    """
    c, e = np.asarray(compute, float), np.asarray(elo, float)
    if c.shape != e.shape or c.ndim != 1:
        raise ValueError(f"compute and elo must be 1-D of one length, got {c.shape}, {e.shape}")
    if np.any(~np.isfinite(c)) or np.any(c <= 0) or np.any(~np.isfinite(e)):
        raise ValueError("compute must be finite and > 0, elo finite")
    if frontier_only:
        idx = frontier_points(c, e, tolerance)
        c, e = c[idx], e[idx]
    x = np.log10(c)
    xs = np.unique(x)
    if len(x) < 3 or len(xs) < 2:
        raise ValueError(f"need >= 3 points at >= 2 compute values to fit a frontier, got "
                         f"{len(x)} points at {len(xs)} values")
    x_max = float(xs[-1])
    # The kink must leave >= 2 distinct compute values on the incline, else the slope is free.
    kinks = np.unique(np.concatenate([np.linspace(xs[1], x_max, grid), xs[1:]]))
    floor = 1e-6 * max(float(np.ptp(e)), 1.0)
    # Pass 1: least squares profile, for a robust scale of the residuals.
    _, k0, a0, b0 = _profile(x, e, kinks, None)
    scale = _mad_scale(e - incline_plateau(x, b0, a0, k0), floor)
    delta = HUBER_K * scale
    # Pass 2: Huber profile with that fixed scale; the straight line is the kink at x_max.
    loss, kink, plateau, slope = _profile(x, e, kinks, delta)
    line_a, line_b, line_r = _robust_line(x - x_max, e, delta)
    line_loss = _huber_loss(line_r, delta)
    beyond = int(np.sum(x > kink + 1e-12))
    dof = max(len(x) - 3, 1)
    bend_f = (line_loss - loss) / max(loss, 1e-12 * delta * delta) * dof
    reached = beyond >= 2 and bend_f > BEND_F_THRESHOLD and slope > 0
    method = "irls-huber"
    if not reached:
        plateau, slope, kink = line_a, line_b, x_max
    elif use_scipy or (use_scipy is None and _have_scipy()):
        polished = _scipy_polish(x, e, (plateau, slope, kink), scale, float(xs[1]), x_max)
        if polished is not None:
            cand = incline_plateau(x, polished[1], polished[0], polished[2])
            if _huber_loss(e - cand, delta) <= loss + 1e-9 * (1 + loss):
                plateau, slope, kink = polished
                method = "scipy-soft_l1"
    resid = e - incline_plateau(x, slope, plateau, kink)
    return FrontierFit(
        slope=float(slope), plateau=float(plateau), log10_c_plateau=float(kink),
        plateau_reached=bool(reached), n_points=len(x), scale=float(scale),
        rmse=float(np.sqrt(np.mean(resid**2))), method=method,
    )


def compute_to_reach(fit: FrontierFit, elo: float) -> float | None:
    """Compute (FLOPs) at which the fitted frontier reaches `elo`.

    Returns None when `elo` is above the plateau (never reached) or the slope is not positive.
    Past the data (an unreached plateau) this extrapolates the incline.
    """
    if fit.slope <= 0:
        return None
    if elo > fit.plateau + 1e-9:
        if fit.plateau_reached:
            return None
        return 10.0 ** (fit.log10_c_plateau + (elo - fit.plateau) / fit.slope)
    return 10.0 ** (fit.log10_c_plateau - (fit.plateau - elo) / fit.slope)


class PlateauTrend(NamedTuple):
    """log10(compute to plateau) against board size, fitted by a line.

    Attributes:
      per_size: log10 compute added per +1 board side.
      factor_per_size: 10 ** per_size, the compute multiplier per +1 board side.
      intercept: log10 compute at size 0 (extrapolated).
    """

    per_size: float
    factor_per_size: float
    intercept: float


def plateau_trend(sizes: Sequence[int], log10_c_plateau: Sequence[float]) -> PlateauTrend:
    """Least-squares line through (board size, log10 compute to the plateau).

    Jones found the compute to reach the plateau grows exponentially with the board size (a
    constant factor per size step); this reads off that factor. Needs >= 2 distinct sizes.
    """
    s, y = np.asarray(sizes, float), np.asarray(log10_c_plateau, float)
    if s.shape != y.shape or len(np.unique(s)) < 2:
        raise ValueError("need log10 compute for >= 2 distinct board sizes")
    b, a = np.polyfit(s, y, 1)
    return PlateauTrend(per_size=float(b), factor_per_size=float(10.0**b), intercept=float(a))


def iso_elo_train_compute(compute: Sequence[float], elo: Sequence[float], target: float
                          ) -> float | None:
    """Training compute at which the frontier first reaches `target` Elo.

    The frontier is the running maximum of Elo over agents sorted by compute, interpolated
    linearly in log10 compute between frontier points.

    Returns:
      FLOPs, or None when no agent reaches `target` or the cheapest already exceeds it (no
      crossing inside the data).
    """
    idx = frontier_points(compute, elo)
    if len(idx) == 0:
        return None
    x = np.log10(np.asarray(compute, float)[idx])
    e = np.asarray(elo, float)[idx]
    if e[0] >= target or e[-1] < target:
        return None
    j = int(np.argmax(e >= target))
    t = (target - e[j - 1]) / (e[j] - e[j - 1])
    return float(10.0 ** (x[j - 1] + t * (x[j] - x[j - 1])))


class TradeOff(NamedTuple):
    """Train-compute vs test-compute trade-off at fixed Elo.

    Attributes:
      rows: one dict per (target Elo, simulations level) where the frontier crosses the target:
        target, sims, log10_test_flops (per move), log10_train_flops.
      slopes: {target: d log10(train) / d log10(test)} for targets crossed at >= 2 levels.
      mean_slope: mean of `slopes` (None if empty): a 10x increase in test compute does the
        work of 10 ** -mean_slope x the training compute.
    """

    rows: list[dict]
    slopes: dict[float, float]
    mean_slope: float | None


def tradeoff(agents: Sequence[dict], targets: Sequence[float]) -> TradeOff:
    """Iso-Elo train/test compute trade-off.

    Args:
      agents: dicts with 'sims', 'train_flops', 'test_flops' (per move) and 'elo': the same
        checkpoints rated at several test-time simulation counts.
      targets: Elo levels for the iso-Elo lines.

    Returns:
      TradeOff. Each level's test compute at a crossing is interpolated (in log10) between the
      two frontier agents that bracket the target, like the training compute.
    """
    by_sims: dict[int, list[dict]] = {}
    for a in agents:
        by_sims.setdefault(int(a["sims"]), []).append(a)
    rows = []
    for target in targets:
        for sims in sorted(by_sims):
            group = by_sims[sims]
            c = [g["train_flops"] for g in group]
            e = [g["elo"] for g in group]
            train = iso_elo_train_compute(c, e, target)
            if train is None:
                continue
            idx = frontier_points(c, e)
            xs = np.log10(np.asarray(c, float)[idx])
            ts = np.log10(np.asarray([group[i]["test_flops"] for i in idx], float))
            test = float(np.interp(math.log10(train), xs, ts))
            rows.append({"target": float(target), "sims": sims, "log10_test_flops": test,
                         "log10_train_flops": math.log10(train)})
    slopes = {}
    for target in targets:
        pts = [(r["log10_test_flops"], r["log10_train_flops"]) for r in rows
               if r["target"] == float(target)]
        if len({p[0] for p in pts}) >= 2:
            slopes[float(target)] = float(np.polyfit([p[0] for p in pts], [p[1] for p in pts],
                                                     1)[0])
    mean = float(np.mean(list(slopes.values()))) if slopes else None
    return TradeOff(rows=rows, slopes=slopes, mean_slope=mean)
