"""Plain `git` subprocesses for the pre-push hook.

The hook runs on every push, so it talks to git directly instead of importing GitPython: one
fork per question is cheaper than the import, and the answers it needs are all one-liners.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Sequence
from pathlib import Path


class GitError(Exception):
    """A git command failed; the message is git's own first line."""


def git(repo: Path, *args: str, input: str | None = None, check: bool = True) -> str:
    """Run `git args...` in `repo` and return its stdout (stripped of the final newline only)."""
    proc = subprocess.run(
        ["git", *args],
        cwd=repo,
        input=input,
        capture_output=True,
        text=True,
        env=_git_env(),
    )
    if check and proc.returncode != 0:
        first = (proc.stderr.strip().splitlines() or [f"exit {proc.returncode}"])[0]
        raise GitError(f"git {' '.join(args[:3])}: {first}")
    return proc.stdout.removesuffix("\n")


def git_ok(repo: Path, *args: str) -> bool:
    """Whether `git args...` succeeds (for yes/no questions such as --is-ancestor)."""
    proc = subprocess.run(["git", *args], cwd=repo, capture_output=True, env=_git_env())
    return proc.returncode == 0


def lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip()]


def toplevel(start: Path) -> Path:
    return Path(git(start, "rev-parse", "--show-toplevel")).resolve()


def read_blobs(repo: Path, commit: str, paths: Sequence[str]) -> dict[str, str]:
    """The text of `paths` at `commit`, in one `git cat-file --batch` (missing ones left out)."""
    if not paths:
        return {}
    request = "".join(f"{commit}:{p}\n" for p in paths)
    proc = subprocess.run(
        ["git", "cat-file", "--batch"],
        cwd=repo,
        input=request.encode(),
        capture_output=True,
        env=_git_env(),
    )
    if proc.returncode != 0:
        raise GitError(f"git cat-file: {proc.stderr.decode(errors='replace').strip()}")
    out, pos, found = proc.stdout, 0, {}
    for path in paths:
        end = out.index(b"\n", pos)
        header = out[pos:end].decode(errors="replace").split()
        pos = end + 1
        if len(header) < 3 or header[1] != "blob":
            continue  # "<name> missing", or not a file
        size = int(header[2])
        found[path] = out[pos : pos + size].decode("utf-8", errors="replace")
        pos += size + 1  # the blob is followed by a newline
    return found


def _git_env() -> dict[str, str]:
    # Messages in C locale so the first line we quote is the one users search for.
    return {**os.environ, "LC_ALL": "C"}
