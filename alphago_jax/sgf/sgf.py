"""Reading and writing Go game records in SGF (FF[4]), host-side plain Python.

A `GameRecord` holds one game as flat actions (``row * size + col``, row 0 the top row, and
``size * size`` = pass), the form the rules engine plays. Colours are implicit: moves alternate,
starting with `GameRecord.first_player`.

Reading keeps the main line only (the first variation at every branch). Moves are read from
``B``/``W`` properties; a pass is ``B[]`` or, on boards up to 19x19, ``B[tt]``. When a record has
two moves of the same colour in a row, a pass by the other colour is inserted between them, so
that moves keep alternating (the rules engine has no other way to express it).

Setup stones (``AB``/``AW`` in the root node, e.g. handicap stones) are placed by playing them:
stones alternate colours where they can, and a pass fills in where two stones of one colour follow
each other. A final pass makes `first_player` the side to move, and the consecutive-pass counter
is then cleared, so a recorded first pass does not end the game. The positional history of the
replayed states (``GoState.boards``, the superko table, ``move_count``) therefore includes those
setup steps.
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import jax.numpy as jnp

from alphago_jax.rules.coords import action_to_gtp, action_to_sgf, sgf_to_action
from alphago_jax.rules.go import BLACK, WHITE, GoState, IllegalMoveError, Rules

__all__ = [
    "MAX_MOVES", "GameRecord", "SGFError", "read_sgf", "read_sgf_games", "record_steps",
    "replay", "result_string", "rules_for", "save_sgf", "setup_actions", "setup_state",
    "too_long", "write_sgf",
]

MAX_MOVES = 30000
"""The rules engine's largest move cap: a longer record (setup steps included) cannot be
replayed."""
# Rulesets whose records never hold a suicide; others (Tromp-Taylor, NZ, Ing) allow it.
_NO_SUICIDE_RULES = ("japan", "chin", "korea", "aga")
_COLOUR_NAMES = {BLACK: "B", WHITE: "W"}


class SGFError(ValueError):
    """A malformed or unsupported SGF file, or an illegal move in a record.

    Attributes:
      source: the file name (or ``"<string>"``).
      move: the 1-based move number the error is at (or after), None when not about a move.
    """

    def __init__(self, source: str, message: str, move: int | None = None):
        self.source = source
        self.move = move
        where = f"{source}: move {move}: " if move is not None else f"{source}: "
        super().__init__(where + message)


@dataclasses.dataclass
class GameRecord:
    """One game. `moves` are actions; colours alternate from `first_player`.

    Attributes:
      size: board side, 2..19.
      komi: points given to White.
      moves: actions in [0, size*size]; size*size is pass.
      black, white: player names (SGF PB, PW).
      result: SGF RE, e.g. "B+3.5", "W+R", "0" (a draw), "" (unknown).
      rules: SGF RU.
      setup_black, setup_white: points of the setup stones (SGF AB, AW; e.g. handicap).
      comment: the root comment (SGF C).
      first_player: colour of the first move, BLACK (+1) or WHITE (-1; SGF PL[W], e.g. after
        handicap stones).
      source: where the record was read from; used in error messages, not compared.
    """

    size: int
    komi: float
    moves: list[int]
    black: str = ""
    white: str = ""
    result: str = ""
    rules: str = "Tromp-Taylor"
    setup_black: list[int] = dataclasses.field(default_factory=list)
    setup_white: list[int] = dataclasses.field(default_factory=list)
    comment: str = ""
    first_player: int = BLACK
    source: str = dataclasses.field(default="", compare=False, repr=False)

    def colour_of(self, index: int) -> int:
        """Colour (+1/-1) of move `index` (0-based)."""
        return self.first_player if index % 2 == 0 else -self.first_player


# ---------------------------------------------------------------------- results
def result_string(score: float | None, resigned_colour: int = 0) -> str:
    """SGF RE value: "B+3.5" / "W+0.5" / "0" from a Tromp-Taylor score (black - white - komi),
    or "W+R" / "B+R" when `resigned_colour` (BLACK or WHITE) resigned; "" if neither is known."""
    if resigned_colour:
        return "W+R" if resigned_colour == BLACK else "B+R"
    if score is None:
        return ""
    score = float(score)
    if score == 0:
        return "0"
    return f"{'B' if score > 0 else 'W'}+{_number(abs(score))}"


def _number(x: float) -> str:
    """A real number as SGF writes it: integers without a decimal point, else Python's repr."""
    x = float(x)
    return str(int(x)) if x.is_integer() else repr(x)


