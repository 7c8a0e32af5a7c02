"""Shared fixtures: the example shop as a real git repository, and snapshots of a tree.

No test reaches a real model API by accident: model requests are blocked for the whole session
(and for every itarch process a test starts, which inherits the environment). A client for a
remote API fails loudly when it is built; fakes served on 127.0.0.1 are still reached. A test
that means to call the real API sets ITARCH_ALLOW_MODEL_REQUESTS=1 itself.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import tempfile
from pathlib import Path

import pytest

from agent.demo.shop import ShopRepo, build_shop_repo
from agent.log import configure

configure(0)  # warnings and errors only, on stderr, as the CLI does
os.environ["ITARCH_ALLOW_MODEL_REQUESTS"] = "0"
# What itarch keeps between commands outside a repository (answers about interpreters) goes to
# a directory of this session's own, not the user's cache.
os.environ["ITARCH_CACHE_DIR"] = tempfile.mkdtemp(prefix="itarch-test-cache-")


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
