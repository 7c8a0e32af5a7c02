"""A real git repository with a local bare remote, for driving the pre-push hook through `git push`.

The sample project is small on purpose: `app/store.py` (a SQLite seam, covered by
`tests/test_store.py`) and `app/notify.py` (a subprocess seam no test touches), so a push that
changes one or the other is tested or not by construction.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

PYTHON = sys.executable
# Every variable that could point git or itarch somewhere else than the test's own directories.
_LEAKY = ("GIT_", "ITARCH_", "ANTHROPIC_", "PRE_COMMIT")

STORE = '''\
"""Items kept in SQLite."""

import sqlite3


def connect(path):
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE IF NOT EXISTS items (name TEXT)")
    return conn


def save(conn, name):
    conn.execute("INSERT INTO items (name) VALUES (?)", (name,))
    return name
'''

NOTIFY = '''\
"""Announcements, printed by a child process."""

import subprocess
import sys


def announce(message):
    done = subprocess.run(
        [sys.executable, "-c", "print(input())"], input=message, capture_output=True, text=True
    )
    return done.stdout.strip()
'''

TEST_STORE = """\
from app.store import connect, save


def test_saved_items_can_be_read_back(tmp_path):
    conn = connect(tmp_path / "items.db")
    assert save(conn, "apple") == "apple"
    assert conn.execute("SELECT name FROM items").fetchall() == [("apple",)]
"""

APP = {
    "pyproject.toml": '[project]\nname = "app"\nversion = "0.1.0"\n\n'
    '[tool.pytest.ini_options]\npythonpath = ["."]\n',
    "README.md": "# app\n",
    ".gitignore": "__pycache__/\n.pytest_cache/\n",
    "app/__init__.py": '"""A small service: a SQLite store and a notifier."""\n',
    "app/store.py": STORE,
    "app/notify.py": NOTIFY,
    "tests/test_store.py": TEST_STORE,
}


def isolated_env(home: Path, **extra: str) -> dict[str, str]:
    """The environment git (and so the hook) runs in: no user config, no inherited repo."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(_LEAKY)}
    env.update(
        HOME=str(home),
        GIT_CONFIG_GLOBAL=str(home / ".gitconfig"),
        GIT_CONFIG_NOSYSTEM="1",
        GIT_AUTHOR_NAME="Dev",
        GIT_AUTHOR_EMAIL="dev@example.com",
        GIT_COMMITTER_NAME="Dev",
        GIT_COMMITTER_EMAIL="dev@example.com",
        GIT_TERMINAL_PROMPT="0",
        ITARCH_ALLOW_MODEL_REQUESTS="0",  # the hook's generate mode talks to fakes only
    )
    env.update(extra)
    return env


@dataclass
class Repo:
    path: Path
    remote: Path
    env: dict[str, str]

    def git(self, *args: str, check: bool = True, **extra: str) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            ["git", *args],
            cwd=self.path,
            env={**self.env, **extra},
            capture_output=True,
            text=True,
            timeout=120,
        )
        if check and done.returncode != 0:
            raise AssertionError(f"git {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
        return done

    def push(self, *args: str, **extra: str) -> subprocess.CompletedProcess[str]:
        """A real `git push` (the hook runs as git's child); never raises on failure."""
        return self.git("push", *args, check=False, **extra)

    def write(self, files: dict[str, str]) -> None:
        for rel, text in files.items():
            target = self.path / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")

    def commit(self, files: dict[str, str], message: str) -> str:
        self.write(files)
        self.git("add", "--all")
        self.git("commit", "--quiet", "--no-verify", "-m", message)
        return self.sha()

    def sha(self, ref: str = "HEAD") -> str:
        return self.git("rev-parse", ref).stdout.strip()

    def remote_sha(self, ref: str) -> str | None:
        done = subprocess.run(
            ["git", "--git-dir", str(self.remote), "rev-parse", "--verify", "--quiet", ref],
            env=self.env,
            capture_output=True,
            text=True,
        )
        return done.stdout.strip() or None

    def itarch(self, *args: str, stdin: str = "", **extra: str) -> subprocess.CompletedProcess[str]:
        """`itarch ARGS` as a user runs it (`python -m agent.cli`), in this repository."""
        return subprocess.run(
            [PYTHON, "-m", "agent.cli", *args],
            cwd=self.path,
            env={**self.env, **extra},
            input=stdin,
            capture_output=True,
            text=True,
            timeout=300,
        )

    def snapshot(self) -> dict[str, str]:
        """Hashes of every file outside .git and .itarch, plus HEAD, the index and status."""
        state = {}
        for path in sorted(self.path.rglob("*")):
            rel = path.relative_to(self.path).as_posix()
            if path.is_file() and not rel.startswith((".git/", ".itarch/")):
                state[rel] = hashlib.sha256(path.read_bytes()).hexdigest()
        state["<HEAD>"] = self.sha()
        state["<index>"] = hashlib.sha256((self.path / ".git" / "index").read_bytes()).hexdigest()
        state["<status>"] = self.git("status", "--porcelain", "--untracked-files=all").stdout
        return state

    def change_notify(self, word: str = "loudly") -> str:
        """Commit a change of behaviour to the untested module (inside the function holding its
        seam); a comment alone would be cosmetic."""
        text = NOTIFY.replace(
            "return done.stdout.strip()", f"return done.stdout.strip() or {word!r}"
        )
        return self.commit({"app/notify.py": text}, f"announce {word}")

    def change_store(self, word: str = "kept") -> str:
        """Commit a change of behaviour to the tested module (inside the function holding its
        seam)."""
        text = STORE.replace("    return name\n", f"    return name or {word!r}\n")
        return self.commit({"app/store.py": text}, f"store {word}")


def make_repo(tmp_path: Path, files: dict[str, str] | None = None) -> Repo:
    """The sample project, committed on `main` and pushed (without hooks) to a bare `origin`."""
    home = tmp_path / "home"
    home.mkdir()
    (home / ".gitconfig").write_text("", encoding="utf-8")
    env = isolated_env(home)
    remote = tmp_path / "remote.git"
    path = tmp_path / "work"
    subprocess.run(
        ["git", "init", "--quiet", "--bare", "-b", "main", str(remote)], env=env, check=True
    )
    subprocess.run(["git", "init", "--quiet", "-b", "main", str(path)], env=env, check=True)
    repo = Repo(path=path, remote=remote, env=env)
    repo.commit(files if files is not None else APP, "initial")
    repo.git("remote", "add", "origin", str(remote))
    repo.git("push", "--quiet", "--no-verify", "-u", "origin", "main")
    return repo
