"""The path gate: where a proposed test file may be written."""

from __future__ import annotations

import os
from pathlib import Path, PurePosixPath

from agent.fs import is_within


def path_problem(
    path: str, repo: Path, tests_root: str, *, existing_ok: bool = False
) -> str | None:
    """Why `path` may not receive a new test file, or None when it may.

    Rejects absolute paths, `..`, paths outside the tests root, non-Python files, symlinks
    that leave the tests root, and paths that would overwrite an existing file. With
    `existing_ok` (judging files already in the tree) the file may exist and live anywhere in
    the repository.
    """
    if not path or not path.strip():
        return "the path is empty"
    if "\\" in path or "\x00" in path:
        return f"{path!r} is not a plain relative POSIX path"
    pure = PurePosixPath(path)
    if pure.is_absolute() or path.startswith("~"):
        return f"{path!r} is absolute; give a path relative to the repository root"
    if ".." in pure.parts:
        return f"{path!r} contains '..'; give a path under {tests_root}/"
    if ".git" in pure.parts or "__pycache__" in pure.parts:
        return f"{path!r} is inside {'.git' if '.git' in pure.parts else '__pycache__'}/"
    if pure.suffix != ".py":
        return f"{path!r} is not a Python file (must end in .py)"
    root = PurePosixPath(tests_root.strip("/") or ".")
    if existing_ok:
        root = PurePosixPath(".")
    if root != PurePosixPath(".") and pure.parts[: len(root.parts)] != root.parts:
        return f"{path!r} is outside the tests root {tests_root}/"

    for parent in list(pure.parents)[:-1]:
        if (repo / parent).is_file():
            return f"{path!r} needs a directory where the file {parent.as_posix()!r} is"
    repo_real = Path(os.path.realpath(repo))
    tests_real = Path(os.path.realpath(repo / root))
    target = repo / pure
    resolved = Path(os.path.realpath(target))
    if not is_within(resolved, tests_real) or not is_within(resolved, repo_real):
        return f"{path!r} resolves outside the tests root through a symlink"
    if os.path.lexists(target) and not existing_ok:
        return f"{path!r} already exists; existing files are never overwritten (pick a new name)"
    return None
