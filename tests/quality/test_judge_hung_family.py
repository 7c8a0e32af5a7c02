"""A parametrized test that hangs costs one timeout in the Judge, even when the hang ends the
whole pytest process and the Judge has to run the rest of the file again.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from agent.quality import Judge
from agent.schema import Reason

from .conftest import proposed, verdicts

CASES = 6

BUSY_IN_C = f"""
import pytest

from ledger.pricing import subtotal


@pytest.mark.parametrize("n", range({CASES}))
def test_busy(n):
    sum(range(10**13))  # no signal handler runs here: only the watchdog ends it


def test_subtotal_after_the_hang():
    assert subtotal([(2, 1.5)]) == 3.0
"""


def test_cases_of_a_hung_function_are_timeouts_and_the_rest_still_runs(
    judges: Callable[..., Judge],
) -> None:
    judge = judges()
    started = time.monotonic()
    result = judge.check([proposed("tests/test_busy_family.py", BUSY_IN_C)])
    seconds = time.monotonic() - started
    found = verdicts(result, "tests/test_busy_family.py")
    for n in range(CASES):
        verdict = found[f"test_busy[{n}]"]
        assert verdict.reason == Reason.TIMEOUT, verdict
        if n:
            assert "a sibling case timed out (test_busy[0])" in verdict.detail
    # the watchdog ended pytest once; the rest of the file ran in the next run, not a hang each
    after = found["test_subtotal_after_the_hang"]
    assert "did not run to the end" not in after.detail, after
    assert after.reason != Reason.TIMEOUT, after
    # one hang is the per-test limit (2 s) plus the watchdog's grace (2 s); six would be 24 s
    assert seconds < 20, seconds
