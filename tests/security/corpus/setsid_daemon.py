"""Hostile: a daemon that outlives the run: double fork, new session, and a thread that keeps
spawning more, so one may be born after the sandbox has looked for leftovers."""

import os
import threading
import time

RESPAWNS = 200


def daemon():
    pid = os.fork()
    if pid:
        os.waitpid(pid, 0)
        return
    os.setsid()
    if os.fork():
        os._exit(0)
    time.sleep(60)
    os._exit(0)


def keep_spawning():
    for _ in range(RESPAWNS):
        try:
            daemon()
        except OSError:
            return
        time.sleep(0.02)


def test_leave_a_daemon_behind():
    daemon()
    threading.Thread(target=keep_spawning, daemon=True).start()
    assert True
