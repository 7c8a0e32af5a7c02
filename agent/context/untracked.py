"""The user's own untracked files: what `git status` would call new, minus everything a tool made.

Build output (`build/`, `dist/`, `*.egg-info`), virtualenvs (any folder holding `pyvenv.cfg` or
`site-packages`), caches (`__pycache__`, `.tox`, `.nox`, `node_modules`, ...) and the files
`itarch init` writes are never part of a change, ignored by git or not. Untracked folders come
from git collapsed (`--directory`), so a virtualenv of thousands of files costs one stat, not a
walk of its tree.
"""

from __future__ import annotations

import os
from pathlib import Path, PurePosixPath
from typing import Protocol

from agent import git
from agent.log import get_logger

log = get_logger(__name__)

# Folders that only ever hold generated files, at any depth.
ARTIFACT_DIRS = frozenset(
    {
        "__pycache__",
        "__pypackages__",
        ".tox",
        ".nox",
        ".venv",
        "venv",
        ".eggs",
        "node_modules",
        "site-packages",
        "dist-packages",
        ".pytest_cache",
        ".mypy_cache",
        ".ruff_cache",
        ".hypothesis",
        "htmlcov",
        ".itarch",
    }
)
# Build output: a folder of this name is an artifact unless it is a package itself.
BUILD_DIRS = frozenset({"build", "dist"})
ARTIFACT_SUFFIXES = (".pyc", ".pyo", ".egg-info", ".dist-info")
# What `itarch init` writes; not the user's change while it is untracked.
OWN_FILES = frozenset({".claude/agents/integration-test-architect.md", ".mcp.json"})
# A new untracked folder is read up to this many files (a data dump is not source).
MAX_WALKED_FILES = 5_000


class _Repo(Protocol):
    root: Path
    prefix: str

    def run(self, *args: str) -> str: ...


def is_artifact_dir(root: Path, rel: str) -> bool:
    """Whether the folder `rel` (relative to root) holds generated files only."""
    name = PurePosixPath(rel).name
    if name in ARTIFACT_DIRS or name.endswith(ARTIFACT_SUFFIXES):
        return True
    full = root / rel
    if name in BUILD_DIRS and not (full / "__init__.py").is_file():
        return True
    return (full / "pyvenv.cfg").is_file() or (full / ".git").exists()


def is_artifact_path(rel: str) -> bool:
    """Whether a file path is generated (by its name or a folder on its way), by name alone."""
    parts = PurePosixPath(rel).parts
    if rel in OWN_FILES or parts[-1].endswith(ARTIFACT_SUFFIXES) or parts[-1] == "pyvenv.cfg":
        return True
    return any(p in ARTIFACT_DIRS or p.endswith(ARTIFACT_SUFFIXES) for p in parts[:-1])


def user_untracked(g: _Repo) -> list[str]:
    """Untracked, non-ignored files the user wrote, relative to `g.root`, sorted."""
    listing = g.run(
        "ls-files", "--others", "--exclude-standard", "--directory", "-z", "--", g.prefix or "."
    )
    files: list[str] = []
    walked: list[str] = []  # found by our walk: git's ignore rules still apply to them
    memo: dict[str, bool] = {}
    for full in filter(None, listing.split("\0")):
        rel = full[len(g.prefix) :]
        if not rel.endswith("/"):
            if not is_artifact_path(rel) and not _under_artifact(g.root, rel, memo):
                files.append(rel)
            continue
        folder = rel.rstrip("/")
        if _under_artifact(g.root, folder + "/x", memo) or is_artifact_dir(g.root, folder):
            continue
        walked += _walk(g.root, folder, MAX_WALKED_FILES - len(walked))
    if walked:
        ignored = _ignored(g.root, walked)
        files += [f for f in walked if f not in ignored]
    return sorted(files)


def _under_artifact(root: Path, rel: str, memo: dict[str, bool]) -> bool:
    """Whether any folder on the way to `rel` is generated (a venv by its pyvenv.cfg too)."""
    parts = PurePosixPath(rel).parts[:-1]
    for i in range(len(parts)):
        folder = "/".join(parts[: i + 1])
        if folder not in memo:
            memo[folder] = is_artifact_dir(root, folder)
        if memo[folder]:
            return True
    return False


def _walk(root: Path, folder: str, limit: int) -> list[str]:
    found: list[str] = []
    base = root / folder
    for parent, dirs, names in os.walk(base):
        rel_parent = Path(parent).relative_to(root).as_posix()
        dirs[:] = sorted(d for d in dirs if not is_artifact_dir(root, f"{rel_parent}/{d}"))
        for name in sorted(names):
            rel = f"{rel_parent}/{name}"
            if not is_artifact_path(rel):
                found.append(rel)
            if len(found) >= limit:
                log.info("untracked folder cut", folder=folder, files=len(found))
                return found
    return found


def _ignored(root: Path, paths: list[str]) -> set[str]:
    """The paths git ignores (`git check-ignore`, read-only)."""
    try:
        return git.check_ignore(root, paths)
    except git.GitError:
        return set()
