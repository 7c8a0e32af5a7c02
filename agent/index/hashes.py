"""Content hashes of repository files, and the files a test file's results depend on.

An entry of the index stays valid while every file it depends on has the hash it was recorded
with: the test file, the conftests above it, the pytest configuration, the source files its tests
executed, and the project modules it imports (directly or through them; their import-time lines
run at collection, before any test is traced), which the recorder passes in.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from pathlib import Path, PurePosixPath

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


def file_deps(root: Path, test_file: str, sources: Iterable[str], hasher: Hasher) -> dict[str, str]:
    """Every file the test file's recorded results depend on, with its current hash: itself, its
    setup files, and `sources` (what its tests executed and what it imports)."""
    paths = {test_file, *setup_files(root, test_file), *sources}
    return {path: hasher(path) for path in sorted(paths)}
