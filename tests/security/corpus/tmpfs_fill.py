"""Hostile: exhaust the machine's memory through the filesystem: write into every directory that
lives in memory (tmpfs), bounded at 2 GB and removed again afterwards."""

import contextlib
import os

CHUNK = b"\0" * (64 * 1024 * 1024)
LIMIT = 2 * 1024 * 1024 * 1024
TARGETS = ["/tmp", "/dev/shm", "/run", "/var/tmp", "@@HOME@@"]


def in_memory(path):
    best, kind = "", ""
    with open("/proc/self/mountinfo") as handle:
        for line in handle:
            fields = line.split()
            point = fields[4]
            fstype = fields[fields.index("-") + 1]
            if (path == point or path.startswith(point.rstrip("/") + "/")) and len(point) > len(
                best
            ):
                best, kind = point, fstype
    return kind == "tmpfs"


def fill(directory, budget):
    """Many files of 128 MB: a per-file size limit alone does not stop this."""
    written, made = 0, []
    try:
        while written < budget:
            path = os.path.join(directory, f"itarch-fill-{os.getpid()}-{len(made)}")
            made.append(path)
            with open(path, "wb") as handle:
                for _ in range(2):
                    handle.write(CHUNK)
                    handle.flush()
                    written += len(CHUNK)
    except OSError:
        pass
    finally:
        for path in made:
            with contextlib.suppress(OSError):
                os.remove(path)
    return written


def test_fill_memory_through_tmpfs():
    total = 0
    for directory in TARGETS:
        if total < LIMIT and os.path.isdir(directory) and in_memory(directory):
            total += fill(directory, LIMIT - total)
    assert total >= LIMIT, f"only {total >> 20} MB fit in memory-backed directories"
