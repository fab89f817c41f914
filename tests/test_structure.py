"""The package's structure: no import cycle anywhere in alphago_jax, imports inside functions
counted (they hide cycles rather than remove them)."""

from __future__ import annotations

import ast
from pathlib import Path

import alphago_jax

ROOT = Path(alphago_jax.__file__).parent


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph() -> dict[str, set[str]]:
    """{module: the alphago_jax modules it imports}, from every import statement in the file
    (module level or not). `from P import name` counts as importing P.name when that is a
    module, else P."""
    files = {_module_name(p): p for p in ROOT.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in files.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        deps = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                deps |= {a.name for a in node.names}
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1]
                                    + ([base] if base else []))
                for alias in node.names:
                    sub = f"{base}.{alias.name}"
                    deps.add(sub if sub in files else base)
        graph[name] = {d for d in deps if d in files and d != name}
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as [a, b, ..., a], or None."""
    state: dict[str, int] = {}  # 1: on the stack, 2: done
    stack: list[str] = []

    def visit(m: str) -> list[str] | None:
        state[m] = 1
        stack.append(m)
        for d in sorted(graph[m]):
            if state.get(d) == 1:
                return stack[stack.index(d):] + [d]
            if d not in state and (cycle := visit(d)):
                return cycle
        stack.pop()
        state[m] = 2
        return None

    for m in sorted(graph):
        if m not in state and (cycle := visit(m)):
            return cycle
    return None


def test_find_cycle_finds_one():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_no_import_cycle_in_the_package():
    graph = import_graph()
    assert "alphago_jax.trainer" in graph and graph["alphago_jax.trainer"]
    cycle = find_cycle(graph)
    assert cycle is None, " -> ".join(cycle)


def test_library_layers_do_not_import_their_users():
    """The compiled pieces never import the run directory, the match layer or the CLI jobs."""
    graph = import_graph()
    users = {"alphago_jax.train", "alphago_jax.cli", "alphago_jax.runs", "alphago_jax.arena",
             "alphago_jax.evaluate", "alphago_jax.gtp"}
    for lib in ("alphago_jax.trainer", "alphago_jax.config", "alphago_jax.loop",
                "alphago_jax.search.mcts", "alphago_jax.selfplay.selfplay",
                "alphago_jax.learner.learner", "alphago_jax.learner.loss"):
        reached, todo = set(), [lib]
        while todo:
            for d in graph[todo.pop()] - reached:
                reached.add(d)
                todo.append(d)
        assert not (reached & users), (lib, sorted(reached & users))
