"""The gate registry and `[tool.itarch] gates`: gates run in the registry's order, and a gate
switched off does not run, in a real repository, the real sandbox and real pytest; bad switches
are one-line configuration errors, from the settings and from the CLI."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from agent import gates
from agent.config import ConfigError, load_settings
from agent.quality import Judge
from agent.quality.judge import _Check
from agent.quality.work import rank
from agent.sandbox import Sandbox
from agent.schema import CheckResult, Reason
from tests.cli.support import PYPROJECT, assert_one_line_error, itarch, make_repo

from .conftest import PYTHON, Ledger, proposed, quiet_settings, verdicts
from .test_base_run import _all, _check, _proposals, build_calc

# The order of precedence before the registry, written out by hand.
OLD_GATE_ORDER = [
    Reason.PATH,
    Reason.SYNTAX,
    Reason.IMPORT,
    Reason.COLLECTION,
    Reason.NO_TESTS,
    Reason.FAILS,
    Reason.ERROR,
    Reason.TIMEOUT,
    Reason.NETWORK,
    Reason.SIDE_EFFECT,
    Reason.FLAKY,
    Reason.ORDER_DEPENDENT,
    Reason.NO_ASSERTIONS,
    Reason.REDUNDANT,
    Reason.MISSES_CHANGE,
    Reason.GUARDS_ONLY,
    Reason.KILLS_NO_MUTANT,
]


def test_the_registry_order_is_the_order_of_precedence() -> None:
    assert gates.ORDER == OLD_GATE_ORDER
    assert [rank(r) for r in OLD_GATE_ORDER] == list(range(len(OLD_GATE_ORDER)))
    assert set(gates.ORDER) == set(Reason)  # every reason a user sees has its gate


def test_every_gate_is_judged_and_every_input_made() -> None:
    for gate in gates.GATES:
        assert callable(getattr(_Check, gate.name)), gate.name
        for need in (*gate.needs, *gate.uses):
            assert need == "files" or callable(getattr(_Check, f"_make_{need}")), need


def test_defaults_switch_nothing(tmp_path: Path) -> None:
    settings = load_settings(tmp_path)
    assert settings.gates == {} and settings.gate_switches() == {}
    on = [g.name for g in gates.switched_on({})]
    assert on == [g.name for g in gates.GATES if g.name not in ("detects_change", "kills_mutants")]


# ---------------------------------------------------------------- settings


def test_gates_from_the_table_the_inline_table_and_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text("[tool.itarch.gates]\nflaky = false\nDetects_Change = true\n")
    settings = load_settings(tmp_path)
    assert settings.gates == {"flaky": False, "detects_change": True}
    assert settings.require == ["detects_change"]  # the older key says the same

    pyproject.write_text("[tool.itarch]\ngates = { mutation = false }\n")
    assert load_settings(tmp_path).mutation is False

    monkeypatch.setenv("ITARCH_GATES__MUTATION", "true")
    assert load_settings(tmp_path).gate_switches() == {"mutation": True}


def test_the_older_keys_switch_the_same_gates(tmp_path: Path) -> None:
    older = load_settings(tmp_path, mutation=False, require=["detects_change", "kills_mutants"])
    assert older.gate_switches() == {
        "mutation": False,
        "detects_change": True,
        "kills_mutants": True,
    }
    both = load_settings(tmp_path, mutation=False, gates={"mutation": True})
    assert both.gate_switches() == {"mutation": True} and both.mutation is True


@pytest.mark.parametrize(
    ("gates_value", "expected"),
    [
        ({"slow": False}, "unknown gate 'slow'; the gates are: path, syntax, collection,"),
        ({"fails": False}, "the fails gate cannot be switched off: it decides whether"),
        ({"network": False}, "the network gate cannot be switched off"),
        ({"coverage": False}, "the redundant gate needs coverage, which is switched off"),
        ({"base_run": False, "detects_change": True}, "the detects_change gate needs base_run"),
        ({"flaky": "sometimes"}, "bad setting 'gates.flaky': Input should be a valid boolean"),
    ],
)
def test_bad_switches_are_one_line_errors(
    tmp_path: Path, gates_value: dict[str, Any], expected: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(tmp_path, gates=gates_value)
    assert expected in str(caught.value)
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize(
    ("line", "fragments"),
    [
        ("gates = { quick = false }", ["bad setting 'gates'", "unknown gate 'quick'", "flaky"]),
        ("gates = { syntax = false }", ["bad setting 'gates'", "syntax gate cannot be switched"]),
    ],
)
def test_the_cli_refuses_bad_switches_in_one_line(
    tmp_path: Path, line: str, fragments: list[str]
) -> None:
    repo = make_repo(tmp_path / "calc", {"pyproject.toml": f"{PYPROJECT}\n[tool.itarch]\n{line}\n"})

    proc = itarch("check", "tests/test_add.py", cwd=repo)

    assert_one_line_error(proc, *fragments)


# ---------------------------------------------------------------- switched off, not run


@pytest.fixture(scope="module")
def judge_with(ledger: Ledger) -> Iterator[Any]:
    """Judges on the ledger with some gates switched; mutation off unless switched on."""
    boxes: list[Sandbox] = []

    def make(**switches: bool) -> Judge:
        settings = quiet_settings(ledger.path, mutation=False, gates=switches)
        box = Sandbox(ledger.path, PYTHON, settings.sandbox)
        boxes.append(box)
        return Judge(box, settings, context=ledger.context)

    yield make
    for box in boxes:
        box.close()


FLAKY = """
from ledger.pricing import total

