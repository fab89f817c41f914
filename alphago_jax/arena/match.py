"""The match: two players, a batch of games, one loop -- every match of the package plays here.

Up to `parallel` games run at once in *slots*; all slots advance in lockstep, one move per game
per step. Each step a device player (random, a search) chooses moves in one batched call for the
slots where it is to move only (gathered into a batch of fixed size, so it compiles at most
twice, and scattered back); a host player (a GTP engine, a script) answers per game through its
seat in that slot, concurrently across slots. When a game ends its slot starts the next game, so
a long game never holds up the rest, and the loop stops as soon as every game has ended.

The referee checks every move against the rules: an illegal move, or a protocol error (timeout,
'?' reply, bad vertex, exited process), loses that game for the player who made it, with the
reason in the summary and the SGF comment. A resignation ends the game. Otherwise a game ends on
two consecutive passes or at the move cap (`rules.move_cap`) and is scored with `rules.score`.
Player A takes Black in even-numbered games and White in odd ones. Games may start from given
openings (move sequences the referee plays before the players move): games 2k and 2k + 1 start
from the same opening with colours swapped, so each opening is played once with each colour.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import functools
import math
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from alphago_jax.arena.players import RESIGN, DevicePlayer, HostPlayer, PlayerError
from alphago_jax.arena.tally import Tally
from alphago_jax.rules.go import BLACK, WHITE, GoState, IllegalMoveError, Rules

MAX_DEVICE_PARALLEL = 256  # default games per batch when only device players play
MAX_HOST_PARALLEL = 8  # default concurrent games (engine processes) with a host player


class ArenaError(ValueError):
    """Players and rules that cannot meet (board size conflict, suicide with GTP, ...)."""


# ------------------------------------------------------------------------------ results


@dataclasses.dataclass
class GameResult:
    """One finished game.

    Attributes:
      game: game number (0-based); player A is Black in even games.
      black, white: the players' names (specs).
      moves: the actions played, passes included.
      winner: BLACK, WHITE, or 0 for a draw.
      reason: 'score', 'resign' or 'forfeit'.
      score: Tromp-Taylor score (Black - White - komi) when scored, else None.
      detail: why a game was forfeited or resigned.
      failure: the game was forfeited because a player failed (no reply in time, exited,
        refused a command, answered with something that is not a move), not for an illegal
        move: its result says nothing about how the players play.
      opening: how many of the first `moves` the referee set from an opening (0: none).
    """

    game: int
    black: str
    white: str
    moves: list[int]
    winner: int
    reason: str
    score: float | None = None
    detail: str = ""
    failure: bool = False
    opening: int = 0

    @property
    def a_black(self) -> bool:
        return self.game % 2 == 0

    @property
    def a_points(self) -> float:
        """Player A's points: 1 win, 0.5 draw, 0 loss."""
        if self.winner == 0:
            return 0.5
        return 1.0 if (self.winner == BLACK) == self.a_black else 0.0

    @property
    def forfeited_by(self) -> str | None:
        """'a' or 'b', the player who forfeited the game; None when it was played out."""
        if self.reason != "forfeit":
            return None
        return "a" if self.a_points == 0.0 else "b"

    @property
    def result(self) -> str:
        """SGF RE value: 'B+3.5', 'W+R', 'B+F' (forfeit), '0' (draw)."""
        if self.reason == "forfeit":
            return ("B" if self.winner == BLACK else "W") + "+F"
        from alphago_jax.sgf import result_string

        if self.reason == "resign":
            return result_string(None, resigned_colour=-self.winner)
        return result_string(self.score)


