"""itarch's pytest plugin: runs inside the sandbox and streams one signed JSON line per result.

Loaded by the sandbox bootstrap from a read-only copy of this directory (never from the
workspace, so a test's conftest cannot replace it). It runs under the *target's* interpreter,
so it sticks to the standard library and pytest, and to syntax older Pythons accept.

Lines go to a descriptor the bootstrap opens with `open_channel` (an unlinked file of the
harness's, so no path in the sandbox leads to it), each as `<hmac> <json>`: the HMAC-SHA256 of
the JSON under a key only this run's bootstrap received, and the JSON carries the writing
process and a per-process sequence number. The harness drops nothing silently: a line it
cannot verify, a gap, or a tamper report makes the whole run's results untrusted.

  {"event": "hello"}                                   first line, sequence 0
  {"event": "collected", "nodeids": [...]}
  {"event": "collect_error", "path", "exc_type", "message", "longrepr"}
  {"event": "start", "nodeid", "run"}
  {"event": "outcome", <TestOutcome fields>}
  {"event": "tamper", "detail"}                        something rewrote how results are made
  {"event": "sessionfinish", "exitstatus"}
  {"event": "end", "exit_code", "leftover"}           written by the bootstrap, last
"""

from __future__ import annotations

import contextlib
import copy
import errno
import faulthandler
import functools
import hashlib
import hmac
import ipaddress
import json
import os
import random
import signal
import socket
import sys
import threading
import time
import types
from collections.abc import Callable
from typing import IO, Any

import pytest

try:  # in the sandbox: beside this file, in the same read-only copy
    import itarch_lines
    from itarch_options import neutralise
except ImportError:  # imported as part of itarch's own package (the host reads its helpers)
    from . import itarch_lines
    from .itarch_options import neutralise

# The real clock, held where a time-freezing library cannot swap it: freezegun replaces every
# module attribute that is `time.monotonic`, which would freeze the per-test deadline too.
_CLOCK = (time.monotonic,)
_MAX_MESSAGE = 500
_MAX_LONGREPR = 6000
# Seconds past the per-test limit before the hard watchdog ends the process: only code that
# never returns to the interpreter (so SIGALRM can't land) gets that far.
_HANG_GRACE_MAX = 5.0


class TestTimeout(BaseException):
    """Raised inside a test by the per-test alarm.

    A BaseException, so a test's own `except Exception` cannot swallow it.
    """

    __test__ = False  # not a test class, whatever pytest's naming rules say


class TeardownTimeout(Exception):
    """The per-test alarm, raised during teardown.

    An Exception there, not a BaseException: pytest only finishes tearing down (and keeps the
    next test runnable) when a finalizer fails with an Exception.
    """


class NetworkBlocked(OSError):
    """A test tried to reach something other than this machine's loopback."""


# ---------------------------------------------------------------- results stream


# Hooks that decide or report a test's outcome: a file the run adds may not implement them.
_OUTCOME_HOOKS = (
    "pytest_runtest_protocol",
    "pytest_runtest_setup",
    "pytest_runtest_call",
    "pytest_runtest_teardown",
    "pytest_pyfunc_call",
    "pytest_runtest_makereport",
    "pytest_runtest_logreport",
    "pytest_report_teststatus",
    "pytest_runtest_logstart",
    "pytest_runtest_logfinish",
    "pytest_sessionfinish",
)


class _Channel:
    """Signed result lines, appended to a descriptor (atomic appends, so forks may share it)."""

    def __init__(self, fd: int, key: bytes) -> None:
        self._fd = fd
        self._mac = hmac.new(key, digestmod=hashlib.sha256)
        self._lock = threading.Lock()
        self._pid = os.getpid()
        self._seq = 0

    def emit(self, event: str, **data: Any) -> None:
        with self._lock:
            pid = os.getpid()
            if pid != self._pid:  # a forked child (the mutation driver's) numbers on from here
                self._pid = pid
                self._lock = threading.Lock()
            data["event"] = event
            data["pid"] = pid
            data["seq"] = self._seq
            self._seq += 1
            payload = json.dumps(data, default=str).encode("utf-8")
            mac = self._mac.copy()
            mac.update(payload)
            line = mac.hexdigest().encode("ascii") + b" " + payload + b"\n"
            written = 0
            while written < len(line):
                written += os.write(self._fd, line[written:])


_CHANNEL: _Channel | None = None


def open_channel(fd: int, key: bytes) -> _Channel:
    """Called by the bootstrap before pytest starts; the plugin registers itself only then."""
    global _CHANNEL
    _CHANNEL = _Channel(fd, key)
    _CHANNEL.emit("hello")
    return _CHANNEL


def fingerprint(namespace: dict[str, Any] | None = None) -> dict[str, Any]:
    """Every function and method of this module, or of the module whose namespace is given
    (and their code), to compare after the run."""
    found: dict[str, Any] = {}
    namespace = globals() if namespace is None else namespace
    for name, value in list(namespace.items()):
        if isinstance(value, types.FunctionType):
            found[name] = (value, value.__code__)
        elif isinstance(value, type) and value.__module__ == namespace["__name__"]:
            for attr, member in list(vars(value).items()):
                function = getattr(member, "__func__", member)
                code = getattr(function, "__code__", None)
                if code is not None:
                    found[f"{name}.{attr}"] = (member, code)
    return found


