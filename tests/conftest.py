"""Shared fixtures: the example shop as a real git repository, and snapshots of a tree."""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path

import pytest

from agent.demo.shop import ShopRepo, build_shop_repo
from agent.log import configure

configure(0)  # warnings and errors only, on stderr, as the CLI does


@pytest.fixture
def shop(tmp_path: Path) -> ShopRepo:
    """examples/shop built into a fresh two-commit git repository."""
    return build_shop_repo(tmp_path / "shop")


def tree_state(repo: Path) -> dict[str, str]:
    """Every file's hash (outside .git and itarch's own state), plus HEAD and `git status`."""
    state = {}
    for path in sorted(repo.rglob("*")):
        rel = path.relative_to(repo).as_posix()
        if path.is_file() and not rel.startswith((".git/", ".itarch/")):
            state[rel] = hashlib.sha256(path.read_bytes()).hexdigest()
    git = ["git", "-C", str(repo)]
    state["<HEAD>"] = subprocess.run(
        [*git, "rev-parse", "HEAD"], capture_output=True, text=True
    ).stdout
    state["<status>"] = subprocess.run(
        [*git, "status", "--porcelain", "--untracked-files=all"], capture_output=True, text=True
    ).stdout
    state["<index>"] = hashlib.sha256((repo / ".git" / "index").read_bytes()).hexdigest()
    return state