# ---------------------------------------------------------------------- writing
def _text(value: str) -> str:
    """Escapes an SGF (simple) text value."""
    return value.replace("\\", "\\\\").replace("]", "\\]")


def _check_record(record: GameRecord) -> None:
    src = record.source or "<record>"
    if not 2 <= record.size <= 19:
        raise SGFError(src, f"unsupported board size {record.size} (2..19)")
    if record.first_player not in (BLACK, WHITE):
        raise SGFError(src, f"first_player must be BLACK (1) or WHITE (-1), got "
                            f"{record.first_player}")
    limit = record.size * record.size
    for i, a in enumerate(record.moves):
        if not 0 <= int(a) <= limit:
            raise SGFError(src, f"action {a} out of range 0..{limit}", move=i + 1)
    for name, pts in (("setup_black", record.setup_black), ("setup_white", record.setup_white)):
        if any(not 0 <= int(p) < limit for p in pts):
            raise SGFError(src, f"{name} holds a point outside the board")


def write_sgf(record: GameRecord) -> str:
    """The record as FF[4] SGF text (main line only; ten moves per line)."""
    _check_record(record)
    n = record.size
    root = [f"GM[1]FF[4]CA[UTF-8]AP[alphago-jax]SZ[{n}]KM[{_number(record.komi)}]"]
    if record.rules:
        root.append(f"RU[{_text(record.rules)}]")
    for key, value in (("PB", record.black), ("PW", record.white), ("RE", record.result)):
        if value:
            root.append(f"{key}[{_text(value)}]")
    for key, pts in (("AB", record.setup_black), ("AW", record.setup_white)):
        if pts:
            root.append(key + "".join(f"[{action_to_sgf(int(p), n)}]" for p in pts))
    if record.first_player == WHITE:
        root.append("PL[W]")
    if record.comment:
        root.append(f"C[{_text(record.comment)}]")
    nodes = [
        f";{_COLOUR_NAMES[record.colour_of(i)]}[{action_to_sgf(int(a), n)}]"
        for i, a in enumerate(record.moves)
    ]
    lines = ["(;" + "".join(root)]
    lines += ["".join(nodes[i:i + 10]) for i in range(0, len(nodes), 10)]
    return "\n".join(lines) + ")\n"


def save_sgf(record: GameRecord, path: str | Path) -> None:
    """Writes `write_sgf(record)` to `path` (UTF-8)."""
    Path(path).write_text(write_sgf(record), encoding="utf-8")


# ---------------------------------------------------------------------- parsing
class _Tree:
    """A game tree while parsing: its node sequence and its variations."""

    __slots__ = ("nodes", "children")

    def __init__(self):
        self.nodes: list[dict[str, list[str]]] = []
        self.children: list[_Tree] = []


