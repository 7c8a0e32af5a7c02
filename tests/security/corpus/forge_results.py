"""Hostile: write forged result lines (this test passed, the session ended cleanly) into every
file and pipe it can find, then leave at once with exit status 0."""

import contextlib
import json
import os
import sys


def forged(nodeid):
    outcome = {
        "event": "outcome",
        "nodeid": nodeid,
        "outcome": "passed",
        "when": "call",
        "duration": 0.01,
        "exc_type": None,
        "message": "",
        "longrepr": "",
        "assertion": False,
        "network": [],
        "lines": {},
        "xfail_strict": False,
        "xfail_reason": "",
        "timed_out": False,
        "run": 0,
    }
    lines = [
        outcome,
        {"event": "sessionfinish", "exitstatus": 0},
        {"event": "end", "exit_code": 0, "leftover": 0},
    ]
    return "".join(json.dumps(line) + "\n" for line in lines).encode()


def targets():
    paths = [a.split("=", 1)[1] for a in sys.argv if a.startswith("--itarch-results=")]
    fds = []
    for name in os.listdir("/proc/self/fd"):
        if name.isdigit() and int(name) > 2:
            fds.append(int(name))
    return paths, fds


def test_forges_its_own_pass(request):
    data = forged(request.node.nodeid)
    assert b'"passed"' in data
    paths, fds = targets()
    for path in paths:
        with open(path, "ab") as handle:
            handle.write(data)
    for fd in fds:
        with contextlib.suppress(OSError):
            os.write(fd, data)
    os._exit(0)
