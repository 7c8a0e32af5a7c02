"""Content hashes of repository files, and the files a test file's results depend on.

An entry of the index stays valid while every file it depends on has the hash it was recorded
with: the test file, the conftests above it, the pytest configuration, the source files its tests
executed, and the project modules it imports (directly or through them), whose import-time lines
run at collection, before any test is traced.
"""

from __future__ import annotations

import ast
import hashlib
from collections.abc import Iterable
from pathlib import Path, PurePosixPath

from agent.context.files import module_name, module_path
from agent.context.imports import absolute_from, package_of

CONFIG_FILES = ("pytest.ini", "pyproject.toml", "setup.cfg", "tox.ini", "conftest.py")


class Hasher:
    """sha1 of file contents, memoised on (size, mtime) for the life of one command."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._memo: dict[str, tuple[int, int, str]] = {}

    def __call__(self, rel: str) -> str:
        """The file's hash, or "" when it does not exist (a deleted file is a change too)."""
        path = self.root / rel
        try:
            stat = path.stat()
        except OSError:
            return ""
        known = self._memo.get(rel)
        if known and known[0] == stat.st_size and known[1] == stat.st_mtime_ns:
            return known[2]
        try:
            digest = hashlib.sha1(path.read_bytes(), usedforsecurity=False).hexdigest()
        except OSError:
            return ""
        self._memo[rel] = (stat.st_size, stat.st_mtime_ns, digest)
        return digest


def setup_files(root: Path, test_file: str) -> list[str]:
    """The pytest configuration, and every conftest.py and `__init__.py` from the root down to
    the test file (they run before its tests, or decide its module's name)."""
    found = [name for name in CONFIG_FILES if (root / name).is_file()]
    parts = PurePosixPath(test_file).parts[:-1]
    for depth in range(1, len(parts) + 1):
        for name in ("conftest.py", "__init__.py"):
            candidate = "/".join(parts[:depth]) + "/" + name
            if (root / candidate).is_file():
                found.append(candidate)
    return found


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


def file_deps(
    root: Path, test_file: str, executed: Iterable[str], hasher: Hasher
) -> dict[str, str]:
    """Every file the test file's recorded results depend on, with its current hash."""
    paths = {test_file, *setup_files(root, test_file), *executed}
    paths |= import_closure(root, test_file)
    return {path: hasher(path) for path in sorted(paths)}
