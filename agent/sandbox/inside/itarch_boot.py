"""Sandbox bootstrap: prepares the process from the inside, runs pytest with our plugin, cleans up.

    python itarch_boot.py CONFIG.json -- <pytest args>
    python itarch_boot.py --probe [DIR]    # check loopback, capabilities (and the mount plan)

Runs under the *target's* interpreter, so only the standard library and old-Python syntax.
Being a script in this directory puts this directory first on sys.path, before anything in
the workspace, and the plugin module is handed to pytest as an object, so nothing in the
repository can stand in for it.

Steps: bring `lo` up and build the mount plan (only inside a user namespace of our own), drop
every capability and forbid gaining new ones, set resource limits, read the run's signing key
from its pipe (so no test can read it after us) and give the plugin the results pipe, point
sys.path from the user's repo to the copy, run pytest, check that nothing rewrote the plugin,
then count and kill the processes pytest left behind and record that as the last result line.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
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
_MS_NOSUID = 2
_MS_NODEV = 4
_MS_REMOUNT = 32
_MS_BIND = 4096
_MS_REC = 16384
_PR_SET_CHILD_SUBREAPER = 36
_PR_CAPBSET_DROP = 24
_PR_SET_SECUREBITS = 28
_PR_SET_NO_NEW_PRIVS = 38
_PR_CAP_AMBIENT = 47
_PR_CAP_AMBIENT_CLEAR_ALL = 4
# SECBIT_NOROOT, _NO_SETUID_FIXUP, _KEEP_CAPS_LOCKED, _NO_CAP_AMBIENT_RAISE, each with its lock
_SECUREBITS = 0x01 | 0x02 | 0x04 | 0x08 | 0x20 | 0x40 | 0x80
_CAP_VERSION_3 = 0x20080522
_SYS_MOUNT_SETATTR = {"x86_64": 442, "aarch64": 442, "riscv64": 442, "ppc64le": 442}
_AT_FDCWD = -100
_AT_RECURSIVE = 0x8000
_MOUNT_ATTR_RDONLY = 0x1
_O_PATH = getattr(os, "O_PATH", 0o10000000)
KEY_BYTES = 32
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


class _MountAttr(ctypes.Structure):
    _fields_ = [
        ("attr_set", ctypes.c_uint64),
        ("attr_clr", ctypes.c_uint64),
        ("propagation", ctypes.c_uint64),
        ("userns_fd", ctypes.c_uint64),
    ]


def _kept_flags(path: str) -> int:
    """Flags a remount inside a user namespace must keep (the kernel locks them)."""
    keep = 0
    vfs = os.statvfs(path)
    for st_flag, ms_flag in _KEEP_FLAGS:
        if vfs.f_flag & st_flag:
            keep |= ms_flag
    return keep


def _mount_points(path: str) -> list[str]:
    """Mount points at or below `path`, parents before children (as mountinfo lists them)."""
    prefix = path.rstrip("/") + "/"
    points = []
    with open("/proc/self/mountinfo", encoding="utf-8") as handle:
        for line in handle:
            point = line.split()[4]
            for escaped, char in (("\\040", " "), ("\\011", "\t"), ("\\012", "\n")):
                point = point.replace(escaped, char)
            point = point.replace("\\134", "\\")
            if path == "/" or point == path or point.startswith(prefix):
                points.append(point)
    return points


def _set_read_only(libc: Any, path: str, read_only: bool) -> None:
    """(Un)set read-only on the mount at `path` and every mount below it."""
    number = _SYS_MOUNT_SETATTR.get(os.uname().machine)
    if number is not None:
        attr = _MountAttr()
        if read_only:
            attr.attr_set = _MOUNT_ATTR_RDONLY
        else:
            attr.attr_clr = _MOUNT_ATTR_RDONLY
        size = ctypes.sizeof(attr)
        if libc.syscall(number, _AT_FDCWD, path.encode(), _AT_RECURSIVE, ctypes.byref(attr), size):
            if ctypes.get_errno() != errno.ENOSYS:
                err = ctypes.get_errno()
                raise OSError(err, f"mount_setattr {path}: {os.strerror(err)}")
        else:
            return
    # Kernels before 5.12: remount every mount at or below `path`, one by one.
    for point in _mount_points(path):
        flags = _MS_REMOUNT | _MS_BIND | _kept_flags(point) | (_MS_RDONLY if read_only else 0)
        _mount(libc, None, point, flags)


_DEV_NODES = ("null", "zero", "full", "random", "urandom", "tty")
_DEV_LINKS = {
    "fd": "/proc/self/fd",
    "stdin": "/proc/self/fd/0",
    "stdout": "/proc/self/fd/1",
    "stderr": "/proc/self/fd/2",
    "ptmx": "pts/ptmx",
}


def _tmpfs(libc: Any, target: str, options: str) -> None:
    flags = _MS_NOSUID | _MS_NODEV
    if libc.mount(b"tmpfs", target.encode(), b"tmpfs", flags, options.encode()) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"mount tmpfs on {target}: {os.strerror(err)}")


def _build_dev(libc: Any, nodes: dict[str, int]) -> None:
    """A /dev of our own, as bubblewrap makes one: a few harmless devices, no disks."""
    _tmpfs(libc, "/dev", "mode=0755,size=65536")
    for name, fd in nodes.items():
        target = f"/dev/{name}"
        open(target, "w").close()
        _mount(libc, f"/proc/self/fd/{fd}", target, _MS_BIND)
    for name, link in _DEV_LINKS.items():
        os.symlink(link, f"/dev/{name}")
    for name in ("pts", "shm"):
        os.mkdir(f"/dev/{name}")
    _set_read_only(libc, "/dev", True)
    options = b"newinstance,ptmxmode=0666,mode=0620"
    libc.mount(b"devpts", b"/dev/pts", b"devpts", _MS_NOSUID | 8, options)  # 8: MS_NOEXEC


def build_mounts(libc: Any, plan: dict[str, Any], proc: str = "/proc") -> None:
    """Make the filesystem read-only, hide `masks`, then show `binds` on top (see isolation.py).

    Bind sources are opened first: once a directory is hidden, its old path leads into the
    empty one, but an open descriptor still leads to the original.
    """
    sources: dict[str, int] = {}
    for source, _target, _writable in plan.get("binds", []):
        if source not in sources:
            sources[source] = os.open(source, _O_PATH | os.O_CLOEXEC)
    nodes: dict[str, int] = {}
    if plan.get("dev"):
        for name in _DEV_NODES:
            with contextlib.suppress(OSError):
                nodes[name] = os.open(f"/dev/{name}", _O_PATH | os.O_CLOEXEC)
    try:
        _set_read_only(libc, "/", True)
        if os.path.isdir(proc):
            _set_read_only(libc, proc, False)  # our own /proc, from --mount-proc
        if plan.get("dev"):
            _build_dev(libc, nodes)
        for mask, size in plan.get("masks", []):
            if not os.path.isdir(mask):
                continue
            if size:  # scratch space: writable by all, bounded (tmpfs lives in memory)
                _tmpfs(libc, mask, f"mode=1777,size={int(size)}")
            else:  # empty; and unwritable even by uid 0 once capabilities are dropped
                _tmpfs(libc, mask, "mode=0555,size=65536")
        for source, target, writable in plan.get("binds", []):
            os.makedirs(target, exist_ok=True)
            _mount(libc, f"/proc/self/fd/{sources[source]}", target, _MS_BIND | _MS_REC)
            _set_read_only(libc, target, not writable)
    finally:
        for fd in [*sources.values(), *nodes.values()]:
            os.close(fd)


def capabilities() -> int:
    """The effective capability set, as a number (0: none)."""
    try:
        with open("/proc/self/status", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("CapEff:"):
                    return int(line.split()[1], 16)
    except (OSError, ValueError):
        pass
    return 0


def drop_privileges(libc: Any) -> None:
    """Give up every capability for good, and the means to gain one (setuid files, exec as root).

    Inside a user namespace of our own we are its root, with the power to undo the mount plan;
    under bwrap run by root the kernel's root. Neither may reach a test.
    """
    libc.prctl(_PR_SET_SECUREBITS, _SECUREBITS, 0, 0, 0)  # fails harmlessly without CAP_SETPCAP
    try:
        with open("/proc/sys/kernel/cap_last_cap", encoding="ascii") as handle:
            last = int(handle.read().strip())
    except (OSError, ValueError):
        last = 63
    for cap in range(last + 1):
        libc.prctl(_PR_CAPBSET_DROP, cap, 0, 0, 0)
    libc.prctl(_PR_CAP_AMBIENT, _PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0)
    header = (ctypes.c_uint32 * 2)(_CAP_VERSION_3, 0)
    data = (ctypes.c_uint32 * 6)()
    libc.capset(header, data)
    libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)


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


def _installed_dirs() -> list[str]:
    """The interpreter's installation (a venv may live inside the repo): never remapped."""
    roots = {sys.prefix, sys.exec_prefix, getattr(sys, "base_prefix", sys.prefix)}
    return [os.path.realpath(root).rstrip("/") + "/" for root in roots if root]


