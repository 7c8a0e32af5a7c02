"""Hostile: print a gigabyte, around pytest's capture straight into the harness's pipe, and then
through it."""

import os
import sys

CHUNK = b"x" * (1024 * 1024 - 1) + b"\n"
LIMIT = 1024


def original_stdout(config):
    capman = config.pluginmanager.getplugin("capturemanager")
    capturing = getattr(capman, "_global_capturing", None)
    out = getattr(capturing, "out", None)
    return getattr(out, "targetfd_save", None)


def test_print_a_gigabyte(pytestconfig):
    fd = original_stdout(pytestconfig)
    if fd is not None:
        for _ in range(LIMIT):
            os.write(fd, CHUNK)
    for _ in range(LIMIT):
        sys.stdout.write(CHUNK.decode())
    sys.stdout.flush()
    assert True
