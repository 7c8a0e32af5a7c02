"""A project's own pytest options that would change what judging sees are not applied."""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from pathlib import Path

import pytest

from agent.sandbox import Sandbox
from agent.sandbox.isolation import INSIDE_DIR

from .helpers import make_git_repo

_spec = importlib.util.spec_from_file_location("itarch_options", INSIDE_DIR / "itarch_options.py")
assert _spec is not None and _spec.loader is not None
options = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(options)


@pytest.mark.parametrize(
    ("given", "kept"),
    [
        (["-n", "auto", "-ra"], ["-ra"]),
        (["-nauto", "--dist=loadscope", "-q"], ["-q"]),
        (["--numprocesses", "4", "--maxfail", "2", "-v"], ["-v"]),
        (["-x", "--exitfirst", "--maxfail=1", "--sw", "--lf", "--ff", "--nf"], []),
        (["-xvs"], ["-vs"]),
        (["-vx", "-k", "not slow"], ["-v", "-k", "not slow"]),
        (["-p", "no:warnings", "--strict-markers"], ["-p", "no:warnings", "--strict-markers"]),
        (["--cov=pkg", "--cov-report=term-missing", "--cov", "--no-cov-on-fail"], []),
        (["--cov", "src", "tests/test_x.py"], ["tests/test_x.py"]),
        (["--reruns", "3", "--junitxml=out.xml", "--html", "r.html", "--pdb"], []),
        (["-W", "error", "--import-mode=importlib"], ["-W", "error", "--import-mode=importlib"]),
        (["--", "-x", "tests/test_a.py"], ["--", "-x", "tests/test_a.py"]),
    ],
)
def test_options_that_change_judging_are_dropped(given: list[str], kept: list[str]) -> None:
    left, dropped = options.neutralise(given)
    assert left == kept
    assert bool(dropped) == (given != kept)


THREE_TESTS = (
    "def test_fails_first():\n    assert 1 == 2\n\n\n"
    "def test_a():\n    assert True\n\n\n"
    "def test_b():\n    assert True\n"
)


def test_the_projects_addopts_do_not_stop_hide_or_scatter_tests(
    tmp_path: Path, sandbox_factory: Callable[..., Sandbox]
) -> None:
    addopts = (
        "-n 2 -x --maxfail=1 --lf --ff --cov=shopkit --cov-report=term-missing "
        "--junitxml=report.xml --strict-markers -ra"
    )
    repo = make_git_repo(
        tmp_path / "shop",
        {"pytest.ini": f"[pytest]\naddopts = {addopts}\nmarkers =\n    slow: slow tests\n"},
    )
    box = sandbox_factory(repo)
    result = box.run({"tests/test_three.py": THREE_TESTS}, trace=["shopkit/prices.py"])
    outcomes = {o.nodeid.rsplit("::", 1)[-1]: o.outcome for o in result.outcomes}
    # every test ran, in this process (xdist workers would report nothing to us), after a failure
    assert outcomes == {"test_fails_first": "failed", "test_a": "passed", "test_b": "passed"}
    assert result.changed_paths == []  # no report.xml, no .coverage
    assert "not applying the project's" in result.stderr_tail
    # the project's other options still hold: an unregistered marker is an error
    strict = box.run(
        {"tests/test_mark.py": "import pytest\n\n\n@pytest.mark.nosuch\ndef test_m():\n    pass\n"}
    )
    assert strict.collect_errors or any(o.outcome == "error" for o in strict.outcomes)


FROZEN_CLOCK = """
import time

import pytest
from freezegun import freeze_time


@pytest.fixture(autouse=True)
def frozen():
    # freezegun swaps time.monotonic in every loaded module, the harness's too if it could
    with freeze_time("2020-01-01 00:00:00", tick=False):
        yield


def test_runs_under_a_frozen_clock():
    assert time.monotonic() == time.monotonic()
"""


def test_a_frozen_clock_does_not_trip_the_per_test_timeout(
    repo: Path, sandbox_factory: Callable[..., Sandbox]
) -> None:
    box = sandbox_factory(repo, test_timeout=5.0)
    result = box.run({"tests/test_frozen.py": FROZEN_CLOCK})
    assert [(o.outcome, o.timed_out) for o in result.outcomes] == [("passed", False)], [
        o.longrepr for o in result.outcomes
    ]
