"""Sandboxes that start at the same time never sweep each other's copy (threads and processes).

Every claimer claims a directory, leaves a file in it, lets the others sweep for a moment, and
checks that its directory, its file and its lock file are still there; sweepers sweep all the
while. A copy left by a process killed with `kill -9` is still swept.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest

from agent.sandbox.sandbox import _claim_root, _sweep_stale_roots

# One claimer or sweeper; the same code runs in threads (here) and in processes (below).
WORKER = """
import os, sys, tempfile, time
from pathlib import Path

from agent.sandbox.sandbox import _OWNER, _claim_root, _sweep_stale_roots
from agent.sandbox.workspace import remove_tree


def claim_and_check(claims, hold, problems):
    for number in range(claims):
        try:
            root, owner = _claim_root()
        except Exception as exc:
            problems.append("claim %d failed: %s: %s" % (number, type(exc).__name__, exc))
            continue
        try:
            (root / "mine").write_text(str(number))
            deadline = time.monotonic() + hold
            while time.monotonic() < deadline:
                _sweep_stale_roots()  # a claimer sweeps for the others, as a new sandbox does
            lock = root / _OWNER
            if not (root / "mine").is_file():
                problems.append("claim %d: %s was removed while held" % (number, root))
            elif not lock.is_file() or lock.stat().st_ino != os.fstat(owner).st_ino:
                problems.append("claim %d: the lock file of %s was replaced" % (number, root))
        except Exception as exc:
            problems.append("claim %d: %s: %s" % (number, type(exc).__name__, exc))
        finally:
            remove_tree(root)
            os.close(owner)


def sweep_for(seconds, problems):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            _sweep_stale_roots()
        except Exception as exc:
            problems.append("sweep failed: %s: %s" % (type(exc).__name__, exc))


if __name__ == "__main__":
    mode, amount = sys.argv[1], float(sys.argv[2])
    problems = []
    if mode == "claim":
        claim_and_check(int(amount), 0.01, problems)
    elif mode == "sweep":
        sweep_for(amount, problems)
    else:  # die holding a claim, as a run killed with kill -9 does
        root, owner = _claim_root()
        (root / "ws").mkdir()
        print(root, flush=True)
        os.kill(os.getpid(), 9)
    for problem in problems:
        print("PROBLEM", problem, flush=True)
"""

PROCESSES = 8
CLAIMS = 20
THREADS = 4


@pytest.fixture
def private_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A temporary directory of this test's own: its sweeps touch nobody else's sandboxes."""
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    monkeypatch.setenv("TMPDIR", str(scratch))
    return scratch


def _worker(scratch: Path, *args: str) -> subprocess.Popen[str]:
    script = scratch.parent / "worker.py"
    if not script.exists():
        script.write_text(WORKER, encoding="utf-8")
    env = {**os.environ, "TMPDIR": str(scratch), "PYTHONPATH": str(Path.cwd())}
    return subprocess.Popen(
        [sys.executable, str(script), *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_concurrent_claims_and_sweeps_never_remove_a_held_copy(private_tmp: Path) -> None:
    namespace: dict[str, object] = {"__name__": "worker"}
    exec(compile(WORKER, "worker", "exec"), namespace)  # the same functions, in threads here
    claim_and_check = namespace["claim_and_check"]
    sweep_for = namespace["sweep_for"]

    killed = _worker(private_tmp, "die", "0")
    stdout, _ = killed.communicate(timeout=60)
    assert killed.returncode == -9
    left = Path(stdout.strip().splitlines()[-1])
    assert (left / "ws").is_dir()  # kill -9 gave it no chance to clean up

    started = time.monotonic()
    processes = [_worker(private_tmp, "claim", str(CLAIMS)) for _ in range(PROCESSES)]
    processes += [_worker(private_tmp, "sweep", "3") for _ in range(2)]
    problems: list[str] = []
    threads = [
        threading.Thread(target=claim_and_check, args=(CLAIMS, 0.01, problems))  # type: ignore[arg-type]
        for _ in range(THREADS)
    ]
    threads += [threading.Thread(target=sweep_for, args=(3.0, problems)) for _ in range(2)]  # type: ignore[arg-type]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    for proc in processes:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err[-2000:]
        problems += [line for line in out.splitlines() if line.startswith("PROBLEM")]
    assert not any(thread.is_alive() for thread in threads)
    assert problems == []
    assert time.monotonic() - started < 120

    assert not left.exists()  # the killed run's copy was swept along the way
    _sweep_stale_roots()
    assert list(private_tmp.iterdir()) == []  # every claim was released and removed


def test_a_claimed_directory_is_locked_before_a_sweep_can_see_it(private_tmp: Path) -> None:
    root, owner = _claim_root()
    try:
        assert root.parent == private_tmp
        _sweep_stale_roots()
        assert root.is_dir()
        assert [p.name for p in root.iterdir()] == [".owner"]  # nothing half-made is left
    finally:
        os.close(owner)
    _sweep_stale_roots()  # released: a copy nobody holds is swept
    assert not root.exists()