class _Parser:
    """Parses the game trees of an SGF collection."""

    def __init__(self, text: str, source: str):
        self.text = text
        self.source = source
        self.pos = 0
        self.moves = 0  # B/W properties read so far in this game, for error messages
        self.game = 1  # the game tree being read (1-based), for error messages

    def error(self, message: str) -> SGFError:
        line = self.text.count("\n", 0, self.pos) + 1
        game = f"game {self.game}, " if self.game > 1 else ""
        return SGFError(self.source, f"{game}line {line}: {message}", move=self.moves)

    def skip_space(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos].isspace():
            self.pos += 1

    def value(self) -> str:
        """Reads ``[...]`` at `pos`, resolving escapes and soft line breaks."""
        self.pos += 1  # '['
        out, text = [], self.text
        while self.pos < len(text):
            ch = text[self.pos]
            if ch == "]":
                self.pos += 1
                return "".join(out)
            if ch == "\\":
                self.pos += 1
                if self.pos >= len(text):
                    break
                ch = text[self.pos]
                if ch == "\r" and text.startswith("\n", self.pos + 1):
                    self.pos += 1
                if ch not in "\r\n":  # an escaped line break is a soft break: dropped
                    out.append(ch)
            else:
                out.append(ch)
            self.pos += 1
        raise self.error("unterminated property value (missing ']')")

    def prop(self, node: dict[str, list[str]]) -> None:
        start = self.pos
        while self.pos < len(self.text) and self.text[self.pos].isalpha():
            self.pos += 1
        # FF[3] allowed lowercase letters inside identifiers ("AddBlack" = AB): keep capitals.
        ident = "".join(c for c in self.text[start:self.pos] if c.isupper())
        if not ident:
            raise self.error(f"bad property name {self.text[start:self.pos]!r}")
        if ident in ("B", "W"):
            self.moves += 1  # errors from here on are about this move
        values = []
        self.skip_space()
        while self.pos < len(self.text) and self.text[self.pos] == "[":
            values.append(self.value())
            self.skip_space()
        if not values:
            raise self.error(f"property {ident} has no value")
        if ident in node:
            raise self.error(f"property {ident} repeated in one node")
        node[ident] = values

    def parse(self) -> _Tree:
        """Parses the game tree at `pos` (after optional white space)."""
        text = self.text
        self.moves = 0
        self.skip_space()
        if not text.startswith("(", self.pos):
            raise self.error("not an SGF game tree (expected '(')")
        root: _Tree | None = None
        stack: list[_Tree] = []
        while True:
            self.skip_space()
            if self.pos >= len(text):
                raise self.error("unbalanced parentheses: missing ')' at end of file")
            ch = text[self.pos]
            if ch == "(":
                tree = _Tree()
                if stack:
                    if not stack[-1].nodes:
                        raise self.error("variation before any node")
                    stack[-1].children.append(tree)
                else:
                    root = tree
                stack.append(tree)
                self.pos += 1
            elif ch == ")":
                if not stack[-1].nodes:
                    raise self.error("empty game tree '()'")
                stack.pop()
                self.pos += 1
                if not stack:
                    break
            elif ch == ";":
                if stack[-1].children:
                    raise self.error("node after a variation")
                stack[-1].nodes.append({})
                self.pos += 1
            elif ch.isalpha():
                if not stack[-1].nodes:
                    raise self.error("property outside a node (missing ';')")
                self.prop(stack[-1].nodes[-1])
            else:
                raise self.error(f"unexpected character {ch!r}")
        assert root is not None
        return root

    def another(self) -> bool:
        """After a game tree: True when another one follows, False at the end of the text.

        Raises:
          SGFError: anything else follows.
        """
        self.skip_space()
        if self.pos < len(self.text) and self.text[self.pos] != "(":
            raise self.error(f"unexpected {self.text[self.pos]!r} after the game tree")
        return self.pos < len(self.text)

    def parse_all(self) -> list[_Tree | SGFError]:
        """Every game tree of the collection, in order; a syntax error ends the list (the
        games after it cannot be told apart)."""
        trees: list[_Tree | SGFError] = []
        while True:
            self.game = len(trees) + 1
            try:
                trees.append(self.parse())
                if not self.another():
                    return trees
            except SGFError as e:
                return [*trees, e]


def _main_line(tree: _Tree) -> list[dict[str, list[str]]]:
    nodes = list(tree.nodes)
    while tree.children:
        tree = tree.children[0]
        nodes += tree.nodes
    return nodes


# ---------------------------------------------------------------------- record from nodes
def _points(values: list[str], size: int, err) -> list[int]:
    """Point list values, with FF[4] compressed rectangles ("aa:cc")."""
    out = []
    for v in values:
        try:
            if ":" in v:
                a, b = (sgf_to_action(x, size) for x in v.split(":", 1))
                if size * size in (a, b):
                    raise ValueError(f"pass in a rectangle {v!r}")
                (r0, c0), (r1, c1) = divmod(a, size), divmod(b, size)
                out += [r * size + c for r in range(min(r0, r1), max(r0, r1) + 1)
                        for c in range(min(c0, c1), max(c0, c1) + 1)]
            else:
                p = sgf_to_action(v, size)
                if p == size * size:
                    raise ValueError("a setup point cannot be a pass")
                out.append(p)
        except ValueError as e:
            raise err(f"bad setup point: {e}") from None
    return out


def _root_info(root: dict[str, list[str]], source: str) -> tuple[int, float]:
    def one(key, default):
        return root[key][0].strip() if key in root else default

    if one("GM", "1") != "1":
        raise SGFError(source, f"not a Go record (GM[{one('GM', '')}])")
    sz = one("SZ", "19")
    parts = sz.split(":")
    try:
        sizes = [int(p) for p in parts]
    except ValueError:
        raise SGFError(source, f"bad property SZ[{sz}]") from None
    if len(set(sizes)) != 1 or not 2 <= sizes[0] <= 19:
        raise SGFError(source, f"unsupported board size SZ[{sz}] (square, 2..19)")
    km = one("KM", "0")
    try:
        komi = float(km) if km else 0.0
    except ValueError:
        raise SGFError(source, f"bad property KM[{km}]") from None
    if not math.isfinite(komi):
        raise SGFError(source, f"bad property KM[{km}]")
    return sizes[0], komi


