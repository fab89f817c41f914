"""Supervised training positions from a directory of SGF game records.

The pipeline, host-side except for the checked replay:

1. `find_sgf_files`: every ``*.sgf`` file under a directory (recursively), in sorted order.
2. `read_sgf_games` each file (every game of a collection); keep games of the configured board
   size with a usable result (`parse_result`: ``B+3.5``, ``W+R``, ``0``, ``Draw``, ...), at
   least one move and at most `sgf.MAX_MOVES` steps. Other games are skipped and counted by
   reason in a `DatasetSummary`.
3. `game_positions`: replay the main line through the checked rules (`alphago_jax.sgf.replay`;
   an illegal move is an `SGFError` naming the file and the move number) and keep, for every
   move, the position before it as the replay buffer stores positions: the last ``k`` boards,
   the side to move and the legal points. The policy target is the played move (pass
   included); the value target is the recorded result.
4. `split_games`: a seeded held-out split by game (never by position, so no held-out position
   shares a game with a training position).
5. `to_buffer`: the positions of a set of games as a `ReplayBuffer`, one-hot policies and one
   result row per game, so `replay.sample` (random board symmetries) and the learner's
   `sgd_step` / `loss_fn` train on it exactly as on self-play data.

A malformed record, one with an illegal move or one too long to replay is never lost silently:
by default it is skipped, and its file (and game number in a collection) and the reason are
listed in the summary and printed; with ``strict=True`` the `SGFError` (naming the file) is
raised.
"""

from __future__ import annotations

import collections
import dataclasses
import functools
import re
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import chex
import jax
import jax.numpy as jnp
import numpy as np

from alphago_jax.replay import buffer as replay
from alphago_jax.replay.buffer import ReplayBuffer, Sample
from alphago_jax.rules.go import Rules
from alphago_jax.sgf import (
    MAX_MOVES,
    GameRecord,
    SGFError,
    read_sgf_games,
    record_steps,
    too_long,
)
from alphago_jax.sgf import replay as replay_record

# Skip reasons (keys of `DatasetSummary.skipped`; board sizes are counted as "size NxN").
MALFORMED = "malformed"
ILLEGAL = "illegal move"
NO_RESULT = "no usable result"
NO_MOVES = "no moves"
TOO_LONG = "too long"


class DatasetError(ValueError):
    """Unusable input: a missing directory, no SGF files, or no usable games in them."""


# ---------------------------------------------------------------------- results
_NUMBER = re.compile(r"^\d+(\.\d*)?$|^\.\d+$")


def parse_result(text: str) -> int | None:
    """The winner in an SGF RE value, from Black's view.

    Args:
      text: e.g. "B+3.5", "W+R", "B+Resign", "B+" (margin unknown), "0", "Draw", "Jigo".

    Returns:
      +1 (Black won), -1 (White won), 0 (a draw), or None when the value says nothing about
      the game on the board: empty, "?" / "Void" (unknown, no result), or a win on time or
      by forfeit ("B+T", "W+F").
    """
    t = text.strip().lower()
    if t in ("0", "draw", "jigo", "d", "b+0", "w+0"):
        return 0
    m = re.fullmatch(r"([bw])\s*\+\s*(.*)", t)
    if m is None:
        return None
    winner = 1 if m[1] == "b" else -1
    margin = m[2].strip()
    if margin in ("", "r", "resign"):
        return winner
    if _NUMBER.match(margin):
        return winner if float(margin) > 0 else 0
    return None


# ---------------------------------------------------------------------- one game
@dataclasses.dataclass
class GamePositions:
    """The training positions of one game: n = number of moves in its main line.

    Attributes:
      source: the record's file.
      boards: int8[n, k, P] positions t..t-k+1 before each move (+1 black), P = size * size.
      to_play: int8[n] side to move (+1 black).
      legal: bool[n, P] legal points for the side to move (pass is always legal).
      actions: int32[n] the move played, in [0, P] (P = pass): the policy target.
      result: the game's result from Black's view (+1, 0, -1): the value target.
      ownership: int8[P] Tromp-Taylor area map of the final position (+1 Black's).
      ownership_valid: the area map is a real end of game (see `game_positions`).
    """

    source: str
    boards: np.ndarray
    to_play: np.ndarray
    legal: np.ndarray
    actions: np.ndarray
    result: int
    ownership: np.ndarray
    ownership_valid: bool

    @property
    def num_positions(self) -> int:
        return int(self.actions.shape[0])


