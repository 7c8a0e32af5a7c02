"""Hostile: read the machine's disks and kernel devices directly (reads only, a few bytes)."""

import os
import stat

SENSITIVE = ("/dev/mem", "/dev/kmem", "/dev/port", "/dev/kmsg")


def readable(path):
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except OSError:
        return False
    try:
        os.read(fd, 16)
    except OSError:
        pass
    finally:
        os.close(fd)
    return True


def test_read_raw_devices():
    opened = []
    for name in sorted(os.listdir("/dev")):
        path = os.path.join("/dev", name)
        try:
            mode = os.lstat(path).st_mode
        except OSError:
            continue
        if (stat.S_ISBLK(mode) or path in SENSITIVE) and readable(path):
            opened.append(path)
    print("OPENED", opened)
    assert opened, "no disk or kernel device in reach"