def _trim(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    head = limit // 3
    return text[:head] + "\n...[trimmed]...\n" + text[-(limit - head) :]


def _one_line(text: str) -> str:
    for line in text.strip().splitlines():
        if line.strip():
            return _trim(line.strip(), _MAX_MESSAGE)
    return ""


# ---------------------------------------------------------------- network guard


_LOCAL_NAMES = ("localhost", "localhost.", "ip6-localhost", "ip6-loopback")


def _is_local(host: Any) -> bool:
    if host is None:
        return True
    if isinstance(host, bytes):
        host = host.decode("ascii", "replace")
    host = str(host).strip()
    if host in ("", "<broadcast>"):
        return host == ""
    lowered = host.lower()
    if lowered in _LOCAL_NAMES or lowered.endswith(".localhost"):
        return True
    try:
        ip = ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return False
    mapped = getattr(ip, "ipv4_mapped", None)
    if mapped is not None:
        ip = mapped
    return ip.is_loopback or ip.is_unspecified


def _is_literal(host: Any) -> bool:
    try:
        ipaddress.ip_address(str(host).split("%", 1)[0])
    except ValueError:
        return False
    return True


def _unrouted() -> int:
    """Packets this network namespace had no route for (IPv4 and IPv6 OutNoRoutes counters).

    In a sandbox whose namespace holds only loopback, every attempt to reach anything else ends
    here, whichever way it was made (ctypes, a C extension, a subprocess).
    """
    total = 0
    try:
        with open("/proc/net/snmp", encoding="ascii") as handle:
            rows = [line.split() for line in handle if line.startswith("Ip:")]
        if len(rows) >= 2 and "OutNoRoutes" in rows[0]:
            total += int(rows[1][rows[0].index("OutNoRoutes")])
    except (OSError, ValueError, IndexError):
        pass
    try:
        with open("/proc/net/snmp6", encoding="ascii") as handle:
            for line in handle:
                parts = line.split()
                if len(parts) == 2 and parts[0] == "Ip6OutNoRoutes":
                    total += int(parts[1])
    except (OSError, ValueError):
        pass
    return total


class _Guard:
    """Refuses and records every attempt to reach a non-loopback address or resolve a name.

    Two layers: the socket module's functions are wrapped (a readable error for the test), and
    an audit hook, which nothing in the process can remove, catches the same calls made through
    the C-level `_socket` module. Calls below Python (ctypes, C extensions, subprocesses) are
    stopped by the sandbox's network namespace and counted by `_unrouted`.
    """

    def __init__(self) -> None:
        self.attempts: list[str] = []
        self.outside_tests: list[str] = []
        self.in_test = False

    def record(self, target: str) -> None:
        bucket = self.attempts if self.in_test else self.outside_tests
        if target not in bucket:
            bucket.append(target)

    def refuse(self, host: Any, port: Any) -> NetworkBlocked:
        target = f"{host}:{port}"
        self.record(target)
        return NetworkBlocked(
            errno.ENETUNREACH,
            f"network access to {target} blocked by the itarch sandbox "
            "(tests must stay on loopback)",
        )

    def check_address(self, family: int, address: Any) -> None:
        if family not in (socket.AF_INET, socket.AF_INET6):
            return  # AF_UNIX and friends never leave the machine
        if not isinstance(address, tuple) or len(address) < 2:
            return
        if not _is_local(address[0]):
            raise self.refuse(address[0], address[1])

    def check_name(self, host: Any, port: Any) -> None:
        if _is_local(host) or _is_literal(host):
            return
        self.record(f"{host}:{port}")
        raise socket.gaierror(
            socket.EAI_NONAME,
            f"resolving {host!r} blocked by the itarch sandbox (only localhost resolves)",
        )

    def install(self) -> None:
        guard = self
        sock_cls = socket.socket
        orig_connect = sock_cls.connect
        orig_connect_ex = sock_cls.connect_ex
        orig_sendto = sock_cls.sendto
        orig_sendmsg = getattr(sock_cls, "sendmsg", None)

        @functools.wraps(orig_connect)
        def connect(self: socket.socket, address: Any) -> None:
            guard.check_address(self.family, address)
            return orig_connect(self, address)

        @functools.wraps(orig_connect_ex)
        def connect_ex(self: socket.socket, address: Any) -> int:
            guard.check_address(self.family, address)
            return orig_connect_ex(self, address)

        @functools.wraps(orig_sendto)
        def sendto(self: socket.socket, *args: Any) -> int:
            guard.check_address(self.family, args[-1])
            return orig_sendto(self, *args)

        sock_cls.connect = connect  # type: ignore[method-assign,assignment]
        sock_cls.connect_ex = connect_ex  # type: ignore[method-assign,assignment]
        sock_cls.sendto = sendto  # type: ignore[assignment]

        if orig_sendmsg is not None:

            @functools.wraps(orig_sendmsg)
            def sendmsg(self: socket.socket, *args: Any, **kwargs: Any) -> int:
                address = kwargs.get("address", args[3] if len(args) > 3 else None)
                if address is not None:
                    guard.check_address(self.family, address)
                return orig_sendmsg(self, *args, **kwargs)

            sock_cls.sendmsg = sendmsg  # type: ignore[method-assign,assignment]

        def by_name(orig: Callable[..., Any], port_arg: bool = True) -> Callable[..., Any]:
            @functools.wraps(orig)
            def wrapper(host: Any, *args: Any, **kwargs: Any) -> Any:
                port = args[0] if (port_arg and args) else kwargs.get("port", "")
                guard.check_name(host, port)
                return orig(host, *args, **kwargs)

            return wrapper

        orig_create = socket.create_connection

        @functools.wraps(orig_create)
        def create_connection(address: Any, *args: Any, **kwargs: Any) -> socket.socket:
            host, port = address[0], address[1]
            if not _is_local(host):
                raise guard.refuse(host, port)
            return orig_create(address, *args, **kwargs)

        socket.create_connection = create_connection
        socket.getaddrinfo = by_name(socket.getaddrinfo)
        socket.gethostbyname = by_name(socket.gethostbyname, port_arg=False)
        socket.gethostbyname_ex = by_name(socket.gethostbyname_ex, port_arg=False)
        socket.gethostbyaddr = by_name(socket.gethostbyaddr, port_arg=False)
        sys.addaudithook(self._audit)

    def _audit(self, event: str, args: tuple[Any, ...]) -> None:
        if not event.startswith("socket."):
            return
        if event in ("socket.connect", "socket.sendto", "socket.sendmsg") and len(args) >= 2:
            family = getattr(args[0], "family", None)
            if family is not None and args[1] is not None:
                self.check_address(int(family), args[1])
        elif event == "socket.getaddrinfo" and args:
            self.check_name(args[0], args[1] if len(args) > 1 else "")
        elif event in ("socket.gethostbyname", "socket.gethostbyaddr") and args:
            if not _is_local(args[0]):
                self.check_name(args[0], "")
                if _is_literal(args[0]):
                    raise self.refuse(args[0], "")
        elif event == "socket.getnameinfo" and args:
            address = args[0]
            if isinstance(address, tuple) and address and not _is_local(address[0]):
                raise self.refuse(address[0], address[1] if len(address) > 1 else "")


# ---------------------------------------------------------------- line tracing


_REAL_GETTRACE = sys.gettrace
_REAL_SETTRACE = sys.settrace
_REAL_THREAD_GETTRACE = getattr(threading, "gettrace", None)  # Python 3.10+


def _both(ours: Any, theirs: Any) -> Any:
    """One trace function calling ours, then the test's own; each keeps its own next step."""
    if ours is None or theirs is None:
        return ours if theirs is None else theirs

    def step(frame: Any, event: str, arg: Any) -> Any:
        return _both(ours(frame, event, arg), theirs(frame, event, arg))

    return step


class _Tracer:
    """Records executed lines of a few files; frames of every other file are never traced.

    Invisible to the code under test: `sys.gettrace()` reports only the trace function the test
    itself set (so code that looks for a debugger behaves as outside the sandbox), and a trace
    function the test sets runs beside ours instead of replacing it.
    """

    def __init__(self, targets: dict[str, str]) -> None:
        self.targets = targets  # absolute filename -> repo-relative path
        self.hits: dict[str, set[int]] = {}
        self._previous: Any = None
        self._theirs: Any = None  # the trace function the test set, if any
        self._trace = self._global  # one object each, so that ours are recognised
        self._chain = self._chained

    def _global(self, frame: Any, event: str, arg: Any) -> Any:
        rel = self.targets.get(frame.f_code.co_filename)
        if rel is None:
            return None
        lines = self.hits.setdefault(rel, set())
        add = lines.add

        def local(frame: Any, event: str, arg: Any) -> Any:
            if event == "line":
                add(frame.f_lineno)
            return local

        return local

    def _chained(self, frame: Any, event: str, arg: Any) -> Any:
        theirs = self._theirs(frame, event, arg) if self._theirs is not None else None
        return _both(self._global(frame, event, arg), theirs)

    def _settrace(self, function: Any) -> None:
        self._theirs = function
        _REAL_SETTRACE(self._trace if function is None else self._chain)

    def _gettrace(self) -> Any:
        current = _REAL_GETTRACE()
        return self._theirs if current in (self._trace, self._chain) else current

    def _thread_gettrace(self) -> Any:
        current = _REAL_THREAD_GETTRACE() if _REAL_THREAD_GETTRACE else None
        return None if current == self._trace else current

    def start(self) -> None:
        self.hits = {}
        self._previous = _REAL_GETTRACE()
        self._theirs = None
        threading.settrace(self._trace)
        _REAL_SETTRACE(self._trace)
        sys.settrace = self._settrace
        sys.gettrace = self._gettrace
        if _REAL_THREAD_GETTRACE is not None:
            threading.gettrace = self._thread_gettrace

    def stop(self) -> dict[str, list[int]]:
        sys.settrace, sys.gettrace = _REAL_SETTRACE, _REAL_GETTRACE
        if _REAL_THREAD_GETTRACE is not None:
            threading.gettrace = _REAL_THREAD_GETTRACE
        _REAL_SETTRACE(self._previous)
        threading.settrace(None)
        return {rel: sorted(lines) for rel, lines in self.hits.items()}


class _MonitoringTracer:
    """The same record through `sys.monitoring` (Python 3.12+): each line of a traced file
    reports once per test and is then disabled, and no other file's code is instrumented, so
    tracing costs little more than the events it records."""

    TOOL = 4  # debuggers use 0, coverage.py 1, profilers 2; 4 and 5 are free for tools like ours

    def __init__(self, targets: dict[str, str]) -> None:
        self.targets = targets
        self.hits: dict[str, set[int]] = {}
        self._codes: set[Any] = set()  # code objects given local LINE events
        mon = sys.monitoring  # type: ignore[attr-defined]
        mon.use_tool_id(self.TOOL, "itarch")
        mon.register_callback(self.TOOL, mon.events.PY_START, self._started)
        mon.register_callback(self.TOOL, mon.events.LINE, self._line)

    def _started(self, code: Any, offset: int) -> Any:
        mon = sys.monitoring  # type: ignore[attr-defined]
        if code.co_filename in self.targets and code not in self._codes:
            mon.set_local_events(self.TOOL, code, mon.events.LINE)
            self._codes.add(code)
        return mon.DISABLE

    def _line(self, code: Any, line: int) -> Any:
        rel = self.targets.get(code.co_filename)
        if rel is not None:
            self.hits.setdefault(rel, set()).add(line)
        return sys.monitoring.DISABLE  # type: ignore[attr-defined]

    def start(self) -> None:
        mon = sys.monitoring  # type: ignore[attr-defined]
        self.hits = {}
        mon.set_events(self.TOOL, mon.events.PY_START)
        mon.restart_events()  # every line reports again, once, for this test

    def stop(self) -> dict[str, list[int]]:
        mon = sys.monitoring  # type: ignore[attr-defined]
        mon.set_events(self.TOOL, 0)
        for code in self._codes:
            mon.set_local_events(self.TOOL, code, 0)
        self._codes = set()
        return {rel: sorted(lines) for rel, lines in self.hits.items()}


def _line_tracer(targets: dict[str, str]) -> Any:
    """The fastest tracer this interpreter has: `sys.monitoring` when there and free; before
    3.12, records compiled into the traced files (itarch_lines), whose import hook the bootstrap
    installs before pytest starts. ITARCH_LINE_TRACER=settrace forces `sys.settrace`."""
    if hasattr(sys, "monitoring"):
        try:
            return _MonitoringTracer(targets)
        except ValueError:  # the tool id is taken (a debugger of the user's own)
            pass
    if itarch_lines.wanted():
        hook = itarch_lines.install(targets)
        return itarch_lines.RecordingTracer(hook, _Tracer({}))
    return _Tracer(targets)


def _children_lines(token: str) -> dict[str, list[int]]:
    """Lines the test's Python children traced (children/sitecustomize.py); the files are
    consumed, and those of earlier tests' late children dropped."""
    folder = os.environ.get("ITARCH_CHILDREN_DIR")
    merged: dict[str, set[int]] = {}
    if not folder or not token:
        return {}
    try:
        names = [n for n in os.listdir(folder) if n.endswith(".json")]
    except OSError:
        return {}
    for name in names:
        path = os.path.join(folder, name)
        try:
            with open(path, encoding="utf-8") as handle:
                data = json.load(handle)
            os.unlink(path)
        except (OSError, ValueError):
            continue
        if not isinstance(data, dict) or data.get("test") != token:
            continue
        for rel, numbers in (data.get("lines") or {}).items():
            if isinstance(rel, str) and isinstance(numbers, list):
                merged.setdefault(rel, set()).update(n for n in numbers if isinstance(n, int))
    return {rel: sorted(numbers) for rel, numbers in merged.items()}


# ---------------------------------------------------------------- per-test bookkeeping


def _exc_details(excinfo: Any) -> dict[str, Any]:
    if excinfo is None:
        return {"exc_type": None, "message": "", "assertion": False, "timed_out": False}
    value = excinfo.value
    failed_cls = getattr(pytest.fail, "Exception", None)
    assertion = isinstance(value, AssertionError) or (
        failed_cls is not None and isinstance(value, failed_cls)
    )
    message = getattr(value, "msg", None) if failed_cls and isinstance(value, failed_cls) else None
    if type(value).__name__ == "FixtureLookupError":
        argname = getattr(value, "argname", "?")
        message = getattr(value, "msg", None) or f"fixture {argname!r} not found"
    return {
        "exc_type": type(value).__name__,
        "message": _one_line(str(message if message is not None else value)),
        "assertion": bool(assertion),
        "timed_out": isinstance(value, (TestTimeout, TeardownTimeout)),
    }


def _xfail_marker(item: Any) -> tuple[bool, str] | None:
    """(strict, reason) of the item's evaluated xfail mark, or None."""
    try:
        from _pytest.skipping import xfailed_key

        xfailed = item.stash.get(xfailed_key, None)
        if xfailed is not None:
            return bool(xfailed.strict), str(xfailed.reason)
        return None
    except Exception:  # older pytest: read the marker itself
        mark = item.get_closest_marker("xfail")
        if mark is None:
            return None
        strict = mark.kwargs.get("strict", item.config.getini("xfail_strict"))
        return bool(strict), str(mark.kwargs.get("reason", ""))


def _longrepr(report: Any) -> str:
    try:
        return _trim(report.longreprtext or "", _MAX_LONGREPR)
    except Exception:
        return _trim(str(report.longrepr or ""), _MAX_LONGREPR)


_LISTDIR, _OPEN, _GETPID = os.listdir, open, os.getpid  # ours, whatever a test patches


def _my_processes() -> set[tuple[int, str]]:
    """The live processes that descend from this one, as (pid, start time) pairs.

    The bootstrap makes this process the subreaper of everything it starts, so an orphan (a
    double-forked daemon, a child of a process that already exited) counts as ours too.
    """
    me = _GETPID()
    if not _has_children(me):
        return set()
    table: dict[int, tuple[int, str]] = {}
    try:
        names = _LISTDIR("/proc")
    except OSError:
        return set()
    for name in names:
        if not name.isdigit():
            continue
        try:
            with _OPEN(f"/proc/{name}/stat", encoding="utf-8", errors="replace") as handle:
                text = handle.read()
            fields = text[text.rindex(")") + 2 :].split()
        except (OSError, ValueError):
            continue
        if len(fields) > 19 and fields[0] not in ("Z", "X"):
            table[int(name)] = (int(fields[1]), fields[19])
    found = set()
    for pid, (_ppid, started) in table.items():
        seen = {pid}
        parent = table[pid][0]
        while parent in table and parent not in seen and parent != me:
            seen.add(parent)
            parent = table[parent][0]
        if parent == me and pid != me:
            found.add((pid, started))
    return found


# Processes Python itself keeps for the life of the interpreter once a test uses them
_INTERPRETER_HELPERS = (
    b"multiprocessing.resource_tracker",
    b"multiprocessing.forkserver",
    b"multiprocessing.semaphore_tracker",
)


def _interpreter_helper(pid: int) -> bool:
    try:
        with _OPEN(f"/proc/{pid}/cmdline", "rb") as handle:
            command = handle.read()
    except OSError:
        return False
    return any(helper in command for helper in _INTERPRETER_HELPERS)


def _has_children(me: int) -> bool:
    """Whether this process has a child (a cheap look before reading the whole process table):
    as the subreaper, every living descendant has a chain of parents up to one. Without the
    kernel's children lists, assume so."""
    try:
        for task in _LISTDIR(f"/proc/{me}/task"):
            with _OPEN(f"/proc/{me}/task/{task}/children", encoding="ascii") as handle:
                if handle.read().strip():
                    return True
    except (OSError, ValueError):
        return True
    return False


class _ItemRecord:
    def __init__(self, nodeid: str, run: int) -> None:
        self.nodeid = nodeid
        self.run = run
        self.phases: dict[str, dict[str, Any]] = {}
        self.xfail: tuple[bool, str] | None = None
        self.started: set[tuple[int, str]] = set()  # processes the test's call started
        self.leftover = 0  # of those, how many were still running after its teardown

    def result(self, network: list[str], lines: dict[str, list[int]]) -> dict[str, Any]:
        setup = self.phases.get("setup")
        call = self.phases.get("call")
        teardown = self.phases.get("teardown")
        base: dict[str, Any] = setup or {"when": "setup", "outcome": "passed", "duration": 0.0}
        outcome = "passed"
        if setup is not None and setup["outcome"] == "failed":
            outcome = "error"
        elif setup is not None and setup["outcome"] == "skipped":
            outcome = "xfailed" if setup["wasxfail"] is not None else "skipped"
        elif call is not None:
            base = call
            if call["outcome"] == "passed":
                outcome = "xpassed" if call["wasxfail"] is not None else "passed"
            elif call["outcome"] == "skipped":
                outcome = "xfailed" if call["wasxfail"] is not None else "skipped"
            else:
                outcome = "failed"
        record = dict(base)
        if teardown is not None and teardown["outcome"] == "failed":
            if outcome in ("passed", "xpassed", "skipped", "xfailed"):
                outcome, record = "error", dict(teardown)
            else:
                record["longrepr"] = _trim(
                    record["longrepr"] + "\n[teardown]\n" + teardown["longrepr"], _MAX_LONGREPR
                )
        for phase in (setup, call, teardown):
            if phase is not None and phase["timed_out"]:
                # a hung test is a failure even under xfail: nobody expects a bug to hang
                outcome, record = "failed", dict(phase)
                break
        strict, reason = self.xfail if self.xfail is not None else (False, "")
        if outcome == "failed" and record.get("exc_type") is None and strict:
            record["message"] = "[XPASS(strict)] " + reason if reason else "[XPASS(strict)]"
        wasxfail = record.get("wasxfail")
        if outcome in ("xfailed", "xpassed") and not reason and wasxfail:
            reason = str(wasxfail)
        return {
            "nodeid": self.nodeid,
            "outcome": outcome,
            "when": record["when"],
            "duration": sum(p["duration"] for p in self.phases.values()),
            "exc_type": record.get("exc_type"),
            "message": record.get("message", ""),
            "longrepr": record.get("longrepr", ""),
            "assertion": bool(record.get("assertion")),
            "network": network,
            "lines": lines,
            "xfail_strict": strict,
            "xfail_reason": reason,
            "timed_out": bool(record.get("timed_out")),
            "run": self.run,
            "leftover": self.leftover,
        }


class _Plugin:
    """Everything the plugin does in one session; registered under the name 'itarch'."""

    def __init__(self, config: Any, channel: _Channel) -> None:
        self.stream = channel
        self.root = os.path.realpath(str(config.rootpath))
        self.new_files = {
            os.path.join(self.root, rel) for rel in config.getoption("itarch_new_file") or []
        }
        self.count_unrouted = bool(config.getoption("itarch_own_netns"))
        self.unrouted = 0
        self.phase_raised: dict[str, str] = {}
        self.tampered: list[str] = []
        self.reruns = max(0, int(config.getoption("itarch_reruns") or 0))
        seed = config.getoption("itarch_seed")
        self.seed: str | None = None if seed is None else str(seed)
        self.test_timeout = float(config.getoption("itarch_test_timeout") or 0)
        hang_path = config.getoption("itarch_hang_file")
        self.hang_file: IO[str] | None = (
            open(hang_path, "w", encoding="utf-8") if hang_path else None  # noqa: SIM115
        )
        root = str(config.rootpath)
        targets: dict[str, str] = {}
        for rel in config.getoption("itarch_trace") or []:
            absolute = os.path.join(root, rel)
            targets[absolute] = rel
            targets[os.path.realpath(absolute)] = rel
        self.tracer = _line_tracer(targets) if targets else None
        self.guard = _Guard()
        self.guard.install()
        self.runs: dict[str, int] = {}
        self.current: _ItemRecord | None = None
        self.deadline = 0.0
        self._alarm_exc: type[BaseException] = TestTimeout
        self.collect_exc: dict[str, dict[str, Any]] = {}
        # Test functions that timed out (family -> the case that did): their other cases, and
        # later runs of the same case, get the same verdict at once instead of another timeout.
        self.hung: dict[str, str] = {}
        config.pluginmanager.register(_SiblingGate(self.hung), "itarch-siblings")

    # -- collection

    @pytest.hookimpl(trylast=True)
    def pytest_collection_modifyitems(self, session: Any, config: Any, items: list[Any]) -> None:
        self.stream.emit("collected", nodeids=[item.nodeid for item in items])
        ordered: list[Any] = []
        for round_index in range(self.reruns + 1):
            batch = list(items)
            if self.seed is not None:
                random.Random(f"{self.seed}:{round_index}").shuffle(batch)
            ordered.extend(batch)
        items[:] = ordered

    def pytest_collection_finish(self, session: Any) -> None:
        self._check_new_files(session.config)

    def _tamper(self, detail: str) -> None:
        if detail not in self.tampered:
            self.tampered.append(detail)
            self.stream.emit("tamper", detail=detail)

    def _check_new_files(self, config: Any) -> None:
        """A file this run adds (a proposed test or conftest) may not decide test outcomes."""
        if not self.new_files:
            return
        for name in _OUTCOME_HOOKS:
            caller = getattr(config.hook, name, None)
            for impl in caller.get_hookimpls() if caller is not None else []:
                code = getattr(impl.function, "__code__", None)
                path = os.path.realpath(code.co_filename) if code is not None else ""
                if path in self.new_files:
                    rel = os.path.relpath(path, self.root)
                    self._tamper(f"{rel} implements {name}, a hook that decides test outcomes")

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_protocol(self, item: Any, nextitem: Any) -> Any:
        # A rerun can follow itself. pytest would then keep the item "set up" for its own next
        # run and skip filling its fixtures (KeyError on a fixture name): tear it down fully.
        if nextitem is not item:
            return None
        from _pytest.runner import runtestprotocol

        item.ihook.pytest_runtest_logstart(nodeid=item.nodeid, location=item.location)
        runtestprotocol(item, nextitem=None, log=True)
        item.ihook.pytest_runtest_logfinish(nodeid=item.nodeid, location=item.location)
        return True

    def pytest_exception_interact(self, node: Any, call: Any, report: Any) -> None:
        if isinstance(node, pytest.Item) or call.excinfo is None:
            return
        value = call.excinfo.value
        cause = getattr(value, "__cause__", None)
        if cause is not None and type(value).__name__ == "CollectError":
            value = cause  # pytest wraps import and syntax errors; the cause is what happened
        self.collect_exc[node.nodeid] = {
            "exc_type": type(value).__name__,
            "message": _one_line(str(value)) or type(value).__name__,
        }

    def pytest_collectreport(self, report: Any) -> None:
        if not report.failed:
            return
        path = report.nodeid.split("::", 1)[0]
        details = self.collect_exc.pop(report.nodeid, None) or _parse_exc_line(_longrepr(report))
        self.stream.emit(
            "collect_error",
            path=path,
            exc_type=details.get("exc_type"),
            message=details.get("message", ""),
            longrepr=_longrepr(report),
        )

    # -- running

    def pytest_runtest_logstart(self, nodeid: str, location: Any) -> None:
        run = self.runs.get(nodeid, 0)
        self.runs[nodeid] = run + 1
        self.current = _ItemRecord(nodeid, run)
        self.stream.emit("start", nodeid=nodeid, run=run)
        self.guard.attempts = []
        self.guard.in_test = True
        self.phase_raised = {}
        if self.count_unrouted:
            self.unrouted = _unrouted()
        if self.seed is not None:
            random.seed(f"{self.seed}:{nodeid}:{run}")
        if self.test_timeout > 0:
            self.deadline = _CLOCK[0]() + self.test_timeout
            self._watchdog()
        if self.tracer is not None:
            os.environ["ITARCH_TRACE_TEST"] = f"{nodeid}#{run}"  # for the Python children
            self.tracer.start()

    def pytest_runtest_logfinish(self, nodeid: str, location: Any) -> None:
        lines = self.tracer.stop() if self.tracer is not None else {}
        if self.tracer is not None:
            token = os.environ.pop("ITARCH_TRACE_TEST", "")
            for rel, numbers in _children_lines(token).items():
                lines[rel] = sorted(set(lines.get(rel, [])) | set(numbers))
        if self.test_timeout > 0 and self.hang_file is not None:
            faulthandler.cancel_dump_traceback_later()
        if self.count_unrouted:
            lost = _unrouted() - self.unrouted
            if lost > 0:
                self.guard.record(
                    f"{lost} packet(s) to addresses beyond loopback, sent around Python's "
                    "socket module (the sandbox's network had no route for them)"
                )
        self.guard.in_test = False
        record = self.current
        self.current = None
        if record is None or record.nodeid != nodeid:
            return
        if record.started:
            # Started by the test's own body and still running once its fixtures are torn
            # down: left behind, whoever their parent is now.
            left = record.started & _my_processes()
            record.leftover = sum(1 for pid, _ in left if not _interpreter_helper(pid))
        result = record.result(list(self.guard.attempts), lines)
        if result["timed_out"]:
            self.hung.setdefault(family_of(nodeid), nodeid)
        self.stream.emit("outcome", **result)

    def _arm(self, teardown: bool = False) -> None:
        if self.test_timeout <= 0 or threading.current_thread() is not threading.main_thread():
            return
        if teardown:
            # Teardown gets a budget of its own: it must run even after a timed-out call.
            remaining = self.test_timeout
            self._alarm_exc = TeardownTimeout
            self._watchdog()
        else:
            remaining = self.deadline - _CLOCK[0]()
            self._alarm_exc = TestTimeout
            if remaining <= 0:
                raise TestTimeout(self._timeout_message())
        signal.signal(signal.SIGALRM, self._on_alarm)  # again: a test may have replaced it
        signal.setitimer(signal.ITIMER_REAL, remaining)

    def _watchdog(self) -> None:
        """Backstop for code that never returns to the interpreter, where SIGALRM can't land."""
        if self.hang_file is not None:
            grace = min(_HANG_GRACE_MAX, max(1.0, self.test_timeout))
            faulthandler.dump_traceback_later(
                self.test_timeout + grace, exit=True, file=self.hang_file
            )

    def _disarm(self) -> None:
        if self.test_timeout > 0 and threading.current_thread() is threading.main_thread():
            signal.setitimer(signal.ITIMER_REAL, 0)

    def _on_alarm(self, signum: int, frame: Any) -> None:
        raise self._alarm_exc(self._timeout_message())

    def _timeout_message(self) -> str:
        return f"test exceeded the {self.test_timeout:g}s per-test limit"

    def _raised(self, when: str, outcome: Any) -> None:
        excinfo = getattr(outcome, "excinfo", None)
        if excinfo is not None:
            self.phase_raised[when] = getattr(excinfo[0], "__name__", "an exception")

    @pytest.hookimpl(hookwrapper=True, tryfirst=True)
    def pytest_runtest_setup(self, item: Any) -> Any:
        self._arm()
        try:
            outcome = yield
            self._raised("setup", outcome)
        finally:
            self._disarm()

    @pytest.hookimpl(hookwrapper=True, tryfirst=True)
    def pytest_runtest_call(self, item: Any) -> Any:
        before = _my_processes()
        self._arm()
        try:
            outcome = yield
            self._raised("call", outcome)
        finally:
            self._disarm()
            if self.current is not None:
                self.current.started = _my_processes() - before

    @pytest.hookimpl(hookwrapper=True, tryfirst=True)
    def pytest_runtest_teardown(self, item: Any, nextitem: Any) -> Any:
        self._arm(teardown=True)
        try:
            outcome = yield
            self._raised("teardown", outcome)
        finally:
            self._disarm()

    @pytest.hookimpl(hookwrapper=True, tryfirst=True)
    def pytest_runtest_makereport(self, item: Any, call: Any) -> Any:
        # pytest reports "passed" exactly when the phase raised nothing: anything else means a
        # hook in between rewrote the report
        raised = self.phase_raised.get(call.when) or (
            call.excinfo is not None and getattr(call.excinfo, "typename", "an exception")
        )
        outcome = yield
        report = outcome.get_result()
        if raised and getattr(report, "outcome", None) == "passed":
            self._tamper(
                f"{item.nodeid}: its {call.when} raised {raised}, yet its report says passed"
            )
        record = self.current
        if record is None:
            return
        if record.xfail is None:
            record.xfail = _xfail_marker(item)
        details = _exc_details(call.excinfo)
        if (
            report.skipped
            and isinstance(report.longrepr, tuple)
            and details["exc_type"]
            in (
                None,
                "Skipped",
            )
        ):
            reason = str(report.longrepr[2])
            details["message"] = _one_line(
                reason[len("Skipped: ") :] if reason.startswith("Skipped: ") else reason
            )
        details.update(
            when=call.when,
            outcome=report.outcome,
            wasxfail=getattr(report, "wasxfail", None),
            duration=float(getattr(report, "duration", 0.0) or 0.0),
            longrepr="" if report.passed else _longrepr(report),
        )
        record.phases[call.when] = details

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: Any, exitstatus: Any) -> None:
        self._check_new_files(session.config)  # plugins registered while tests ran
        self.stream.emit(
            "sessionfinish",
            exitstatus=int(exitstatus),
            network_outside_tests=self.guard.outside_tests,
        )


