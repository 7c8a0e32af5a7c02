"""Which function each executed line belongs to, so the index still answers "does a test run this
function?" after the lines around it moved."""

from __future__ import annotations

import ast
from functools import lru_cache
from pathlib import Path

MODULE = "<module>"


def functions_of(root: Path, path: str, sha: str, lines: set[int]) -> set[str]:
    """Qualified names (`Class.method`, `outer.inner`) of the innermost functions holding `lines`;
    module-level lines count as `<module>`."""
    spans = _spans(root / path, sha)
    found: set[str] = set()
    for line in lines:
        name = MODULE
        for start, end, qualname in spans:
            if start <= line <= end:
                name = qualname  # spans are sorted outermost first, so the last match is innermost
        found.add(name)
    return found


def function_spans(source: str) -> list[tuple[int, int, str]]:
    """(first line, last line, qualname) of every function, outermost first."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return []
    spans: list[tuple[int, int, str]] = []

    def visit(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                qualname = f"{prefix}{child.name}"
                if not isinstance(child, ast.ClassDef):
                    # from the body on: the `def` line itself runs in the enclosing scope
                    start = child.body[0].lineno
                    spans.append((start, child.end_lineno or child.lineno, qualname))
                visit(child, qualname + ".")
            else:
                visit(child, prefix)

    visit(tree, "")
    return sorted(spans, key=lambda s: (s[0], -s[1]))


@lru_cache(maxsize=512)
def _spans(path: Path, sha: str) -> list[tuple[int, int, str]]:  # sha: the cache key's content
    try:
        return function_spans(path.read_text(encoding="utf-8", errors="replace"))
    except OSError:
        return []
