"""A project's own pytest options that would change what judging sees are not applied."""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from pathlib import Path

import pytest

from agent.sandbox import Sandbox
from agent.sandbox.isolation import PLUGIN_DIR

from .helpers import make_git_repo

_spec = importlib.util.spec_from_file_location("itarch_options", PLUGIN_DIR / "itarch_options.py")
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
