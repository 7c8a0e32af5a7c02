"""Import statements read as absolute module names, the way the interpreter would bind them."""

from __future__ import annotations

import ast
from collections.abc import Iterator, Set
from pathlib import Path

from agent.source.files import module_name, module_path


def package_of(module: str, is_init: bool) -> str:
    """The package relative imports start from: the module itself for an `__init__.py`."""
    return module if is_init else module.rpartition(".")[0]


def absolute_from(node: ast.ImportFrom, package: str) -> str:
    """The absolute module of `from X import ...` (relative levels resolved against `package`)."""
    if not node.level:
        return node.module or ""
    parts = package.split(".") if package else []
    base = parts[: len(parts) - (node.level - 1)] if node.level - 1 <= len(parts) else []
    return ".".join([*base, *([node.module] if node.module else [])])


def bindings(node: ast.Import | ast.ImportFrom, package: str) -> Iterator[tuple[str, str]]:
    """(local name, absolute dotted name it stands for) for each name an import binds."""
    if isinstance(node, ast.Import):
        for alias in node.names:
            if alias.asname:
                yield alias.asname, alias.name
            else:
                head = alias.name.split(".", 1)[0]
                yield head, head
        return
    module = absolute_from(node, package)
    for alias in node.names:
        if alias.name != "*":
            yield alias.asname or alias.name, f"{module}.{alias.name}" if module else alias.name


def targets(node: ast.Import | ast.ImportFrom, package: str) -> Iterator[tuple[str, str | None]]:
    """(absolute module or module.name, imported name or None) for each imported thing."""
    if isinstance(node, ast.Import):
        for alias in node.names:
            yield alias.name, None
        return
    module = absolute_from(node, package)
    for alias in node.names:
        if alias.name == "*":
            yield module, None
        else:
            yield (f"{module}.{alias.name}" if module else alias.name), alias.name


def known_prefix(dotted: str, known: Set[str]) -> str | None:
    """The longest prefix of `dotted` that is one of the repo's modules."""
    while dotted:
        if dotted in known:
            return dotted
        dotted = dotted.rpartition(".")[0]
    return None


def iter_statements(body: list[ast.stmt]) -> Iterator[ast.stmt]:
    """Every statement, nested ones included, without descending into expressions (cheap)."""
    stack = list(reversed(body))
    while stack:
        stmt = stack.pop()
        yield stmt
        for field in ("body", "orelse", "finalbody"):
            inner = getattr(stmt, field, None)
            if inner:
                stack.extend(reversed(inner))
        for handler in getattr(stmt, "handlers", ()) or ():
            stack.extend(reversed(handler.body))
        for case in getattr(stmt, "cases", ()) or ():
            stack.extend(reversed(case.body))


def import_closure(root: Path, start: str) -> set[str]:
    """Project source files reachable from `start` through imports, relative ones included, with
    the packages' `__init__.py` on the way (`start` itself excluded)."""
    seen: set[str] = set()
    frontier = [start]
    while frontier:
        current = frontier.pop()
        for found in _imported_files(root, current):
            if found not in seen and found != start:
                seen.add(found)
                frontier.append(found)
    return seen


def _imported_files(root: Path, rel: str) -> set[str]:
    try:
        tree = ast.parse((root / rel).read_bytes())
    except (SyntaxError, ValueError, OSError):
        return set()
    is_init = rel.endswith("__init__.py")
    package = package_of(module_name(rel), is_init)
    files: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            module = absolute_from(node, package)
            names = [f"{module}.{alias.name}" if module else alias.name for alias in node.names]
        else:
            continue
        for name in names:
            parts = name.split(".")
            for end in range(1, len(parts) + 1):
                path = module_path(root, ".".join(parts[:end]))
                if path is not None:
                    files.add(path)
    return files
