"""Players for the arena: batched device players, and host players seated one per game.

* `DevicePlayer`s choose moves for a batch of games in one compiled call: `RandomPlayer`
  (uniform over legal points, `Rules.random_action`) and `SearchPlayer` (batched MCTS with a
  network: a trained checkpoint, the training run's current parameters, or a hand-written
  evaluation such as the scaling references).
* `HostPlayer`s play one game at a time through a `Seat`: `GTPPlayer` drives any GTP engine
  (GnuGo, KataGo, ...) in a subprocess, `ScriptedPlayer` replays fixed move lists (tests).

Player specs (`parse_player`):

* ``random``
* ``ckpt:DIR``, ``ckpt:DIR:SIMS``, ``ckpt:DIR@STEP``, ``ckpt:DIR@STEP:SIMS`` -- a training run
  directory (its latest checkpoint, or checkpoint STEP), searching with the run's evaluation
  settings (SIMS simulations per move if given).
* ``gtp:COMMAND`` -- a GTP engine started as COMMAND (split like a shell would), e.g.
  ``gtp:/usr/games/gnugo --mode gtp --level 10``.
"""

from __future__ import annotations

import collections
import dataclasses
import functools
import math
import os
import queue
import re
import shlex
import shutil
import signal
import subprocess
import threading
import time
import weakref
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jax

from alphago_jax.rules.coords import action_to_gtp, gtp_to_action
from alphago_jax.rules.go import BLACK, GoState, Rules
from alphago_jax.search.mcts import SearchResult, SearchSettings, run_search, select_action

RESIGN = -1
"""What `Seat.genmove` returns when the player resigns."""

DEFAULT_GTP_TIMEOUT = 60.0


class PlayerSpecError(ValueError):
    """A player spec that cannot be parsed or loaded; the message says which and why."""


class PlayerError(RuntimeError):
    """A host player failed during a game (GTP timeout, '?' reply, bad vertex, process exit).

    The referee turns it into a loss of that game for the player, with this message as reason.
    """


# ------------------------------------------------------------------------------ device players


class DevicePlayer:
    """Chooses moves for a batch of games at once (one compiled call per move).

    Attributes (every subclass sets them):
      name: the player's name (its spec), used in results and SGF files.
      history: board positions its inputs need (the match's rules keep at least that many).
      config: the training config of a checkpoint (for the arena's default rules), else None.
    """

    def select(self, rules: Rules, states: GoState, key: jax.Array) -> jax.Array:
        """Moves for every game in the batch; the match loop passes only games where this
        player is to move (padded to a fixed batch size, so it compiles once or twice).

        Args:
          rules: the match's rules.
          states: GoState with batch axis B, unfinished games.
          key: PRNG key.

        Returns:
          int32[B] legal actions.
        """
        raise NotImplementedError


@functools.partial(jax.jit, static_argnums=0)
def _random_moves(rules: Rules, states: GoState, key: jax.Array) -> jax.Array:
    keys = jax.random.split(key, states.to_play.shape[0])
    return jax.vmap(rules.random_action)(states, keys)


class RandomPlayer(DevicePlayer):
    """Uniformly random legal points; passes only when no point is legal."""

    history = 1
    config = None

    def __init__(self, name: str = "random"):
        self.name = name

    def select(self, rules, states, key):
        return _random_moves(rules, states, key)


@functools.partial(jax.jit, static_argnums=(0, 1, 2, 3, 4))
def _search_move(rules: Rules, network, history: int, settings: SearchSettings, selection: str,
                 params, states: GoState, key: jax.Array) -> tuple[jax.Array, SearchResult]:
    """One batched search and the moves chosen from it: (int32[B], SearchResult).

    Everything but the parameters, states and key is static, so players with equal networks
    (hashable values), settings and batch sizes share one compiled program, whatever their
    parameters: checkpoints of one architecture compile once.
    """
    result = run_search(rules, network, history, settings, params, states, key)
    return select_action(result, settings.algorithm, selection), result


