"""A test function that times out stops its other cases: they get the same verdict at once.

Ten cases of a hanging parametrized test cost one timeout, not ten, whether the alarm ends the
first case (the run goes on) or the watchdog has to end the whole process (the run is over).
Other functions, even ones whose names start the same, run as usual.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from agent.sandbox import Sandbox
from agent.sandbox.results import family_of
from agent.schema import RunResult
from agent.schema import TestOutcome as Outcome

CASES = 10
TIMEOUT = 2.0

# pytest's own runs of this file took over CASES × TIMEOUT seconds before the family rule.
SLEEPS = f"""
import time

import pytest


@pytest.mark.parametrize(
    "n", [*range({CASES}), pytest.param("skipped", marks=pytest.mark.skip(reason="not here"))]
)
def test_waits(n):
    time.sleep(60)


class TestClient:
    @pytest.mark.parametrize("host", ["a::b", "c[d]"])
    def test_waits_for_the_server(self, host):
        time.sleep(60)


@pytest.mark.parametrize("n", range(3))
def test_waits_not(n):  # a different function, though its name starts the same
    assert n < 3


def test_last():
    assert True
"""

# Hangs where no signal handler runs: only the watchdog (ending the process) stops it.
BUSY_IN_C = f"""
import pytest


@pytest.mark.parametrize("n", range({CASES}))
def test_busy(n):
    sum(range(10**13))


def test_after():
    assert True
"""


def by_id(result: RunResult) -> dict[str, list[Outcome]]:
    found: dict[str, list[Outcome]] = {}
    for outcome in result.outcomes:
        found.setdefault(outcome.nodeid.split("::", 1)[1], []).append(outcome)
    return found


def assert_timed_out(outcome: Outcome, sibling: str | None) -> None:
    assert (outcome.outcome, outcome.timed_out) == ("failed", True), outcome
    if sibling is not None:
        assert outcome.message == f"a sibling case timed out ({sibling}), so this case was not run"
        assert (outcome.when, outcome.exc_type) == ("setup", "TestTimeout")
        assert "[teardown]" not in outcome.longrepr  # it ended cleanly, ready for the next test


def test_cases_of_a_timed_out_function_are_not_run_again(
    repo: Path, sandbox_factory: Callable[..., Sandbox]
) -> None:
    box = sandbox_factory(repo, test_timeout=TIMEOUT)
    started = time.monotonic()
    result = box.run({"tests/test_sleeps.py": SLEEPS})
    seconds = time.monotonic() - started
    # one timeout per hanging function (two of them), not one per case (twelve)
    assert seconds < 2 * TIMEOUT + 8, seconds
    found = by_id(result)
    assert found["test_waits[0]"][0].message == "test exceeded the 2s per-test limit"
    for n in range(CASES):
        (outcome,) = found[f"test_waits[{n}]"]
        assert_timed_out(outcome, "test_waits[0]" if n else None)
    assert [o.outcome for o in found["test_waits[skipped]"]] == ["skipped"]  # a skip still wins
    (first,) = found["TestClient::test_waits_for_the_server[a::b]"]
    (second,) = found["TestClient::test_waits_for_the_server[c[d]]"]
    assert_timed_out(first, None)
    assert_timed_out(second, "TestClient::test_waits_for_the_server[a::b]")
    for n in range(3):
        assert [o.outcome for o in found[f"test_waits_not[{n}]"]] == ["passed"]
    assert [o.outcome for o in found["test_last"]] == ["passed"]
    assert not result.timed_out and result.crashed == ""


def test_reruns_of_a_timed_out_test_are_not_run_again(
    repo: Path, sandbox_factory: Callable[..., Sandbox]
) -> None:
    box = sandbox_factory(repo, test_timeout=TIMEOUT)
    source = "import time\n\n\ndef test_waits():\n    time.sleep(60)\n"
    started = time.monotonic()
    result = box.run({"tests/test_once.py": source}, reruns=3)
    assert time.monotonic() - started < TIMEOUT + 8
    runs = by_id(result)["test_waits"]
    assert [o.run for o in runs] == [0, 1, 2, 3]
    for outcome in runs:
        assert (outcome.outcome, outcome.timed_out) == ("failed", True)
    assert runs[1].message == "an earlier run of this test timed out, so it was not run again"


def test_a_hang_that_ends_the_process_gives_its_siblings_the_same_verdict(
    repo: Path, sandbox_factory: Callable[..., Sandbox]
) -> None:
    box = sandbox_factory(repo, test_timeout=1)
    started = time.monotonic()
    result = box.run({"tests/test_busy.py": BUSY_IN_C})
    # the watchdog ends the process once (timeout + grace), and nothing is left to run again
    assert time.monotonic() - started < 2 + 8
    found = by_id(result)
    assert "watchdog" in found["test_busy[0]"][0].message
    for n in range(CASES):
        (outcome,) = found[f"test_busy[{n}]"]
        assert_timed_out(outcome, "test_busy[0]" if n else None)
    assert "test_after" not in found  # not a sibling: it still has to be run
    missing = [n for n in result.collected if n.split("::", 1)[1] not in found]
    assert missing == ["tests/test_busy.py::test_after"]


def test_the_family_of_a_node_id() -> None:
    assert family_of("tests/t.py::test_x[1-2]") == "tests/t.py::test_x"
    assert family_of("tests/t.py::T::test_x[a::b]") == "tests/t.py::T::test_x"
    assert family_of("tests/t.py::T::test_x[c[d]]") == "tests/t.py::T::test_x"
    assert family_of("tests/t.py::test_x") == "tests/t.py::test_x"
    assert family_of("tests/t.py") == "tests/t.py"
