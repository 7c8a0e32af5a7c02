"""git refusing a repository, and refs a shallow clone does not have: errors that say why and
what to run, for every caller of the context (the CLI, the MCP server, the PR bot)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from agent.context import ContextError, build_context
from tests.cli.support import commit, git, make_repo, owned_by_someone_else


def test_the_context_layer_names_safe_directory_too(tmp_path: Path) -> None:
    """What the MCP server and every other caller of the core get."""
    repo = make_repo(tmp_path / "calc")
    empty = tmp_path / "gitconfig"
    empty.write_text("", encoding="utf-8")
    env = owned_by_someone_else(repo) | {"GIT_CONFIG_GLOBAL": str(empty)}
    script = (
        "from pathlib import Path\n"
        "from agent.context import ContextError, build_context\n"
        "try:\n"
        f"    build_context(Path({str(repo)!r}), base='HEAD')\n"
        "except ContextError as exc:\n"
        "    print(exc)\n"
    )

    done = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        timeout=120,
    )

    assert "git's safe.directory check" in done.stdout, done.stdout + done.stderr
    assert f"git config --global --add safe.directory {repo.resolve()}" in done.stdout


def test_a_ref_beyond_a_shallow_clone_says_how_to_fetch_more(tmp_path: Path) -> None:
    origin = make_repo(tmp_path / "origin")
    commit(origin, {"calc.py": "def add(a, b):\n    return b + a\n"}, "second")
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "--quiet", "--depth", "1", f"file://{origin}", str(clone))

    with pytest.raises(ContextError) as raised:
        build_context(clone, base="HEAD~1")

    message = str(raised.value)
    assert "'HEAD~1'" in message and "shallow clone" in message
    assert "git fetch --deepen=N" in message and "git fetch --unshallow" in message


def test_a_missing_ref_in_a_full_clone_is_not_called_shallow(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "calc")

    with pytest.raises(ContextError) as raised:
        build_context(repo, base="no-such-branch")

    assert "unknown git ref 'no-such-branch'" in str(raised.value)
    assert "shallow" not in str(raised.value)
