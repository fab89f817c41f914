"""A GTP (Go Text Protocol, version 2) engine around a trained network and batched search.

`GTPEngine.handle(line)` answers one command line; `GTPEngine.run(stdin, stdout)` is the
protocol loop. Only GTP responses go to stdout; logs go to stderr.

Choices the protocol leaves to the engine:

* The game is the setup stones (from `loadsgf`) plus a list of actions; `undo` drops the last
  move and replays the list through the checked rules.
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
"""

from __future__ import annotations

import dataclasses
import functools
import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import IO

import jax
import jax.numpy as jnp
import numpy as np

from alphago_jax.arena.players import SearchPlayer
from alphago_jax.rules.coords import GTP_COLUMNS, action_to_gtp, gtp_to_action
from alphago_jax.rules.go import BLACK, WHITE, GoState, IllegalMoveError, Rules
from alphago_jax.sgf import GameRecord, SGFError, read_sgf, result_string, save_sgf, write_sgf
from alphago_jax.sgf.sgf import setup_actions

PROTOCOL_VERSION = "2"
_MAX_MOVES = 30000  # the rules engine's largest move cap

# A player maps (rules, state, key) to (action, searched value for the side to move); an
# `arena.SearchPlayer` is turned into one by `search_move`.
Player = Callable[[Rules, GoState, jax.Array], tuple[int, float]]


class GTPError(Exception):
    """A command failed; the message becomes the "? message" response."""


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


def search_move(player: SearchPlayer, rules: Rules, state: GoState, key: jax.Array
                ) -> tuple[int, float]:
    """The player's move in one position and the searched value for the side to move (a
    batch of one through the arena player's compiled search and action selection)."""
    actions, result = player.move(rules, jax.tree.map(lambda x: x[None], state), key)
    return int(actions[0]), float(result.value[0])


def _colour(text: str) -> int:
    t = text.lower()
    if t in ("b", "black"):
        return BLACK
    if t in ("w", "white"):
        return WHITE
    raise GTPError(f"syntax error: invalid color {text!r}")


def _colour_name(colour: int) -> str:
    return "black" if colour == BLACK else "white"


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