def _remap_sys_path(source: str, workspace: str) -> None:
    """Editable installs point into the user's repo; send those imports to the copy instead.

    The copy holds the repository's own files, not a virtualenv inside it (`.venv/`, uv's and
    poetry's default): paths into the interpreter's installation keep pointing at the original,
    which the sandbox shows read-only.
    """
    prefix = source.rstrip("/") + "/"
    installed = _installed_dirs()

    def remap(path: str) -> str:
        if path == source:
            return workspace
        if path.startswith(prefix):
            real = os.path.realpath(path).rstrip("/") + "/"
            parts = path[len(prefix) :].split("/")
            if any(real.startswith(root) for root in installed) or (
                "site-packages" in parts or "dist-packages" in parts
            ):
                return path
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
    """Report what the walls look like from inside; with DIR, build a small mount plan first."""
    report: dict[str, Any] = {}
    try:
        loopback_up()
        report["loopback"] = True
    except OSError as exc:
        report["loopback"] = False
        report["error"] = f"bringing lo up failed: {exc}"
    if directory:
        libc = _libc()
        hidden = os.path.join(directory, "hidden")
        shown = os.path.join(directory, "shown")
        for path in (hidden, shown):
            os.makedirs(path, exist_ok=True)
        with open(os.path.join(hidden, "secret"), "w") as handle:
            handle.write("hidden\n")
        plan = {
            "dev": True,
            "masks": [[hidden, 0]],
            "binds": [[shown, os.path.join(hidden, "shown"), True]],
        }
        try:
            build_mounts(libc, plan)
            drop_privileges(libc)
            report["read_only"] = not _can_write(os.path.join(directory, "probe"))
            report["masked"] = not os.path.exists(os.path.join(hidden, "secret"))
            report["writable"] = _can_write(os.path.join(hidden, "shown", "probe"))
            report["masked"] = report["masked"] and not _can_write(os.path.join(hidden, "x"))
            report["devices"] = sorted(os.listdir("/dev"))
        except OSError as exc:
            report["read_only"] = False
            report["error"] = str(exc)
    report["capabilities"] = capabilities()
    report["interfaces"] = [name for _index, name in socket.if_nameindex()]
    print(json.dumps(report))
    return 0


