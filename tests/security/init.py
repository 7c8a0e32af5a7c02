"""Process 1 of the harness's pid namespace: starts the driver as process 2 and reaps orphans.

The driver is deliberately not process 1, so a test that kills its parent at the `process`
level really can kill the driver (a pid namespace's init ignores such signals). When the driver
ends, this ends, and the kernel ends every process left in the namespace.

    python init.py PROGRAM [ARGS...]
"""

from __future__ import annotations

import os
import sys


def main(argv: list[str]) -> int:
    child = os.fork()
    if child == 0:
        os.execv(sys.executable, [sys.executable, *argv])
    while True:
        try:
            pid, status = os.wait()
        except ChildProcessError:
            return 1
        if pid == child:
            return os.waitstatus_to_exitcode(status) & 0xFF


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
