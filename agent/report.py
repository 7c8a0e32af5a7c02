"""Renderers of one Report (or CheckResult): terminal, Markdown, JSON, JUnit XML."""

from __future__ import annotations

import json
from xml.etree import ElementTree as ET

from rich.console import Console
from rich.table import Table
from rich.text import Text

from agent.schema import CheckResult, FileVerdict, Report, TestVerdict

_STYLE = {"accepted": "green", "bug": "yellow", "rejected": "red"}

Part = str | tuple[str, str]


def styled(*parts: Part) -> Text:
    """One line for a rich console. A plain string is shown exactly as it is, never read as markup
    (test ids like `test_x[/etc/passwd]`, refs, paths and messages hold brackets); a
    (text, style) pair is styled. Every terminal line with outside text goes through here."""
    return Text.assemble(*parts)


def summary_line(report: Report) -> str:
    per_test = report.dollars_per_kept_test
    cost = f"${report.cost_usd:.4f}" + (f" (${per_test:.4f} per kept test)" if per_test else "")
    return (
        f"{len(report.accepted)} file(s) accepted, {len(report.bugs)} suspected bug(s), "
        f"{len(report.rejected)} test(s) rejected; {report.rounds} proposal(s) in "
        f"{report.iterations} model turn(s), {report.usage.total:,} tokens "
        f"({report.cache_share:.0%} of input from the prompt cache), {cost}, "
        f"{report.wall_seconds:.1f}s; stopped by {report.stopped_by}"
    )


def on_base_cell(t: TestVerdict) -> str:
    """What the base run says of one test, in a few words ("" when it did not run there)."""
    if t.breaks_on_change:
        return "passes: the change broke it"
    if t.on_base == "not_applicable":
        return ""
    if t.verdict != "accepted":
        return f"{t.on_base} too" if t.on_base in ("failed", "error") else t.on_base
    if t.detects_change:
        return "fails (detects the change)" if t.on_base == "failed" else "error (missing there)"
    return "passes (guard)" if t.on_base == "passed" else f"{t.on_base} (not counted)"


def mutants_cell(t: TestVerdict) -> str:
    """Mutants of the changed lines it kills, of how many ("" when not measured)."""
    if t.change_mutants is None:
        return ""
    return f"{t.change_mutants_killed or 0}/{t.change_mutants}"


def detection_summary(files: list[FileVerdict]) -> str | None:
    """How many accepted tests would have failed before this change, and what it broke."""
    tests = [t for f in files for t in f.tests]
    accepted = [t for t in tests if t.verdict == "accepted" and t.detects_change is not None]
    broken = [t for t in tests if t.breaks_on_change]
    parts = []
    if accepted:
        detected = sum(bool(t.detects_change) for t in accepted)
        parts.append(
            f"{detected} of {len(accepted)} accepted test(s) would have failed before this "
            f"change; {len(accepted) - detected} pass on the base too (guards)"
        )
    if broken:
        parts.append(
            f"{len(broken)} test(s) fail on the change but pass on the base: the change broke "
            "that behaviour"
        )
    return "; ".join(parts) or None


def verdict_table(files: list[FileVerdict], title: str = "Verdicts") -> Table:
    table = Table(title=title, show_lines=False)
    for col in ("test", "verdict", "reason", "on base", "mutants", "detail"):
        table.add_column(col, overflow="fold")
    for f in files:
        for t in f.tests:
            style = _STYLE.get(t.verdict, "")
            table.add_row(
                styled(t.nodeid),
                styled((t.verdict, style)),
                styled(t.reason.value if t.reason else ""),
                styled(on_base_cell(t)),
                styled(mutants_cell(t)),
                styled(t.detail),
            )
    return table


def print_check(console: Console, result: CheckResult) -> None:
    console.print(verdict_table(result.files))
    if detected := detection_summary(result.files):
        console.print(styled(detected))
    _print_isolation(console, result.isolation.value)
    if result.mutants_total:
        console.print(
            styled(f"mutation on the change: {result.mutants_killed}/{result.mutants_total} killed")
        )
    if result.gate_seconds:
        gates = ", ".join(f"{name} {seconds:.1f}s" for name, seconds in result.gate_seconds.items())
        console.print(styled(f"gate time: {gates}"))


