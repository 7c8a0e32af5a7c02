"""Which HTTP routes a test requests, read from its source: `client.post(f"/orders/{id}/pay")`.

A path in a client call (`get`, `post`, ... or `request("POST", path)`) counts for that method
only; a path-like string anywhere else (a URL built into a variable) counts for every method. An
f-string's values stand for one path segment each.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable
from dataclasses import dataclass

VERBS = frozenset({"get", "post", "put", "patch", "delete", "head", "options"})
_PARAM = re.compile(r"<[^>]*>|\{[^}]*\}")  # Flask/Django <int:id>, FastAPI/Starlette {id}
_SEGMENT = "x"


@dataclass(frozen=True)
class Route:
    methods: frozenset[str]  # upper case; empty = any method
    path: str

    @classmethod
    def of(cls, detail: str) -> Route | None:
        """From a seam's detail: "POST /orders/<int:id> -> pay", "GET,POST /x", "ANY /y"."""
        words = detail.split(" -> ")[0].split()
        if len(words) < 2 or not words[1].startswith("/"):
            return None
        methods = frozenset(m for m in words[0].upper().split(",") if m not in ("ANY", "WS"))
        return cls(methods, words[1])

    @property
    def fixed_prefix(self) -> str:
        """The part before the first parameter ("/orders/" of "/orders/<int:id>/pay")."""
        return _PARAM.split(self.path, maxsplit=1)[0]

    def matches(self, path: str) -> bool:
        out, pos = [], 0
        for m in _PARAM.finditer(self.path):
            out += [re.escape(self.path[pos : m.start()]), "[^/]+"]
            pos = m.end()
        out.append(re.escape(self.path[pos:]))
        return re.fullmatch("".join(out) + "/?", path.split("?", 1)[0]) is not None


@dataclass(frozen=True)
class Requests:
    calls: frozenset[tuple[str, str]]  # (METHOD, path) from client calls
    loose: frozenset[str]  # other path-like strings: any method

    def reach(self, route: Route) -> bool:
        for method, path in self.calls:
            if (not route.methods or method in route.methods) and route.matches(path):
                return True
        prefix = route.fixed_prefix
        has_params = prefix != route.path
        # A loose f-string piece such as "/orders/" stands for the route it starts.
        return any(
            route.matches(s) or (has_params and len(prefix) > 1 and s == prefix) for s in self.loose
        )


def requests_of(tree: ast.Module | None, strings: Iterable[str]) -> Requests:
    calls: set[tuple[str, str]] = set()
    used: set[str] = set()
    for node in ast.walk(tree) if tree is not None else ():
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
            continue
        verb = node.func.attr.lower()
        args = node.args
        if verb == "request" and len(args) >= 2 and isinstance(args[0], ast.Constant):
            verb, args = str(args[0].value).lower(), args[1:]
        if verb not in VERBS or not args:
            continue
        path = _literal_path(args[0])
        if path is not None:
            calls.add((verb.upper(), path))
            used.update(_pieces(args[0]))
    loose = {s for s in strings if s.startswith("/") and s not in used}
    return Requests(frozenset(calls), frozenset(loose))


def _literal_path(node: ast.expr) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value if node.value.startswith("/") else None
    if isinstance(node, ast.JoinedStr):
        text = "".join(
            str(v.value) if isinstance(v, ast.Constant) else _SEGMENT for v in node.values
        )
        return text if text.startswith("/") else None
    return None


def _pieces(node: ast.expr) -> set[str]:
    """The string constants a path argument is made of (so they are not also counted loose)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return {node.value}
    if isinstance(node, ast.JoinedStr):
        return {str(v.value) for v in node.values if isinstance(v, ast.Constant)}
    return set()
