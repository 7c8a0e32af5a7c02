"""Fake "outside world" endpoints for the hostile cases, inside the harness's own namespaces.

The driver runs in a network namespace it made itself, with a veth pair standing in for an
uplink: a TCP listener on the uplink's far address, a DNS server on the address
/etc/resolv.conf names, and UNIX-socket daemons in the usual places. Whatever reaches any of
them got out of its sandbox; nothing here can reach the real network.
"""

from __future__ import annotations

import contextlib
import ctypes
import hashlib
import ipaddress
import socket
import subprocess
import threading
from dataclasses import dataclass, field
from pathlib import Path

UPLINK = "192.0.2.1"  # TEST-NET-1, the far end of the fake uplink
NEAR = "192.0.2.2"


def nameserver() -> str | None:
    """The first IPv4 nameserver the resolver would ask."""
    try:
        lines = Path("/etc/resolv.conf").read_text(encoding="utf-8").splitlines()
    except OSError:
        return None
    for line in lines:
        parts = line.split()
        if len(parts) >= 2 and parts[0] == "nameserver":
            try:
                if ipaddress.ip_address(parts[1]).version == 4:
                    return parts[1]
            except ValueError:
                continue
    return None


def _ip(*args: str) -> bool:
    return subprocess.run(["ip", *args], capture_output=True, timeout=10).returncode == 0


def build_uplink() -> str:
    """Give this (private) network namespace a way "out" that leads only to our listeners.

    Returns how it was built: "veth" (an interface and a default route a test can see), or
    "loopback" (addresses on lo only, when veth pairs cannot be made).
    """
    _ip("link", "set", "lo", "up")
    server = nameserver()
    extra = [server] if server and not ipaddress.ip_address(server).is_loopback else []
    if _ip("link", "add", "itarch-up0", "type", "veth", "peer", "name", "itarch-up1"):
        _ip("addr", "add", f"{NEAR}/24", "dev", "itarch-up0")
        _ip("addr", "add", f"{UPLINK}/24", "dev", "itarch-up1")
        for address in extra:
            _ip("addr", "add", f"{address}/32", "dev", "itarch-up1")
        _ip("link", "set", "itarch-up0", "up")
        _ip("link", "set", "itarch-up1", "up")
        _ip("route", "add", "default", "via", UPLINK, "dev", "itarch-up0")
        return "veth"
    for address in [UPLINK, *extra]:
        _ip("addr", "add", f"{address}/32", "dev", "lo")
    return "loopback"


@dataclass
class Catcher:
    """Listens on the fake outside world; `hits` is everything that arrived."""

    unix_paths: list[Path]
    hits: list[str] = field(default_factory=list)
    port: int = 0
    _sockets: list[socket.socket] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self) -> None:
        tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        tcp.bind((UPLINK, 0))
        tcp.listen(64)
        self.port = tcp.getsockname()[1]
        self._serve(tcp, f"tcp {UPLINK}:{self.port}")
        server = nameserver()
        if server:
            with contextlib.suppress(OSError):
                udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                udp.bind((server, 53))
                self._sockets.append(udp)
                threading.Thread(target=self._dns, args=(udp,), daemon=True).start()
        for path in self.unix_paths:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.unlink(missing_ok=True)
            unix = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            unix.bind(str(path))
            path.chmod(0o777)
            unix.listen(16)
            self._serve(unix, f"unix {path}")

    def _record(self, what: str) -> None:
        with self._lock:
            self.hits.append(what[:300])

    def _serve(self, sock: socket.socket, name: str) -> None:
        self._sockets.append(sock)
        sock.settimeout(0.2)

        def loop() -> None:
            while not self._stop.is_set():
                try:
                    conn, _ = sock.accept()
                except TimeoutError:
                    continue
                except OSError:
                    return
                conn.settimeout(1)
                data = b""
                with contextlib.suppress(OSError):
                    data = conn.recv(4096)
                conn.close()
                self._record(f"{name} <- {data!r}")

        threading.Thread(target=loop, daemon=True).start()

    def _dns(self, sock: socket.socket) -> None:
        sock.settimeout(0.2)
        while not self._stop.is_set():
            try:
                query, peer = sock.recvfrom(4096)
            except TimeoutError:
                continue
            except OSError:
                return
            self._record(f"dns query from {peer[0]}: {query[12:]!r}")
            if len(query) >= 12:
                # NXDOMAIN at once, so the resolver does not wait out its timeouts
                answer = query[:2] + b"\x81\x83" + query[4:6] + b"\x00" * 6 + query[12:]
                with contextlib.suppress(OSError):
                    sock.sendto(answer, peer)

    def stop(self) -> None:
        self._stop.set()
        for sock in self._sockets:
            with contextlib.suppress(OSError):
                sock.close()
        for path in self.unix_paths:
            path.unlink(missing_ok=True)


_IPC_CREAT = 0o1000
_IPC_RMID = 0


class SharedMemory:
    """A System V shared memory segment holding `data`, as another program on the machine would
    keep one (in the harness's own IPC namespace)."""

    def __init__(self, tag: str, data: bytes) -> None:
        self._libc = ctypes.CDLL(None, use_errno=True)
        self._libc.shmat.restype = ctypes.c_void_p
        self._libc.shmat.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_int]
        self._libc.shmdt.argtypes = [ctypes.c_void_p]
        key = int.from_bytes(hashlib.sha256(tag.encode()).digest()[:4], "little") & 0x7FFFFFFF
        self.id = self._libc.shmget(key, 4096, _IPC_CREAT | 0o600)
        if self.id < 0:
            raise OSError(ctypes.get_errno(), "shmget failed")
        address = self._libc.shmat(self.id, None, 0)
        ctypes.memmove(address, data, min(len(data), 4096))
        self._libc.shmdt(address)

    def remove(self) -> None:
        self._libc.shmctl(self.id, _IPC_RMID, None)
