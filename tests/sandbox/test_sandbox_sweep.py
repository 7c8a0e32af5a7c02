"""A sandbox copy left by a killed run is swept by the next sandbox; a live one never is."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from agent.demo.shop import ShopRepo
from agent.sandbox import Sandbox

KILLED = """
import os, sys
from pathlib import Path
from agent.sandbox import Sandbox
sandbox = Sandbox(Path(sys.argv[1]), Path(sys.executable))
print(sandbox.workspace, flush=True)
os.kill(os.getpid(), 9)
"""


def test_copies_of_killed_runs_are_swept_and_live_ones_kept(shop: ShopRepo) -> None:
    killed = subprocess.run(
        [sys.executable, "-c", KILLED, str(shop.path)], capture_output=True, text=True, timeout=120
    )
    assert killed.returncode == -9
    left = Path(killed.stdout.strip().splitlines()[-1])
    assert left.is_dir()  # kill -9 gave it no chance to clean up

    with Sandbox(shop.path, Path(sys.executable)) as live:
        assert not left.exists()
        with Sandbox(shop.path, Path(sys.executable)) as other:
            assert live.workspace.is_dir() and other.workspace.is_dir()
        assert live.workspace.is_dir()
    assert not live.workspace.exists()
