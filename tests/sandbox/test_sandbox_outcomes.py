"""What the plugin reports for every kind of pytest result, from one real sandboxed run."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from agent.sandbox import Sandbox
from agent.schema import RunResult
from agent.schema import TestOutcome as Outcome

from .helpers import BEST, PYTHON, make_git_repo, settings

OUTCOMES_FILE = """
import pytest

from shopkit.prices import discount, total


@pytest.fixture
def broken_setup():
    raise RuntimeError("setup exploded")


@pytest.fixture
def broken_teardown():
    yield 1
    raise RuntimeError("teardown exploded")


def test_passes():
    assert total([(2, 3), (1, 1)]) == 7


def test_fails_on_assert():
    assert total([(2, 3)]) == 5


def test_fails_on_exception():
    discount(10, -1)


def test_fails_via_pytest_fail():
    pytest.fail("explicit failure")


def test_raises_miss():
    with pytest.raises(ValueError):
        discount(10, 5)


def test_setup_error(broken_setup):
    assert True


def test_teardown_error(broken_teardown):
    assert broken_teardown == 1


def test_missing_fixture(no_such_fixture):
    assert no_such_fixture


def test_skipped():
    pytest.skip("not today")


@pytest.mark.xfail(strict=True, reason="discount rounds wrong")
def test_xfail_strict_assertion():
    assert discount(10, 33) == 6.6


@pytest.mark.xfail(reason="module missing")
def test_xfail_import_error():
    import shopkit.not_there  # noqa: F401


@pytest.mark.xfail(reason="thought it was broken")
def test_xpass():
    assert total([]) == 0


@pytest.mark.xfail(strict=True, reason="bug fixed meanwhile")
def test_xpass_strict():
    assert total([]) == 0


def test_import_error_in_body():
    import requests_that_do_not_exist  # noqa: F401


def test_catches_everything_but_still_times_nothing():
    try:
        assert total([(1, 1)]) == 1
    except Exception:
        pass
