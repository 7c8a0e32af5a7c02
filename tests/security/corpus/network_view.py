"""Hostile reconnaissance: which interfaces and routes lead out? Never opens a connection."""

import socket
from pathlib import Path


def routes():
    found = []
    for name in ("/proc/net/route", "/proc/net/ipv6_route"):
        try:
            lines = Path(name).read_text().splitlines()
        except OSError:
            continue
        rows = lines[1:] if name.endswith("/route") else lines
        found += [line for line in rows if line.strip() and not line.split()[-1].startswith("lo")]
    return found


def test_a_way_out_exists():
    interfaces = [name for _index, name in socket.if_nameindex() if name != "lo"]
    print("INTERFACES", interfaces, "ROUTES", routes())
    assert interfaces or routes(), "only loopback: no way out"