@dataclasses.dataclass
class MatchResult:
    """All games of a match between players A and B, in game order.

    Attributes:
      a, b: the players' names.
      rules: the rules of every game.
      games: the finished games.
      steps: lockstep moves the match took (the longest chain of games played in one slot).
    """

    a: str
    b: str
    rules: Rules
    games: list[GameResult]
    steps: int = 0

    @property
    def tally(self) -> Tally:
        """A's wins, losses and draws."""
        return Tally.from_points(g.a_points for g in self.games)

    @property
    def forfeits(self) -> tuple[int, int]:
        """Games forfeited by A and by B (illegal moves and failures)."""
        return self._count(lambda g: g.reason == "forfeit")

    @property
    def failures(self) -> tuple[int, int]:
        """Games A and B forfeited by failing (`GameResult.failure`)."""
        return self._count(lambda g: g.failure)

    def _count(self, which: Callable[[GameResult], bool]) -> tuple[int, int]:
        games = [g for g in self.games if which(g)]
        return (sum(g.forfeited_by == "a" for g in games),
                sum(g.forfeited_by == "b" for g in games))

    def line(self) -> str:
        """`A vs B: W-L-D, win rate X (95% CI lo-hi), forfeits: A n, B m`."""
        return self.tally.line(self.a, self.b, self.forfeits)

    def as_dict(self) -> dict:
        """{a, b, games, wins, losses, draws, win_rate, ci_low, ci_high} (a JSON record)."""
        return {"a": self.a, "b": self.b, **self.tally.as_dict()}

    def report(self) -> list[str]:
        """Human-readable summary lines (without the final `line`)."""
        n = len(self.games)
        as_black = [g for g in self.games if g.a_black]
        lines = [
            f"{n} games, {describe_rules(self.rules)}",
            f"A as black: {sum(g.a_points for g in as_black):g}/{len(as_black)}, "
            f"as white: {sum(g.a_points for g in self.games if not g.a_black):g}/"
            f"{n - len(as_black)}",
            f"mean game length {np.mean([len(g.moves) for g in self.games] or [0]):.1f} moves",
        ]
        for g in self.games:
            if g.reason in ("forfeit", "resign"):
                lines.append(f"game {g.game}: {g.result} ({g.reason}) {g.detail}")
        return lines


def describe_rules(rules: Rules) -> str:
    """One line: board, komi, ko and suicide rules, move cap."""
    return (
        f"{rules.size}x{rules.size} Tromp-Taylor, komi {rules.komi:g}, "
        f"{'positional superko' if rules.superko else 'simple ko'}, "
        f"{'multi-stone suicide allowed' if rules.suicide else 'no suicide'}, "
        f"move cap {rules.move_cap}"
    )


# ------------------------------------------------------------------------------ rules


def arena_rules(
    players: Sequence[DevicePlayer | HostPlayer],
    size: int | None = None,
    komi: float | None = None,
    superko: bool | None = None,
    suicide: bool | None = None,
    max_moves: int | None = None,
) -> Rules:
    """Rules every player accepts: explicit values, else the first checkpoint's, else defaults.

    The board size must match every checkpoint's; suicide is off whenever a GTP engine plays
    (GnuGo and most engines refuse it). Defaults: 9x9, komi 7.5, superko, no suicide.

    Raises:
      ArenaError: a size that conflicts with a checkpoint, suicide asked for with a GTP engine,
        or a komi that is not a finite number.
    """
    if komi is not None and not math.isfinite(komi):
        raise ArenaError(f"komi must be a finite number, got {komi}")
    configs = [(p.name, p.config) for p in players if p.config is not None]
    for name, cfg in configs:
        if size is not None and cfg.size != size:
            raise ArenaError(
                f"--size {size} conflicts with {name}, trained on {cfg.size}x{cfg.size}"
            )
        size = cfg.size
    cfg = configs[0][1] if configs else None
    gtp = [p.name for p in players if getattr(p, "is_gtp", False)]
    if gtp and suicide:
        raise ArenaError(f"suicide cannot be allowed with a GTP engine ({gtp[0]}): GTP engines "
                         "such as GnuGo refuse suicide; use --no-suicide")
    if suicide is None:
        suicide = False if gtp or cfg is None else cfg.suicide
    return Rules(
        size=size or 9,
        komi=komi if komi is not None else (cfg.komi if cfg else 7.5),
        superko=superko if superko is not None else (cfg.superko if cfg else True),
        suicide=suicide,
        max_moves=max_moves or ((cfg.max_moves or None) if cfg else None),
        history=max([p.history for p in players] + [1]),
    )


# ------------------------------------------------------------------------------ compiled steps


