"""The CLI as a user runs it: a real `itarch` process in small, real git repositories."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ITARCH = str(Path(sys.executable).parent / "itarch")
PYTHON = sys.executable
# Variables that would point git or itarch elsewhere than the test's own directories.
_LEAKY = ("GIT_", "ITARCH_", "ANTHROPIC_")
# Judging stays real but quick: one flakiness rerun, no mutants.
FAST = {"ITARCH_RERUNS": "1", "ITARCH_MUTATION": "false", "ITARCH_ALLOW_MODEL_REQUESTS": "0"}

PYPROJECT = (
    '[project]\nname = "calc"\nversion = "0.1.0"\n\n[tool.pytest.ini_options]\npythonpath = ["."]\n'
)
CALC = '"""Arithmetic."""\n\n\ndef add(a, b):\n    return a + b\n'
TEST_ADD = "from calc import add\n\n\ndef test_add():\n    assert add(2, 3) == 5\n"


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(_LEAKY)}
    return env | FAST | extra


def itarch(
    *args: str, cwd: Path, env: dict[str, str] | None = None, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    """`itarch ARGS` with stdout and stderr to pipes, as in `itarch ... | cat`."""
    return subprocess.run(
        [ITARCH, *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env=clean_env(**(env or {})),
        timeout=timeout,
    )


def git(repo: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", *args],
        cwd=repo,
        capture_output=True,
        text=True,
        env=clean_env(
            GIT_AUTHOR_NAME="Dev",
            GIT_AUTHOR_EMAIL="dev@example.com",
            GIT_COMMITTER_NAME="Dev",
            GIT_COMMITTER_EMAIL="dev@example.com",
        ),
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def write(repo: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        target = repo / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")


def commit(repo: Path, files: dict[str, str], message: str) -> str:
    write(repo, files)
    git(repo, "add", "--all")
    git(repo, "commit", "--quiet", "-m", message)
    return git(repo, "rev-parse", "HEAD").strip()


def make_repo(path: Path, files: dict[str, str] | None = None) -> Path:
    """A small project (calc.py and one test) committed on `main`."""
    path.mkdir(parents=True)
    git(path, "init", "--quiet", "-b", "main")
    base = {"pyproject.toml": PYPROJECT, "calc.py": CALC, "tests/test_add.py": TEST_ADD}
    commit(path, base | (files or {}), "initial")
    return path


def assert_one_line_error(proc: subprocess.CompletedProcess[str], *fragments: str) -> str:
    """The error is one line on stderr, exit code 2, no traceback; returns that line."""
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]


def owned_by_someone_else(repo: Path) -> dict[str, str]:
    """The repository as git sees one owned by another user; the environment to run in."""
    if os.geteuid() == 0:
        subprocess.run(["chown", "-R", "65534:65534", str(repo)], check=True)
        return {}
    return {"GIT_TEST_ASSUME_DIFFERENT_OWNER": "1"}  # git's own switch for this very check
