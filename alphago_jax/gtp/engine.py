"""A GTP (Go Text Protocol, version 2) engine around a trained network and batched search.

`GTPEngine.handle(line)` answers one command line; `GTPEngine.run(stdin, stdout)` is the
protocol loop (a reader thread feeds it, so the next command stops a streaming analysis). Only
GTP responses go to stdout; logs go to stderr.

Choices the protocol leaves to the engine:

* The game is the setup stones (handicap stones, or ``AB``/``AW`` from `loadsgf`) plus a list of
  actions; `undo` drops the last move and replays the list through the checked rules. Setup
  stones are not moves: ``undo`` never removes them (GTP: "the handicap stones are not included
  in the move history"). After handicap stones White is to move, and ``printsgf`` writes them as
  ``AB`` with ``HA`` and ``PL[W]``.
* Out-of-turn moves: our state carries the side to move, so ``play``/``genmove`` for the colour
  that is not to move first inserts a pass by the other colour. The pass is part of the record
  (``printsgf`` shows it) and `undo` removes it together with the move.
* Our rules end the game after two consecutive passes. Controllers may still send ``play`` or
  ``genmove`` afterwards (e.g. to settle a disputed end): the engine then clears the pass counter
  and play continues, so the game is a scoring point rather than an end. The move cap grows
  (replaying the game under bigger rules) whenever the game gets near it.
* Board sizes: 2..19 for convolutional nets (they are fully convolutional); transformers with a
  learned positional table up to its ``max_board_size``. Other sizes get "unacceptable size".
* ``loadsgf`` takes the board size and komi from the file and keeps the engine's ko and suicide
  rules; ``final_score`` is the Tromp-Taylor area score under the current komi.
* Dead stones: Tromp-Taylor scores the board as it stands, so ``final_status_list`` answers the
  statuses ``final_score`` uses -- every stone alive, none dead, none in seki. Stones the engine
  believes dead are removed by playing on: ``kgs-genmove_cleanup`` never passes while opponent
  stones it estimates dead remain (`alphago-dead_stones` shows that estimate in GoGui).
* Error messages quote user input cut to 80 characters.
"""

from __future__ import annotations

import dataclasses
import functools
import queue
import re
import sys
import threading
import time
import traceback
from collections.abc import Callable, Generator
from pathlib import Path
from typing import IO

import jax
import jax.numpy as jnp
import numpy as np

from alphago_jax.arena.players import SearchPlayer
from alphago_jax.gtp import analysis as an
from alphago_jax.gtp.handicap import fixed_points, max_fixed_handicap, spread_points
from alphago_jax.gtp.timecontrol import DEFAULT_MIN_SIMULATIONS, SimulationFitter, TimeControl
from alphago_jax.rules.coords import GTP_COLUMNS, action_to_gtp, gtp_to_action
from alphago_jax.rules.go import BLACK, WHITE, GoState, IllegalMoveError, Rules
from alphago_jax.sgf import GameRecord, SGFError, read_sgf, result_string, write_sgf
from alphago_jax.sgf.sgf import setup_actions

PROTOCOL_VERSION = "2"
_MAX_MOVES = 30000  # the rules engine's largest move cap
_QUOTE_LIMIT = 80  # longest piece of user input an error message repeats
_MESSAGE_LIMIT = 1000
_LONG_WORD = re.compile(rf"\S{{{_QUOTE_LIMIT + 1},}}")

# A player maps (rules, state, key) to (action, searched value for the side to move); an
# `arena.SearchPlayer` is turned into one by `search_move`.
Player = Callable[[Rules, GoState, jax.Array], tuple[int, float]]
# An ownership estimate maps (rules, state, key) to float[size*size], +1 = Black's.
Ownership = Callable[[Rules, GoState, jax.Array], np.ndarray]
# A stream's stop condition, asked before each analysis round.
Stop = Callable[[], bool]

# gogui-analyze_commands: type/label/command (GoGui's analyze command format).
GOGUI_ANALYZE = (
    "dboard/Policy heat map/alphago-policy",
    "dboard/Visit heat map/alphago-visits",
    "string/Value/alphago-value",
    "dboard/Ownership estimate/alphago-ownership",
    "plist/Dead stones (estimate)/alphago-dead_stones",
)


class GTPError(Exception):
    """A command failed; the message becomes the "? message" response."""


def clip(text: str, limit: int = _QUOTE_LIMIT) -> str:
    """`text` cut to `limit` characters with '...' (user input quoted in an error)."""
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _clip_message(message: str) -> str:
    """An error message with every overlong word (user input has no spaces) cut, and the whole
    cut to `_MESSAGE_LIMIT`: a 200 KB vertex must not come back to the client."""
    cut = _LONG_WORD.sub(lambda m: clip(m.group(0)), message)
    return clip(" ".join(cut.split()), _MESSAGE_LIMIT)


def stop_after(rounds: int) -> Stop:
    """A stop condition that lets a stream run `rounds` analysis rounds (for `handle`)."""
    count = iter(range(rounds + 1))
    return lambda: next(count, rounds) >= rounds


@functools.partial(jax.jit, static_argnums=0)
def _area(rules: Rules, state: GoState) -> jax.Array:
    return rules.score(state)


def _komi_free(rules: Rules) -> Rules:
    """`rules` without komi: legality and area do not depend on it, and sharing one static
    `Rules` for every komi saves recompiling the checked move and the scoring."""
    return dataclasses.replace(rules, komi=0.0)


def _score(rules: Rules, state: GoState) -> float:
    """Tromp-Taylor score, black - white - komi."""
    return float(_area(_komi_free(rules), state)) - rules.komi


