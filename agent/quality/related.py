"""Which existing tests and source files a test file is about (found by imports, not by names)."""

from __future__ import annotations

import ast
import os
from pathlib import Path, PurePosixPath

from agent.context.files import module_name, module_path

_SKIP_DIRS = {".git", ".venv", "venv", "node_modules", "__pycache__", ".tox", ".nox", "build"}
MAX_RELATED_FILES = 6
__all__ = ["module_files", "module_name", "module_path", "related_test_files", "test_files"]


def test_files(root: Path, tests_root: str) -> list[str]:
    """Test modules under the tests root, repo-relative, in a stable order."""
    base = root / tests_root if tests_root not in ("", ".") else root
    found: list[str] = []
    for dirpath, dirnames, filenames in os.walk(base):
        dirnames[:] = sorted(d for d in dirnames if d not in _SKIP_DIRS and not d.startswith("."))
        for name in sorted(filenames):
            if name.endswith(".py") and (name.startswith("test_") or name.endswith("_test.py")):
                found.append((Path(dirpath) / name).relative_to(root).as_posix())
    return found


def imports_of(path: Path) -> set[str]:
    try:
        tree = ast.parse(path.read_text(encoding="utf-8", errors="replace"))
    except (SyntaxError, ValueError, OSError):
        return set()
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def module_files(root: Path, names: set[str]) -> set[str]:
    """The repository source files behind imported names (`shop.orders.place` -> shop/orders.py).

    Package `__init__.py` files only count when nothing more specific was imported, so that
    `from shop import orders` relates to `shop/orders.py`, not to every test of `shop`.
    """
    files: set[str] = set()
    for name in names:
        parts = name.split(".")
        for end in range(len(parts), 0, -1):
            path = module_path(root, ".".join(parts[:end]))
            if path is not None:
                files.add(path)
                break
    specific = {f for f in files if not f.endswith("__init__.py")}
    return specific or files


def related_test_files(
    root: Path,
    tests_root: str,
    sources: set[str],
    *,
    exclude: set[str],
    near: list[str],
    limit: int = MAX_RELATED_FILES,
) -> list[str]:
    """Existing test files that import any of the `sources` files (most shared first, then the
    ones nearest to `near`), at most `limit` of them."""
    if not sources:
        return []
    scored: list[tuple[int, int, str]] = []
    for rel in test_files(root, tests_root):
        if rel in exclude:
            continue
        shared = len(module_files(root, imports_of(root / rel)) & sources)
        if shared:
            distance = min((_distance(rel, other) for other in near), default=0)
            scored.append((-shared, distance, rel))
    return [rel for _, _, rel in sorted(scored)[:limit]]


def _distance(a: str, b: str) -> int:
    pa, pb = PurePosixPath(a).parent.parts, PurePosixPath(b).parent.parts
    common = 0
    for x, y in zip(pa, pb, strict=False):
        if x != y:
            break
        common += 1
    return len(pa) + len(pb) - 2 * common
