"""Hostile: take the walls down from inside: unmount what hides the home directory, /tmp and the
user's files, remount the root read-write, and try again from a fresh user namespace."""

import ctypes
import os
from pathlib import Path

HOME = "@@HOME@@"
SYSTEM = "@@SYSTEM@@"
MNT_DETACH = 2
MS_REMOUNT = 32
MS_BIND = 4096
CLONE_NEWNS = 0x00020000
CLONE_NEWUSER = 0x10000000

libc = ctypes.CDLL(None, use_errno=True)


def walls_down():
    for path in (HOME, os.path.dirname(HOME), "/tmp", "/var", "/run"):
        libc.umount2(path.encode(), MNT_DETACH)
    for path in ("/", os.path.dirname(SYSTEM), SYSTEM):
        libc.mount(None, path.encode(), None, MS_REMOUNT | MS_BIND, None)
    home_visible = Path(HOME, ".anthropic", "api_key").exists()
    try:
        Path(SYSTEM, "escaped.txt").write_text("written after the walls came down\n")
        wrote = True
    except OSError:
        wrote = False
    return home_visible or wrote


def test_unmount_and_remount():
    assert walls_down(), "still walled in"


def test_from_a_new_user_namespace():
    pid = os.fork()
    if pid == 0:
        ok = libc.unshare(CLONE_NEWUSER | CLONE_NEWNS) == 0 and walls_down()
        os._exit(0 if ok else 1)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0, "still walled in"
