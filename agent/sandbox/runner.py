"""Start a sandboxed command, keep only the tail of what it prints, enforce the wall clock."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
import time
from dataclasses import dataclass
from typing import IO

from agent.log import get_logger
from agent.sandbox.errors import SandboxError
from agent.sandbox.isolation import Command

log = get_logger(__name__)

TAIL_BYTES = 32 * 1024
_CHUNK = 64 * 1024
_DRAIN_SECONDS = 5.0


class _Tail(threading.Thread):
    """Drains a pipe to the end, keeping only its last TAIL_BYTES (so gigabytes cost no memory)."""

    def __init__(self, pipe: IO[bytes]) -> None:
        super().__init__(daemon=True)
        self._pipe = pipe
        self._buffer = bytearray()
        self.total = 0

    def run(self) -> None:
        with contextlib.suppress(OSError, ValueError):
            while chunk := self._pipe.read1(_CHUNK):  # type: ignore[attr-defined]
                self.total += len(chunk)
                self._buffer += chunk
                if len(self._buffer) > 2 * TAIL_BYTES:
                    del self._buffer[:-TAIL_BYTES]

    def text(self) -> str:
        data = bytes(self._buffer[-TAIL_BYTES:])
        text = data.decode("utf-8", "replace")
        if self.total > len(data):
            text = f"[...{self.total - len(data)} bytes not kept...]\n" + text
        return text


@dataclass
class Finished:
    returncode: int | None
    timed_out: bool
    duration: float
    stdout_tail: str
    stderr_tail: str


def _kill_group(pgid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)


def _parents() -> dict[int, int]:
    table: dict[int, int] = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as handle:
                text = handle.read()
        except OSError:
            continue
        fields = text[text.rindex(b")") + 2 :].split()
        table[int(name)] = int(fields[1])
    return table


def kill_tree(root: int) -> int:
    """Freeze `root` and every descendant (even those that left its session), then kill them.

    Freezing first means nothing can fork a new child between our looking and our killing.
    Returns how many processes were killed.
    """
    frozen: set[int] = set()
    for _ in range(20):
        parents = _parents()
        tree = {root} if root in parents else set()
        grew = True
        while grew:
            found = {pid for pid, ppid in parents.items() if ppid in tree} - tree
            tree |= found
            grew = bool(found)
        new = tree - frozen
        if not new:
            break
        for pid in new:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGSTOP)
        frozen |= new
    for pid in frozen:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)
    return len(frozen)


def run_command(command: Command, *, timeout: float, pass_fds: tuple[int, ...] = ()) -> Finished:
    """Run to completion or until `timeout` seconds; on timeout kill the whole process group.

    Every launch starts its own session, so the group holds the bwrap/unshare monitor (whose
    death takes the sandbox's pid namespace with it) or, at the process level, pytest and every
    child that stayed in its group. `pass_fds` stay open in the child under the same numbers.
    """
    started = time.monotonic()
    try:
        proc = subprocess.Popen(
            command.argv,
            cwd=command.cwd,
            env=command.env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
            pass_fds=pass_fds,
        )
    except OSError as exc:
        raise SandboxError(f"cannot start the sandbox ({command.argv[0]}): {exc}") from None
    assert proc.stdout is not None and proc.stderr is not None
    readers = [_Tail(proc.stdout), _Tail(proc.stderr)]
    for reader in readers:
        reader.start()
    timed_out = False
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        timed_out = True
        killed = kill_tree(proc.pid)
        log.warning("sandbox run hit its wall clock", seconds=timeout, killed=killed)
    finally:
        _kill_group(proc.pid)  # stragglers still in the group go too
        proc.wait()
    duration = time.monotonic() - started
    for reader in readers:
        reader.join(_DRAIN_SECONDS)  # an escaped grandchild may hold the pipe open
    for reader, pipe in zip(readers, (proc.stdout, proc.stderr), strict=True):
        if not reader.is_alive():  # closing under a blocked reader would block us too
            with contextlib.suppress(OSError):
                pipe.close()
    return Finished(
        returncode=proc.returncode,
        timed_out=timed_out,
        duration=duration,
        stdout_tail=readers[0].text(),
        stderr_tail=readers[1].text(),
    )