@functools.partial(jax.jit, static_argnums=(0, 1))
def _init(rules: Rules, n: int) -> GoState:
    return jax.vmap(lambda _: rules.init())(jnp.arange(n))


@jax.jit
def _reset(states: GoState, mask: jax.Array, starts: GoState, which: jax.Array) -> GoState:
    """Slots where `mask` (bool[B]) is set start over from `starts[which]` (which: int32[B]
    indexes the stacked start positions, one per opening)."""
    fresh = jax.tree.map(lambda x: x[which], starts)
    return jax.tree.map(lambda s, f: jnp.where(_bcast(mask, s), f, s), states, fresh)


def opening_of(game: int, openings: int) -> int:
    """The opening game number `game` starts from, of `openings`: games 2k and 2k + 1 play
    opening k % openings, so with colours alternating each opening is played once with each
    colour (every 2 * openings games)."""
    return (game // 2) % openings


def start_positions(rules: Rules, openings: Sequence[Sequence[int]] | None) -> GoState:
    """The stacked start positions of `openings` (GoState with a leading axis K), each replayed
    with the checked rules; one empty board when there are none.

    Raises:
      ArenaError: an opening with an illegal move, or one after which the game is over.
    """
    states = []
    for k, moves in enumerate(openings or [[]]):
        state = rules.init()
        try:
            for move in moves:
                state = rules.play(state, int(move))
        except IllegalMoveError as e:
            raise ArenaError(f"opening {k} {list(moves)}: {e}") from None
        if bool(rules.is_over(state)):
            raise ArenaError(f"opening {k} {list(moves)} ends the game")
        states.append(state)
    return jax.tree.map(lambda *xs: jnp.stack(xs), *states)


@functools.partial(jax.jit, static_argnums=0)
def _legal(rules: Rules, states: GoState) -> jax.Array:
    return jax.vmap(rules.legal_mask)(states)


@functools.partial(jax.jit, static_argnums=0)
def _advance(rules: Rules, states: GoState, actions: jax.Array, live: jax.Array):
    """Steps the live games; returns (states, is_over bool[B])."""
    new = jax.vmap(rules.step)(states, actions)
    new = jax.tree.map(lambda n, s: jnp.where(_bcast(live, n), n, s), new, states)
    return new, jax.vmap(rules.is_over)(new)


@functools.partial(jax.jit, static_argnums=0)
def _scores(rules: Rules, states: GoState, ended: jax.Array) -> jax.Array:
    """float32[B] scores of the `ended` games (zero elsewhere: only they pay for the flood)."""
    return jax.vmap(rules.outcome)(states, ended)[0]


@jax.jit
def _gather(states: GoState, idx: jax.Array) -> GoState:
    return jax.tree.map(lambda x: x[idx], states)


def bucket_size(k: int, n: int) -> int:
    """The batch a device player searches when it is to move in `k` of `n` slots: half the
    slots (rounded up) when they fit, else all of them. With colours alternating it moves in
    about half the games, so a match compiles its search once, twice at most."""
    half = math.ceil(n / 2)
    return half if k <= half else n


def _bcast(mask, x):
    return mask.reshape(mask.shape + (1,) * (x.ndim - 1))


# ------------------------------------------------------------------------------ the match


def play_match(
    rules: Rules,
    a: DevicePlayer | HostPlayer,
    b: DevicePlayer | HostPlayer,
    games: int,
    key: jax.Array,
    parallel: int | None = None,
    sgf_dir: str | Path | None = None,
    progress: bool = False,
    on_game: Callable[[GameResult], None] | None = None,
    openings: Sequence[Sequence[int]] | None = None,
    only: Sequence[int] | None = None,
) -> MatchResult:
    """Plays `games` games of A against B, colours alternating (A is Black in even games).

    Args:
      rules: the rules of every game (see `arena_rules`); `rules.history` must cover every
        device player's `history`.
      a, b: the players.
      games: number of games.
      key: PRNG key for the device players' choices.
      parallel: games played at once (default: all, up to 256, with device players only; up to
        8 when a host player, e.g. a GTP engine process per game, is involved).
      sgf_dir: write `game-NNNN.sgf` for each game there (None: no SGF files).
      progress: show a tqdm bar on stderr.
      on_game: called with each finished game.
      openings: start positions as move sequences (actions, replayed with the checked rules):
        game i starts from opening `opening_of(i, len(openings))`, the pair of games 2k, 2k + 1
        from one opening with colours swapped. Host players are told the moves (`Seat.play`)
        after `Seat.new_game`; the moves lead each game's record (`GameResult.opening`).
        None: every game starts from the empty board.
      only: play just these game numbers (of 0..games-1; e.g. those a resumed job lacks), each
        with its own colours and opening; the result holds only them.

    Returns:
      The MatchResult with every game played, in game order.

    Raises:
      ArenaError: `games` or `parallel` < 1, a player's history above `rules.history`, an
        illegal opening, or a game number in `only` outside 0..games-1.
    """
    if games < 1:
        raise ArenaError(f"games must be >= 1, got {games}")
    order = sorted(set(range(games) if only is None else only))
    if order and not 0 <= order[0] <= order[-1] < games:
        raise ArenaError(f"game numbers must be in 0..{games - 1}, got {order}")
    for p in (a, b):
        if isinstance(p, DevicePlayer) and p.history > rules.history:
            raise ArenaError(f"{p.name} needs history {p.history} > rules.history "
                             f"{rules.history}")
    host = any(isinstance(p, HostPlayer) for p in (a, b))
    if parallel is None:
        parallel = min(games, MAX_HOST_PARALLEL if host else MAX_DEVICE_PARALLEL)
    if parallel < 1:
        raise ArenaError(f"parallel must be >= 1, got {parallel}")
    if not order:
        return MatchResult(a.name, b.name, rules, [])
    openings = [list(map(int, o)) for o in openings] if openings else [[]]
    starts = start_positions(rules, openings)
    if sgf_dir is not None:
        Path(sgf_dir).mkdir(parents=True, exist_ok=True)
    match = _Match(rules, (a, b), order, key, min(parallel, len(order)), sgf_dir, on_game,
                   (openings, starts))
    try:
        match.play(progress)
    finally:
        match.close()
    return MatchResult(a.name, b.name, rules, [match.results[g] for g in order], match.steps)


class _Match:
    """Mutable bookkeeping of one match: slots, their games, moves and the players' seats."""

    def __init__(self, rules, players, order, key, parallel, sgf_dir, on_game, openings):
        self.rules, self.players, self.key = rules, players, key
        self.order, self.games = order, len(order)  # the game numbers to play, in order
        self.openings, self.starts = openings
        self.n = parallel
        self.sgf_dir = None if sgf_dir is None else Path(sgf_dir)
        self.on_game = on_game
        self.seats = [
            [p.seat() for _ in range(self.n)] if isinstance(p, HostPlayer) else None
            for p in players
        ]
        self.pool = concurrent.futures.ThreadPoolExecutor(max_workers=self.n) if any(
            s is not None for s in self.seats) else None
        self.states = _init(rules, self.n)
        self.game_of = np.full(self.n, -1)  # game number in each slot, -1 when idle
        self.moves: list[list[int]] = [[] for _ in range(self.n)]
        self.results: dict[int, GameResult] = {}
        self.next_game = 0  # index into `order`
        self.steps = 0
        self.bar = None

    # ---------------------------------------------------------------- who plays what
    def _colour(self, slot: int) -> int:
        return BLACK if len(self.moves[slot]) % 2 == 0 else WHITE

    def _player_of(self, slot: int, colour: int) -> int:
        """0 for player A, 1 for B."""
        a_black = self.game_of[slot] % 2 == 0
        return 0 if (colour == BLACK) == a_black else 1

    def _parallel_calls(self, calls: list[Callable[[], object]]) -> list[object]:
        """Runs host calls concurrently; a PlayerError is returned instead of raised."""

        def guarded(fn):
            try:
                return fn()
            except PlayerError as e:
                return e

        if not calls:
            return []
        return list(self.pool.map(guarded, calls))

    # ---------------------------------------------------------------- the loop
    def play(self, progress: bool) -> None:
        from tqdm.auto import tqdm

        with tqdm(total=self.games, desc="arena", file=sys.stderr, disable=not progress,
                  dynamic_ncols=True) as self.bar:
            self._fill(list(range(self.n)))
            while (self.game_of >= 0).any():
                self._step(jax.random.fold_in(self.key, self.steps))
                self.steps += 1

    def _fill(self, slots: list[int]) -> None:
        """Starts the next games in `slots` from their openings; a seat that fails to set up
        (or to take an opening move) forfeits at once."""
        while slots and self.next_game < self.games:
            slots = slots[: self.games - self.next_game]
            mask, which = np.zeros(self.n, bool), np.zeros(self.n, np.int32)
            for s in slots:
                game = self.order[self.next_game]
                which[s] = opening_of(game, len(self.openings))
                self.game_of[s], self.moves[s] = game, list(self.openings[which[s]])
                self.next_game += 1
                mask[s] = True
            self.states = _reset(self.states, jnp.asarray(mask), self.starts, jnp.asarray(which))
            calls, owners = [], []
            for s in slots:
                for colour in (BLACK, WHITE):  # Black's failure is judged first
                    p = self._player_of(s, colour)
                    if self.seats[p] is not None:
                        seat, game = self.seats[p][s], int(self.game_of[s])
                        calls.append(functools.partial(
                            _start_seat, seat, self.rules, game, self.moves[s]))
                        owners.append((s, colour))
            failed = []
            for (s, colour), out in zip(owners, self._parallel_calls(calls), strict=True):
                if isinstance(out, PlayerError) and self.game_of[s] >= 0:
                    self._forfeit(s, colour, out)
                    failed.append(s)
            slots = failed

    def _step(self, key: jax.Array) -> None:
        active = [int(s) for s in np.flatnonzero(self.game_of >= 0)]
        legal = np.asarray(_legal(self.rules, self.states))
        colour = {s: self._colour(s) for s in active}
        mover = {s: self._player_of(s, colour[s]) for s in active}
        proposal = self._proposals(active, colour, mover, key)

        p_action = self.rules.pass_action
        actions = np.full(self.n, p_action, np.int32)
        live = np.zeros(self.n, bool)
        for s in active:
            move = proposal[s]
            if isinstance(move, PlayerError):
                self._forfeit(s, colour[s], move)
            elif move == RESIGN:
                self._finish(s, -colour[s], "resign",
                             detail=f"{self._name(colour[s], s)} resigned")
            elif not (0 <= move <= p_action and legal[s, move]):
                why = PlayerError(self._illegal_reason(s, move))
                self._forfeit(s, colour[s], why, failure=False)
            else:
                actions[s], live[s] = move, True
                self.moves[s].append(int(move))
        self._tell_opponents([s for s in active if live[s]], colour, mover, actions, live)

        self.states, over = _advance(
            self.rules, self.states, jnp.asarray(actions), jnp.asarray(live)
        )
        over = np.asarray(over)
        ended = [s for s in active if live[s] and over[s]]
        if ended:
            mask = np.zeros(self.n, bool)
            mask[ended] = True
            scores = np.asarray(_scores(self.rules, self.states, jnp.asarray(mask)))
            for s in ended:
                score = float(scores[s])
                self._finish(s, BLACK if score > 0 else WHITE if score < 0 else 0, "score", score)
        self._fill([s for s in range(self.n) if self.game_of[s] < 0])

    def _proposals(self, active, colour, mover, key) -> dict[int, object]:
        """Each active slot's move from the player to move: action, RESIGN or PlayerError."""
        proposal: dict[int, object] = {}
        for p, player in enumerate(self.players):
            slots = [s for s in active if mover[s] == p]
            if not slots:
                continue
            if isinstance(player, DevicePlayer):
                proposal.update(self._device_moves(player, slots, jax.random.fold_in(key, p)))
            else:
                calls = [functools.partial(self.seats[p][s].genmove, colour[s]) for s in slots]
                proposal.update(zip(slots, self._parallel_calls(calls), strict=True))
        return proposal

    def _device_moves(self, player: DevicePlayer, slots: list[int], key) -> dict[int, int]:
        """The device player's moves in `slots`, searched in a batch of `bucket_size` games (the
        first slot repeated as padding, its extra moves dropped)."""
        size = bucket_size(len(slots), self.n)
        idx = np.asarray(slots + [slots[0]] * (size - len(slots)), np.int32)
        acts = np.asarray(player.select(self.rules, _gather(self.states, jnp.asarray(idx)), key))
        return {s: int(a) for s, a in zip(slots, acts, strict=False)}

    def _tell_opponents(self, slots, colour, mover, actions, live) -> None:
        """Sends each played move to the opponent's seat; a refusal loses the opponent the game."""
        told = [s for s in slots if self.seats[1 - mover[s]] is not None]
        calls = [
            functools.partial(self.seats[1 - mover[s]][s].play, colour[s], int(actions[s]))
            for s in told
        ]
        for s, out in zip(told, self._parallel_calls(calls), strict=True):
            if isinstance(out, PlayerError):
                live[s] = False
                self._forfeit(s, -colour[s], out)

    # ---------------------------------------------------------------- results
    def _name(self, colour: int, slot: int) -> str:
        player = self.players[self._player_of(slot, colour)]
        return f"{'black' if colour == BLACK else 'white'} ({player.name})"

    def _forfeit(self, slot: int, colour: int, err: Exception, failure: bool = True) -> None:
        """`colour` loses the game in `slot` for `err`: a failure, or an illegal move."""
        detail = f"{self._name(colour, slot)} forfeits at move {len(self.moves[slot]) + 1}: {err}"
        self._finish(slot, -colour, "forfeit", detail=detail, failure=failure)

    def _illegal_reason(self, slot: int, move: int) -> str:
        if not 0 <= move <= self.rules.pass_action:
            return f"move {move} is not an action on a {self.rules.size}x{self.rules.size} board"
        state = jax.tree.map(lambda x: x[slot], self.states)
        try:
            self.rules.play(state, move)
        except IllegalMoveError as e:
            return str(e)
        return f"illegal move (action {move})"

    def _finish(self, slot: int, winner: int, reason: str, score: float | None = None,
                detail: str = "", failure: bool = False) -> None:
        g = int(self.game_of[slot])
        names = [p.name for p in self.players]
        black, white = (names[0], names[1]) if g % 2 == 0 else (names[1], names[0])
        opening = len(self.openings[opening_of(g, len(self.openings))])
        result = GameResult(g, black, white, list(self.moves[slot]), winner, reason, score, detail,
                            failure, opening)
        self.results[g] = result
        self.game_of[slot] = -1
        if self.sgf_dir is not None:
            save_game(result, self.rules, self.sgf_dir / f"game-{g:04d}.sgf")
        if self.on_game is not None:
            self.on_game(result)
        points = sum(r.a_points for r in self.results.values())
        self.bar.set_postfix_str(f"A {points:g}/{len(self.results)}", refresh=False)
        self.bar.update(1)

    def close(self) -> None:
        for seats in self.seats:
            for seat in seats or ():
                seat.close()
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)


def _start_seat(seat, rules: Rules, game: int, opening: Sequence[int]) -> None:
    """A host seat's new game: an empty board, then the opening's moves (Black first)."""
    seat.new_game(rules, game)
    for i, move in enumerate(opening):
        seat.play(BLACK if i % 2 == 0 else WHITE, int(move))


def save_game(result: GameResult, rules: Rules, path: str | Path) -> None:
    """Writes one game as SGF: PB/PW the player specs, RE the result, comment on how it ended."""
    from alphago_jax.sgf import GameRecord, save_sgf

    comment = f"{describe_rules(rules)}. Result {result.result}"
    comment += f" by {result.reason}" + (f": {result.detail}" if result.detail else ".")
    if result.opening:
        comment += f" The first {result.opening} moves are the referee's opening."
    record = GameRecord(
        size=rules.size, komi=float(rules.komi), moves=list(result.moves), black=result.black,
        white=result.white, result=result.result, rules="Tromp-Taylor", comment=comment,
    )
    save_sgf(record, path)