def _can_write(path: str) -> bool:
    try:
        with open(path, "w") as handle:
            handle.write("probe\n")
    except OSError:
        return False
    return True


def _read_key(fd: int) -> bytes:
    """The run's signing key, from a pipe the harness filled and closed: read once, gone."""
    key = b""
    try:
        while len(key) < KEY_BYTES:
            chunk = os.read(fd, KEY_BYTES - len(key))
            if not chunk:
                break
            key += chunk
    finally:
        os.close(fd)
    if len(key) != KEY_BYTES:
        raise SystemExit("itarch: the results key is missing")
    return key


def _plugin_rewritten(module: Any, original: dict[str, Any]) -> list[str]:
    """Functions of the plugin whose object or code changed since `original` was taken.

    Compared here, not by code of the plugin's own, which a test could have rewritten too.
    """
    changed = []
    for name, (value, code) in original.items():
        owner_name, _, attr = name.partition(".")
        owner = getattr(module, owner_name, None)
        now = vars(owner).get(attr) if attr and isinstance(owner, type) else owner
        function = getattr(now, "__func__", now)
        if now is not value or getattr(function, "__code__", None) is not code:
            changed.append(name)
    return changed


def main(argv: list[str]) -> int:
    if argv and argv[0] == "--probe":
        return _probe(argv[1] if len(argv) > 1 else None)
    with open(argv[0], encoding="utf-8") as handle:
        config = json.load(handle)
    pytest_args = argv[2:] if len(argv) > 1 and argv[1] == "--" else argv[1:]

    libc = _libc()
    if config.get("loopback_up"):
        loopback_up()
    if config.get("mounts"):
        build_mounts(libc, config["mounts"])
        os.chdir(config["workspace"])  # the old working directory is under the read-only root
    if sys.platform.startswith("linux"):
        # orphans of the tests re-parent to us, so they can be counted and killed below
        with contextlib.suppress(OSError, AttributeError):
            libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    if config.get("drop_privileges"):
        drop_privileges(libc)
    _set_limits(config.get("limits", {}))
    channel_fds = config["channel"]
    key = _read_key(int(channel_fds["key_fd"]))

    here = os.path.dirname(os.path.abspath(__file__))
    workspace = config["workspace"]
    # Before anything imports pytest: when the repository is one of pytest's own dependencies
    # (pluggy, iniconfig, packaging...), pytest must load the copy, the code under test.
    _remap_sys_path(config["source"], workspace)
    import itarch_lines  # from this directory: sys.path[0] is still ours

    if itarch_lines.wanted():
        # Before pytest and its plugins are imported, so that a traced file they import (the
        # repository may be one of them) is compiled with its records too.
        traced = itarch_lines.targets_from_args(pytest_args, workspace)
        if traced:
            itarch_lines.install(traced)
    import itarch_pytest

    channel = itarch_pytest.open_channel(int(channel_fds["results_fd"]), key)
    del key
    emit = type(channel).emit  # ours, whatever a test later does to the class
    original = itarch_pytest.fingerprint()
    original_lines = itarch_pytest.fingerprint(vars(itarch_lines))

    sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != here]
    sys.path.insert(0, workspace)  # what `python -m pytest` does with the working directory

    import pytest

    try:
        code = int(pytest.main(pytest_args, plugins=[itarch_pytest]))
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    changed = _plugin_rewritten(itarch_pytest, original)
    changed += ["itarch_lines." + n for n in _plugin_rewritten(itarch_lines, original_lines)]
    if "emit" in vars(channel):
        changed.append("the results channel's emit")
    if changed:
        detail = "the result plugin was rewritten while tests ran: " + ", ".join(changed[:6])
        emit(channel, "tamper", detail=detail)
    leftovers = kill_leftovers(config.get("parent_pid_ns", ""))
    try:
        emit(channel, "end", exit_code=code, leftover=leftovers)
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
