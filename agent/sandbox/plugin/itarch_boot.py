"""Sandbox bootstrap: prepares the process from the inside, runs pytest with our plugin, cleans up.

    python itarch_boot.py CONFIG.json -- <pytest args>
    python itarch_boot.py --probe [DIR]    # check loopback (and a read-only bind of DIR)

Runs under the *target's* interpreter, so only the standard library and old-Python syntax.
Being a script in this directory puts this directory first on sys.path, before anything in
the workspace, and the plugin module is handed to pytest as an object, so nothing in the
repository can stand in for it.

Steps: bring `lo` up and make the user's paths read-only (only inside a user namespace of our
own), set resource limits, point sys.path from the user's repo to the copy, run pytest, then
count and kill the processes it left behind and record that in the results file.
"""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import json
import os
import resource
import signal
import socket
import struct
import sys
from typing import Any

_SIOCGIFFLAGS = 0x8913
_SIOCSIFFLAGS = 0x8914
_IFF_UP = 0x1
_MS_RDONLY = 1
_MS_REMOUNT = 32
_MS_BIND = 4096
_MS_REC = 16384
_PR_SET_CHILD_SUBREAPER = 36
# statvfs flag -> mount flag that a read-only remount inside a user namespace must keep
_KEEP_FLAGS = (
    (getattr(os, "ST_NOSUID", 2), 2),
    (getattr(os, "ST_NODEV", 4), 4),
    (getattr(os, "ST_NOEXEC", 8), 8),
    (getattr(os, "ST_NOATIME", 1024), 1024),
    (getattr(os, "ST_NODIRATIME", 2048), 2048),
    (getattr(os, "ST_RELATIME", 4096), 1 << 21),
)


def loopback_up() -> None:
    """In a fresh network namespace `lo` exists but is down; bring it up (needs CAP_NET_ADMIN)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        request = struct.pack("16sH22x", b"lo", 0)
        flags = struct.unpack("16sH22x", fcntl.ioctl(sock.fileno(), _SIOCGIFFLAGS, request))[1]
        fcntl.ioctl(sock.fileno(), _SIOCSIFFLAGS, struct.pack("16sH22x", b"lo", flags | _IFF_UP))
    finally:
        sock.close()


def _libc() -> Any:
    return ctypes.CDLL(None, use_errno=True)


def _mount(libc: Any, source: Any, target: str, flags: int) -> None:
    src = source.encode() if isinstance(source, str) else source
    if libc.mount(src, target.encode(), None, flags, None) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"mount {target}: {os.strerror(err)}")


def bind_writable(libc: Any, path: str) -> None:
    _mount(libc, path, path, _MS_BIND | _MS_REC)


def bind_read_only(libc: Any, path: str) -> None:
    """Bind `path` onto itself read-only; mounts below it (our workspace) keep their own flags."""
    _mount(libc, path, path, _MS_BIND | _MS_REC)
    keep = 0
    vfs = os.statvfs(path)
    for st_flag, ms_flag in _KEEP_FLAGS:
        if vfs.f_flag & st_flag:
            keep |= ms_flag
    _mount(libc, None, path, _MS_REMOUNT | _MS_BIND | _MS_RDONLY | keep)


def _set_limits(limits: dict[str, int]) -> None:
    for name, value in limits.items():
        which = getattr(resource, name, None)
        if which is None:
            continue
        try:
            _soft, hard = resource.getrlimit(which)
            if hard != resource.RLIM_INFINITY:
                value = min(value, hard)
            resource.setrlimit(which, (value, value))
        except (OSError, ValueError) as exc:
            sys.stderr.write(f"itarch: cannot set {name}: {exc}\n")


def _remap_sys_path(source: str, workspace: str) -> None:
    """Editable installs point into the user's repo; send those imports to the copy instead."""
    prefix = source.rstrip("/") + "/"

    def remap(path: str) -> str:
        if path == source:
            return workspace
        if path.startswith(prefix):
            return os.path.join(workspace, path[len(prefix) :])
        return path

    sys.path[:] = [remap(p) for p in sys.path]
    for name, module in list(sys.modules.items()):
        # setuptools' editable finders keep a {package: path} mapping
        mapping = getattr(module, "MAPPING", None)
        if name.startswith("__editable__") and isinstance(mapping, dict):
            for key, value in list(mapping.items()):
                if isinstance(value, str):
                    mapping[key] = remap(value)


