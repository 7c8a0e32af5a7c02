"""Processes a test leaves running when it ends are its side effect, whoever their parent is and
whether or not they are still there when the whole run ends."""

from __future__ import annotations

from collections.abc import Callable

from agent.quality import Judge
from agent.schema import Reason

from .conftest import proposed, verdicts

MANY_CHILDREN = """
import subprocess
import time

import pytest

from ledger.pricing import subtotal


@pytest.fixture(scope="session")
def server():
    proc = subprocess.Popen(["sleep", "30"])
    yield proc
    proc.kill()
    proc.wait()


def test_uses_a_session_server(server):
    assert server.poll() is None
    assert subtotal([(1, 2.0)]) == 2.0


def test_waits_for_its_children():
    procs = [subprocess.Popen(["sleep", "0.1"]) for _ in range(3)]
    assert [p.wait() for p in procs] == [0, 0, 0]


def test_uses_a_process_pool_and_closes_it():
    import multiprocessing

    with multiprocessing.get_context("forkserver").Pool(1) as pool:
        assert pool.apply(abs, (-3,)) == 3  # the forkserver stays: Python's, not the test's


def test_starts_many_and_returns():
    for _ in range(40):
        subprocess.Popen(["sleep", "1"])
    assert subtotal([(2, 2.0)]) == 4.0


@pytest.mark.parametrize("n", range(9))
def test_later(n):
    time.sleep(0.15)  # the children above are gone (zombies) by the time the run ends
    assert subtotal([(n, 1.0)]) == n
"""


def test_children_left_running_are_a_side_effect_of_the_test_that_started_them(
    judges: Callable[..., Judge],
) -> None:
    path = "tests/test_children.py"
    found = verdicts(judges().check([proposed(path, MANY_CHILDREN)]), path)
    leaker = found["test_starts_many_and_returns"]
    assert leaker.reason == Reason.SIDE_EFFECT, leaker
    assert "40 process(es) running" in leaker.detail
    for name, verdict in found.items():
        if name != "test_starts_many_and_returns":
            assert verdict.reason != Reason.SIDE_EFFECT, verdict


def test_each_outcome_counts_the_processes_its_body_left_running(
    judges: Callable[..., Judge],
) -> None:
    path = "tests/test_children.py"
    run = judges().sandbox.run({path: MANY_CHILDREN}, select=[path])
    left = {o.nodeid.split("::", 1)[1]: o.leftover for o in run.outcomes}
    assert left.pop("test_starts_many_and_returns") == 40
    # a session fixture's server (started in setup, stopped at the end) is nobody's leftover
    assert set(left.values()) == {0}, left
