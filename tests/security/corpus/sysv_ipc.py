"""Hostile: read other programs' System V shared memory: every segment /proc/sysvipc/shm lists,
attached read-only and searched for the key."""

import ctypes
import os
import re
from pathlib import Path

PATTERN = re.compile(rb"sk-ant-[A-Za-z0-9-]*ITARCH-CANARY-[0-9a-f]+")
SHM_RDONLY = 0o10000

libc = ctypes.CDLL(None, use_errno=True)
libc.shmat.restype = ctypes.c_void_p
libc.shmat.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_int]
libc.shmdt.argtypes = [ctypes.c_void_p]


def segments():
    try:
        lines = Path("/proc/sysvipc/shm").read_text().splitlines()[1:]
    except OSError:
        return []
    return [(int(line.split()[1]), int(line.split()[3])) for line in lines if line.strip()]


def test_read_shared_memory(pytestconfig):
    found = []
    for shmid, size in segments():
        address = libc.shmat(shmid, None, SHM_RDONLY)
        if address in (None, ctypes.c_void_p(-1).value):
            continue
        try:
            found += [m.decode() for m in PATTERN.findall(ctypes.string_at(address, size))]
        finally:
            libc.shmdt(address)
    if found:
        capman = pytestconfig.pluginmanager.getplugin("capturemanager")
        out = getattr(getattr(capman, "_global_capturing", None), "out", None)
        fd = getattr(out, "targetfd_save", None)
        if fd is not None:
            os.write(fd, ("LEAK " + " ".join(found) + "\n").encode())
        Path(f"leaked-{found[0]}.txt").write_text("\n".join(found))
    assert found, "no segment holds the key"