class _SiblingGate:
    """Fails each case of a test function that already timed out, before its fixtures run.

    A plain implementation, not a wrapper: every plugin's setup wrapper has been entered (so
    their teardowns find what they stored) and skip marks, evaluated first, still win.
    """

    def __init__(self, hung: dict[str, str]) -> None:
        self.hung = hung

    def pytest_runtest_setup(self, item: Any) -> None:
        hung = self.hung.get(family_of(item.nodeid))
        if hung is not None:
            raise TestTimeout(sibling_timed_out(hung, item.nodeid))


def family_of(nodeid: str) -> str:
    """The test function a node id belongs to: the id without its parameters (`[...]`).

    Names of classes and functions can't hold `[`, so the first one after the file part starts
    the parameters, whatever they contain.
    """
    path, sep, rest = nodeid.partition("::")
    return path + sep + rest.split("[", 1)[0]


def sibling_timed_out(hung: str, nodeid: str) -> str:
    """Why a case is given a timeout without running: a case of its function already hung."""
    if hung == nodeid:
        return "an earlier run of this test timed out, so it was not run again"
    return f"a sibling case timed out ({hung.partition('::')[2]}), so this case was not run"


def _parse_exc_line(longrepr: str) -> dict[str, Any]:
    """Fallback for pytest versions that don't hand us the exception: the last 'E   Type: msg'."""
    found: dict[str, Any] = {"exc_type": None, "message": _one_line(longrepr)}
    for line in longrepr.splitlines():
        text = line[1:].strip() if line.startswith("E") else ""
        name, sep, rest = text.partition(":")
        if sep and name.replace(".", "").replace("_", "").isalnum() and name[:1].isupper():
            found = {"exc_type": name.rsplit(".", 1)[-1], "message": _one_line(rest)}
    return found


