"""A change that is only release metadata, formatting, comments, docstrings or documentation never
buys a model run: `itarch generate` says there is nothing to test, exits 0, and sends no request
(real git repository, the real CLI, a loopback model server that would answer if asked)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.fakes.anthropic_server import AnthropicServer, tool_use_message
from tests.reliability.support import ITARCH, itarch_env

BASE = {
    "pyproject.toml": '[project]\nname = "ver"\nversion = "1.0"\n',
    "ver/__init__.py": '__version__ = "1.0"\n',
    "ver/core.py": """
        def double(x):
            return x * 2
    """,
    "README.md": "# ver\n",
    "tests/test_core.py": """
        from ver.core import double


        def test_double():
            assert double(2) == 4
    """,
}


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@e", *args],
        cwd=repo,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()


def _write(repo: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        path = repo / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "ver"
    _write(root, BASE)
    _git(root, "init", "-q", "-b", "main")
    _git(root, "add", "-A")
    _git(root, "commit", "-qm", "1.0")
    return root


def _generate(repo: Path, tmp_path: Path) -> tuple[subprocess.CompletedProcess[str], int]:
    finish = tool_use_message("finish", {"summary": "done"})
    with AnthropicServer([finish]) as server:
        proc = subprocess.run(
            [str(ITARCH), "--python", sys.executable, "generate", "--base", "HEAD~1", "--json"],
            cwd=repo,
            env=itarch_env(server, tmp_path / "tmp"),
            capture_output=True,
            text=True,
            timeout=300,
        )
        return proc, len(server.message_requests())


def test_a_release_bump_with_reformatting_and_docs_needs_no_model(
    repo: Path, tmp_path: Path
) -> None:
    _write(
        repo,
        {
            "ver/__init__.py": '__version__ = "1.1"  # released\n',
            "ver/core.py": '''
                def double(x):
                    """Twice x."""
                    return x*2
            ''',
            "README.md": "# ver\n\nNow documented.\n",
        },
    )
    _git(repo, "commit", "-qam", "1.1")
    proc, requests = _generate(repo, tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    report = json.loads(proc.stdout)
    assert report["stopped_by"] == "trivial_change" and report["nothing_to_test"] is True
    assert "release metadata" in report["message"] and "documentation" in report["message"]
    assert requests == 0
    assert _git(repo, "status", "--porcelain") == ""


def test_a_changed_behaviour_beside_the_bump_still_runs_the_model(
    repo: Path, tmp_path: Path
) -> None:
    _write(
        repo,
        {
            "ver/__init__.py": '__version__ = "1.1"\n',
            "ver/core.py": """
                def double(x):
                    return x + x + 0
            """,
        },
    )
    _git(repo, "commit", "-qam", "1.1")
    proc, requests = _generate(repo, tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert json.loads(proc.stdout)["stopped_by"] == "finish"
    assert requests == 1