@functools.partial(jax.jit, static_argnums=0)
def _legal(rules: Rules, state: GoState) -> jax.Array:
    return rules.legal_mask(state)


def search_move(player: SearchPlayer, rules: Rules, state: GoState, key: jax.Array
                ) -> tuple[int, float]:
    """The player's move in one position and the searched value for the side to move (a
    batch of one through the arena player's compiled search and action selection)."""
    actions, result = player.move(rules, _batch(state), key)
    return int(actions[0]), float(result.value[0])


def _batch(state: GoState, n: int = 1) -> GoState:
    return jax.tree.map(lambda x: jnp.repeat(x[None], n, axis=0), state)


def _colour(text: str) -> int:
    t = text.lower()
    if t in ("b", "black"):
        return BLACK
    if t in ("w", "white"):
        return WHITE
    raise GTPError(f"syntax error: invalid color {clip(text)!r}")


def _colour_name(colour: int) -> str:
    return "black" if colour == BLACK else "white"


def _number(text: str, what: str) -> float:
    try:
        return an.parse_number(text, what)
    except ValueError as e:
        raise GTPError(f"syntax error: {e}") from None


@dataclasses.dataclass
class _Game:
    """The engine's game: rules, setup, moves, and the current state."""

    rules: Rules
    setup_black: list[int]
    setup_white: list[int]
    first_player: int
    moves: list[int]
    inserted: list[bool]  # moves[i] is a pass the engine inserted for an out-of-turn command
    state: GoState
    handicap: int = 0  # handicap stones (SGF HA): setup_black when placed as a handicap


@dataclasses.dataclass
class _Choice:
    """A generated move: the action, the searched value for the mover, the search policy
    (None for a non-search player) and the simulations it used."""

    action: int
    value: float
    policy: np.ndarray | None
    sims: int


