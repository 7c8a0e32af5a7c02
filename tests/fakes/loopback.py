"""The plumbing both fake servers share: a threaded HTTP server on 127.0.0.1 that can be stopped
at once, even with keep-alive or half-read connections open."""

from __future__ import annotations

import contextlib
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self


class TrackingHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False  # keep-alive clients must not hold up stop()

    def __init__(self, app: Any, handler: type[BaseHTTPRequestHandler]) -> None:
        self.app = app
        self.connections: set[socket.socket] = set()
        self.connections_lock = threading.Lock()
        super().__init__(("127.0.0.1", 0), handler)


class TrackingHandler(BaseHTTPRequestHandler):
    """Remembers its connection, so stop() can cut it."""

    protocol_version = "HTTP/1.1"
    sys_version = ""
    server: TrackingHTTPServer

    def setup(self) -> None:
        super().setup()
        with self.server.connections_lock:
            self.server.connections.add(self.connection)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            with self.server.connections_lock:
                self.server.connections.discard(self.connection)

    def log_message(self, format: str, *args: Any) -> None:
        """Silent: the recorded requests are the log."""


class LoopbackServer:
    """Start/stop, context manager and base URL; subclasses name their handler and thread."""

    handler: type[TrackingHandler]
    thread_name = "loopback-test-server"

    _httpd: TrackingHTTPServer | None = None
    _thread: threading.Thread | None = None

    def start(self) -> Self:
        self._httpd = TrackingHTTPServer(self, self.handler)
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=self.thread_name,
            daemon=True,
        )
        self._thread.start()
        return self

    def _on_stop(self) -> None:
        """Called first when stopping, e.g. to release handlers waiting on a script."""

    def stop(self) -> None:
        if self._httpd is None:
            return
        self._on_stop()
        self._httpd.shutdown()
        with self._httpd.connections_lock:
            open_connections = list(self._httpd.connections)
        for conn in open_connections:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._httpd = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        if self._httpd is None:
            raise RuntimeError("the server is not running")
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}"