_CALLS = []


def test_half_off_only_the_first_time():
    _CALLS.append(1)
    assert len(_CALLS) == 1
    assert total([(2, 10.0)], discount=0.5) == 12.0
"""


def test_a_flaky_test_goes_through_with_flaky_off(judges: Any, judge_with: Any) -> None:
    file = proposed("tests/test_flaky_discount.py", FLAKY)
    (default,) = verdicts(judges().check([file]), file.path).values()
    assert default.reason == Reason.FLAKY, default

    result = judge_with(flaky=False).check([file])
    (test,) = verdicts(result, file.path).values()
    assert test.verdict == "accepted", test
    assert test.reruns_total == 1  # only the reverse-order round of order_dependent ran
    assert "reruns" in result.gate_seconds


def test_with_flaky_and_order_dependent_off_nothing_reruns(judge_with: Any) -> None:
    file = proposed("tests/test_flaky_discount.py", FLAKY)
    result = judge_with(flaky=False, order_dependent=False).check([file])
    (test,) = verdicts(result, file.path).values()
    assert test.verdict == "accepted", test
    assert test.reruns_total is None and test.reruns_passed is None
    assert not {"reruns", "order"} & set(result.gate_seconds)


NO_ORACLE = """
from ledger.pricing import total


def test_half_off_runs():
    total([(2, 10.0)], discount=0.5)
"""


def test_a_test_without_assertions_goes_through_with_no_assertions_off(
    judges: Any, judge_with: Any
) -> None:
    file = proposed("tests/test_half_off_runs.py", NO_ORACLE)
    (default,) = verdicts(judges().check([file]), file.path).values()
    assert default.reason == Reason.NO_ASSERTIONS

    (test,) = verdicts(judge_with(no_assertions=False).check([file]), file.path).values()
    assert test.verdict == "accepted", test


GOOD = """
from ledger.pricing import total


def test_half_off_is_taxed_after_the_discount():
    assert total([(2, 10.0)], discount=0.5) == 12.0
"""


def _mutation_check(ledger: Ledger, **settings: Any) -> CheckResult:
    loaded = quiet_settings(ledger.path, **settings)
    with Sandbox(ledger.path, PYTHON, loaded.sandbox) as box:
        judge = Judge(box, loaded, context=ledger.context)
        return judge.check([proposed("tests/test_half_off.py", GOOD)])


def test_mutation_off_gives_no_score_and_takes_no_time(ledger: Ledger) -> None:
    on = _mutation_check(ledger, mutation=False, gates={"mutation": True})
    assert on.mutation_score is not None and "mutation" in on.gate_seconds
    (measured,) = verdicts(on, "tests/test_half_off.py").values()
    assert measured.change_mutants

    off = _mutation_check(ledger, mutation=True, gates={"mutation": False})
    assert off.mutation_score is None and off.mutants_total == 0
    assert "mutation" not in off.gate_seconds
    assert set(off.gate_seconds) == set(on.gate_seconds) - {"mutation"}
    (test,) = verdicts(off, "tests/test_half_off.py").values()
    assert test.verdict == "accepted", test
    assert test.change_mutants is None and test.mutants_killed == []
    assert off.files[0].mutation_score is None


def test_base_run_off_leaves_the_base_fields_unset(judge_with: Any) -> None:
    result = judge_with(base_run=False).check([proposed("tests/test_half_off.py", GOOD)])
    (test,) = verdicts(result, "tests/test_half_off.py").values()
    assert test.verdict == "accepted", test
    assert (test.on_base, test.detects_change, test.base_detail) == ("not_applicable", None, "")
    assert "base" not in result.gate_seconds


def test_detects_change_by_gates_is_require_detects_change(tmp_path: Path) -> None:
    repo = tmp_path / "calc"
    base = build_calc(repo, commit_change=True)
    proposal = _proposals()[:1]

    required = _check(repo, base, proposal, require=["detects_change"])
    switched = _check(repo, base, proposal, gates={"detects_change": True})

    assert [f.model_dump() for f in switched.files] == [f.model_dump() for f in required.files]
    assert set(switched.gate_seconds) == set(required.gate_seconds)
    guard = _all(switched)["test_add_whole_numbers"]
    assert (guard.verdict, guard.reason) == ("rejected", Reason.GUARDS_ONLY)


def test_coverage_off_with_what_needs_it_measures_nothing(judge_with: Any) -> None:
    judge = judge_with(coverage=False, redundant=False, misses_change=False, mutation=False)
    result = judge.check([proposed("tests/test_half_off.py", GOOD)])
    (test,) = verdicts(result, "tests/test_half_off.py").values()
    assert test.verdict == "accepted", test
    assert test.lines_added is None and test.changed_lines_covered == [] and test.seams == []
    assert not {"coverage", "redundancy", "mutation"} & set(result.gate_seconds)
    assert test.on_base == "failed"  # the base run does not need coverage