class GTPEngine:
    """GTP version 2 engine.

    Args:
      player: chooses moves: an `arena.SearchPlayer` (needed for analysis), or any `Player`.
      rules: the starting rules (size, komi, ko and suicide rules, history).
      name, version: answers of ``name`` and ``version``.
      resign_threshold: ``genmove`` answers "resign" when the searched value for the side to
        move is below it; -1 (or less) never resigns.
      max_board_size: largest board ``boardsize`` accepts (2..19).
      seed: seed of the search's random choices (one key per search).
      log: stream for log lines (stderr).
      min_simulations: the floor of simulations per move under time control.
      analysis_simulations: simulations per search in an analysis round (default: the player's,
        at most 64, so the stream updates often).
      analysis_batch: searches per analysis round (default 1 on a CPU, 8 on an accelerator).
      ownership: dead-stone estimate (default: the network's ownership head, or policy playouts;
        without a network every stone is alive).
      playouts: games the playout estimate continues from the position.
      dead_threshold: a chain is dead when its mean estimated ownership belongs to the other
        colour by more than this.
      clock: seconds (monotonic), for time control and analysis intervals.
    """

    def __init__(
        self,
        player: SearchPlayer | Player,
        rules: Rules,
        *,
        name: str = "alphago-jax",
        version: str = "",
        resign_threshold: float = -0.95,
        max_board_size: int = 19,
        seed: int = 0,
        log: IO[str] | None = None,
        min_simulations: int = DEFAULT_MIN_SIMULATIONS,
        analysis_simulations: int | None = None,
        analysis_batch: int | None = None,
        ownership: Ownership | None = None,
        playouts: int = 8,
        dead_threshold: float = 0.5,
        clock: Callable[[], float] = time.monotonic,
    ):
        if not version:
            from alphago_jax import __version__ as version
        self.player = player
        self.name = name
        self.version = version
        self.resign_threshold = resign_threshold
        self.max_board_size = min(max_board_size, 19)
        self.key = jax.random.key(seed)
        self.log_stream = log
        self.quit = False
        self.searches = 0
        self.resigned = 0  # colour that resigned in this game, 0 if none
        self.clock = clock
        self.time = TimeControl()
        sims = player.simulations if isinstance(player, SearchPlayer) else 1
        self.fitter = SimulationFitter(min_simulations, sims)
        self.analysis_simulations = analysis_simulations or min(sims, 64)
        if analysis_batch is None:
            analysis_batch = 1 if jax.default_backend() == "cpu" else 8
        self.analysis_batch = analysis_batch
        self.ownership_fn = ownership
        self.playouts = playouts
        self.dead_threshold = dead_threshold
        self._stop: Stop = stop_after(1)
        self.game = self._new_game(self._sized(rules, rules.size), [], [], BLACK)
        self.commands: dict[str, Callable[[list[str]], str | Generator]] = {
            "protocol_version": lambda a: PROTOCOL_VERSION,
            "name": lambda a: self.name,
            "version": lambda a: self.version,
            "known_command": self.cmd_known_command,
            "list_commands": lambda a: "\n".join(sorted(self.commands)),
            "quit": self.cmd_quit,
            "boardsize": self.cmd_boardsize,
            "clear_board": self.cmd_clear_board,
            "komi": self.cmd_komi,
            "play": self.cmd_play,
            "genmove": self.cmd_genmove,
            "undo": self.cmd_undo,
            "final_score": self.cmd_final_score,
            "final_status_list": self.cmd_final_status_list,
            "showboard": self.cmd_showboard,
            "time_settings": self.cmd_time_settings,
            "time_left": self.cmd_time_left,
            "loadsgf": self.cmd_loadsgf,
            "printsgf": self.cmd_printsgf,
            "fixed_handicap": self.cmd_fixed_handicap,
            "place_free_handicap": self.cmd_place_free_handicap,
            "set_free_handicap": self.cmd_set_free_handicap,
            "kgs-genmove_cleanup": self.cmd_genmove_cleanup,
            "lz-analyze": lambda a: self._analyze(a, "lz", genmove=False),
            "kata-analyze": lambda a: self._analyze(a, "kata", genmove=False),
            "lz-genmove_analyze": lambda a: self._analyze(a, "lz", genmove=True),
            "kata-genmove_analyze": lambda a: self._analyze(a, "kata", genmove=True),
            "gogui-analyze_commands": lambda a: "\n".join(GOGUI_ANALYZE),
            "alphago-policy": self.cmd_policy,
            "alphago-visits": self.cmd_visits,
            "alphago-value": self.cmd_value,
            "alphago-ownership": self.cmd_ownership,
            "alphago-dead_stones": self.cmd_dead_stones,
        }

    # ------------------------------------------------------------------ protocol
    def log(self, message: str) -> None:
        print(message, file=self.log_stream or sys.stderr, flush=True)

    def handle(self, line: str, stop: Stop | None = None) -> str | None:
        """Answers one command line.

        Args:
          line: the command line.
          stop: when a streaming analysis (``lz-analyze``...) ends: asked before each round;
            default: after one round.

        Returns:
          The full response ("=id result" or "?id error", ending with a blank line; a stream's
          lines included), or None for a line without a command (empty or a comment). After
          ``quit`` the response is the acknowledgement and `self.quit` is True.
        """
        parts: list[str] = []
        self.respond(line, parts.append, stop or stop_after(1))
        return "".join(parts) if parts else None

    def respond(self, line: str, write: Callable[[str], object], stop: Stop) -> None:
        """Answers one command line through `write` (a stream writes as it goes)."""
        # GTP 2 section 3.1: drop control characters but HT and LF, HT -> space, strip comments.
        text = "".join(c for c in line if c in "\t\n" or ord(c) >= 32 and ord(c) != 127)
        text = text.replace("\t", " ").split("#", 1)[0].strip()
        if not text:
            return
        words = text.split()
        cid = ""
        if words[0].isdigit():
            cid, words = words[0], words[1:]
            if not words:
                write(f"?{cid} syntax error: missing command\n\n")
                return
        name, args = words[0].lower(), words[1:]
        try:
            command = self.commands.get(name)
            if command is None:
                raise GTPError("unknown command")
            body = command(args)
        except GTPError as e:
            write(f"?{cid} {_clip_message(str(e))}\n\n")
            return
        except Exception as e:  # never die on one command: report it and keep serving
            self.log(traceback.format_exc())
            write(f"?{cid} {_clip_message(f'internal error: {type(e).__name__}: {e}')}\n\n")
            return
        if isinstance(body, str):
            write(f"={cid} {body}\n\n")
        else:
            self._stream(cid, body, write, stop)

    def _stream(self, cid: str, body: Generator, write, stop: Stop) -> None:
        """Writes a streaming response: '=id', the generator's lines, its final line (e.g.
        "play D4") and the blank line that ends every response."""
        write(f"={cid}\n")
        self._stop = stop
        final = None
        try:
            while True:
                write(next(body) + "\n")
        except StopIteration as done:
            final = done.value
        except Exception:  # the '=' is out: log, and end the response cleanly
            self.log(traceback.format_exc())
        write((f"{final}\n" if final else "") + "\n")

    def run(self, stdin: IO[str], stdout: IO[str]) -> int:
        """Answers commands from `stdin` on `stdout` until ``quit`` or end of input.

        A thread reads the commands, so a streaming analysis stops as soon as the next line
        (a command, or an empty line) arrives.
        """
        lines: queue.Queue[str | None] = queue.Queue()

        def read() -> None:
            try:
                for line in iter(stdin.readline, ""):
                    lines.put(line)
            finally:
                lines.put(None)

        threading.Thread(target=read, daemon=True).start()

        def write(text: str) -> None:
            stdout.write(text)
            stdout.flush()

        try:
            while not self.quit:
                line = lines.get()
                if line is None:
                    break
                self.respond(line, write, lambda: not lines.empty())
        except (BrokenPipeError, ValueError):  # the controller went away
            pass
        return 0

    # ------------------------------------------------------------------ game state
    def _sized(self, rules: Rules, size: int, moves: int = 0) -> Rules:
        """`rules` at `size` with a move cap that leaves room for `moves` plus a full board."""
        cap = max(4 * size * size, 2 * (moves + size * size))
        return dataclasses.replace(rules, size=size, max_moves=min(cap, _MAX_MOVES))

    @staticmethod
    def _step(rules: Rules, state: GoState, action: int) -> GoState:
        """Checked move that continues past two passes (see the module docstring)."""
        if int(state.passes) >= 2:
            state = state.replace(passes=jnp.zeros_like(state.passes))
        return _komi_free(rules).play(state, action)

    def _new_game(self, rules, setup_black, setup_white, first_player, moves=(), inserted=(),
                  handicap=0):
        """Builds a `_Game` by replaying; raises IllegalMoveError / SGFError on a bad move."""
        record = GameRecord(size=rules.size, komi=rules.komi, moves=[],
                            setup_black=list(setup_black), setup_white=list(setup_white),
                            first_player=first_player)
        state = rules.init()
        for a in setup_actions(record):
            state = _komi_free(rules).play(state, a)
        state = state.replace(passes=jnp.zeros_like(state.passes))
        for a in moves:
            state = self._step(rules, state, a)
        return _Game(rules, list(setup_black), list(setup_white), first_player, list(moves),
                     list(inserted) or [False] * len(moves), state, handicap)

    def _replace_game(self, rules: Rules | None = None, moves=None, inserted=None) -> None:
        g = self.game
        self.game = self._new_game(
            rules or g.rules, g.setup_black, g.setup_white, g.first_player,
            g.moves if moves is None else moves, g.inserted if inserted is None else inserted,
            g.handicap,
        )

    def _ensure_room(self, extra: int) -> None:
        """Grows the move cap (replaying the game) when `extra` more moves might not fit."""
        g = self.game
        if int(g.state.move_count) + extra >= g.rules.move_cap:
            if g.rules.move_cap >= _MAX_MOVES:
                raise GTPError("game too long")
            self._replace_game(self._sized(g.rules, g.rules.size, int(g.state.move_count)))

    def _commit(self, actions: list[int], inserted: list[bool]) -> None:
        """Plays `actions` on the game, all or none (raises GTPError on an illegal one)."""
        g = self.game
        self._ensure_room(len(actions))
        state = g.state
        try:
            for a in actions:
                state = self._step(g.rules, state, a)
        except IllegalMoveError as e:
            raise GTPError(str(e)) from None
        g.state = state
        g.moves += actions
        g.inserted += inserted
        self.resigned = 0

    def _with_turn(self, colour: int, action: int) -> tuple[list[int], list[bool]]:
        """The actions for `colour` to play `action`: a pass by the other side first if needed."""
        if int(self.game.state.to_play) == colour:
            return [action], [False]
        return [self.game.rules.pass_action, action], [True, False]

    def _turn_state(self, colour: int) -> tuple[list[int], list[bool], GoState]:
        """The passes to insert for `colour` to move, and the state `colour` moves in (pass
        counter cleared after two passes: see the module docstring). Nothing is committed."""
        g = self.game
        pre, pre_inserted = self._with_turn(colour, g.rules.pass_action)
        pre, pre_inserted = pre[:-1], pre_inserted[:-1]
        state = g.state
        for a in pre:
            state = self._step(g.rules, state, a)
        if int(state.passes) >= 2:
            state = state.replace(passes=jnp.zeros_like(state.passes))
        return pre, pre_inserted, state

    def _board_ok(self, size: int) -> bool:
        return 2 <= size <= self.max_board_size

    def _board(self, state: GoState | None = None) -> np.ndarray:
        """The flat board (+1 black, -1 white, 0 empty) of `state` (default: the game's)."""
        state = self.game.state if state is None else state
        return np.asarray(jax.device_get(state.boards[0])).astype(np.int64)

    def _next_key(self) -> jax.Array:
        self.searches += 1
        return jax.random.fold_in(self.key, self.searches)

    def _network(self) -> SearchPlayer:
        if not isinstance(self.player, SearchPlayer):
            raise GTPError("this command needs a network player")
        return self.player

    # ------------------------------------------------------------------ standard commands
    def cmd_known_command(self, args: list[str]) -> str:
        if len(args) != 1:
            raise GTPError("syntax error: known_command takes one argument")
        return "true" if args[0].lower() in self.commands else "false"

    def cmd_quit(self, args: list[str]) -> str:
        self.quit = True
        return ""

    def cmd_boardsize(self, args: list[str]) -> str:
        if len(args) != 1 or not args[0].isdigit():
            raise GTPError("syntax error: boardsize takes one integer")
        size = int(args[0])
        if not self._board_ok(size):
            raise GTPError("unacceptable size")
        self.resigned = 0
        self.game = self._new_game(self._sized(self.game.rules, size), [], [], BLACK)
        return ""

    def cmd_clear_board(self, args: list[str]) -> str:
        self.resigned = 0
        self.game = self._new_game(self._sized(self.game.rules, self.game.rules.size), [], [],
                                   BLACK)
        return ""

    def cmd_komi(self, args: list[str]) -> str:
        try:
            komi = float(args[0]) if len(args) == 1 else float("nan")
        except ValueError:
            komi = float("nan")
        if not np.isfinite(komi):
            raise GTPError("syntax error: komi takes one number")
        g = self.game
        # Komi changes no position: keep the state, only its rules.
        g.rules = dataclasses.replace(g.rules, komi=komi)
        return ""

    def _vertex(self, text: str) -> int:
        try:
            return gtp_to_action(text, self.game.rules.size)
        except ValueError as e:
            raise GTPError(f"syntax error: invalid vertex: {e}") from None

    def cmd_play(self, args: list[str]) -> str:
        if len(args) != 2:
            raise GTPError("syntax error: play takes a color and a vertex")
        colour = _colour(args[0])
        action = self._vertex(args[1])
        self._commit(*self._with_turn(colour, action))
        return ""

    def cmd_genmove(self, args: list[str]) -> str:
        if len(args) != 1:
            raise GTPError("syntax error: genmove takes a color")
        return self._genmove(_colour(args[0]), cleanup=False)

    def cmd_genmove_cleanup(self, args: list[str]) -> str:
        """``kgs-genmove_cleanup COLOR``: genmove that never resigns, and never passes while
        opponent stones the engine estimates dead remain (it plays next to them instead)."""
        if len(args) != 1:
            raise GTPError("syntax error: kgs-genmove_cleanup takes a color")
        return self._genmove(_colour(args[0]), cleanup=True)

    def cmd_undo(self, args: list[str]) -> str:
        g = self.game
        if not g.moves:
            raise GTPError("cannot undo")
        n = len(g.moves) - 1
        while n > 0 and g.inserted[n - 1]:
            n -= 1
        self._replace_game(moves=g.moves[:n], inserted=g.inserted[:n])
        self.resigned = 0
        return ""

    def cmd_final_score(self, args: list[str]) -> str:
        if self.resigned:
            return result_string(None, self.resigned)
        return result_string(_score(self.game.rules, self.game.state))

    def cmd_final_status_list(self, args: list[str]) -> str:
        """``final_status_list alive|dead|seki``: the statuses `final_score` counts with.

        Tromp-Taylor scores the board as it stands: every stone on it is alive, so ``dead`` and
        ``seki`` are empty and ``alive`` lists every stone, one chain per line.
        """
        if len(args) != 1 or args[0].lower() not in ("alive", "dead", "seki"):
            raise GTPError("syntax error: final_status_list takes alive, dead or seki")
        if args[0].lower() != "alive":
            return ""
        return self._chain_lines(an.chains(self._board(), self.game.rules.size))

    def _chain_lines(self, chains: list[list[int]]) -> str:
        n = self.game.rules.size
        return "\n".join(" ".join(action_to_gtp(p, n) for p in ch) for ch in chains)

    def cmd_showboard(self, args: list[str]) -> str:
        g = self.game
        n = g.rules.size
        board = self._board().reshape(n, n)
        letters = "   " + " ".join(GTP_COLUMNS[:n])
        rows = [letters]
        for r in range(n):
            cells = " ".join(".XO"[int(v)] for v in board[r])  # -1 indexes 'O'
            rows.append(f"{n - r:2d} {cells} {n - r}")
        rows.append(letters)
        last = action_to_gtp(g.moves[-1], n) if g.moves else "none"
        handicap = f", handicap {g.handicap}" if g.handicap else ""
        rows.append(f"{_colour_name(int(g.state.to_play))} to play, move "
                    f"{len(g.moves) + 1}, komi {g.rules.komi:g}{handicap}, last move {last}")
        return "\n" + "\n".join(rows)

    def cmd_loadsgf(self, args: list[str]) -> str:
        if len(args) not in (1, 2) or (len(args) == 2 and not args[1].isdigit()):
            raise GTPError("syntax error: loadsgf takes a file name and an optional move number")
        try:
            record = read_sgf(Path(args[0]))
        except SGFError as e:
            raise GTPError(f"cannot load file: {e}") from None
        if not self._board_ok(record.size):
            raise GTPError(f"cannot load file: unacceptable size {record.size}")
        moves = record.moves
        if len(args) == 2:  # the position before move `move_number`
            moves = moves[: max(int(args[1]) - 1, 0)]
        rules = dataclasses.replace(self._sized(self.game.rules, record.size, len(moves)),
                                    komi=record.komi)
        # Black setup stones with White to move are a handicap (the reader does not keep HA).
        handicap = len(record.setup_black) if (
            record.setup_black and not record.setup_white and record.first_player == WHITE
        ) else 0
        try:
            game = self._new_game(rules, record.setup_black, record.setup_white,
                                  record.first_player, moves, handicap=handicap)
        except (IllegalMoveError, SGFError) as e:
            raise GTPError(f"cannot load file: {args[0]}: {e}") from None
        self.game = game
        self.resigned = 0
        return ""

    def record(self) -> GameRecord:
        """The game so far as a `GameRecord`; the result is set once someone resigned or the
        game ended with two passes."""
        g = self.game
        if self.resigned:
            result = result_string(None, self.resigned)
        elif int(g.state.passes) >= 2:
            result = result_string(_score(g.rules, g.state))
        else:
            result = ""
        return GameRecord(
            size=g.rules.size, komi=g.rules.komi, moves=list(g.moves), result=result,
            rules="Tromp-Taylor", setup_black=list(g.setup_black),
            setup_white=list(g.setup_white), first_player=g.first_player,
        )

    def sgf(self) -> str:
        """The game as SGF text: `record` with the handicap (``HA``) after the komi."""
        text = write_sgf(self.record())
        if self.game.handicap:
            text = re.sub(r"(KM\[[^\]]*\])", rf"\1HA[{self.game.handicap}]", text, count=1)
        return text

    def cmd_printsgf(self, args: list[str]) -> str:
        if len(args) > 1:
            raise GTPError("syntax error: printsgf takes an optional file name")
        text = self.sgf()
        if args:
            try:
                Path(args[0]).write_text(text, encoding="utf-8")
            except OSError as e:
                raise GTPError(f"cannot write {args[0]}: {e.strerror or e}") from None
            return ""
        return "\n" + text.rstrip("\n")

    # ------------------------------------------------------------------ handicap
    def _stone_count(self, args: list[str], command: str) -> int:
        if len(args) != 1 or not args[0].isdigit():
            raise GTPError(f"syntax error: {command} takes one integer")
        return int(args[0])

    def _check_empty(self) -> None:
        g = self.game
        if g.moves or g.setup_black or g.setup_white:
            raise GTPError("board not empty")

    def _place_handicap(self, points: list[int]) -> str:
        """Starts the game from `points` as Black handicap stones, White to move; answers
        their vertices."""
        g = self.game
        self.game = self._new_game(g.rules, points, [], WHITE, handicap=len(points))
        self.resigned = 0
        return " ".join(action_to_gtp(p, g.rules.size) for p in points)

    def cmd_fixed_handicap(self, args: list[str]) -> str:
        """``fixed_handicap N``: the GTP placement (`handicap.fixed_points`)."""
        n = self._stone_count(args, "fixed_handicap")
        self._check_empty()
        size = self.game.rules.size
        if not 2 <= n <= max_fixed_handicap(size):
            raise GTPError("invalid number of stones")
        return self._place_handicap(fixed_points(size, n))

    def cmd_place_free_handicap(self, args: list[str]) -> str:
        """``place_free_handicap N``: the engine's choice -- stone by stone the point the
        network's policy likes best for Black (White passing in between); without a network,
        well spread points (`handicap.spread_points`)."""
        n = self._stone_count(args, "place_free_handicap")
        self._check_empty()
        size = self.game.rules.size
        if not 2 <= n < size * size:
            raise GTPError("invalid number of stones")
        if isinstance(self.player, SearchPlayer):
            points = self._policy_points(n)
        else:
            points = spread_points(size, n)
        return self._place_handicap(points)

    def _policy_points(self, n: int) -> list[int]:
        player = self.player
        rules = _komi_free(self.game.rules)  # the network's inputs carry no komi
        state, points = rules.init(), []
        for _ in range(n):
            probs, _, _ = an.network_eval(rules, player.network, player.history, player.params,
                                          _batch(state))
            probs = np.array(jax.device_get(probs[0]))[: rules.num_points]
            probs[points] = -1.0
            points.append(int(np.argmax(probs)))
            state = rules.play(rules.play(state, points[-1]), rules.pass_action)
        return points

    def cmd_set_free_handicap(self, args: list[str]) -> str:
        """``set_free_handicap V...``: the controller's handicap stones."""
        self._check_empty()
        size = self.game.rules.size
        if not 2 <= len(args) < size * size:
            raise GTPError("bad vertex list: expected 2 to "
                           f"{size * size - 1} vertices, got {len(args)}")
        points: list[int] = []
        for v in args:
            try:
                p = gtp_to_action(v, size)
            except ValueError as e:
                raise GTPError(f"bad vertex list: {e}") from None
            if p == size * size or p in points:
                raise GTPError(f"bad vertex list: {clip(v)} is a pass or repeated")
            points.append(p)
        self._place_handicap(points)
        return ""

    # ------------------------------------------------------------------ time control
    def cmd_time_settings(self, args: list[str]) -> str:
        """``time_settings MAIN BYO_YOMI_TIME BYO_YOMI_STONES`` (seconds; see `timecontrol`)."""
        if len(args) != 3:
            raise GTPError("syntax error: time_settings takes main time, byo-yomi time and "
                           "byo-yomi stones")
        main, byo = _number(args[0], "main time"), _number(args[1], "byo-yomi time")
        if not args[2].isdigit():
            raise GTPError("syntax error: byo-yomi stones must be a non-negative integer")
        self.time.settings(main, byo, int(args[2]))
        return ""

    def cmd_time_left(self, args: list[str]) -> str:
        """``time_left COLOR TIME STONES``: the controller's reading of a clock."""
        if len(args) != 3:
            raise GTPError("syntax error: time_left takes a color, a time and stones")
        colour = _colour(args[0])
        seconds = _number(args[1], "time")
        if not args[2].isdigit():
            raise GTPError("syntax error: stones must be a non-negative integer")
        self.time.left(colour, seconds, int(args[2]))
        return ""

    def _budget(self, colour: int, state: GoState) -> float | None:
        return self.time.budget(colour, int(np.sum(self._board(state) == 0)))

    # ------------------------------------------------------------------ move generation
    def _choose(self, state: GoState, key: jax.Array, budget: float | None) -> _Choice:
        """The player's move in `state` with simulations fitted to `budget` seconds."""
        rules = self.game.rules
        if not isinstance(self.player, SearchPlayer):
            action, value = self.player(rules, state, key)
            return _Choice(int(action), float(value), None, 0)
        sims = self.fitter.choose(budget, rules, rules.size)
        player = (self.player if sims == self.player.simulations
                  else self.player.with_simulations(sims))
        start = self.clock()
        actions, result = player.move(rules, _batch(state), key)
        action = int(actions[0])  # waits for the device: the timing below is the search's
        self.fitter.record(sims, self.clock() - start, rules, rules.size)
        policy = np.asarray(jax.device_get(result.policy[0]))
        return _Choice(action, float(result.value[0]), policy, sims)

    def _genmove(self, colour: int, cleanup: bool) -> str:
        if cleanup:
            self._room_for_playouts()
        self._ensure_room(self.game.rules.num_points + 2)
        g = self.game
        pre, pre_inserted, state = self._turn_state(colour)
        start = self.clock()
        choice = self._choose(state, self._next_key(), self._budget(colour, state))
        action = choice.action
        if cleanup:
            action = self._cleanup_move(state, action, choice.policy)
        self.time.spend(colour, self.clock() - start)
        sims = f", {choice.sims} sims" if choice.sims else ""
        self.log(f"{'cleanup ' if cleanup else ''}genmove {_colour_name(colour)}: "
                 f"{action_to_gtp(action, g.rules.size)} value {choice.value:+.3f} "
                 f"(move {len(g.moves) + len(pre) + 1}{sims})")
        if not cleanup and self.resign_threshold > -1 and choice.value < self.resign_threshold:
            self.resigned = colour
            return "resign"
        self._commit(pre + [action], pre_inserted + [False])
        return action_to_gtp(action, g.rules.size)

    def _cleanup_move(self, state: GoState, action: int, policy: np.ndarray | None) -> int:
        """`action`, unless it passes while opponent stones estimated dead remain: then the
        legal point next to those stones that the search policy likes best (any legal point if
        none is next to them; pass only if no point is legal)."""
        rules = self.game.rules
        if action != rules.pass_action:
            return action
        mover = int(state.to_play)
        dead = [ch for ch in self._dead(state) if self._board(state)[ch[0]] == -mover]
        if not dead:
            return action
        legal = np.asarray(jax.device_get(_legal(_komi_free(rules), state)))[:-1]
        near = np.zeros_like(legal)
        n = rules.size
        for p in (p for ch in dead for p in ch):
            r, c = divmod(p, n)
            for rr, cc in ((r - 1, c), (r + 1, c), (r, c - 1), (r, c + 1)):
                if 0 <= rr < n and 0 <= cc < n:
                    near[rr * n + cc] = True
        candidates = legal & near if np.any(legal & near) else legal
        if not np.any(candidates):
            return action
        score = policy[:-1] if policy is not None else np.zeros(legal.shape)
        return int(np.argmax(np.where(candidates, score, -np.inf)))

    # ------------------------------------------------------------------ dead stones
    def _ownership(self, state: GoState) -> np.ndarray:
        """Estimated final ownership of each point, +1 = Black's (see `ownership`)."""
        rules = self.game.rules
        key = self._next_key()
        if self.ownership_fn is not None:
            return np.asarray(self.ownership_fn(rules, state, key), np.float64)
        if not isinstance(self.player, SearchPlayer):  # Tromp-Taylor area: all stones alive
            area = _komi_free(rules).ownership(state)
            return np.asarray(jax.device_get(area), np.float64).reshape(-1)
        p = self.player
        # Playouts stop at the move cap: callers make room first (`_room_for_playouts`).
        own = an.ownership_estimate(_komi_free(rules), p.network, p.history, self.playouts,
                                    2 * rules.num_points, p.params, state, key)
        return np.asarray(jax.device_get(own), np.float64)

    def _room_for_playouts(self) -> None:
        """Grows the move cap so that playouts from the position can run to their end."""
        self._ensure_room(2 * self.game.rules.num_points + 2)

    def _dead(self, state: GoState) -> list[list[int]]:
        """Chains of either colour the ownership estimate calls dead."""
        return an.dead_chains(self._board(state), self._ownership(state), self.game.rules.size,
                              self.dead_threshold)

    # ------------------------------------------------------------------ analysis
    def _analyze(self, args: list[str], style: str, genmove: bool) -> Generator:
        """lz-analyze, kata-analyze and their genmove_analyze forms: checks the arguments and
        returns the stream (see `_analysis_stream`)."""
        player = self._network()
        try:
            req = an.parse_analyze_args(args)
        except ValueError as e:
            raise GTPError(f"syntax error: {e}") from None
        colour = int(self.game.state.to_play) if req.colour is None else req.colour
        if req.ownership:
            self._room_for_playouts()
        if genmove:
            self._ensure_room(self.game.rules.num_points + 2)
        pre, pre_inserted, state = self._turn_state(colour)
        own = None
        if req.ownership and style == "kata":  # side-to-move view, as KataGo prints it
            own = self._ownership(state) * colour
        return self._analysis_stream(player, state, colour, req, style, own,
                                     (pre, pre_inserted) if genmove else None)

    def _analysis_stream(self, player: SearchPlayer, state: GoState, colour: int,
                         req: an.AnalyzeRequest, style: str, own: np.ndarray | None,
                         genmove: tuple[list[int], list[bool]] | None) -> Generator:
        """Searches `state` round after round, yielding an info line whenever `req.interval`
        has passed; an analysis ends when `self._stop()` says so, a genmove_analyze when its
        simulations (or its time budget) are spent, with the move played and returned as
        ``play VERTEX``."""
        rules = self.game.rules
        n = rules.size
        settings = player.settings._replace(num_simulations=self.analysis_simulations)
        if not genmove:  # the root's pass rules choose a move to play; an analysis shows them all
            settings = settings._replace(pass_when_won=False, pass_only_to_win=False)
        states = _batch(state, self.analysis_batch)
        acc = an.Analysis.empty(rules.num_actions)
        budget = self._budget(colour, state) if genmove else None
        target = self.fitter.choose(budget, rules, n) if genmove else 0
        start = last = self.clock()
        shown = True
        while True:
            if genmove is None and self._stop():
                break
            if genmove is not None and acc.searches and self._done(acc, target, budget, start):
                break
            stats = an.search_round(rules, player.network, player.history, settings,
                                    player.params, states, self._next_key())
            acc.add(stats)
            shown = False
            if self.clock() - last >= req.interval:
                yield self._info(acc, req, style, own, n)
                last, shown = self.clock(), True
        if not shown:
            yield self._info(acc, req, style, own, n)
        if genmove is None:
            return None
        return self._play_analysed(acc, colour, genmove, start)

    def _done(self, acc: an.Analysis, target: int, budget: float | None, start: float) -> bool:
        """A genmove_analyze has searched enough: its simulations, or (under time control) its
        time once the floor is reached."""
        sims = acc.searches * self.analysis_simulations
        if sims >= target:
            return True
        return budget is not None and sims >= self.fitter.floor and (
            self.clock() - start >= budget)

    def _info(self, acc, req, style, own, n) -> str:
        moves = acc.ranked(req.min_moves, req.max_moves)
        if style == "lz":
            return an.format_lz(moves, n)
        return an.format_kata(moves, n, own)

    def _play_analysed(self, acc: an.Analysis, colour: int, pre, start: float) -> str:
        """Plays the analysis's most visited move (or resigns) for a genmove_analyze."""
        rules = self.game.rules
        self.time.spend(colour, self.clock() - start)
        value, action = acc.value(), acc.best()
        self.log(f"genmove_analyze {_colour_name(colour)}: "
                 f"{action_to_gtp(action, rules.size)} value {value:+.3f} "
                 f"({acc.total_visits} visits)")
        if self.resign_threshold > -1 and value < self.resign_threshold:
            self.resigned = colour
            return "play resign"
        self._commit(pre[0] + [action], pre[1] + [False])
        return f"play {action_to_gtp(action, rules.size)}"

    # ------------------------------------------------------------------ GoGui analyze commands
    def _dboard(self, values: np.ndarray) -> str:
        """A GoGui ``dboard`` response: one row per line, the top row first."""
        n = self.game.rules.size
        rows = np.asarray(values, np.float64)[: n * n].reshape(n, n)
        rows = np.round(rows, 3) + 0.0  # no "-0.000"
        return "\n" + "\n".join(" ".join(f"{v:.3f}" for v in row) for row in rows)

    def _to_play_state(self) -> GoState:
        return self._turn_state(int(self.game.state.to_play))[2]

    def _policy(self) -> tuple[np.ndarray, float]:
        p = self._network()
        probs, value, _ = an.network_eval(_komi_free(self.game.rules), p.network, p.history,
                                          p.params, _batch(self._to_play_state()))
        return np.asarray(jax.device_get(probs[0])), float(value[0])

    def cmd_policy(self, args: list[str]) -> str:
        """``alphago-policy``: the network's move probabilities, scaled so the best point is 1."""
        probs = self._policy()[0][:-1]
        return self._dboard(probs / max(float(probs.max()), 1e-12))

    def _search(self):
        p = self._network()
        result = p.search(self.game.rules, _batch(self._to_play_state()), self._next_key())
        return jax.tree.map(lambda x: np.asarray(jax.device_get(x))[0], result)

    def cmd_visits(self, args: list[str]) -> str:
        """``alphago-visits``: root visit counts of one search, scaled so the most is 1."""
        visits = self._search().visits[:-1].astype(np.float64)
        return self._dboard(visits / max(float(visits.max()), 1.0))

    def cmd_value(self, args: list[str]) -> str:
        """``alphago-value``: the network's and the search's value for the side to move."""
        _, net_value = self._policy()
        result = self._search()
        n = self.game.rules.size
        who = _colour_name(int(self.game.state.to_play))
        return (f"{who} to play: network value {net_value:+.3f} (winrate "
                f"{50 * (1 + net_value):.1f}%), search value {float(result.value):+.3f} (winrate "
                f"{50 * (1 + float(result.value)):.1f}%, {int(result.visits.sum())} visits), "
                f"search move {action_to_gtp(int(result.action), n)}")

    def cmd_ownership(self, args: list[str]) -> str:
        """``alphago-ownership``: the ownership estimate, +1 = Black's."""
        self._room_for_playouts()
        return self._dboard(self._ownership(self.game.state))

    def cmd_dead_stones(self, args: list[str]) -> str:
        """``alphago-dead_stones``: the stones the ownership estimate calls dead."""
        self._room_for_playouts()
        chains = self._dead(self.game.state)
        return " ".join(action_to_gtp(p, self.game.rules.size) for ch in chains for p in ch)


