"""What one existing test file mentions, in a single AST walk: the modules it imports, the names
it uses, its string constants and the HTTP requests it makes. Nothing runs."""

from __future__ import annotations

import ast
from dataclasses import dataclass

from agent.hook.routes import Requests, requests_of
from agent.tests_map import imports_in

# Longer strings are prose or data, not routes, event names or module names.
_MAX_STRING = 200


@dataclass(frozen=True)
class TestFacts:
    path: str
    imports: frozenset[str]  # `agent.tests_map.imports_in`: absolute imports only
    names: frozenset[str]  # identifiers and attribute names used anywhere
    strings: frozenset[str]
    requests: Requests


def read_test(path: str, text: str) -> TestFacts | None:
    """None when the file does not parse (it exercises nothing until it does)."""
    try:
        tree = ast.parse(text, filename=path)
    except (SyntaxError, ValueError):
        return None
    names: set[str] = set()
    strings: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            names.add(node.id)
        elif isinstance(node, ast.Attribute):
            names.add(node.attr)
        elif isinstance(node, ast.alias):
            names.add((node.asname or node.name).rpartition(".")[2])
        elif (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and len(node.value) <= _MAX_STRING
        ):
            strings.add(node.value)
    return TestFacts(
        path=path,
        imports=imports_in(tree),
        names=frozenset(names),
        strings=frozenset(strings),
        requests=requests_of(tree, strings),
    )