class GTPEngine:
    """GTP version 2 engine.

    Args:
      player: chooses moves: an `arena.SearchPlayer`, or any `Player` callable.
      rules: the starting rules (size, komi, ko and suicide rules, history).
      name, version: answers of ``name`` and ``version``.
      resign_threshold: ``genmove`` answers "resign" when the searched value for the side to
        move is below it; -1 (or less) never resigns.
      max_board_size: largest board ``boardsize`` accepts (2..19).
      seed: seed of the search's random choices (one key per generated move).
      log: stream for log lines (stderr).
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
        self.genmoves = 0
        self.resigned = 0  # colour that resigned in this game, 0 if none
        self.game = self._new_game(self._sized(rules, rules.size), [], [], BLACK)
        self.commands: dict[str, Callable[[list[str]], str]] = {
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
            "showboard": self.cmd_showboard,
            "time_settings": lambda a: "",
            "time_left": lambda a: "",
            "loadsgf": self.cmd_loadsgf,
            "printsgf": self.cmd_printsgf,
        }

    # ------------------------------------------------------------------ protocol
    def _choose(self, rules: Rules, state: GoState, key: jax.Array) -> tuple[int, float]:
        """The player's (action, searched value for the side to move) in `state`."""
        if isinstance(self.player, SearchPlayer):
            return search_move(self.player, rules, state, key)
        return self.player(rules, state, key)

    def log(self, message: str) -> None:
        print(message, file=self.log_stream or sys.stderr, flush=True)

    def handle(self, line: str) -> str | None:
        """Answers one command line.

        Returns:
          The full response ("=id result" or "?id error", ending with a blank line), or None
          for a line without a command (empty or a comment). After ``quit`` the response is the
          acknowledgement and `self.quit` is True.
        """
        # GTP 2 section 3.1: drop control characters but HT and LF, HT -> space, strip comments.
        text = "".join(c for c in line if c in "\t\n" or ord(c) >= 32 and ord(c) != 127)
        text = text.replace("\t", " ").split("#", 1)[0].strip()
        if not text:
            return None
        words = text.split()
        cid = ""
        if words[0].isdigit():
            cid, words = words[0], words[1:]
            if not words:
                return f"?{cid} syntax error: missing command\n\n"
        name, args = words[0].lower(), words[1:]
        try:
            command = self.commands.get(name)
            if command is None:
                raise GTPError("unknown command")
            body = command(args)
        except GTPError as e:
            return f"?{cid} {e}\n\n"
        except Exception as e:  # never die on one command: report it and keep serving
            self.log(traceback.format_exc())
            return f"?{cid} internal error: {type(e).__name__}: {e}\n\n"
        return f"={cid} {body}\n\n"

    def run(self, stdin: IO[str], stdout: IO[str]) -> int:
        """Answers commands from `stdin` on `stdout` until ``quit`` or end of input."""
        while not self.quit:
            line = stdin.readline()
            if not line:
                break
            response = self.handle(line)
            if response is not None:
                stdout.write(response)
                stdout.flush()
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

    def _new_game(self, rules, setup_black, setup_white, first_player, moves=(), inserted=()):
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
                     list(inserted) or [False] * len(moves), state)

    def _replace_game(self, rules: Rules | None = None, moves=None, inserted=None) -> None:
        g = self.game
        self.game = self._new_game(
            rules or g.rules, g.setup_black, g.setup_white, g.first_player,
            g.moves if moves is None else moves, g.inserted if inserted is None else inserted,
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

    def _board_ok(self, size: int) -> bool:
        return 2 <= size <= self.max_board_size

    # ------------------------------------------------------------------ commands
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

    def cmd_play(self, args: list[str]) -> str:
        if len(args) != 2:
            raise GTPError("syntax error: play takes a color and a vertex")
        colour = _colour(args[0])
        try:
            action = gtp_to_action(args[1], self.game.rules.size)
        except ValueError as e:
            raise GTPError(f"syntax error: invalid vertex: {e}") from None
        self._commit(*self._with_turn(colour, action))
        return ""

    def cmd_genmove(self, args: list[str]) -> str:
        if len(args) != 1:
            raise GTPError("syntax error: genmove takes a color")
        colour = _colour(args[0])
        g = self.game
        self._ensure_room(g.rules.size * g.rules.size + 2)
        pre, pre_inserted = self._with_turn(colour, g.rules.pass_action)
        pre, pre_inserted = pre[:-1], pre_inserted[:-1]
        state = g.state
        for a in pre:
            state = self._step(g.rules, state, a)
        if int(state.passes) >= 2:  # searching on after the game ended: see the module doc
            state = state.replace(passes=jnp.zeros_like(state.passes))
        key = jax.random.fold_in(self.key, self.genmoves)
        self.genmoves += 1
        action, value = self._choose(g.rules, state, key)
        self.log(f"genmove {_colour_name(colour)}: {action_to_gtp(action, g.rules.size)} "
                 f"value {value:+.3f} (move {len(g.moves) + len(pre) + 1})")
        if self.resign_threshold > -1 and value < self.resign_threshold:
            self.resigned = colour
            return "resign"
        self._commit(pre + [action], pre_inserted + [False])
        return action_to_gtp(action, g.rules.size)

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

    def cmd_showboard(self, args: list[str]) -> str:
        g = self.game
        n = g.rules.size
        board = np.asarray(jax.device_get(g.state.boards[0])).reshape(n, n)
        letters = "   " + " ".join(GTP_COLUMNS[:n])
        rows = [letters]
        for r in range(n):
            cells = " ".join(".XO"[int(v)] for v in board[r])  # -1 indexes 'O'
            rows.append(f"{n - r:2d} {cells} {n - r}")
        rows.append(letters)
        last = action_to_gtp(g.moves[-1], n) if g.moves else "none"
        rows.append(f"{_colour_name(int(g.state.to_play))} to play, move "
                    f"{len(g.moves) + 1}, komi {g.rules.komi:g}, last move {last}")
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
        try:
            game = self._new_game(rules, record.setup_black, record.setup_white,
                                  record.first_player, moves)
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

    def cmd_printsgf(self, args: list[str]) -> str:
        if len(args) > 1:
            raise GTPError("syntax error: printsgf takes an optional file name")
        record = self.record()
        if args:
            try:
                save_sgf(record, args[0])
            except OSError as e:
                raise GTPError(f"cannot write {args[0]}: {e.strerror or e}") from None
            return ""
        return "\n" + write_sgf(record).rstrip("\n")


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
) -> GTPEngine:
    """An engine playing a run's latest checkpoint with its evaluation search settings.

    Args:
      run_dir: a training run directory (see `alphago_jax.runs.load_params`).
      sims: simulations per move (default: the run's `eval_simulations`).
      superko, suicide, komi: rule overrides (default: the run's config).
      resign_threshold: see `GTPEngine`.
      seed: seed of the search's random choices.

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
                       max_board_size=supported_max_size(run.network.config), seed=seed)
    settings = player.settings
    engine.log(f"alphago-jax gtp: {run_dir} step {run.step}, {rules.size}x{rules.size} komi "
               f"{rules.komi:g}, superko {rules.superko}, suicide {rules.suicide}, "
               f"{settings.algorithm} {settings.num_simulations} sims")
    return engine


def main(args) -> int:
    """`alphago-jax gtp`: serve GTP on stdin/stdout."""
    from alphago_jax.checkpoint import CheckpointError
    from alphago_jax.config import ConfigError

    gtp_out = sys.stdout
    sys.stdout = sys.stderr  # anything a library prints must not corrupt the protocol stream
    try:
        try:
            engine = from_checkpoint(args.checkpoint, args.sims, args.superko, args.suicide,
                                     args.komi, args.resign_threshold, args.seed)
        except (ConfigError, CheckpointError, ValueError) as e:
            print(f"alphago-jax gtp: {e}", file=sys.stderr)
            return 2
        return engine.run(sys.stdin, gtp_out)
    finally:
        sys.stdout = gtp_out