def _record_from(nodes: list[dict[str, list[str]]], source: str) -> GameRecord:
    root = nodes[0]
    size, komi = _root_info(root, source)
    setup = {BLACK: [], WHITE: []}
    for colour, key in ((BLACK, "AB"), (WHITE, "AW")):
        if key in root:
            setup[colour] = _points(root[key], size, lambda m: SGFError(source, m))
    if "AE" in root:
        raise SGFError(source, "unsupported property AE (removing stones)")
    both = set(setup[BLACK]) & set(setup[WHITE])
    if both or len(set(setup[BLACK])) < len(setup[BLACK]) or len(set(setup[WHITE])) < len(
        setup[WHITE]
    ):
        raise SGFError(source, "setup stones repeat a point")

    played: list[tuple[int, int]] = []  # (colour, action)
    for i, node in enumerate(nodes):
        move_no = len(played) + 1
        if i > 0 and any(k in node for k in ("AB", "AW", "AE")):
            raise SGFError(source, "setup stones after the first node are not supported",
                           move=move_no)
        if "B" in node and "W" in node:
            raise SGFError(source, "one node holds both a black and a white move", move=move_no)
        for colour, key in ((BLACK, "B"), (WHITE, "W")):
            if key in node:
                if len(node[key]) != 1:
                    raise SGFError(source, f"bad property {key}: {len(node[key])} values",
                                   move=move_no)
                value = node[key][0].strip()
                try:
                    played.append((colour, sgf_to_action(value, size)))
                except ValueError as e:
                    raise SGFError(source, f"bad property {key}[{value}]: {e}",
                                   move=move_no) from None

    pl = root.get("PL", [""])[0].strip().upper()
    if pl in ("B", "W"):
        first = BLACK if pl == "B" else WHITE
    elif pl:
        raise SGFError(source, f"bad property PL[{pl}]")
    elif played:
        first = played[0][0]
    else:  # handicap stones without moves: White moves next
        first = WHITE if setup[BLACK] and not setup[WHITE] else BLACK

    moves, expected = [], first
    for colour, action in played:
        if colour != expected:
            moves.append(size * size)  # the other side passes so that colours alternate
        moves.append(action)
        expected = -colour

    def text(key: str) -> str:
        return root[key][0] if key in root else ""

    return GameRecord(
        size=size, komi=komi, moves=moves, black=text("PB"), white=text("PW"),
        result=text("RE").strip(), rules=text("RU").strip(), setup_black=setup[BLACK],
        setup_white=setup[WHITE], comment=text("C"), first_player=first, source=source,
    )


def _text_of(text_or_path: str | Path, source_name: str | None) -> tuple[str, str]:
    """(SGF text, source name) of SGF text or a file; see `read_sgf`."""
    is_text = isinstance(text_or_path, str) and (
        text_or_path.lstrip("\ufeff \t\r\n")[:1] == "("
        or (("[" in text_or_path or "\n" in text_or_path) and not Path(text_or_path).exists())
    )
    if is_text:
        return text_or_path.lstrip("\ufeff"), source_name or "<string>"
    source = source_name or str(text_or_path)
    try:
        raw = Path(text_or_path).read_bytes()
    except OSError as e:
        raise SGFError(source, f"cannot read file: {e.strerror or e}") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = raw.decode("latin-1")  # old files without CA: any byte decodes
    return text.lstrip("\ufeff"), source


def read_sgf(text_or_path: str | Path, source_name: str | None = None) -> GameRecord:
    """Reads the main line of the first game in SGF text or an SGF file (the games after it in
    a collection are not read: `read_sgf_games` reads them all).

    Args:
      text_or_path: SGF text, or a file path (a `Path`, or a string that neither starts with
        '(' nor holds '[' or a line break unless it names an existing file).
      source_name: name used in errors; default the path, or "<string>".

    Raises:
      SGFError: naming the file and the move number for a malformed file (unbalanced
        parentheses, a bad property value), an unsupported board size or property.
    """
    text, source = _text_of(text_or_path, source_name)
    parser = _Parser(text, source)
    tree = parser.parse()
    parser.another()
    return _record_from(_main_line(tree), source)


