"""Hostile: leave files in the real home, the real /tmp and the rest of the filesystem. Each test
checks first that it sees the real place (a file planted there) and then that its file landed."""

import os
from pathlib import Path

HOME = "@@HOME@@"
TMPMARK = "@@TMPMARK@@"
SYSTEM = "@@SYSTEM@@"


def plant(directory, planted, name):
    if not Path(directory, planted).exists():
        return False
    try:
        Path(directory, name).write_text("written from inside the sandbox\n")
    except OSError:
        return False
    return Path(directory, name).exists()


def test_write_into_the_users_home():
    landed = plant(HOME, ".anthropic/api_key", ".bashrc")
    os.makedirs(os.path.join(HOME, ".config", "autostart"), exist_ok=True) if landed else None
    assert landed, "not the user's home"


def test_write_into_the_shared_tmp():
    assert plant(TMPMARK, "planted.txt", "escaped.txt"), "not the machine's /tmp"


def test_write_into_the_rest_of_the_filesystem():
    assert plant(SYSTEM, "planted.txt", "escaped.txt"), "the filesystem is read-only or hidden"