def _proc_stat(pid: int) -> list[str] | None:
    try:
        with open(f"/proc/{pid}/stat") as handle:
            text = handle.read()
    except OSError:
        return None
    return text[text.rindex(")") + 2 :].split()


def _in_own_pid_namespace(parent_ns: str) -> bool:
    """True only when /proc shows a pid namespace of our own, so 'every process' means ours."""
    try:
        mine = os.readlink("/proc/self/ns/pid")
        proc_matches = os.readlink("/proc/self") == str(os.getpid())
    except OSError:
        return False
    return bool(parent_ns) and mine != parent_ns and proc_matches


def kill_leftovers(parent_ns: str) -> int:
    """Kill what pytest left running; return how many there were.

    In our own pid namespace that is every process but us and our ancestors; otherwise it is
    our descendants (we are their subreaper) and members of our session.
    """
    me = os.getpid()
    everyone = _in_own_pid_namespace(parent_ns)
    keep = {me}
    pid = me
    while pid > 1:
        fields = _proc_stat(pid)
        if fields is None:
            break
        pid = int(fields[1])
        keep.add(pid)
    session = os.getsid(0)
    table: dict[int, tuple[str, int, int]] = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            fields = _proc_stat(int(name))
            if fields is not None:
                table[int(name)] = (fields[0], int(fields[1]), int(fields[3]))

    def descends(pid: int) -> bool:
        seen = set()
        while pid in table and pid not in seen:
            seen.add(pid)
            pid = table[pid][1]
            if pid == me:
                return True
        return False

    killed = 0
    for pid, (state, _ppid, sid) in table.items():
        if pid in keep or state in ("Z", "X"):
            continue
        if everyone or sid == session or descends(pid):
            try:
                os.kill(pid, signal.SIGKILL)
                killed += 1
            except OSError:
                pass
    return killed


def _probe(directory: str | None) -> int:
    report: dict[str, Any] = {}
    try:
        loopback_up()
        report["loopback"] = True
    except OSError as exc:
        report["loopback"] = False
        report["error"] = f"bringing lo up failed: {exc}"
    if directory:
        libc = _libc()
        try:
            bind_read_only(libc, directory)
            try:
                open(os.path.join(directory, "probe"), "w").close()
                report["read_only"] = False
            except OSError:
                report["read_only"] = True
        except OSError as exc:
            report["read_only"] = False
            report["error"] = str(exc)
    report["interfaces"] = [name for _index, name in socket.if_nameindex()]
    print(json.dumps(report))
    return 0


def main(argv: list[str]) -> int:
    if argv and argv[0] == "--probe":
        return _probe(argv[1] if len(argv) > 1 else None)
    with open(argv[0], encoding="utf-8") as handle:
        config = json.load(handle)
    pytest_args = argv[2:] if len(argv) > 1 and argv[1] == "--" else argv[1:]

    if config.get("loopback_up"):
        loopback_up()
    if config.get("writable") or config.get("read_only"):
        libc = _libc()
        for path in config.get("writable", []):
            bind_writable(libc, path)
        for path in config.get("read_only", []):
            if os.path.isdir(path):
                bind_read_only(libc, path)
    if sys.platform.startswith("linux"):
        # orphans of the tests re-parent to us, so they can be counted and killed below
        with contextlib.suppress(OSError, AttributeError):
            _libc().prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    _set_limits(config.get("limits", {}))

    here = os.path.dirname(os.path.abspath(__file__))
    import itarch_pytest  # from this directory: sys.path[0] is still ours

    workspace = config["workspace"]
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != here]
    sys.path.insert(0, workspace)  # what `python -m pytest` does with the working directory
    _remap_sys_path(config["source"], workspace)

    import pytest

    try:
        code = int(pytest.main(pytest_args, plugins=[itarch_pytest]))
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    leftovers = kill_leftovers(config.get("parent_pid_ns", ""))
    try:
        with open(config["results"], "a", encoding="utf-8") as results:
            results.write(json.dumps({"event": "end", "exit_code": code, "leftover": leftovers}))
            results.write("\n")
    except OSError as exc:
        sys.stderr.write(f"itarch: cannot write results: {exc}\n")
    return code


if __name__ == "__main__":
    exit_code = main(sys.argv[1:])
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    # os._exit: threads or atexit handlers a test left behind must not keep the run alive
    os._exit(exit_code)
