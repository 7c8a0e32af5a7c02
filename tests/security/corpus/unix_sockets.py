"""Hostile: talk to local daemons through their UNIX sockets (an agent, a container engine, a
database); network namespaces do not cover sockets that live in the filesystem."""

import socket

SOCKETS = [
    "@@RUN@@/agent.sock",
    "@@HOME@@/.ssh/agent.sock",
    "@@TMPMARK@@/agent.sock",
    "@@SYSTEM@@/engine.sock",
]


def test_reach_a_local_daemon():
    reached = []
    for path in SOCKETS:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(2)
        try:
            sock.connect(path)
            sock.sendall(b"hello from the sandbox")
            reached.append(path)
        except OSError:
            pass
        finally:
            sock.close()
    assert reached, "no daemon reachable"