@dataclasses.dataclass(frozen=True, eq=False)
class SearchPlayer(DevicePlayer):
    """A network searching with mctx; every game of the batch in one search.

    Attributes:
      name: the player's name (a checkpoint's spec ``ckpt:DIR@STEP[:SIMS]``).
      network: `network(params, x[B, S, S, C]) -> NetOutput`, hashable (a `nets.Network`, or a
        frozen dataclass such as `scaling.ReferenceNet`): a jit static argument.
      params: its parameters (any pytree; traced).
      settings: the search.
      history: board positions in its input features.
      selection: how the move is chosen from the search (`search.select_action`).
      config: the training config it comes from (the arena's default rules), or None.
      step: the checkpoint's step, or None.
      run_dir: the run directory it was loaded from, or None.
    """

    name: str
    network: Any
    params: Any
    settings: SearchSettings
    history: int
    selection: str = "search"
    config: Any = None
    step: int | None = None
    run_dir: str | None = None

    @classmethod
    def from_config(cls, cfg, network, params, simulations: int | None = None,
                    name: str = "agent", **extra) -> SearchPlayer:
        """The evaluated agent of a run: its evaluation search (`cfg.eval_settings`) with
        `simulations` per move (default `cfg.eval_simulations`), history and `cfg.eval_action`.

        Args:
          cfg: a `TrainConfig`.
          network: its network (`cfg.network()`).
          params: network parameters.
          simulations: simulations per move.
          name: the player's name.
          **extra: `step`, `run_dir`.
        """
        if simulations is not None and simulations < 1:
            raise PlayerSpecError(f"simulations must be >= 1, got {simulations}")
        return cls(name=name, network=network, params=params,
                   settings=cfg.eval_settings(simulations), history=cfg.history,
                   selection=cfg.eval_action, config=cfg, **extra)

    @classmethod
    def from_run(cls, run, simulations: int | None = None, name: str | None = None
                 ) -> SearchPlayer:
        """A checkpoint as a player: `run` is a `runs.LoadedRun` (`runs.load_params`).

        Its default name is the spec ``ckpt:DIR@STEP`` (``ckpt:DIR@STEP:SIMS`` with
        `simulations`)."""
        if name is None:
            name = f"ckpt:{run.run_dir}@{run.step}" + (f":{simulations}" if simulations else "")
        return cls.from_config(run.cfg, run.network, run.params, simulations, name,
                               step=run.step, run_dir=run.run_dir)

    @property
    def simulations(self) -> int:
        return self.settings.num_simulations

    def with_simulations(self, simulations: int, name: str | None = None) -> SearchPlayer:
        """The same network searching with another number of simulations (no reload).

        Its default name is the spec `ckpt:DIR@STEP:SIMS` for a checkpoint."""
        if simulations < 1:
            raise PlayerSpecError(f"simulations must be >= 1, got {simulations}")
        if name is None:
            name = (f"ckpt:{self.run_dir}@{self.step}:{simulations}" if self.run_dir else
                    f"{self.name}[{simulations} sims]")
        return dataclasses.replace(
            self, name=name, settings=self.settings._replace(num_simulations=simulations))

    def move(self, rules: Rules, states: GoState, key: jax.Array
             ) -> tuple[jax.Array, SearchResult]:
        """(int32[B] moves, the SearchResult they were chosen from) for a batch of states."""
        return _search_move(rules, self.network, self.history, self.settings,
                            self.selection, self.params, states, key)

    def search(self, rules: Rules, states: GoState, key: jax.Array) -> SearchResult:
        """The batched search from `states` (the same compiled program as `select`)."""
        return self.move(rules, states, key)[1]

    def select(self, rules, states, key):
        return self.move(rules, states, key)[0]


def checkpoint_steps(run_dir: str | Path) -> list[int]:
    """Steps with a complete checkpoint in a run directory, ascending (`runs.checkpoint_steps`).

    Raises:
      PlayerSpecError: no checkpoints directory.
    """
    from alphago_jax import runs
    from alphago_jax.checkpoint import CheckpointError

    try:
        return runs.checkpoint_steps(run_dir)
    except CheckpointError as e:
        raise PlayerSpecError(str(e)) from None


# ------------------------------------------------------------------------------ host players


class Seat:
    """One game at a time for a host player; the referee keeps one seat per concurrent game."""

    def new_game(self, rules: Rules, game: int) -> None:
        """Prepares an empty board for game number `game` under `rules`."""

    def genmove(self, colour: int) -> int:
        """The player's move as `colour` (+1 black, -1 white): an action, or `RESIGN`.

        Raises:
          PlayerError: the player failed (the referee forfeits the game).
        """
        raise NotImplementedError

    def play(self, colour: int, action: int) -> None:
        """Tells the player that `colour` (the opponent) played `action`."""

    def close(self) -> None:
        """Releases the seat's resources (idempotent)."""


class HostPlayer:
    """A player that plays one game per `Seat` on the host (a process, a script)."""

    name: str = "host"
    is_gtp: bool = False
    history: int = 1
    config = None

    def seat(self) -> Seat:
        raise NotImplementedError