@functools.partial(jax.jit, static_argnums=0)
def _legal_points(rules: Rules, state) -> jax.Array:
    return rules.legal_mask(state)[: rules.num_points]


@functools.partial(jax.jit, static_argnums=0)
def _final(rules: Rules, state) -> tuple[jax.Array, jax.Array]:
    return rules.ownership(state).reshape(-1), state.passes >= 2


def _rules_for_length(rules: Rules, record: GameRecord) -> Rules:
    """`rules`, with the move cap raised when the record (setup steps included) is longer.

    Raises:
      SGFError: the record is longer than any move cap (`sgf.MAX_MOVES`).
    """
    steps = record_steps(record)
    if steps > MAX_MOVES:
        raise SGFError(record.source or "<record>", too_long(steps))
    return rules if steps <= rules.move_cap else dataclasses.replace(rules, max_moves=steps)


def game_positions(record: GameRecord, rules: Rules, result: int) -> GamePositions:
    """Replays `record` through the checked rules and returns its training positions.

    Args:
      record: a game of `rules.size`.
      rules: the training rules (superko / suicide / history as in RL); the move cap is raised
        for a longer record, so a long game is not cut short.
      result: the winner from Black's view (`parse_result`).

    Returns:
      GamePositions. The ownership target is marked valid only when the record ends with two
      passes, its result is a score (not a resignation) and the Tromp-Taylor score of the final
      position (with the record's komi) agrees with the recorded winner, i.e. dead stones were
      removed before the game ended.

    Raises:
      SGFError: an illegal move, naming the file and the move number; a record too long to
        replay (`sgf.MAX_MOVES`).
    """
    game_rules = _rules_for_length(rules, record)
    states = replay_record(record, game_rules)
    played = states[:-1]  # the position before each move
    k = rules.history
    boards = np.stack([np.asarray(s.boards)[:k] for s in played]).astype(np.int8)
    to_play = np.asarray([int(s.to_play) for s in played], np.int8)
    legal = np.stack([np.asarray(_legal_points(game_rules, s)) for s in played])
    own, two_passes = _final(game_rules, states[-1])
    own = np.asarray(own, np.int8)
    score = float(own.sum()) - record.komi
    valid = bool(two_passes) and _is_score(record.result) and np.sign(score) == result
    return GamePositions(
        source=record.source, boards=boards, to_play=to_play, legal=legal.astype(bool),
        actions=np.asarray(record.moves, np.int32), result=int(result), ownership=own,
        ownership_valid=bool(valid),
    )


def _is_score(text: str) -> bool:
    """The RE value is a counted result (a margin or a draw), not a resignation."""
    t = text.strip().lower()
    m = re.fullmatch(r"[bw]\s*\+\s*(.*)", t)
    return parse_result(t) == 0 or (m is not None and _NUMBER.match(m[1].strip()) is not None)


