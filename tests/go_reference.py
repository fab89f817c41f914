"""An independent, deliberately plain Python implementation of Tromp-Taylor Go.

It shares no code with `alphago_jax` and is written to be obviously correct rather than fast: chains
and their liberty sets come from flood fills, capture and suicide are decided from those sets, and
positional superko is checked by building the resulting board and looking it up in a Python set.
The tests replay the JAX engine's games in it move by move.

Conventions match the engine: point ``p = row * size + col`` with row 0 the top row, action
``size * size`` is pass. Internally a board is a ``bytearray`` of ``size * size`` values
(0 empty, 1 black, 2 white) so that positions can be hashed as ``bytes``; `signed_board` converts
to the engine's +1 black / -1 white.
"""

from __future__ import annotations

EMPTY, BLACK, WHITE = 0, 1, 2
_SIGNED = {EMPTY: 0, BLACK: 1, WHITE: -1}
_FROM_SIGNED = {0: EMPTY, 1: BLACK, -1: WHITE}

# Why a point is illegal, as returned by `RefGame.point_status`.
LEGAL, OCCUPIED, SUICIDE, REPEAT = "legal", "occupied", "suicide", "repeat"


def other(colour: int) -> int:
    """The opponent of BLACK (1) or WHITE (2)."""
    return 3 - colour


def neighbour_table(size: int) -> list[list[int]]:
    """For each point, the list of its on-board orthogonal neighbours."""
    table = []
    for r in range(size):
        for c in range(size):
            nb = []
            for rr, cc in ((r - 1, c), (r + 1, c), (r, c - 1), (r, c + 1)):
                if 0 <= rr < size and 0 <= cc < size:
                    nb.append(rr * size + cc)
            table.append(nb)
    return table


class Chain:
    """A maximal connected group of same-coloured stones and its liberties (empty neighbours)."""

    __slots__ = ("colour", "stones", "liberties")

    def __init__(self, colour: int, stones: list[int], liberties: set[int]):
        self.colour = colour
        self.stones = stones
        self.liberties = liberties


def find_chains(board, nbrs) -> tuple[list[Chain], list[int]]:
    """Flood-fills every chain of `board`.

    Returns:
      chains: list of `Chain`.
      chain_of: list[P], the index into `chains` of the chain at each point, -1 on empty points.
    """
    chain_of = [-1] * len(board)
    chains = []
    for start in range(len(board)):
        colour = board[start]
        if colour == EMPTY or chain_of[start] != -1:
            continue
        index = len(chains)
        stones, liberties, stack = [], set(), [start]
        chain_of[start] = index
        while stack:
            p = stack.pop()
            stones.append(p)
            for q in nbrs[p]:
                if board[q] == EMPTY:
                    liberties.add(q)
                elif board[q] == colour and chain_of[q] == -1:
                    chain_of[q] = index
                    stack.append(q)
        chains.append(Chain(colour, stones, liberties))
    return chains, chain_of


def play_on_board(board, nbrs, point: int, colour: int, chains=None, chain_of=None):
    """The board after `colour` plays at empty `point`, and whether the move was a suicide.

    Opponent chains left without liberties are removed first; then, if the new stone's own chain
    has no liberty, that chain is removed (suicide). `chains`/`chain_of` may be passed in from
    `find_chains(board)` to avoid recomputing them.

    Returns:
      (new_board: bytearray, suicide: bool, captured: int number of opponent stones removed).
    """
    if chains is None:
        chains, chain_of = find_chains(board, nbrs)
    new = bytearray(board)
    new[point] = colour
    opp = other(colour)
    captured = 0
    done = set()
    for q in nbrs[point]:
        k = chain_of[q]
        if board[q] == opp and k not in done:
            done.add(k)
            if chains[k].liberties == {point}:  # the move fills its last liberty
                for s in chains[k].stones:
                    new[s] = EMPTY
                captured += len(chains[k].stones)
    if captured:
        return new, False, captured  # a capture always leaves the new stone a liberty
    # No capture: the new chain is the stone plus the adjacent own chains; it lives if any
    # neighbour of the stone is empty or any of those chains has a liberty other than `point`.
    own = {chain_of[q] for q in nbrs[point] if board[q] == colour}
    alive = any(board[q] == EMPTY for q in nbrs[point]) or any(
        chains[k].liberties - {point} for k in own
    )
    if alive:
        return new, False, 0
    new[point] = EMPTY
    for k in own:
        for s in chains[k].stones:
            new[s] = EMPTY
    return new, True, 0


def play_on_board_slow(board, nbrs, point: int, colour: int) -> bytearray:
    """Same result as `play_on_board`, from whole-board flood fills after placing the stone.

    Used to cross-check `play_on_board` itself.
    """
    new = bytearray(board)
    new[point] = colour
    for victim in (other(colour), colour):  # opponent captures first, then own suicide
        chains, _ = find_chains(new, nbrs)
        for ch in chains:
            if ch.colour == victim and not ch.liberties:
                for s in ch.stones:
                    new[s] = EMPTY
    return new