class ScriptedPlayer(HostPlayer):
    """Replays fixed moves: game g uses `scripts[g % len(scripts)]`; passes when it runs out.

    Moves are actions (int), GTP vertices ("D4", "pass") or "resign". Nothing is checked here:
    the referee judges the moves, which is what tests of the referee need.
    """

    def __init__(self, scripts: list[list[int | str]], name: str = "scripted"):
        self.scripts = scripts
        self.name = name

    def seat(self) -> Seat:
        return _ScriptSeat(self.scripts)


class _ScriptSeat(Seat):
    def __init__(self, scripts):
        self.scripts = scripts
        self.moves: list[int | str] = []
        self.size = 0

    def new_game(self, rules, game):
        self.moves = list(self.scripts[game % len(self.scripts)])
        self.size = rules.size

    def genmove(self, colour):
        if not self.moves:
            return self.size * self.size
        move = self.moves.pop(0)
        if isinstance(move, str):
            return RESIGN if move.lower() == "resign" else gtp_to_action(move, self.size)
        return int(move)


_MAX_LINE = 1 << 16
"""Characters read as one line of engine output: a longer line arrives in pieces, so a line
that never ends cannot fill memory."""

_QUEUE_LINES = 256
"""Lines of engine output read ahead of `GTPClient.send`: a flooding engine then waits on its
full pipe instead of filling ours."""

_MAX_NOISE = 1000
"""Lines that are not a reply (blank or chatter) tolerated while waiting for one reply."""

_MAX_REPLY = 1 << 20
"""Characters kept of one reply."""


def _kill(proc: subprocess.Popen) -> None:
    """Kills the engine and whatever it started (it leads its own process group)."""
    # Only while it is not reaped: until then no other process can have its pid as group id.
    if proc.returncode is None:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass  # the group is already gone
    if proc.poll() is None:
        proc.kill()
    proc.wait()


def _terminate(proc: subprocess.Popen, stop: threading.Event) -> None:
    """Stops an engine process for good (also run by the finalizer at interpreter exit)."""
    stop.set()  # the reader threads stop waiting for room in the line queue
    if proc.poll() is None:
        try:
            proc.stdin.write("quit\n")
            proc.stdin.flush()
            proc.wait(timeout=1.0)
        except (OSError, ValueError, subprocess.TimeoutExpired):
            pass
    _kill(proc)
    for stream in (proc.stdin, proc.stdout, proc.stderr):
        try:
            stream.close()
        except (OSError, ValueError):
            pass


def _pump(stream, sink: Callable[[str | None], None], last: str | None) -> None:
    """Copies lines (at most `_MAX_LINE` characters each) from a pipe into `sink`, then `last`
    (background thread)."""
    try:
        while line := stream.readline(_MAX_LINE):
            sink(line)
    except (OSError, ValueError):
        pass
    sink(last)


def _queue_sink(lines: queue.Queue, stop: threading.Event) -> Callable[[str | None], None]:
    """A sink that waits while `lines` is full, and drops everything once `stop` is set (the
    client is closed: nobody reads the queue any more)."""

    def put(line: str | None) -> None:
        while not stop.is_set():
            try:
                lines.put(line, timeout=0.1)
                return
            except queue.Full:
                continue

    return put


