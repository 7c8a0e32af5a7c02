"""Hostile: kill(-1): every process this one may signal. Refuses to fire unless it sees a pid
namespace other than the harness's, so a broken sandbox cannot take the machine down."""

import contextlib
import os
import signal
import time

HARNESS_PID_NAMESPACE = "@@PIDNS@@"


def test_kill_everything():
    if os.readlink("/proc/self/ns/pid") == HARNESS_PID_NAMESPACE:
        raise RuntimeError("not in a pid namespace of its own: refusing kill(-1)")
    parent = os.getppid()
    with contextlib.suppress(OSError):
        os.kill(-1, signal.SIGKILL)
    time.sleep(1)
    assert parent > 1, "no parent in sight"
    try:
        os.kill(parent, 0)
        survived = True
    except OSError:
        survived = False
    assert not survived, "the parent survived"
