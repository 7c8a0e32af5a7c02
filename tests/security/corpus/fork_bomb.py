"""Hostile: a fork bomb, bounded at 500 processes so the machine survives even without limits."""

import os
import time

LIMIT = 500


def spawn(count, done):
    made = 0
    for _ in range(count):
        try:
            pid = os.fork()
        except OSError:
            break
        if pid == 0:
            os.close(done[0])
            if made % 2:
                os.setsid()
            os.write(done[1], b"x")
            time.sleep(120)
            os._exit(0)
        made += 1
    return made


def test_fork_bomb():
    done = os.pipe()
    made = spawn(LIMIT, done)
    os.close(done[1])
    started = 0
    while started < made:
        chunk = os.read(done[0], 4096)
        if not chunk:
            break
        started += len(chunk)
    os.close(done[0])
    print("PROCESSES", made)
    assert made > 0