class GTPClient:
    """A GTP engine in a subprocess: `send(command)` returns the '=' reply or raises PlayerError.

    Replies are read by a background thread into a bounded queue, so every command has a
    deadline that holds whatever the engine prints, and memory stays bounded however much it
    prints. An engine that misses the deadline, or prints `_MAX_NOISE` lines that are not a
    reply, or a reply longer than `_MAX_REPLY`, is killed (its stream would be out of step with
    ours). The process, and anything it started, is killed by `close`, and at the latest when
    the client is garbage-collected or the interpreter exits.

    Args:
      command: the engine's command line (a string is split like a shell would) or argv list.
      timeout: seconds to wait for each reply (finite, > 0).

    Raises:
      ValueError: a timeout that is not a positive number of seconds.
      PlayerError: the engine cannot be started.
    """

    def __init__(self, command: str | list[str], timeout: float = DEFAULT_GTP_TIMEOUT):
        self.argv = shlex.split(command) if isinstance(command, str) else list(command)
        self.timeout = check_gtp_timeout(timeout)
        try:
            # Its own process group: a wrapper script's children are killed with it.
            self.proc = subprocess.Popen(
                self.argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                text=True, bufsize=1, errors="replace", start_new_session=True,
            )
        except OSError as e:
            raise PlayerError(f"cannot start GTP engine {self.argv[0]!r}: {e}") from None
        self._stop = threading.Event()
        self._lines: queue.Queue[str | None] = queue.Queue(maxsize=_QUEUE_LINES)
        self._stderr: collections.deque[str] = collections.deque(maxlen=5)
        # None marks the end of stdout: the engine exited.
        threading.Thread(target=_pump, daemon=True, args=(
            self.proc.stdout, _queue_sink(self._lines, self._stop), None)).start()
        threading.Thread(target=_pump, args=(self.proc.stderr, self._stderr.append, ""),
                         daemon=True).start()
        self._finalizer = weakref.finalize(self, _terminate, self.proc, self._stop)

    @property
    def alive(self) -> bool:
        return self._finalizer.alive and self.proc.poll() is None

    def _died(self, command: str) -> PlayerError:
        try:
            code = self.proc.wait(timeout=1.0)
        except subprocess.TimeoutExpired:  # it closed its output but runs on
            _kill(self.proc)
            code = "killed: it closed its output"
        self.close()
        tail = "".join(self._stderr).strip().splitlines()
        why = f"; stderr: {tail[-1][:200]}" if tail else ""
        return PlayerError(f"GTP engine exited (code {code}) before answering {command!r}{why}")

    def _abort(self, message: str) -> PlayerError:
        """Kills the engine (it is busy or broken: asking it to quit would only wait longer)."""
        self._stop.set()
        _kill(self.proc)
        self.close()
        return PlayerError(message)

    def _next_line(self, command: str, deadline: float) -> str | None:
        """The engine's next output line, or None once it has exited; the deadline is checked
        before every line, so no amount of output extends it."""
        left = deadline - time.monotonic()
        if left > 0:
            try:
                return self._lines.get(timeout=left)
            except queue.Empty:
                pass
        raise self._abort(f"GTP engine gave no reply to {command!r} within {self.timeout:g}s")

    def _reply(self, command: str, deadline: float) -> list[str]:
        """The lines of the reply to `command`: the '='/'?' line and those up to a blank one."""
        reply: list[str] = []
        noise = size = 0
        while True:
            line = self._next_line(command, deadline)
            if line is None:
                raise self._died(command)
            line = line.rstrip("\r\n")
            if not reply:
                if line.strip() and line[0] in "=?":
                    reply.append(line)
                    size = len(line)
                    continue
                noise += 1  # blank lines or chatter before the reply
                if noise >= _MAX_NOISE:
                    raise self._abort(
                        f"GTP engine printed {noise} lines that are not a reply to {command!r} "
                        f"(last: {line[:80]!r}); is it a GTP engine?")
                continue
            if not line.strip():
                return reply
            size += len(line)
            if size > _MAX_REPLY:
                raise self._abort(f"GTP engine's reply to {command!r} is longer than "
                                  f"{_MAX_REPLY} characters")
            reply.append(line)

    def send(self, command: str) -> str:
        """Sends one command; returns the text of the '=' reply (stripped).

        Raises:
          PlayerError: '?' reply (with the engine's message), no reply within the timeout,
            output that is not GTP, or the engine has exited.
        """
        if not self._finalizer.alive:
            raise PlayerError(f"GTP engine is closed; cannot send {command!r}")
        try:
            self.proc.stdin.write(command + "\n")
            self.proc.stdin.flush()
        except (OSError, ValueError):
            raise self._died(command) from None
        reply = self._reply(command, time.monotonic() + self.timeout)
        head = re.sub(r"^[=?]\d*\s?", "", reply[0])
        text = "\n".join([head, *reply[1:]]).strip()
        if reply[0][0] == "?":
            raise PlayerError(f"GTP engine refused {command!r}: ? {text}")
        return text

    def close(self) -> None:
        """Asks the engine to quit, then kills it (idempotent)."""
        self._finalizer()


def check_gtp_timeout(timeout: float) -> float:
    """`timeout` if it is a positive, finite number of seconds.

    Raises:
      ValueError: naming the value (an engine could otherwise never be asked anything, or
        be waited for forever).
    """
    try:
        seconds = float(timeout)
    except (TypeError, ValueError):
        seconds = math.nan
    if not (math.isfinite(seconds) and seconds > 0):
        raise ValueError(f"the GTP timeout must be a finite number of seconds > 0, got {timeout}")
    return seconds


class GTPPlayer(HostPlayer):
    """Any GTP engine; each seat runs its own engine process, reused game after game.

    At the start of a game the seat sends `boardsize`, `clear_board` and `komi`, then the
    opponent's moves with `play` and asks for its own with `genmove`.

    Args:
      name: the spec (``gtp:COMMAND``).
      command: the engine's command line.
      timeout: seconds allowed per GTP reply (a timeout loses the game).

    Raises:
      ValueError: a timeout that is not a positive, finite number of seconds.
    """

    is_gtp = True

    def __init__(self, name: str, command: str, timeout: float = DEFAULT_GTP_TIMEOUT):
        self.name = name
        self.command = command
        self.timeout = check_gtp_timeout(timeout)

    def seat(self) -> Seat:
        return _GTPSeat(self.command, self.timeout)


