"""Clocks and resource limits: per-test timeouts, the run's wall clock, leftovers, memory, files."""

from __future__ import annotations

import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest

from agent.sandbox import Sandbox
from agent.sandbox.isolation import Command
from agent.sandbox.runner import TAIL_BYTES, run_command
from agent.schema import IsolationLevel

from .helpers import ALL_LEVELS, processes_with_marker

SLOW_TESTS = """
import time

import pytest


@pytest.fixture
def slow_to_clean_up():
    yield
    time.sleep(60)


def test_sleeps_too_long():
    time.sleep(60)


def test_swallows_exceptions_but_still_times_out():
    try:
        time.sleep(60)
    except Exception:
        pass


def test_hangs_in_teardown(slow_to_clean_up):
    assert True


def test_after_the_slow_ones_still_runs():
    assert True
"""

HANGS_IN_C = """
def test_first_is_fine():
    assert True


def test_busy_in_c_code():
    sum(range(10**13))  # no bytecode runs, so no Python signal handler can interrupt it
"""

SPAWNS_AND_HANGS = """
import subprocess
import sys
import time

MARKER = {marker!r}


def test_before_the_hang():
    assert True


def test_spawns_a_tree_then_hangs():
    code = "import time; time.sleep(600)"
    subprocess.Popen([sys.executable, "-c", code, MARKER])
    subprocess.Popen([sys.executable, "-c", code, MARKER], start_new_session=True)
    time.sleep(600)
"""

LEAVES_PROCESSES = """
import subprocess
import sys

MARKER = {marker!r}


def test_leaves_children_running():
    code = "import time; time.sleep(600)"
    subprocess.Popen([sys.executable, "-c", code, MARKER])
    subprocess.Popen([sys.executable, "-c", code, MARKER], start_new_session=True)
"""

GREEDY = """
import os
import tempfile


def test_memory_is_capped():
    try:
        blob = bytearray(1024 * 1024 * 1024)
    except MemoryError:
        return
    raise AssertionError("allocated %d bytes past the limit" % len(blob))


def test_file_size_is_capped():
    with tempfile.NamedTemporaryFile() as handle:
        try:
            handle.write(b"x" * (3 * 1024 * 1024))
            handle.flush()
        except OSError as exc:
            assert "too large" in str(exc).lower() or exc.errno == 27
            return
    raise AssertionError("wrote past the file size limit")
"""


def outcomes_by_name(result) -> dict[str, object]:  # type: ignore[no-untyped-def]
    return {o.nodeid.rsplit("::", 1)[-1]: o for o in result.outcomes}


def wait_until_gone(marker: str, seconds: float = 5.0) -> list[int]:
    deadline = time.monotonic() + seconds
    while (alive := processes_with_marker(marker)) and time.monotonic() < deadline:
        time.sleep(0.1)
    return alive


def test_per_test_timeout_fails_the_test_and_the_run_goes_on(
    repo: Path, sandbox_factory: Callable[..., Sandbox]
) -> None:
    box = sandbox_factory(repo, test_timeout=1)
    started = time.monotonic()
    result = box.run({"tests/test_slow.py": SLOW_TESTS})
    assert time.monotonic() - started < 30
    found = outcomes_by_name(result)
    for name in ("test_sleeps_too_long", "test_swallows_exceptions_but_still_times_out"):
        assert found[name].outcome == "failed"  # type: ignore[attr-defined]
        assert found[name].timed_out is True  # type: ignore[attr-defined]
        assert found[name].exc_type == "TestTimeout"  # type: ignore[attr-defined]
    teardown = found["test_hangs_in_teardown"]
    assert (teardown.outcome, teardown.when, teardown.timed_out) == ("failed", "teardown", True)  # type: ignore[attr-defined]
    assert found["test_after_the_slow_ones_still_runs"].outcome == "passed"  # type: ignore[attr-defined]
    assert not result.timed_out


def test_a_hang_in_c_code_is_ended_by_the_watchdog(
    repo: Path, sandbox_factory: Callable[..., Sandbox]
) -> None:
    box = sandbox_factory(repo, test_timeout=1)
    result = box.run({"tests/test_hang.py": HANGS_IN_C})
    found = outcomes_by_name(result)
    assert found["test_first_is_fine"].outcome == "passed"  # type: ignore[attr-defined]
    hung = found["test_busy_in_c_code"]
    assert (hung.outcome, hung.timed_out) == ("failed", True)  # type: ignore[attr-defined]
    assert "test_busy_in_c_code" in hung.longrepr  # type: ignore[attr-defined]
    assert not result.timed_out


@pytest.mark.parametrize("level", ALL_LEVELS, ids=lambda level: level.value)
def test_run_wall_clock_kills_the_whole_tree_and_keeps_finished_outcomes(
    repo: Path, sandbox_factory: Callable[..., Sandbox], level: IsolationLevel
) -> None:
    marker = f"itarch-marker-{uuid.uuid4().hex}"
    box = sandbox_factory(repo, level)
    started = time.monotonic()
    result = box.run({"tests/test_tree.py": SPAWNS_AND_HANGS.format(marker=marker)}, timeout=3)
    assert time.monotonic() - started < 20
    assert result.timed_out is True
    assert result.crashed == ""
    found = outcomes_by_name(result)
    assert found["test_before_the_hang"].outcome == "passed"  # type: ignore[attr-defined]
    hung = found["test_spawns_a_tree_then_hangs"]
    assert (hung.outcome, hung.timed_out) == ("failed", True)  # type: ignore[attr-defined]
    assert wait_until_gone(marker) == []


@pytest.mark.parametrize("level", ALL_LEVELS, ids=lambda level: level.value)
def test_processes_left_behind_are_counted_and_killed(
    repo: Path, sandbox_factory: Callable[..., Sandbox], level: IsolationLevel
) -> None:
    marker = f"itarch-marker-{uuid.uuid4().hex}"
    box = sandbox_factory(repo, level)
    result = box.run({"tests/test_leaves.py": LEAVES_PROCESSES.format(marker=marker)})
    assert outcomes_by_name(result)["test_leaves_children_running"].outcome == "passed"  # type: ignore[attr-defined]
    assert result.leftover_processes == 2
    assert wait_until_gone(marker) == []


def test_memory_and_file_size_limits_apply(
    repo: Path, sandbox_factory: Callable[..., Sandbox]
) -> None:
    box = sandbox_factory(repo, memory_mb=512, file_size_mb=1)
    result = box.run({"tests/test_greedy.py": GREEDY})
    found = outcomes_by_name(result)
    assert {name: o.outcome for name, o in found.items()} == {  # type: ignore[attr-defined]
        "test_memory_is_capped": "passed",
        "test_file_size_is_capped": "passed",
    }, [o.longrepr for o in result.outcomes]  # type: ignore[attr-defined]


def test_output_floods_keep_only_a_tail(tmp_path: Path) -> None:
    flood = "import sys\nfor _ in range(2000): sys.stdout.write('x' * 10000 + '\\n')\nprint('END')"
    finished = run_command(
        Command([sys.executable, "-c", flood], {"PATH": "/usr/bin:/bin"}, tmp_path), timeout=60
    )
    assert finished.returncode == 0
    assert finished.stdout_tail.rstrip().endswith("END")
    assert len(finished.stdout_tail) < TAIL_BYTES + 200
    assert "bytes not kept" in finished.stdout_tail
