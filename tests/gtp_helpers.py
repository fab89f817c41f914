"""Helpers shared by the GTP engine tests: scripted players and response checks."""

from __future__ import annotations

from alphago_jax.gtp import GTPEngine
from alphago_jax.rules import Rules

# The tiny run's rules, so that the engines of the tests share compiled moves and scoring.
RULES = Rules(size=5, komi=7.5, superko=True, suicide=False, history=2)


def scripted_player(actions, value=0.0):
    """A player that answers the given actions in turn (for protocol tests without a net)."""
    it = iter(actions)
    return lambda rules, state, key: (next(it), value)


def ok(engine: GTPEngine, line: str, **kw) -> str:
    """The result text of a successful command (the GTP v2 success form '=[id] result')."""
    response = engine.handle(line, **kw)
    assert response is not None and response.endswith("\n\n"), response
    assert response.startswith("="), f"{line[:80]!r} -> {response[:200]!r}"
    assert "\n\n" not in response[:-2]  # a blank line would end the response early
    return response[1:].split(" ", 1)[1][:-2] if " " in response else ""


def fail(engine: GTPEngine, line: str, pattern: str = "") -> str:
    """The response of a failing command (the GTP v2 failure form '?[id] message')."""
    response = engine.handle(line)
    assert response is not None and response.startswith("?"), f"{line[:80]!r} -> {response!r}"
    assert response.endswith("\n\n") and pattern in response, response
    assert "\n" not in response[:-2]  # error messages are one line
    return response


def board_rows(engine: GTPEngine) -> list[str]:
    """showboard's rows, top first, as '.XO' strings."""
    text = ok(engine, "showboard")
    n = engine.game.rules.size
    lines = text.strip("\n").split("\n")
    return ["".join(line.split()[1:-1]) for line in lines[1:1 + n]]
