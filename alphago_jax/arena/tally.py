"""Match scores: wins, losses and draws with the win rate and its 95% Wilson interval.

`Tally` is the one summary of a match, whoever plays it (the arena, the training loop's
evaluation, `alphago-jax evaluate`, the scaling ratings), and `Tally.line` the one summary line.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import NamedTuple


def wilson_interval(p: float, n: int, z: float = 1.96) -> tuple[float, float]:
    """The Wilson score interval of a win rate over n games (95% with the default z).

    Args:
      p: the observed rate in [0, 1] (draws counted half by the callers).
      n: games; 0 gives the uninformative (0, 1).
      z: the normal quantile of the interval.

    Returns:
      (low, high), clipped to [0, 1].
    """
    if n == 0:
        return 0.0, 1.0
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


class Tally(NamedTuple):
    """One side's results in a match (player A's view).

    Attributes:
      wins, losses, draws: game counts.
    """

    wins: int
    losses: int
    draws: int

    @classmethod
    def from_points(cls, points: Iterable[float]) -> Tally:
        """The tally of per-game points (1 win, 0.5 draw, 0 loss)."""
        points = list(points)
        return cls(sum(p == 1.0 for p in points), sum(p == 0.0 for p in points),
                   sum(p == 0.5 for p in points))

    @property
    def games(self) -> int:
        return self.wins + self.losses + self.draws

    @property
    def points(self) -> float:
        """Wins plus half the draws: what Bradley-Terry fits (`elo.fit_elo`) count."""
        return self.wins + 0.5 * self.draws

    @property
    def win_rate(self) -> float:
        """Points per game (draws count half); 0 before any game."""
        return self.points / max(self.games, 1)

    @property
    def interval(self) -> tuple[float, float]:
        """The 95% Wilson interval of `win_rate`."""
        return wilson_interval(self.win_rate, self.games)

    def line(self, a: str, b: str, forfeits: tuple[int, int] | None = None) -> str:
        """`A vs B: W-L-D, win rate X (95% CI lo-hi)`, the summary line every command prints.

        Args:
          a, b: the players' names.
          forfeits: games forfeited by A and by B; given, the line ends `, forfeits: A n, B m`
            (the arena always gives them, so a script sees when games were not played out).
        """
        lo, hi = self.interval
        text = (f"{a} vs {b}: {self.wins}-{self.losses}-{self.draws}, win rate "
                f"{self.win_rate:.3f} (95% CI {lo:.3f}-{hi:.3f})")
        if forfeits is not None:
            text += f", forfeits: A {forfeits[0]}, B {forfeits[1]}"
        return text

    def as_dict(self) -> dict[str, float]:
        """{games, wins, losses, draws, win_rate, ci_low, ci_high} (metrics, JSON)."""
        lo, hi = self.interval
        return {"games": self.games, "wins": self.wins, "losses": self.losses,
                "draws": self.draws, "win_rate": self.win_rate, "ci_low": lo, "ci_high": hi}
