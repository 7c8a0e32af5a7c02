"""Module-level names a piece of code uses: an excerpt of `@hookspec def f(...)` means little
without `hookspec = HookspecMarker("pytest")`, and a function reading `TIMEOUT` without its
value."""

from __future__ import annotations

import ast
from collections.abc import Iterable

MAX_SOURCE_CHARS = 160


def module_assignments(tree: ast.Module) -> dict[str, ast.stmt]:
    """name -> the module-level statement that binds it (last binding wins), `if`/`try`
    blocks at module level included."""
    found: dict[str, ast.stmt] = {}

    def walk(body: list[ast.stmt]) -> None:
        for stmt in body:
            if isinstance(stmt, ast.Assign):
                for target in stmt.targets:
                    for node in ast.walk(target):
                        if isinstance(node, ast.Name):
                            found[node.id] = stmt
            elif isinstance(stmt, ast.AnnAssign | ast.AugAssign) and isinstance(
                stmt.target, ast.Name
            ):
                found[stmt.target.id] = stmt
            elif isinstance(stmt, ast.If | ast.Try):
                walk(stmt.body)
                walk(stmt.orelse)
                if isinstance(stmt, ast.Try):
                    for handler in stmt.handlers:
                        walk(handler.body)

    walk(tree.body)
    return found


def names_used(nodes: Iterable[ast.AST]) -> set[str]:
    """Bare names the nodes read (decorators and defaults included)."""
    return {
        node.id
        for root in nodes
        for node in ast.walk(root)
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load)
    }


def used_assignments(
    text: str, tree: ast.Module, nodes: Iterable[ast.AST], skip_lines: set[int] | None = None
) -> list[tuple[int, str]]:
    """(line, source) of each module-level assignment the nodes use, in file order; those
    starting on `skip_lines` (already shown) are left out."""
    assigned = module_assignments(tree)
    lines = text.splitlines()
    shown: dict[int, str] = {}
    for name in names_used(nodes):
        stmt = assigned.get(name)
        if stmt is None or stmt.lineno in (skip_lines or set()) or stmt.lineno in shown:
            continue
        end = stmt.end_lineno or stmt.lineno
        source = " ".join(line.strip() for line in lines[stmt.lineno - 1 : end])
        if len(source) > MAX_SOURCE_CHARS:
            source = source[: MAX_SOURCE_CHARS - 1] + "…"
        shown[stmt.lineno] = source
    return sorted(shown.items())
