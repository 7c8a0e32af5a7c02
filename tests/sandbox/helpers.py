"""Helpers for the sandbox tests: real git repositories, fingerprints, process lookups."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

from agent.config import SandboxSettings
from agent.sandbox import available_levels
from agent.schema import IsolationLevel

PYTHON = Path(sys.executable)  # the project venv's interpreter, which has pytest

ISOLATED = [
    level for level in (IsolationLevel.BWRAP, IsolationLevel.UNSHARE) if level in available_levels()
]
ALL_LEVELS = [*ISOLATED, IsolationLevel.PROCESS]
BEST = ALL_LEVELS[0]

# A small package with a seam worth testing; tests add their own test files.
BASE_FILES = {
    "shopkit/__init__.py": "",
    "shopkit/prices.py": (
        "def total(items):\n"
        "    amount = 0\n"
        "    for price, qty in items:\n"
        "        amount += price * qty\n"
        "    return amount\n"
        "\n"
        "\n"
        "def discount(amount, percent):\n"
        "    if percent < 0:\n"
        "        raise ValueError('negative discount')\n"
        "    return amount * (100 - percent) / 100\n"
    ),
    "tests/__init__.py": "",
    "tests/test_prices.py": (
        "from shopkit.prices import total\n\n\ndef test_total():\n    assert total([(2, 3)]) == 6\n"
    ),
    ".gitignore": "ignored.txt\n*.log\n",
}


def git(repo: Path, *args: str) -> str:
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@example.invalid",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.invalid",
    }
    proc = subprocess.run(
        ["git", *args], cwd=repo, env=env, capture_output=True, text=True, check=True
    )
    return proc.stdout


def write_tree(root: Path, files: dict[str, str]) -> None:
    for rel, content in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content, encoding="utf-8")


def make_git_repo(root: Path, files: dict[str, str] | None = None) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    write_tree(root, {**BASE_FILES, **(files or {})})
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "initial")
    return root


def settings(level: IsolationLevel = BEST, **overrides: float) -> SandboxSettings:
    return SandboxSettings.model_validate({"isolation": level.value, **overrides})


def tree_fingerprint(root: Path) -> dict[str, tuple[str, int, int]]:
    """Content hash, mode and mtime of every file under root, .git included."""
    found: dict[str, tuple[str, int, int]] = {}
    for dirpath, _dirs, files in os.walk(root):
        for name in files:
            path = Path(dirpath, name)
            st = path.lstat()
            digest = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else "-"
            found[str(path.relative_to(root))] = (digest, st.st_mode, st.st_mtime_ns)
    return found


def processes_with_marker(marker: str) -> list[int]:
    """Host pids whose command line mentions marker (pid namespaces are visible from here)."""
    pids = []
    for name in os.listdir("/proc"):
        if not name.isdigit() or int(name) == os.getpid():
            continue
        try:
            cmdline = Path("/proc", name, "cmdline").read_bytes()
        except OSError:
            continue
        if marker.encode() in cmdline:
            pids.append(int(name))
    return pids


def unshare_rn_available() -> bool:
    """Can we make a network namespace of our own (so a stray packet has nowhere to go)?"""
    if shutil.which("unshare") is None:
        return False
    return subprocess.run(["unshare", "-rn", "true"], capture_output=True).returncode == 0