# ---------------------------------------------------------------------- building from a run
def supported_max_size(net) -> int:
    """Largest board a network plays: any (<= 19) for convolutional nets and 2-d sin-cos
    transformers, the positional table's size for learned-position transformers."""
    if net.kind == "transformer" and net.pos_embedding == "learned":
        return min(net.max_board_size, 19)
    return 19


def from_checkpoint(
    run_dir: str,
    sims: int | None = None,
    superko: bool | None = None,
    suicide: bool | None = None,
    komi: float | None = None,
    resign_threshold: float = -0.95,
    seed: int = 0,
    **engine_options,
) -> GTPEngine:
    """An engine playing a run's latest checkpoint with its evaluation search settings.

    Args:
      run_dir: a training run directory (see `alphago_jax.runs.load_params`).
      sims: simulations per move (default: the run's `eval_simulations`).
      superko, suicide, komi: rule overrides (default: the run's config).
      resign_threshold: see `GTPEngine`.
      seed: seed of the search's random choices.
      **engine_options: more `GTPEngine` options (min_simulations, analysis_simulations, ...).

    Raises:
      ConfigError, CheckpointError: not a loadable run directory.
    """
    from alphago_jax.runs import load_params

    run = load_params(run_dir)
    player = SearchPlayer.from_run(run, sims)
    changes = {k: v for k, v in (("superko", superko), ("suicide", suicide), ("komi", komi))
               if v is not None}
    rules = dataclasses.replace(run.cfg.rules(), **changes)
    engine = GTPEngine(player, rules, resign_threshold=resign_threshold,
                       max_board_size=supported_max_size(run.network.config), seed=seed,
                       **engine_options)
    settings = player.settings
    engine.log(f"alphago-jax gtp: {run_dir} step {run.step}, {rules.size}x{rules.size} komi "
               f"{rules.komi:g}, superko {rules.superko}, suicide {rules.suicide}, "
               f"{settings.algorithm} {settings.num_simulations} sims")
    return engine


# `alphago-jax gtp` options beyond the ones `from_checkpoint` names, read when the CLI has them.
_CLI_ENGINE_OPTIONS = ("min_simulations", "analysis_simulations", "analysis_batch")


def main(args) -> int:
    """`alphago-jax gtp`: serve GTP on stdin/stdout."""
    from alphago_jax.checkpoint import CheckpointError
    from alphago_jax.config import ConfigError

    options = {k: getattr(args, k) for k in _CLI_ENGINE_OPTIONS
               if getattr(args, k, None) is not None}
    gtp_out = sys.stdout
    sys.stdout = sys.stderr  # anything a library prints must not corrupt the protocol stream
    try:
        try:
            engine = from_checkpoint(args.checkpoint, args.sims, args.superko, args.suicide,
                                     args.komi, args.resign_threshold, args.seed, **options)
        except (ConfigError, CheckpointError, ValueError) as e:
            print(f"alphago-jax gtp: {e}", file=sys.stderr)
            return 2
        return engine.run(sys.stdin, gtp_out)
    finally:
        sys.stdout = gtp_out
