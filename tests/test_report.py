from __future__ import annotations

import json
from decimal import Decimal
from xml.etree import ElementTree as ET

from rich.console import Console

from agent.report import print_report, to_json, to_junit, to_markdown
from agent.schema import (
    AcceptedFile,
    FileVerdict,
    IsolationLevel,
    Reason,
    Report,
    TestVerdict,
    Usage,
)


def _report(source: str = "scripted") -> Report:
    return Report(
        run_id="r1",
        repo="/r",
        base="abc",
        model="m",
        model_source=source,
        isolation=IsolationLevel.PROCESS,
        iterations=3,
        stopped_by="all_accepted",
        accepted=[
            AcceptedFile(path="tests/t.py", content="def test_a():\n    assert 1\n", purpose="p")
        ],
        verdicts=[
            FileVerdict(
                path="tests/t.py",
                tests=[
                    TestVerdict(nodeid="tests/t.py::test_a", verdict="accepted"),
                    TestVerdict(nodeid="tests/t.py::test_b", verdict="bug", detail="total | wrong"),
                ],
            ),
            FileVerdict(
                path="tests/u.py",
                tests=[
                    TestVerdict(
                        nodeid="tests/u.py::test_c", verdict="rejected", reason=Reason.FLAKY
                    )
                ],
            ),
        ],
        usage=Usage(input_tokens=10, output_tokens=5),
        cost_usd=Decimal("0.0123"),
    )


def test_json_carries_bugs_rejections_and_exact_cost() -> None:
    data = json.loads(to_json(_report()))
    assert data["cost_usd"] == "0.0123"
    assert [b["nodeid"] for b in data["bugs"]] == ["tests/t.py::test_b"]
    assert data["rejected"][0]["reason"] == "flaky"


def test_markdown_escapes_cells_and_says_scripted() -> None:
    md = to_markdown(_report())
    assert "scripted turns, not written by Claude" in md
    assert "total \\| wrong" in md
    assert "```python" in md
    assert "not written by Claude" not in to_markdown(_report("anthropic"))


def test_junit_counts_failures() -> None:
    root = ET.fromstring(to_junit(_report().verdicts))
    assert root.get("tests") == "3" and root.get("failures") == "1"
    assert root.find("testcase/failure").get("type") == "flaky"  # type: ignore[union-attr]


def test_terminal_warns_about_process_isolation_and_scripted_model() -> None:
    console = Console(record=True, width=200)
    print_report(console, _report())
    text = console.export_text()
    assert "scripted" in text and "NOT isolated" in text and "1 suspected bug" in text


def test_check_output_names_isolation_mutation_and_gate_times() -> None:
    from agent.report import print_check
    from agent.schema import CheckResult

    result = CheckResult(
        files=_report().verdicts,
        isolation=IsolationLevel.BWRAP,
        gate_seconds={"run": 1.25, "reruns": 0.5},
        mutants_total=4,
        mutants_killed=3,
    )
    console = Console(record=True, width=200)
    print_check(console, result)
    text = console.export_text()
    assert "Sandbox: bwrap" in text
    assert "3/4 killed" in text
    assert "run 1.2s, reruns 0.5s" in text


def test_the_terminal_shows_brackets_as_they_are() -> None:
    ids = ["test_x[/etc/passwd]", "test_x[true]", "test_x[t]", "test_x[donnees0]", "test_x[/x]"]
    report = _report().model_copy(
        update={
            "verdicts": [
                FileVerdict(
                    path="tests/t.py",
                    tests=[
                        TestVerdict(
                            nodeid=f"tests/t.py::{name}",
                            verdict="rejected",
                            reason=Reason.FLAKY,
                            detail="set [tool.itarch] python [/bold]",
                        )
                        for name in ids
                    ],
                )
            ],
            "message": "set [tool.itarch] python",
        }
    )
    console = Console(record=True, width=300)

    print_report(console, report)

    text = console.export_text()
    for name in ids:
        assert f"tests/t.py::{name}" in text
    assert "set [tool.itarch] python [/bold]" in text
    assert text.rstrip().endswith("set [tool.itarch] python")
