"""Reruns in one interpreter, seeded shuffling, and per-test line tracing."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from agent.sandbox import Sandbox

EIGHT_TESTS = "\n".join(f"def test_{i}():\n    assert True\n\n" for i in range(8))

SHARED_STATE = """
import random

calls = []


def test_counts_calls():
    calls.append(1)
    assert len(calls) == 1, "ran %d times in this interpreter" % len(calls)


def test_reports_its_random_number():
    assert False, "random=%r" % random.random()
"""

TRACED = """
import threading

from shopkit.prices import discount, total


def test_total_only():
    assert total([(2, 3), (1, 4)]) == 10


def test_discount_error_path():
    try:
        discount(100, -5)
    except ValueError:
        pass
    else:
        raise AssertionError("expected ValueError")


def test_total_in_a_thread():
    results = []
    worker = threading.Thread(target=lambda: results.append(total([(1, 1)])))
    worker.start()
    worker.join()
    assert results == [1]
"""


def order(result) -> list[str]:  # type: ignore[no-untyped-def]
    return [o.nodeid.rsplit("::", 1)[-1] for o in result.outcomes]


def test_reruns_repeat_every_test_in_rounds(
    repo: Path, sandbox_factory: Callable[..., Sandbox]
) -> None:
    box = sandbox_factory(repo)
    result = box.run({"tests/test_state.py": SHARED_STATE}, reruns=2)
    assert result.collected == [
        "tests/test_state.py::test_counts_calls",
        "tests/test_state.py::test_reports_its_random_number",
    ]
    counts = [o for o in result.outcomes if o.nodeid.endswith("test_counts_calls")]
    assert [o.run for o in counts] == [0, 1, 2]
    # same interpreter: module state survives between rounds, which is what exposes pollution
    assert [o.outcome for o in counts] == ["passed", "failed", "failed"]
    assert "ran 2 times" in counts[1].message


def test_shuffle_is_seeded_and_reproducible(
    repo: Path, sandbox_factory: Callable[..., Sandbox]
) -> None:
    box = sandbox_factory(repo)
    files = {"tests/test_many.py": EIGHT_TESTS}
    natural = order(box.run(files))
    assert natural == [f"test_{i}" for i in range(8)]
    first = order(box.run(files, shuffle_seed=7))
    again = order(box.run(files, shuffle_seed=7))
    other = order(box.run(files, shuffle_seed=8))
    assert first == again
    assert sorted(first) == natural
    assert first != natural or other != natural
    assert first != other


def test_seed_fixes_random_per_test_and_round(
    repo: Path, sandbox_factory: Callable[..., Sandbox]
) -> None:
    box = sandbox_factory(repo)
    files = {"tests/test_state.py": SHARED_STATE}

    def randoms(seed: int) -> list[str]:
        result = box.run(files, select=["tests/test_state.py"], shuffle_seed=seed, reruns=1)
        picked = [o for o in result.outcomes if o.nodeid.endswith("number")]
        return [o.message for o in sorted(picked, key=lambda o: o.run)]

    seeded = randoms(3)
    assert len(seeded) == 2
    assert seeded == randoms(3)
    assert seeded[0] != seeded[1]  # each round draws differently
    assert seeded != randoms(4)


def test_trace_records_executed_lines_per_test(
    repo: Path, sandbox_factory: Callable[..., Sandbox]
) -> None:
    box = sandbox_factory(repo)
    result = box.run({"tests/test_traced.py": TRACED}, trace=["shopkit/prices.py"])
    lines = {o.nodeid.rsplit("::", 1)[-1]: o.lines for o in result.outcomes}
    assert all(o.outcome == "passed" for o in result.outcomes)
    # prices.py: total() body is lines 2-5, discount() body is lines 9-11
    assert lines["test_total_only"] == {"shopkit/prices.py": [2, 3, 4, 5]}
    assert lines["test_discount_error_path"] == {"shopkit/prices.py": [9, 10]}
    assert lines["test_total_in_a_thread"] == {"shopkit/prices.py": [2, 3, 4, 5]}


def test_without_trace_no_lines_are_recorded(
    repo: Path, sandbox_factory: Callable[..., Sandbox]
) -> None:
    box = sandbox_factory(repo)
    result = box.run({"tests/test_traced.py": TRACED})
    assert [o.lines for o in result.outcomes] == [{}, {}, {}]


CHILDREN = """
import os
import subprocess
import sys


def test_in_a_child_process():
    code = "from shopkit.prices import discount; print(discount(100, 10))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "90.0"


def test_in_a_child_that_replaces_itself():
    code = (
        "import os; from shopkit.prices import total; total([(1, 1)]); "
        "os.execv('/bin/true', ['true'])"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_in_process_only():
    assert os.getpid()
"""


def test_lines_run_in_python_children_count_for_the_test_that_started_them(
    repo: Path, sandbox_factory: Callable[..., Sandbox]
) -> None:
    box = sandbox_factory(repo)
    result = box.run({"tests/test_children.py": CHILDREN}, trace=["shopkit/prices.py"])
    lines = {
        o.nodeid.rsplit("::", 1)[-1]: o.lines.get("shopkit/prices.py", []) for o in result.outcomes
    }
    assert all(o.outcome == "passed" for o in result.outcomes), [
        o.longrepr for o in result.outcomes
    ]
    assert set(lines["test_in_a_child_process"]) >= {9, 11}  # discount's check and its return
    assert set(lines["test_in_a_child_that_replaces_itself"]) >= {2, 3, 4, 5}  # total's body
    assert lines["test_in_process_only"] == []