def area_score(board, nbrs, komi: float) -> float:
    """Tromp-Taylor area score: Black area - White area - komi.

    A player's area is their stones plus the empty regions whose borders touch only their stones.
    """
    counts = {BLACK: 0, WHITE: 0}
    for v in board:
        if v != EMPTY:
            counts[v] += 1
    visited = [False] * len(board)
    for start in range(len(board)):
        if board[start] != EMPTY or visited[start]:
            continue
        region, borders, stack = 0, set(), [start]
        visited[start] = True
        while stack:
            p = stack.pop()
            region += 1
            for q in nbrs[p]:
                if board[q] == EMPTY:
                    if not visited[q]:
                        visited[q] = True
                        stack.append(q)
                else:
                    borders.add(board[q])
        if len(borders) == 1:
            counts[borders.pop()] += region
    return counts[BLACK] - counts[WHITE] - komi


class RefGame:
    """One game under the same rules as `alphago_jax.rules.Rules`.

    Attributes:
      board: bytearray[P] current position (0 empty, 1 black, 2 white).
      to_play: BLACK or WHITE.
      move_count: moves played, passes included.
      passes: consecutive passes at the end of the game record.
      boards: list of bytes, the position after each move (passes repeat the position); boards[0]
        is the empty board, boards[-1] the current one.
      seen: set of bytes, every position that has occurred (the empty board included).
    """

    def __init__(self, size: int, komi: float = 7.5, superko: bool = True, suicide: bool = True,
                 max_moves: int | None = None):
        self.size = size
        self.num_points = size * size
        self.pass_action = size * size
        self.komi = komi
        self.superko = superko
        self.suicide = suicide
        self.max_moves = 2 * size * size if max_moves is None else max_moves
        self.nbrs = neighbour_table(size)
        self.board = bytearray(self.num_points)
        self.to_play = BLACK
        self.move_count = 0
        self.passes = 0
        self.boards = [bytes(self.board)]
        self.seen = {bytes(self.board)}
        self.actions: list[int] = []
        self._cache = None  # (move_count, statuses, results) for the current position

    # ----------------------------------------------------------------- queries
    def is_over(self) -> bool:
        return self.passes >= 2 or self.move_count >= self.max_moves

    def signed_board(self) -> list[int]:
        """The current board as +1 black / -1 white / 0 empty (the engine's encoding)."""
        return [_SIGNED[v] for v in self.board]

    def signed_to_play(self) -> int:
        return 1 if self.to_play == BLACK else -1

    def score(self) -> float:
        return area_score(self.board, self.nbrs, self.komi)

    def _evaluate(self):
        """(status per point, resulting board per legal point) for the current position."""
        if self._cache is not None and self._cache[0] == self.move_count:
            return self._cache[1], self._cache[2]
        chains, chain_of = find_chains(self.board, self.nbrs)
        # Simple ko: the board as it was before the most recent move or pass.
        previous = self.boards[-2] if len(self.boards) >= 2 else None
        statuses, results = [], {}
        for p in range(self.num_points):
            if self.board[p] != EMPTY:
                statuses.append(OCCUPIED)
                continue
            new, suicide, _ = play_on_board(
                self.board, self.nbrs, p, self.to_play, chains, chain_of
            )
            if suicide and (not self.suicide or new == self.board):  # single stone: no change
                statuses.append(SUICIDE)
                continue
            key = bytes(new)
            repeat = key in self.seen if self.superko else key == previous
            statuses.append(REPEAT if repeat else LEGAL)
            if not repeat:
                results[p] = new
        self._cache = (self.move_count, statuses, results)
        return statuses, results

    def point_status(self, point: int) -> str:
        """LEGAL, OCCUPIED, SUICIDE or REPEAT for a stone at `point` (ignores game over)."""
        return self._evaluate()[0][point]

    def legal_mask(self) -> list[bool]:
        """bool[P + 1]; pass (last) is always legal, and once the game is over only pass is."""
        if self.is_over():
            return [False] * self.num_points + [True]
        statuses, _ = self._evaluate()
        return [s == LEGAL for s in statuses] + [True]

    # ----------------------------------------------------------------- moves
    def step(self, action: int) -> None:
        """Engine `step` semantics: an illegal action (or any out-of-range index) is played as a
        pass, and a finished game is left unchanged."""
        if self.is_over():
            return
        if 0 <= action < self.num_points and self.legal_mask()[action]:
            self._place(action)
        else:
            self._pass()

    def play(self, action: int) -> None:
        """Checked move: raises ValueError on an illegal action or a finished game."""
        if self.is_over():
            raise ValueError("game over")
        if not 0 <= action <= self.num_points or not self.legal_mask()[action]:
            raise ValueError(f"illegal action {action}")
        self.step(action)

    def _place(self, point: int) -> None:
        _, results = self._evaluate()
        self.board = bytearray(results[point])
        self.seen.add(bytes(self.board))
        self.passes = 0
        self._advance(point)

    def _pass(self) -> None:
        self.passes += 1
        self._advance(self.pass_action)

    def _advance(self, action: int) -> None:
        self.boards.append(bytes(self.board))
        self.actions.append(action)
        self.to_play = other(self.to_play)
        self.move_count += 1


def board_from_signed(values) -> bytearray:
    """bytearray board from a sequence of +1/-1/0 values."""
    return bytearray(_FROM_SIGNED[int(v)] for v in values)


def ascii_board(board, size: int) -> str:
    """Rows top to bottom: X black, O white, . empty (accepts bytes or +1/-1/0 values)."""
    chars = {EMPTY: ".", BLACK: "X", WHITE: "O", -1: "O"}
    return "\n".join(
        " ".join(chars[int(board[r * size + c])] for c in range(size)) for r in range(size)
    )
