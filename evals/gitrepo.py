"""Deterministic git commits for the evaluation's target repositories.

Fixed author, committer and dates and no user or system configuration, so the same files always
give the same commits on every machine.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from agent.demo.shop import deterministic_git_env

AUTHOR = "itarch evals"
EMAIL = "evals@itarch.invalid"
DATE = "2024-06-01T12:00:00+00:00"
# Build and tool leftovers an editable install or a test run may create inside the tree.
EXCLUDES = (
    "__pycache__/",
    "*.pyc",
    "*.egg-info/",
    ".pytest_cache/",
    ".itarch/",
    ".coverage*",
    "build/",
)


class GitError(Exception):
    """A git command failed; the message has its last line of output."""


def git(repo: Path, *args: str) -> str:
    env = deterministic_git_env(DATE, AUTHOR, EMAIL)
    command = ["git", "-c", "init.defaultBranch=main", "-c", "commit.gpgsign=false", *args]
    done = subprocess.run(command, cwd=repo, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        lines = (done.stderr or done.stdout).strip().splitlines()
        raise GitError(f"git {args[0]} failed in {repo}: {lines[-1] if lines else '?'}")
    return done.stdout.strip()


def init(repo: Path) -> None:
    """A new repository whose local excludes keep build leftovers out of `git status`."""
    git(repo, "init", "--quiet")
    exclude = repo / ".git" / "info" / "exclude"
    exclude.parent.mkdir(parents=True, exist_ok=True)
    exclude.write_text("\n".join(EXCLUDES) + "\n", encoding="utf-8")


def commit_all(repo: Path, message: str) -> str:
    git(repo, "add", "--all")
    git(repo, "commit", "--quiet", "--no-verify", "--allow-empty", "--message", message)
    return git(repo, "rev-parse", "HEAD")
