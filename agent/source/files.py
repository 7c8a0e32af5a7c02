"""Which Python files a repository has, which of them are tests, and what module each one is."""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path, PurePosixPath

# Directories that never hold the project's own code.
SKIP_DIRS = frozenset(
    {
        "__pycache__",
        "node_modules",
        "site-packages",
        "dist-packages",
        "venv",
        "__pypackages__",
    }
)
# Build output; only at the top level, where a package of that name is unlikely.
TOP_LEVEL_SKIP_DIRS = frozenset({"build", "dist", "htmlcov"})
TEST_DIRS = frozenset({"tests", "test", "testing"})
# Roots that hold packages without being packages themselves (src layouts).
SOURCE_ROOTS = frozenset({"src", "lib", "python"})


def _skip_dir(parent: str, name: str, top: bool) -> bool:
    if name.startswith(".") or name in SKIP_DIRS or name.endswith(".egg-info"):
        return True
    if top and name in TOP_LEVEL_SKIP_DIRS:
        return True
    # A virtualenv under any name.
    return os.path.exists(os.path.join(parent, name, "pyvenv.cfg"))


def is_test_path(rel: str) -> bool:
    """Whether a repo-relative path is test code (test files, conftest, anything under tests/).

    A `test` or `testing` directory counts only at the top level: inside a package it is usually
    library code (django/test, numpy/testing)."""
    parts = PurePosixPath(rel).parts
    name = parts[-1]
    if name == "conftest.py" or name.startswith("test_") or name.endswith("_test.py"):
        return True
    dirs = parts[:-1]
    if "tests" in dirs:
        return True
    return bool(dirs) and dirs[0] in TEST_DIRS


def discover_python_files(root: Path) -> tuple[list[str], list[str]]:
    """(source files, test files) as sorted repo-relative POSIX paths; one walk of the tree."""
    sources: list[str] = []
    tests: list[str] = []
    base = str(root)
    for parent, dirs, names in os.walk(base):
        rel_parent = os.path.relpath(parent, base)
        top = rel_parent == "."
        dirs[:] = sorted(d for d in dirs if not _skip_dir(parent, d, top))
        prefix = "" if rel_parent == "." else rel_parent.replace(os.sep, "/") + "/"
        for name in names:
            if not name.endswith(".py"):
                continue
            rel = prefix + name
            (tests if is_test_path(rel) else sources).append(rel)
    sources.sort()
    tests.sort()
    return sources, tests


class ModuleNamer:
    """Dotted module names for repo files: package roots found by `__init__.py`, src/ layouts and
    namespace packages handled. The naming follows how the code is imported, not where it sits."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._is_package = lru_cache(maxsize=None)(self._has_init)

    def _has_init(self, rel_dir: str) -> bool:
        return (self.root / rel_dir / "__init__.py").is_file()

    def __call__(self, rel: str) -> str | None:
        path = PurePosixPath(rel)
        if path.suffix != ".py":
            return None
        dirs = list(path.parts[:-1])
        stem = path.stem
        # Climb while the directories are regular packages.
        depth = 0
        while depth < len(dirs) and self._is_package("/".join(dirs[: len(dirs) - depth])):
            depth += 1
        if depth:
            parts = dirs[len(dirs) - depth :]
        else:
            parts = dirs[1:] if dirs and dirs[0] in SOURCE_ROOTS else dirs
        if stem != "__init__":
            parts = [*parts, stem]
        return dotted(parts)


def dotted(parts: list[str]) -> str | None:
    """The longest importable tail of `parts` ("my-scripts/run" -> "run")."""
    valid: list[str] = []
    for part in reversed(parts):
        if not part.isidentifier():
            break
        valid.append(part)
    return ".".join(reversed(valid)) or None


def read_text(path: Path, limit: int | None = None) -> str | None:
    """A file's text, or None when it is missing, binary or unreadable."""
    try:
        with path.open("rb") as fh:
            data = fh.read() if limit is None else fh.read(limit)
    except OSError:
        return None
    if b"\0" in data[:8192]:
        return None
    return data.decode("utf-8", errors="replace")


def module_path(root: Path, module: str) -> str | None:
    """`shop.orders` -> `shop/orders.py` (or `src/...`, or a package's `__init__.py`)."""
    parts = module.split(".")
    for base in ("", "src/"):
        for candidate in (f"{base}{'/'.join(parts)}.py", f"{base}{'/'.join(parts)}/__init__.py"):
            if (root / candidate).is_file():
                return candidate
    return None


def module_name(path: str) -> str:
    """`src/shop/orders.py` -> `shop.orders`."""
    pure = PurePosixPath(path)
    parts = list(pure.with_suffix("").parts)
    if parts and parts[0] == "src":
        parts = parts[1:]
    if parts and parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)