# ---------------------------------------------------------------------- a directory
@dataclasses.dataclass
class DatasetSummary:
    """What happened to every file of a dataset.

    Attributes:
      directory: the data directory.
      files: SGF files found.
      records: game records in them (a file may hold several games); a syntax error counts as
        one record, since the games after it cannot be told apart.
      games: games kept.
      positions: training positions in the kept games (= their main-line moves).
      skipped: reason -> number of records skipped for it ("size 9x9", "no usable result",
        "no moves", "malformed", "illegal move", "too long"); records = games + skipped.
      errors: (source, message) of every malformed, illegal or too long record.
      komi: komi -> number of kept games with it.
      black_wins, white_wins, draws: results of the kept games.
      train_games, holdout_games, train_positions, holdout_positions: the split.
    """

    directory: str
    files: int = 0
    records: int = 0
    games: int = 0
    positions: int = 0
    skipped: dict[str, int] = dataclasses.field(default_factory=dict)
    errors: list[tuple[str, str]] = dataclasses.field(default_factory=list)
    komi: dict[float, int] = dataclasses.field(default_factory=dict)
    black_wins: int = 0
    white_wins: int = 0
    draws: int = 0
    train_games: int = 0
    holdout_games: int = 0
    train_positions: int = 0
    holdout_positions: int = 0

    def skip(self, reason: str, source: str | None = None, message: str | None = None) -> None:
        self.skipped[reason] = self.skipped.get(reason, 0) + 1
        if message is not None:
            self.errors.append((source or "<record>", message))

    def lines(self) -> list[str]:
        """Human-readable report: totals, skips by reason, then one line per bad file."""
        skipped = ", ".join(f"{k}: {v}" for k, v in sorted(self.skipped.items())) or "none"
        komi = ", ".join(f"{k:g} ({v})" for k, v in sorted(self.komi.items())) or "-"
        out = [
            f"{self.directory}: {self.files} SGF files ({self.records} games), {self.games} "
            "games kept "
            f"({self.positions} positions; B+ {self.black_wins}, W+ {self.white_wins}, "
            f"draws {self.draws}; komi {komi})",
            f"skipped: {skipped}",
        ]
        if self.train_games or self.holdout_games:
            out.append(
                f"split by game: train {self.train_games} games ({self.train_positions} "
                f"positions), held out {self.holdout_games} games ({self.holdout_positions} "
                "positions)"
            )
        out += [f"skipped {src}: {msg}" for src, msg in self.errors]
        return out

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["komi"] = {f"{k:g}": v for k, v in self.komi.items()}
        d["errors"] = [list(e) for e in self.errors]
        return d


def find_sgf_files(path: str | Path) -> list[Path]:
    """Every ``*.sgf`` file (any case) under `path` recursively, sorted; `path` may be one file.

    Raises:
      DatasetError: `path` does not exist, or holds no SGF file.
    """
    root = Path(path)
    if root.is_file():
        return [root]
    if not root.is_dir():
        raise DatasetError(f"SGF data directory {root} does not exist")
    files = sorted(p for p in root.rglob("*") if p.suffix.lower() == ".sgf" and p.is_file())
    if not files:
        raise DatasetError(f"no .sgf files under {root}")
    return files