"""


@pytest.fixture(scope="module")
def result(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunResult]:
    repo = make_git_repo(
        tmp_path_factory.mktemp("outcomes") / "shop",
        # a module named like our plugin at the repo root must not replace it
        {"itarch_pytest.py": "raise RuntimeError('shadowed the plugin')\n"},
    )
    files = {
        "tests/integration/test_outcomes.py": OUTCOMES_FILE,
        "tests/integration/test_syntax.py": "def test_x(:\n    pass\n",
        "tests/integration/test_bad_import.py": "import nowhere_module\n\n\ndef test_y():\n"
        "    assert nowhere_module\n",
        "tests/integration/test_module_raises.py": "raise KeyError('at import')\n",
    }
    with Sandbox(repo, PYTHON, settings(BEST)) as box:
        yield box.run(files, select=["tests"])


def one(result: RunResult, name: str) -> Outcome:
    matches = [o for o in result.outcomes if o.nodeid.endswith("::" + name)]
    assert len(matches) == 1, [o.nodeid for o in result.outcomes]
    return matches[0]


def test_run_finishes_with_failures_and_every_item_reported(result: RunResult) -> None:
    assert result.exit_code == 1
    assert result.crashed == ""
    assert not result.timed_out
    assert result.isolation == BEST
    reported = {o.nodeid for o in result.outcomes}
    assert reported == set(result.collected)
    assert "tests/test_prices.py::test_total" in reported  # the existing suite ran too
    assert len(result.outcomes) == len(reported)  # one outcome per item, no reruns


def test_passed(result: RunResult) -> None:
    outcome = one(result, "test_passes")
    assert (outcome.outcome, outcome.when, outcome.exc_type) == ("passed", "call", None)
    assert outcome.longrepr == ""


def test_assertion_failure_is_marked_as_assertion(result: RunResult) -> None:
    outcome = one(result, "test_fails_on_assert")
    assert outcome.outcome == "failed"
    assert outcome.exc_type == "AssertionError"
    assert outcome.assertion is True
    assert "assert 6 == 5" in outcome.message
    assert "test_outcomes.py" in outcome.longrepr


def test_other_exception_is_not_an_assertion(result: RunResult) -> None:
    outcome = one(result, "test_fails_on_exception")
    assert (outcome.outcome, outcome.exc_type, outcome.assertion) == (
        "failed",
        "ValueError",
        False,
    )
    assert outcome.message == "negative discount"


def test_pytest_fail_and_raises_miss_count_as_assertions(result: RunResult) -> None:
    fail = one(result, "test_fails_via_pytest_fail")
    assert (fail.exc_type, fail.assertion, fail.message) == ("Failed", True, "explicit failure")
    miss = one(result, "test_raises_miss")
    assert miss.assertion is True
    assert "DID NOT RAISE" in miss.message


def test_setup_and_teardown_errors_are_errors(result: RunResult) -> None:
    setup = one(result, "test_setup_error")
    assert (setup.outcome, setup.when, setup.exc_type) == ("error", "setup", "RuntimeError")
    assert setup.message == "setup exploded"
    teardown = one(result, "test_teardown_error")
    assert (teardown.outcome, teardown.when) == ("error", "teardown")
    assert teardown.message == "teardown exploded"


def test_missing_fixture_is_a_fixture_lookup_error(result: RunResult) -> None:
    outcome = one(result, "test_missing_fixture")
    assert (outcome.outcome, outcome.when) == ("error", "setup")
    assert outcome.exc_type == "FixtureLookupError"
    assert "no_such_fixture" in outcome.message


def test_skip_keeps_its_reason(result: RunResult) -> None:
    outcome = one(result, "test_skipped")
    assert outcome.outcome == "skipped"
    assert outcome.message == "not today"


def test_strict_xfail_records_the_underlying_assertion(result: RunResult) -> None:
    outcome = one(result, "test_xfail_strict_assertion")
    assert outcome.outcome == "xfailed"
    assert outcome.xfail_strict is True
    assert outcome.xfail_reason == "discount rounds wrong"
    assert (outcome.exc_type, outcome.assertion) == ("AssertionError", True)


def test_xfail_from_an_import_error_is_distinguishable(result: RunResult) -> None:
    outcome = one(result, "test_xfail_import_error")
    assert outcome.outcome == "xfailed"
    assert outcome.xfail_strict is False
    assert (outcome.exc_type, outcome.assertion) == ("ModuleNotFoundError", False)


def test_xpass_and_strict_xpass(result: RunResult) -> None:
    loose = one(result, "test_xpass")
    assert (loose.outcome, loose.xfail_reason) == ("xpassed", "thought it was broken")
    strict = one(result, "test_xpass_strict")
    assert strict.outcome == "failed"
    assert strict.xfail_strict is True
    assert strict.exc_type is None
    assert "XPASS(strict)" in strict.message


def test_import_error_inside_a_test(result: RunResult) -> None:
    outcome = one(result, "test_import_error_in_body")
    assert (outcome.outcome, outcome.exc_type) == ("failed", "ModuleNotFoundError")
    assert "requests_that_do_not_exist" in outcome.message


def test_collection_errors_per_file_with_the_real_exception(result: RunResult) -> None:
    errors = {e.path: e for e in result.collect_errors}
    assert set(errors) == {
        "tests/integration/test_syntax.py",
        "tests/integration/test_bad_import.py",
        "tests/integration/test_module_raises.py",
    }
    assert errors["tests/integration/test_syntax.py"].exc_type == "SyntaxError"
    bad_import = errors["tests/integration/test_bad_import.py"]
    assert bad_import.exc_type == "ModuleNotFoundError"
    assert "nowhere_module" in bad_import.message
    assert errors["tests/integration/test_module_raises.py"].exc_type == "KeyError"
    # the broken files did not stop the others
    assert not any("test_bad_import" in n for n in result.collected)
    assert any("test_outcomes.py" in n for n in result.collected)


def test_nothing_leaked_into_the_repo(result: RunResult) -> None:
    assert result.changed_paths == []
    assert result.leftover_processes == 0
    assert result.duration > 0