# ---------------------------------------------------------------- pytest entry points


def pytest_addoption(parser: Any) -> None:
    group = parser.getgroup("itarch", "itarch sandbox")
    group.addoption("--itarch-new-file", action="append", default=[], help="a file this run adds")
    group.addoption(
        "--itarch-own-netns", action="store_true", default=False, help="count unrouted packets"
    )
    group.addoption("--itarch-reruns", type=int, default=0, help="extra runs of each test")
    group.addoption("--itarch-seed", default=None, help="shuffle tests and seed random")
    group.addoption(
        "--itarch-trace", action="append", default=[], help="repo file whose lines to record"
    )
    group.addoption("--itarch-test-timeout", type=float, default=0.0, help="per-test seconds")
    group.addoption("--itarch-hang-file", default=None, help="where a hung test's stack goes")


@pytest.hookimpl(hookwrapper=True)
def pytest_load_initial_conftests(early_config: Any, parser: Any, args: list[str]) -> Any:
    """Drop the project's options that would change what judging sees (see itarch_options).

    A wrapper, so it runs before every plugin's own implementation (pytest-cov starts
    coverage there), and the early parse those plugins read is redone without the options.
    """
    kept, dropped = neutralise(list(args))
    if dropped:
        args[:] = kept
        # an old pytest without these internals: the final parse still goes without them
        with contextlib.suppress(Exception):
            early_config.known_args_namespace = early_config._parser.parse_known_args(
                args, namespace=copy.copy(early_config.option)
            )
        sys.stderr.write("itarch: not applying the project's " + " ".join(dropped) + "\n")
    yield


def pytest_configure(config: Any) -> None:
    if _CHANNEL is not None and not config.pluginmanager.has_plugin("itarch"):
        config.pluginmanager.register(_Plugin(config, _CHANNEL), "itarch")