class _GTPSeat(Seat):
    """One engine process, reused game after game until it fails.

    A failure (no reply, exit, '?' reply, unreadable move) forfeits the game and kills the
    engine: one protocol error costs one game, not the match, and a broken engine does not
    run on unattended. The next game starts a fresh process.
    """

    def __init__(self, command: str, timeout: float):
        self.command = command
        self.timeout = timeout
        self.client: GTPClient | None = None
        self.size = 0

    def new_game(self, rules, game):
        if self.client is None or not self.client.alive:
            self.close()
            self.client = GTPClient(self.command, self.timeout)
        self.size = rules.size
        self._send(f"boardsize {rules.size}")
        self._send("clear_board")
        self._send(f"komi {rules.komi:g}")

    def genmove(self, colour):
        reply = self._send(f"genmove {_colour(colour)}")
        vertex = reply.split()[0] if reply.split() else ""
        if vertex.lower() == "resign":
            return RESIGN
        try:
            return gtp_to_action(vertex, self.size)
        except ValueError as e:
            self.close()
            raise PlayerError(f"GTP engine answered genmove with a bad vertex: {e}") from None

    def play(self, colour, action):
        self._send(f"play {_colour(colour)} {action_to_gtp(action, self.size)}")

    def _send(self, command: str) -> str:
        if self.client is None:
            raise PlayerError("GTP seat used before new_game")
        try:
            return self.client.send(command)
        except PlayerError:
            self.close()
            raise

    def close(self):
        if self.client is not None:
            self.client.close()
            self.client = None


def _colour(colour: int) -> str:
    return "b" if colour == BLACK else "w"


# ------------------------------------------------------------------------------ specs


def load_run(run_dir: str | Path, step: int | None = None):
    """`runs.load_params` (a `runs.LoadedRun`) with its errors as one PlayerSpecError.

    Raises:
      PlayerSpecError: not a run directory, a bad config, a missing or corrupt checkpoint.
    """
    from alphago_jax import runs
    from alphago_jax.checkpoint import CheckpointError
    from alphago_jax.config import ConfigError

    try:
        return runs.load_params(run_dir, step)
    except (ConfigError, CheckpointError) as e:
        raise PlayerSpecError(f"cannot load {run_dir}: {e}") from None


_CKPT = re.compile(r"^ckpt:(?P<dir>.+?)(?:@(?P<step>\d+))?(?::(?P<sims>\d+))?$")


def parse_player(spec: str, gtp_timeout: float = DEFAULT_GTP_TIMEOUT):
    """A player from its spec (see the module docstring).

    Checkpoints are loaded here; GTP engines only start when a game needs them, but the program
    must exist.

    Raises:
      PlayerSpecError: a malformed spec, a missing run/checkpoint/program, a GTP timeout that
        is not a positive number of seconds.
    """
    spec = spec.strip()
    if spec == "random":
        return RandomPlayer()
    if spec.startswith("gtp:"):
        command = spec[4:].strip()
        try:
            argv = shlex.split(command)
        except ValueError as e:
            raise PlayerSpecError(f"bad GTP command in {spec!r}: {e}") from None
        if not argv:
            raise PlayerSpecError(f"{spec!r}: expected gtp:COMMAND, e.g. 'gtp:gnugo --mode gtp'")
        if shutil.which(argv[0]) is None:
            raise PlayerSpecError(f"{spec!r}: program {argv[0]!r} not found or not executable")
        try:
            return GTPPlayer(spec, command, gtp_timeout)
        except ValueError as e:
            raise PlayerSpecError(f"{spec!r}: {e}") from None
    if spec.startswith("ckpt:"):
        m = _CKPT.match(spec)
        if m is None:
            raise PlayerSpecError(f"{spec!r}: expected ckpt:DIR, ckpt:DIR:SIMS or ckpt:DIR@STEP")
        sims = int(m["sims"]) if m["sims"] else None
        if sims is not None and sims < 1:
            raise PlayerSpecError(f"{spec!r}: simulations must be >= 1")
        step = int(m["step"]) if m["step"] else None
        return SearchPlayer.from_run(load_run(m["dir"], step), sims, name=spec)
    raise PlayerSpecError(
        f"unknown player {spec!r}: expected 'random', 'ckpt:DIR[@STEP][:SIMS]' or 'gtp:COMMAND'"
    )
