"""An independent parser of live-analysis output (``lz-analyze``, ``kata-analyze`` and their
``genmove_analyze`` forms), written from the formats Leela Zero and KataGo publish (KataGo's
docs/GTP_Extensions.md documents both), not from alphago_jax's code, which it does not import.

The published rules it checks:

* the response starts with ``=`` (and the command's id), then one line per update;
* an update line holds one or more moves, each starting with the word ``info`` and followed by
  ``key value`` pairs; ``pv`` takes every word up to the next ``info`` (or ``ownership``);
* ``kata-analyze ... ownership true`` ends a line with ``ownership`` and one float in [-1, 1] per
  point, row by row from the top left;
* lz: ``visits``, ``winrate``, ``prior``, ``lcb``, ``order`` are integers, winrate/prior/lcb in
  [0, 10000]; kata: ``winrate``, ``prior``, ``lcb`` are floats in [0, 1] and ``utility`` one in
  [-1, 1] for a win/loss-only engine;
* a genmove_analyze response ends with ``play VERTEX`` (or ``play pass`` / ``play resign``);
* the response ends with an empty line.

No client parser can be installed from a registry: Sabaki and Lizzie parse this inside their
applications (neither ships it as a package), so this module follows the published format.
"""

from __future__ import annotations

import re

COLUMNS = "ABCDEFGHJKLMNOPQRST"
_INT_KEYS = {"visits", "order", "edgeVisits"}
_LZ_SCALED = {"winrate", "prior", "lcb"}


def vertex_ok(text: str, size: int) -> bool:
    """A GTP vertex on a size x size board, or pass."""
    if text.lower() == "pass":
        return True
    m = re.fullmatch(r"([A-HJ-Ta-hj-t])(\d{1,2})", text)
    return bool(m) and COLUMNS.index(m[1].upper()) < size and 1 <= int(m[2]) <= size


def parse_update(line: str, style: str, size: int) -> tuple[list[dict], list[float] | None]:
    """One update line -> (moves as dicts of typed values, ownership list or None).

    Raises:
      AssertionError: the line breaks the published format.
    """
    words = line.split()
    assert words and words[0] == "info", line[:80]
    moves: list[dict] = []
    ownership = None
    i = 0
    while i < len(words):
        word = words[i]
        if word == "info":
            moves.append({})
            i += 1
        elif word == "ownership":
            ownership = [float(x) for x in words[i + 1:]]
            assert len(ownership) == size * size, len(ownership)
            assert all(-1.0 <= x <= 1.0 for x in ownership)
            break
        elif word == "pv":
            j = i + 1
            while j < len(words) and words[j] not in ("info", "ownership"):
                j += 1
            moves[-1]["pv"] = words[i + 1:j]
            i = j
        else:
            assert i + 1 < len(words), f"key {word} without a value"
            moves[-1][word] = _typed(word, words[i + 1], style)
            i += 2
    for m in moves:
        _check_move(m, style, size)
    assert [m["order"] for m in moves] == list(range(len(moves)))
    return moves, ownership


def _typed(key: str, value: str, style: str):
    if key == "move":
        return value
    if key in _INT_KEYS or (style == "lz" and key in _LZ_SCALED):
        assert re.fullmatch(r"-?\d+", value), f"{key} {value} is not an integer"
        return int(value)
    return float(value)


def _check_move(m: dict, style: str, size: int) -> None:
    for key in ("move", "visits", "winrate", "prior", "lcb", "order", "pv"):
        assert key in m, f"missing {key}: {m}"
    assert vertex_ok(m["move"], size), m["move"]
    assert all(vertex_ok(v, size) for v in m["pv"]), m["pv"]
    assert m["pv"] and m["pv"][0] == m["move"], m
    assert m["visits"] >= 0
    top = 10000 if style == "lz" else 1.0
    for key in ("winrate", "prior", "lcb"):
        assert 0 <= m[key] <= top, (key, m[key])
    assert m["lcb"] <= m["winrate"]
    if style == "kata":
        assert -1.0 <= m["utility"] <= 1.0


def parse_response(text: str, style: str, size: int, genmove: bool = False) -> dict:
    """A whole analysis response -> {'id', 'updates': [(moves, ownership)], 'play'}.

    Raises:
      AssertionError: the response breaks the published format.
    """
    assert text.endswith("\n\n"), text[-80:]
    lines = text[:-2].split("\n")
    head = re.fullmatch(r"=(\d*)\s*", lines[0])
    assert head, lines[0][:80]
    body, play = lines[1:], None
    if genmove:
        assert body and body[-1].startswith("play "), body[-1:]
        play = body.pop().split()[1]
        assert play == "resign" or vertex_ok(play, size), play
    assert all(line.startswith("info ") for line in body), body
    return {"id": head[1], "updates": [parse_update(line, style, size) for line in body],
            "play": play}
