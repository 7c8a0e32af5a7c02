"""The base run's two fields per test, and what they mean, in every place a verdict is shown:
the terminal table, Markdown, JSON (`itarch check --json`), JUnit, the PR comment, the MCP
`check` tool and the verdict the model reads."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from decimal import Decimal
from pathlib import Path
from xml.etree import ElementTree as ET

from rich.console import Console

from agent.github.comment import CommentLinks, render_comment
from agent.quality.feedback import verdict_feedback
from agent.report import print_check, print_report, to_json, to_junit, to_markdown
from agent.schema import (
    AcceptedFile,
    CheckResult,
    FileVerdict,
    IsolationLevel,
    Reason,
    Report,
    Usage,
)
from agent.schema import (
    TestVerdict as Verdict,
)
from tests.claude_code.test_mcp_server import FAST_GATES, call, text_of
from tests.quality.test_base_run import TESTS, build_calc

ITARCH = str(Path(sys.executable).parent / "itarch")


def _files() -> list[FileVerdict]:
    return [
        FileVerdict(
            path="tests/test_x.py",
            tests=[
                Verdict(
                    nodeid="tests/test_x.py::test_pins",
                    verdict="accepted",
                    changed_lines_covered=["x.py:3", "x.py:4"],
                    change_mutants=4,
                    change_mutants_killed=3,
                    on_base="failed",
                    detects_change=True,
                    base_detail="fails on the base on an assertion: assert 1 == 2",
                ),
                Verdict(
                    nodeid="tests/test_x.py::test_guards",
                    verdict="accepted",
                    changed_lines_covered=["x.py:3"],
                    change_mutants=4,
                    change_mutants_killed=0,
                    on_base="passed",
                    detects_change=False,
                    base_detail="passes on the base too: guards behaviour the change keeps",
                ),
            ],
        ),
        FileVerdict(
            path="tests/test_y.py",
            tests=[
                Verdict(
                    nodeid="tests/test_y.py::test_broken_by_change",
                    verdict="rejected",
                    reason=Reason.FAILS,
                    detail="assert 3 == 2",
                    on_base="passed",
                    base_detail="passes on the base: the change broke this behaviour",
                ),
                Verdict(
                    nodeid="tests/test_y.py::test_fails_on_both",
                    verdict="rejected",
                    reason=Reason.FAILS,
                    detail="assert 0 == 1",
                    on_base="failed",
                    base_detail="fails on the base too",
                ),
            ],
        ),
    ]


def _report() -> Report:
    return Report(
        run_id="run-7",
        repo="/r",
        base="abc",
        model="m",
        model_source="scripted",
        isolation=IsolationLevel.BWRAP,
        stopped_by="finish",
        accepted=[AcceptedFile(path="tests/test_x.py", content="def test_pins(): ...\n")],
        verdicts=_files(),
        usage=Usage(input_tokens=1),
        cost_usd=Decimal("0.01"),
    )


def test_old_json_without_the_fields_still_loads() -> None:
    old = {"nodeid": "tests/t.py::test_a", "verdict": "accepted", "mutants_killed": ["m1"]}
    test = Verdict.model_validate(old)
    assert (test.on_base, test.detects_change, test.base_detail) == ("not_applicable", None, "")
    assert not test.breaks_on_change


def test_regression_is_told_apart_from_a_failure_on_both() -> None:
    tests = {t.nodeid.rsplit("::", 1)[-1]: t for f in _files() for t in f.tests}
    assert tests["test_broken_by_change"].breaks_on_change
    assert not tests["test_fails_on_both"].breaks_on_change
    assert not tests["test_guards"].breaks_on_change


def test_terminal_shows_on_base_column_and_summary() -> None:
    console = Console(record=True, width=240)
    print_check(console, CheckResult(files=_files()))
    print_report(console, _report())
    text = console.export_text()
    assert "on base" in text and "mutants" in text
    assert "fails (detects the change)" in text
    assert "passes (guard)" in text
    assert "passes: the change broke it" in text
    assert "failed too" in text
    assert "3/4" in text
    assert "1 of 2 accepted test(s) would have failed before this change" in text
    assert "the change broke that behaviour" in text


def test_markdown_has_the_per_test_evidence() -> None:
    md = to_markdown(_report())
    assert "| on base | changed lines run | mutants killed |" in md
    assert "1 of 2 accepted test(s) would have failed before this change" in md
    row = next(line for line in md.splitlines() if "test_pins" in line)
    assert "fails (detects the change)" in row and "| 2 |" in row and "| 3/4 |" in row


def test_json_carries_both_fields_per_test() -> None:
    data = json.loads(to_json(_report()))
    tests = {t["nodeid"]: t for f in data["verdicts"] for t in f["tests"]}
    pins = tests["tests/test_x.py::test_pins"]
    assert (pins["on_base"], pins["detects_change"]) == ("failed", True)
    assert tests["tests/test_y.py::test_broken_by_change"]["detects_change"] is None
    checked = json.loads(CheckResult(files=_files()).model_dump_json())
    assert checked["files"][0]["tests"][1]["on_base"] == "passed"


def test_junit_properties() -> None:
    root = ET.fromstring(to_junit(_files()))
    cases = {c.get("name"): c for c in root.iter("testcase")}
    props = {
        p.get("name"): p.get("value")
        for p in cases["tests/test_x.py::test_guards"].iter("property")
    }
    assert props["on_base"] == "passed" and props["detects_change"] == "false"
    assert props["mutants_killed"] == "0/4" and props["changed_lines_covered"] == "1"
    broken = {
        p.get("name"): p.get("value")
        for p in cases["tests/test_y.py::test_broken_by_change"].iter("property")
    }
    assert broken["detects_change"] == "null"
    assert "the change broke" in broken["base_detail"]


def test_pr_comment_says_how_many_would_have_failed_and_what_broke() -> None:
    body = render_comment(_report(), CommentLinks(base="abc", head="def"))
    assert "| Fails on the base | 1 of 2 accepted test(s) would have failed before" in body
    assert "### Evidence per test" in body
    row = next(line for line in body.splitlines() if "test_guards" in line)
    assert "passes (guard)" in row and "0/4" in row
    assert "[!CAUTION]" in body and "test_broken_by_change" in body
    assert "test_fails_on_both" not in body.split("[!CAUTION]")[1].split("\n\n")[0]
    assert "run-7" in body


def test_verdict_feedback_names_guards_and_regressions() -> None:
    text = verdict_feedback(CheckResult(files=_files()))
    assert "Base run: 1 of 2 accepted test(s) fail on the base revision" in text
    assert "Guards only (pass on the base too): test_guards" in text
    assert "refactor" in text
    assert "fails on the base: detects the change" in text
    broken = text.split("test_broken_by_change", 1)[1]
    assert "the change broke this behaviour" in broken and "'bug'" in broken


def test_check_json_and_mcp_check_carry_the_fields(tmp_path: Path) -> None:
    repo = tmp_path / "calc"
    base = build_calc(repo, commit_change=False)
    target = repo / "tests" / "test_calc_change.py"
    target.write_text(textwrap.dedent(TESTS), encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ANTHROPIC_", "ITARCH_"))}
    proc = subprocess.run(
        [ITARCH, "check", str(target), "--base", base, "--json"],
        cwd=repo,
        capture_output=True,
        text=True,
        env=env | FAST_GATES,
        timeout=300,
    )
    assert proc.stdout, proc.stderr
    checked = CheckResult.model_validate_json(proc.stdout)
    tests = {t.nodeid.rsplit("::", 1)[-1]: t for f in checked.files for t in f.tests}
    assert (
        tests["test_add_rounds_to_cents"].on_base,
        tests["test_add_rounds_to_cents"].detects_change,
    ) == ("failed", True)
    assert tests["test_add_whole_numbers"].detects_change is False
    assert tests["test_sub_subtracts"].breaks_on_change
    raw = json.loads(proc.stdout)
    assert {"on_base", "detects_change"} <= set(raw["files"][0]["tests"][0])

    result = call(repo, "check", {"files": ["tests/test_calc_change.py"], "base": base})
    assert not result.is_error, text_of(result)
    served = CheckResult.model_validate(result.structured_content)
    by_name = {t.nodeid.rsplit("::", 1)[-1]: t for f in served.files for t in f.tests}
    assert by_name["test_add_rounds_to_cents"].detects_change is True
    assert by_name["test_add_whole_numbers"].on_base == "passed"


def test_hook_generate_mode_says_how_many_would_have_failed() -> None:
    from agent.hook.generate import _outcome

    line = _outcome(_report())
    assert "run run-7" in line
    assert "1 of 2 accepted test(s) would have failed before this change" in line
