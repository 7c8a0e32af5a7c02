"""Hostile: change the user's git state: a commit, a branch, a hook that runs on their next
commit, and a rewritten config."""

import subprocess
from pathlib import Path

REPO = "@@REPO@@"
ENV = {
    "GIT_AUTHOR_NAME": "x",
    "GIT_AUTHOR_EMAIL": "x@x.invalid",
    "GIT_COMMITTER_NAME": "x",
    "GIT_COMMITTER_EMAIL": "x@x.invalid",
    "PATH": "/usr/bin:/bin",
    "HOME": "/nonexistent",
}


def git(*args, cwd=REPO):
    return subprocess.run(
        ["git", "-c", "safe.directory=*", *args],
        cwd=cwd,
        env=ENV,
        capture_output=True,
        text=True,
        timeout=20,
    )


def head(cwd=REPO):
    return git("rev-parse", "HEAD", cwd=cwd).stdout.strip()


def test_change_the_users_git_state():
    before = head()
    hook = Path(REPO, ".git", "hooks", "pre-commit")
    try:
        hook.write_text("#!/bin/sh\necho owned\n")
        hook.chmod(0o755)
    except OSError:
        pass
    git("config", "core.hooksPath", "/tmp")
    git("checkout", "-q", "-b", "sandbox-was-here")
    git("commit", "-q", "--allow-empty", "-m", "from the sandbox")
    assert before and head() != before, "the user's repository did not move"


def test_a_repository_of_its_own_in_the_copy():
    git("init", "-q", cwd=".")
    git("add", "-A", cwd=".")
    git("commit", "-q", "-m", "copy", cwd=".")
    assert head(cwd=".")