def print_report(console: Console, report: Report) -> None:
    if report.stopped_by == "trivial_change":
        console.print(styled(f"{report.message} (no model run, $0)"))
        return
    if report.model_source != "anthropic":
        console.print(
            styled(
                (
                    f"Model: {report.model_source} — these turns were scripted, "
                    "not written by Claude.",
                    "bold yellow",
                )
            )
        )
    else:
        console.print(styled(f"Model: {report.model}"))
    console.print(verdict_table(report.verdicts))
    if detected := detection_summary(report.verdicts):
        console.print(styled(detected))
    for f in report.accepted:
        where = "written" if f.written else "not written"
        console.print(styled(("accepted", "green"), f" {f.path} ({where}) — {f.purpose}"))
    for bug in report.bugs:
        console.print(styled(("suspected bug", "yellow"), f" {bug.nodeid}: {bug.detail}"))
    _print_isolation(console, report.isolation.value)
    console.print(styled(summary_line(report)))
    if report.message:
        console.print(styled(report.message))


def _print_isolation(console: Console, level: str) -> None:
    if level == "process":
        console.print(
            styled(
                (
                    "Sandbox: process level — tests were NOT isolated "
                    "(no bwrap or user namespaces available).",
                    "bold red",
                )
            )
        )
    else:
        console.print(styled(f"Sandbox: {level}"))


def to_markdown(report: Report) -> str:
    lines = [
        "## itarch report",
        "",
        f"Model: `{report.model}` ({report.model_source})"
        + (
            " — scripted turns, not written by Claude" if report.model_source != "anthropic" else ""
        ),
        f"Sandbox: `{report.isolation.value}`",
        "",
        summary_line(report),
        "",
    ]
    if detected := detection_summary(report.verdicts):
        lines += [detected, ""]
    lines += [
        "| test | verdict | reason | on base | changed lines run | mutants killed | detail |",
        "|---|---|---|---|---|---|---|",
    ]
    for f in report.verdicts:
        for t in f.tests:
            reason = t.reason.value if t.reason else ""
            detail = "; ".join(d for d in (t.detail, t.base_detail) if d)
            lines.append(
                f"| `{t.nodeid}` | {t.verdict} | {reason} | {_cell(on_base_cell(t))} | "
                f"{len(t.changed_lines_covered)} | {mutants_cell(t)} | {_cell(detail)} |"
            )
    for a in report.accepted:
        lines += ["", f"### `{a.path}`", "", a.purpose, "", "```python", a.content.rstrip(), "```"]
    return "\n".join(lines) + "\n"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def to_json(report: Report) -> str:
    data = report.model_dump(mode="json")
    data["bugs"] = [b.model_dump(mode="json") for b in report.bugs]
    data["rejected"] = [r.model_dump(mode="json") for r in report.rejected]
    return json.dumps(data, indent=2)


def to_junit(files: list[FileVerdict]) -> str:
    suite = ET.Element("testsuite", name="itarch", tests=str(sum(len(f.tests) for f in files)))
    failures = 0
    for f in files:
        for t in f.tests:
            case = ET.SubElement(suite, "testcase", classname=f.path, name=t.nodeid)
            failures += _junit_case(case, t)
    suite.set("failures", str(failures))
    return ET.tostring(suite, encoding="unicode")


def _junit_case(case: ET.Element, t: TestVerdict) -> int:
    properties = ET.SubElement(case, "properties")
    shown = {
        "on_base": t.on_base,
        "detects_change": "null" if t.detects_change is None else str(t.detects_change).lower(),
        "base_detail": t.base_detail,
        "changed_lines_covered": str(len(t.changed_lines_covered)),
        "mutants_killed": mutants_cell(t),
    }
    for name, value in shown.items():
        ET.SubElement(properties, "property", name=name, value=value)
    if t.verdict == "rejected":
        failure = ET.SubElement(case, "failure", type=t.reason.value if t.reason else "rejected")
        failure.set("message", t.detail)
        return 1
    if t.verdict == "bug":
        ET.SubElement(case, "skipped", message=f"suspected bug: {t.detail}")
    return 0
