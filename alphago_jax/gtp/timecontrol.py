"""Time control for the GTP engine: the clocks of ``time_settings``/``time_left`` and how much
search one move may spend.

GTP version 2 (draft 2, section 4.2 and the ``time_settings``/``time_left`` commands) knows one
system, Canadian byo-yomi: ``main_time`` seconds, then periods of ``byo_yomi_time`` seconds in which
``byo_yomi_stones`` moves must be played. ``byo_yomi_time`` 0 is absolute time (sudden death);
``byo_yomi_time`` > 0 with ``byo_yomi_stones`` 0 means no time limit. ``time_left COLOR TIME
STONES`` gives a clock: the time left in main time (STONES 0) or in the current period with STONES
moves still to play.

A move's budget (`TimeControl.budget`):

* in a byo-yomi period: the period's time left over its stones left;
* in main time: the time left over the moves the engine still expects to play (a third of the
  empty points, at least `MIN_MOVES_LEFT`), or one byo-yomi stone's share of a period if that
  is more;
* 80% of that, less `MARGIN` seconds for the protocol's round trip.

`SimulationFitter` turns a budget into simulations per move: a power-of-two multiple of the
floor up to the player's ``--sims`` (the cap), the most whose measured cost fits the budget. A
new number of simulations compiles the search once (seconds on a CPU), which is not measured,
so the fitter climbs at most one level above the largest it has run, and until it has timed a
search it stays at the floor.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Hashable

from alphago_jax.rules.go import BLACK, WHITE

__all__ = ["DEFAULT_MIN_SIMULATIONS", "SimulationFitter", "TimeControl"]

DEFAULT_MIN_SIMULATIONS = 16
"""The floor of simulations per move under time control (the engine never searches less, even
when the clock is nearly out)."""

MIN_MOVES_LEFT = 10
SAFETY = 0.8
MARGIN = 0.1  # seconds


@dataclasses.dataclass
class Clock:
    """One player's clock: seconds left (in main time, or in the current byo-yomi period) and
    the stones still to play in that period (0 in main time)."""

    time: float
    stones: int = 0


@dataclasses.dataclass
class TimeControl:
    """The game's time settings and both clocks; unlimited until ``time_settings`` sets one."""

    main_time: float = 0.0
    byo_yomi_time: float = 0.0
    byo_yomi_stones: int = 0
    limited: bool = False
    clocks: dict[int, Clock] = dataclasses.field(default_factory=dict)

    def settings(self, main_time: float, byo_yomi_time: float, byo_yomi_stones: int) -> None:
        """``time_settings``: resets both clocks to the main time."""
        self.main_time, self.byo_yomi_time = main_time, byo_yomi_time
        self.byo_yomi_stones = byo_yomi_stones
        self.limited = not (byo_yomi_time > 0 and byo_yomi_stones == 0)
        self.clocks = {c: self._fresh() for c in (BLACK, WHITE)}

    def _fresh(self) -> Clock:
        if self.main_time > 0 or self.byo_yomi_stones == 0:
            return Clock(self.main_time, 0)
        return Clock(self.byo_yomi_time, self.byo_yomi_stones)

    def left(self, colour: int, time: float, stones: int) -> None:
        """``time_left``: the controller's reading of `colour`'s clock."""
        self.clocks[colour] = Clock(time, stones)
        # A controller may send time_left without time_settings: a running clock is a limit
        # (an empty one, 0 0, says nothing).
        unset = not self.limited and not self.main_time and not self.byo_yomi_time
        if unset and (time > 0 or stones > 0):
            self.limited = True

    def budget(self, colour: int, empty_points: int) -> float | None:
        """Seconds the next move of `colour` may search; None without a time limit."""
        if not self.limited:
            return None
        clock = self.clocks.setdefault(colour, self._fresh())
        if clock.stones > 0:
            share = clock.time / clock.stones
        else:
            share = clock.time / max(empty_points / 3, MIN_MOVES_LEFT)
            if self.byo_yomi_stones > 0:
                share = max(share, self.byo_yomi_time / self.byo_yomi_stones)
        return max(SAFETY * share - MARGIN, 0.0)

    def spend(self, colour: int, seconds: float) -> None:
        """Runs `colour`'s clock for one move of `seconds` (until the next ``time_left``)."""
        if not self.limited:
            return
        clock = self.clocks.setdefault(colour, self._fresh())
        clock.time -= seconds
        if clock.stones > 0:
            clock.stones -= 1
            if clock.stones == 0 and clock.time >= 0:  # the period was made: a new one starts
                clock.time, clock.stones = self.byo_yomi_time, self.byo_yomi_stones
        elif clock.time < 0 and self.byo_yomi_stones > 0:  # main time ran out during the move
            clock.time, clock.stones = self.byo_yomi_time + clock.time, self.byo_yomi_stones
        clock.time = max(clock.time, 0.0)


@dataclasses.dataclass
class SimulationFitter:
    """Chooses simulations per move from a time budget and measured search speed.

    Attributes:
      floor: the fewest simulations per move.
      cap: the most (the player's configured simulations).
      seconds_per_sim: measured cost of one simulation, per board (the engine passes the size).
      compiled: (program, simulations) pairs whose search has run, so compiled, at least once;
        a program is what else a compiled search depends on (the engine passes its rules).
    """

    floor: int
    cap: int
    seconds_per_sim: dict[Hashable, float] = dataclasses.field(default_factory=dict)
    compiled: set[tuple[Hashable, int]] = dataclasses.field(default_factory=set)

    def __post_init__(self):
        self.floor = max(1, min(self.floor, self.cap))

    def levels(self) -> list[int]:
        """The simulation counts the fitter uses: floor * 2^k below the cap, and the cap."""
        out, n = [], self.floor
        while n < self.cap:
            out.append(n)
            n *= 2
        return out + [self.cap]

    def choose(self, budget: float | None, program: Hashable = None, board: Hashable = None
               ) -> int:
        """Simulations for a move with `budget` seconds (None: no limit, the cap)."""
        if budget is None:
            return self.cap
        rate = self.seconds_per_sim.get(board)
        if rate is None:
            return self.floor
        levels = self.levels()
        top = max((i for i, n in enumerate(levels) if (program, n) in self.compiled), default=0)
        best = self.floor
        for n in levels[: top + 2]:
            if n * rate <= budget:
                best = n
        return best

    def record(self, sims: int, seconds: float, program: Hashable = None,
               board: Hashable = None) -> None:
        """Notes a search of `sims` simulations that took `seconds`; the first one of each
        (program, sims) compiled, so it is not a measure of speed."""
        if (program, sims) not in self.compiled:
            self.compiled.add((program, sims))
            return
        rate = seconds / sims
        old = self.seconds_per_sim.get(board)
        self.seconds_per_sim[board] = rate if old is None else 0.5 * old + 0.5 * rate