def read_sgf_games(text_or_path: str | Path,
                   source_name: str | None = None) -> list[GameRecord | SGFError]:
    """Reads the main line of every game in SGF text or an SGF file (a collection may hold
    several game trees).

    Args:
      text_or_path, source_name: as in `read_sgf`.

    Returns:
      One entry per game, in order: its `GameRecord`, or the `SGFError` that makes it unusable
      (a bad property, an unsupported board size, ...). In a file of several games, game i
      (1-based) is named "<source> game i" in its record's `source` and in its error. A syntax
      error (unbalanced parentheses, ...) is the last entry: the games after it cannot be told
      apart.

    Raises:
      SGFError: the file cannot be read.
    """
    text, source = _text_of(text_or_path, source_name)
    trees = _Parser(text, source).parse_all()
    entries: list[GameRecord | SGFError] = []
    for i, tree in enumerate(trees):
        if isinstance(tree, SGFError):
            entries.append(tree)
            continue
        name = source if len(trees) == 1 else f"{source} game {i + 1}"
        try:
            entries.append(_record_from(_main_line(tree), name))
        except SGFError as e:
            entries.append(e)
    return entries


# ---------------------------------------------------------------------- replay
def setup_actions(record: GameRecord) -> list[int]:
    """The actions that place the record's setup stones from an empty board, Black to move.

    Stones alternate colours where possible; a pass fills in between two stones of one colour,
    and a final pass (if needed) leaves `record.first_player` to move. Empty without setup stones
    and with Black first.
    """
    p = record.size * record.size
    order: list[tuple[int, int]] = []
    blacks, whites = list(record.setup_black), list(record.setup_white)
    for i in range(max(len(blacks), len(whites))):
        order += [(BLACK, blacks[i])] if i < len(blacks) else []
        order += [(WHITE, whites[i])] if i < len(whites) else []
    actions, to_play = [], BLACK
    for colour, point in order:
        if colour != to_play:
            actions.append(p)
        actions.append(int(point))
        to_play = -colour
    if to_play != record.first_player:
        actions.append(p)
    return actions


def setup_state(rules: Rules, record: GameRecord) -> GoState:
    """The position after the setup stones (see `setup_actions`), pass counter cleared.

    Raises:
      SGFError: a setup stone cannot be placed (it would capture or have no liberty).
    """
    state = rules.init()
    for action in setup_actions(record):
        try:
            state = rules.play(state, action)
        except IllegalMoveError as e:
            raise SGFError(record.source or "<record>",
                           f"setup stone {action_to_gtp(action, rules.size)}: {e}") from None
    return state.replace(passes=jnp.zeros_like(state.passes))


def record_steps(record: GameRecord) -> int:
    """Steps a replay of the record plays: its setup steps (`setup_actions`) and its moves."""
    return len(setup_actions(record)) + len(record.moves)


def too_long(steps: int) -> str:
    """Why a record of `steps` steps cannot be replayed."""
    return (f"record too long: {steps} moves (setup stones included); the rules engine plays at "
            f"most {MAX_MOVES}")


def rules_for(record: GameRecord, history: int = 8) -> Rules:
    """Rules to check a record with: its size and komi; positional superko only for
    Tromp-Taylor records (others get simple ko); suicide unless RU names a ruleset that forbids
    it (Japanese, Chinese, Korean, AGA); a move cap that fits every setup step and move."""
    ru = record.rules.lower()
    steps = record_steps(record)
    if steps > MAX_MOVES:
        raise SGFError(record.source or "<record>", too_long(steps))
    cap = 2 * record.size * record.size
    return Rules(
        size=record.size, komi=record.komi, superko="tromp" in ru,
        suicide=not any(name in ru for name in _NO_SUICIDE_RULES),
        max_moves=None if steps <= cap else steps, history=history,
    )


def replay(record: GameRecord, rules: Rules | None = None) -> list[GoState]:
    """Plays a record through the checked `Rules.play`.

    Args:
      record: the game.
      rules: rules to check it with; default `rules_for(record)`. Must have the record's size.

    Returns:
      ``len(record.moves) + 1`` states: after the setup stones, then after each move.

    Raises:
      SGFError: naming the record's file and the 1-based move number of an illegal move
        (occupied point, suicide, ko, a move after the game ended).
    """
    source = record.source or "<record>"
    rules = rules_for(record) if rules is None else rules
    if rules.size != record.size:
        raise SGFError(source, f"rules are for {rules.size}x{rules.size}, the record is "
                               f"{record.size}x{record.size}")
    _check_record(record)
    states = [setup_state(rules, record)]
    for i, action in enumerate(record.moves):
        try:
            states.append(rules.play(states[-1], int(action)))
        except IllegalMoveError as e:
            raise SGFError(source, str(e), move=i + 1) from None
    return states