def _stderr(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def _skip_bad(summary, reason: str, error: SGFError, strict: bool, log, what: str) -> None:
    """Counts a bad record as skipped and logs it (raises the error instead when `strict`)."""
    if strict:
        raise error
    summary.skip(reason, error.source, str(error))
    if log:
        log(f"{what} {error}")


def _entries(path: Path, summary: DatasetSummary) -> list[GameRecord | SGFError]:
    """The games of one SGF file (`read_sgf_games`), counted in `summary.records`."""
    try:
        entries = read_sgf_games(path)
    except SGFError as e:  # the file cannot be read at all
        entries = [e]
    summary.records += len(entries)
    return entries


def _skip_reason(record: GameRecord, rules: Rules) -> str | None:
    """Why a well-formed record is not a training game of `rules`, or None."""
    if record.size != rules.size:
        return f"size {record.size}x{record.size}"
    if parse_result(record.result) is None:
        return NO_RESULT
    if not record.moves:
        return NO_MOVES
    return None


def _use(record: GameRecord, rules: Rules, summary: DatasetSummary, strict: bool,
         log) -> GamePositions | None:
    """The training positions of a well-formed record, or None when it is skipped (counted in
    `summary`; raised when `strict` and it is too long or holds an illegal move)."""
    reason = _skip_reason(record, rules)
    if reason is not None:
        summary.skip(reason)
        return None
    steps = record_steps(record)
    if steps > MAX_MOVES:  # no move cap fits it: the rules engine cannot replay it
        _skip_bad(summary, TOO_LONG, SGFError(record.source, too_long(steps)), strict, log,
                  "skipped SGF:")
        return None
    try:
        return game_positions(record, rules, parse_result(record.result))
    except SGFError as e:
        _skip_bad(summary, ILLEGAL, e, strict, log, "skipped SGF with an illegal move:")
        return None


def load_games(
    path: str | Path,
    rules: Rules,
    strict: bool = False,
    log: Callable[[str], None] | None = _stderr,
) -> tuple[list[GamePositions], DatasetSummary]:
    """Reads and replays every game of every SGF file under `path` (a file may hold several);
    keeps games of `rules.size`.

    Args:
      path: a directory searched recursively (or one file).
      rules: the training rules (board size, superko, suicide, history).
      strict: raise on the first malformed, illegal or too long record instead of skipping it.
      log: where skipped bad records are reported as they are met (None: silent; they are in
        the summary either way).

    Returns:
      (kept games in file order, summary).

    Raises:
      DatasetError: no such directory or no SGF files in it.
      SGFError: with `strict`, the first malformed, illegal or too long record (naming the
        file).
    """
    files = find_sgf_files(path)
    summary = DatasetSummary(directory=str(path), files=len(files))
    games: list[GamePositions] = []
    komi = collections.Counter()
    for f in files:
        for entry in _entries(f, summary):
            if isinstance(entry, SGFError):
                _skip_bad(summary, MALFORMED, entry, strict, log, "skipped malformed SGF")
                continue
            game = _use(entry, rules, summary, strict, log)
            if game is not None:
                games.append(game)
                komi[float(entry.komi)] += 1
    summary.games = len(games)
    summary.positions = sum(g.num_positions for g in games)
    summary.komi = dict(komi)
    summary.black_wins = sum(g.result > 0 for g in games)
    summary.white_wins = sum(g.result < 0 for g in games)
    summary.draws = sum(g.result == 0 for g in games)
    return games, summary


def split_games(num_games: int, holdout: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A seeded split of game indices into (train, held-out), both sorted.

    Args:
      num_games: games to split.
      holdout: fraction held out, in [0, 1). With at least 2 games and holdout > 0, at least one
        game is held out and at least one is kept for training.
      seed: seed of the numpy Generator that shuffles the games.

    Raises:
      ValueError: holdout outside [0, 1).
    """
    if not 0.0 <= holdout < 1.0:
        raise ValueError(f"holdout must be in [0, 1), got {holdout}")
    k = int(round(holdout * num_games))
    if holdout > 0 and num_games >= 2:
        k = min(max(k, 1), num_games - 1)
    elif num_games < 2:
        k = 0
    perm = np.random.default_rng(seed).permutation(num_games)
    return np.sort(perm[k:]), np.sort(perm[:k])


def to_buffer(games: Sequence[GamePositions], rules: Rules, ownership: bool) -> ReplayBuffer:
    """The positions of `games` as a full `ReplayBuffer` (capacity = their positions).

    Game ids are 0..G-1 in `games` order, with exactly G result rows, so every position is
    "ready" and `replay.sample` draws uniformly from all of them.

    Args:
      games: at least one game.
      rules: the training rules (board size, history).
      ownership: keep the final area maps (for a net with an ownership head).
    """
    if not games:
        raise DatasetError("no games to put in a buffer")
    n = sum(g.num_positions for g in games)
    p = rules.num_points
    actions = np.concatenate([g.actions for g in games])
    policy = np.zeros((n, p + 1), np.float32)
    policy[np.arange(n), actions] = 1.0
    game_id = np.concatenate(
        [np.full(g.num_positions, i, np.int32) for i, g in enumerate(games)]
    )
    return _assemble(
        rules, ownership,
        np.concatenate([g.boards for g in games]),
        np.concatenate([g.to_play for g in games]),
        np.concatenate([g.legal for g in games]),
        policy,
        game_id,
        np.asarray([g.result for g in games], np.int8),
        np.stack([g.ownership for g in games]),
        np.asarray([g.ownership_valid for g in games]),
    )


@functools.partial(jax.jit, static_argnums=(0, 1))
def _assemble(rules: Rules, ownership: bool, boards, to_play, legal, policy, game_id, result,
              own, own_valid) -> ReplayBuffer:
    """One compiled call (eager scatters would compile one by one for every new shape)."""
    n, g = game_id.shape[0], result.shape[0]
    buf = replay.init(rules, n, boards.shape[1], ownership)
    # Exactly one result row per game: game id i lives in row i (row = id % rows).
    buf = buf.replace(
        result=jnp.zeros((g,), jnp.int8),
        result_id=jnp.full((g,), -1, jnp.int32),
        result_own=jnp.zeros((g, rules.num_points if ownership else 0), jnp.int8),
        own_valid=jnp.zeros((g,), bool),
    )
    buf = replay.add_positions(buf, boards, to_play, legal, policy, game_id)
    ids = jnp.arange(g, dtype=jnp.int32)
    return replay.add_results(buf, jnp.ones((g,), bool), ids, result, own, own_valid)


# ---------------------------------------------------------------------- the dataset
@dataclasses.dataclass
class SupervisedData:
    """A dataset ready to train on.

    Attributes:
      train: the training games' positions.
      holdout: the held-out games' positions (None when nothing is held out).
      summary: what was read, kept, skipped and split.
      train_sources, holdout_sources: the files of the games in each part.
    """

    train: ReplayBuffer
    holdout: ReplayBuffer | None
    summary: DatasetSummary
    train_sources: list[str]
    holdout_sources: list[str]


def build_dataset(
    path: str | Path,
    rules: Rules,
    holdout: float = 0.1,
    seed: int = 0,
    strict: bool = False,
    ownership: bool = False,
    log: Callable[[str], None] | None = _stderr,
) -> SupervisedData:
    """Reads the SGF files under `path` and splits their games into train and held-out buffers.

    Args:
      path: a directory of SGF files (searched recursively), or one file.
      rules: the training rules (`cfg.rules()`).
      holdout: fraction of games held out, in [0, 1).
      seed: seed of the split.
      strict: raise `SGFError` on a malformed record or an illegal move instead of skipping it.
      ownership: keep final area maps in the buffers (nets with an ownership head).
      log: receives the summary lines (None: silent).

    Raises:
      DatasetError: no such directory, no SGF files, or no usable game of `rules.size`.
      SGFError: with `strict`, the first bad record (naming the file).
    """
    games, summary = load_games(path, rules, strict, log)
    return split_dataset(games, summary, rules, holdout, seed, ownership, log)


def split_dataset(
    games: Sequence[GamePositions],
    summary: DatasetSummary,
    rules: Rules,
    holdout: float = 0.1,
    seed: int = 0,
    ownership: bool = False,
    log: Callable[[str], None] | None = _stderr,
) -> SupervisedData:
    """Splits loaded games (`load_games`) by game into train and held-out buffers.

    `summary` gets the split's counts. Arguments as in `build_dataset`.

    Raises:
      DatasetError: no games.
    """
    if not games:
        skipped = ", ".join(f"{k}: {v}" for k, v in sorted(summary.skipped.items()))
        raise DatasetError(
            f"no usable {rules.size}x{rules.size} games in {summary.directory} "
            f"({summary.files} SGF files, {summary.records} games; skipped: "
            f"{skipped or 'none'})"
        )
    summary = dataclasses.replace(summary)  # the caller's stays as it was
    train_idx, held_idx = split_games(len(games), holdout, seed)
    train = [games[i] for i in train_idx]
    held = [games[i] for i in held_idx]
    summary.train_games, summary.holdout_games = len(train), len(held)
    summary.train_positions = sum(g.num_positions for g in train)
    summary.holdout_positions = sum(g.num_positions for g in held)
    if log:
        for line in summary.lines()[:3]:  # bad files were reported as they were met
            log(line)
    return SupervisedData(
        train=to_buffer(train, rules, ownership),
        holdout=to_buffer(held, rules, ownership) if held else None,
        summary=summary,
        train_sources=[g.source for g in train],
        holdout_sources=[g.source for g in held],
    )


def num_positions(buf: ReplayBuffer) -> int:
    """Positions held by a buffer built by `to_buffer` (its capacity)."""
    return int(buf.game_id.shape[0])


def batch_at(buf: ReplayBuffer, idx: chex.Array, size: int) -> Sample:
    """The positions at `idx` (int32[N]) as a `Sample`, as stored (no symmetry, no sampling).

    For deterministic evaluation; `replay.sample` is the training-time counterpart.
    """
    return replay.gather(buf, idx, size)
