"""Does anything get out? The hostile corpus (tests/security/corpus) at every isolation level.

Each case is proposed to the real Judge on a real sandbox, in namespaces of the harness's own
making (so nothing can reach the real network or the machine's processes even if a sandbox
fails), against a freshly planted home directory, repository and /tmp full of a fake API key.
A case is contained when no secret came back, no byte outside the sandbox changed, no process
outlived the run, nothing reached the fake outside world, itarch itself survived, and no test
that passes only when its attack works was accepted.

    python benchmarks/security_summary.py [--levels bwrap,unshare,process] [--cases a,b]
        [--json FILE]

Exit status 0 when every case is contained at every isolated level with the verdict it should
get, and the process level let through only what it is known not to stop; 1 otherwise.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from agent.log import configure
from agent.sandbox import available_levels
from agent.schema import IsolationLevel
from tests.security.cases import BY_NAME, CASES, Case
from tests.security.harness import (
    Report,
    as_json,
    outer_namespaces_work,
    run_matrix,
)

WIDTH = 22


def cell(report: Report) -> str:
    if report.status == "skipped":
        return "skipped (unsafe)"
    if report.status == "error":
        return "ERROR"
    if report.status == "escaped":
        return "escaped (expected)" if report.expected_escape else "ESCAPED"
    return "contained" if not report.wrong_verdicts else "contained, WRONG VERDICT"


def acceptable(report: Report) -> bool:
    """Contained with the right verdict, or an escape the level is known to let through."""
    if report.status == "skipped":
        return True
    if report.status == "escaped":
        return report.expected_escape
    return report.status == "contained" and not report.wrong_verdicts


def table(reports: list[Report], levels: list[IsolationLevel], cases: list[Case]) -> str:
    found = {(r.case, r.level): r for r in reports}
    lines = ["case".ljust(18) + "".join(level.value.ljust(WIDTH) for level in levels)]
    for case in cases:
        row = case.name.ljust(18)
        for level in levels:
            report = found.get((case.name, level.value))
            row += (cell(report) if report else "-").ljust(WIDTH)
        lines.append(row.rstrip())
    lines.append("")
    for label, count in (
        ("tried", lambda rs: sum(r.status != "skipped" for r in rs)),
        ("contained", lambda rs: sum(r.status == "contained" for r in rs)),
        (
            "expected escapes",
            lambda rs: sum(r.status == "escaped" and r.expected_escape for r in rs),
        ),
        ("UNEXPECTED", lambda rs: sum(not acceptable(r) for r in rs)),
    ):
        row = label.ljust(18)
        for level in levels:
            row += str(count([r for r in reports if r.level == level.value])).ljust(WIDTH)
        lines.append(row.rstrip())
    return "\n".join(lines)


def details(reports: list[Report]) -> str:
    lines = []
    for report in reports:
        if report.status == "contained" and not report.wrong_verdicts:
            continue
        if report.status == "skipped":
            lines.append(f"{report.case} @ {report.level}: skipped: {report.note}")
            continue
        what = "expected at this level: " + report.note if report.expected_escape else ""
        lines.append(f"{report.case} @ {report.level}: {cell(report)} {what}".rstrip())
        for line in [*report.escapes[:3], *report.wrong_verdicts, report.error][:6]:
            if line:
                lines.append(f"    {line[:220]}")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--levels", help="comma-separated (default: every level available)")
    parser.add_argument("--cases", help="comma-separated case names (default: all)")
    parser.add_argument("--json", type=Path, help="also write every report here")
    args = parser.parse_args()
    configure(0)
    names = args.cases.split(",") if args.cases else [case.name for case in CASES]
    if unknown := [name for name in names if name not in BY_NAME]:
        parser.error(f"unknown case(s): {', '.join(unknown)} (known: {', '.join(BY_NAME)})")
    available = available_levels()
    wanted = args.levels.split(",") if args.levels else [level.value for level in available]
    if unknown := [v for v in wanted if v not in {level.value for level in available}]:
        parser.error(f"isolation level(s) not available here: {', '.join(unknown)}")
    if not outer_namespaces_work():
        print("cannot make namespaces of our own (unshare -rn, ip): nothing was tried")
        return 1
    levels = [IsolationLevel(value) for value in wanted]
    cases = [BY_NAME[name] for name in names]
    started = time.monotonic()
    reports = run_matrix(levels, cases)
    if args.json:
        args.json.write_text(as_json(reports), encoding="utf-8")
    print(table(reports, levels, cases))
    print()
    print(details(reports) or "every case contained, every verdict as expected")
    print(f"\n{len(cases)} cases x {len(levels)} levels in {time.monotonic() - started:.0f}s")
    return 0 if all(acceptable(r) for r in reports) else 1


if __name__ == "__main__":
    raise SystemExit(main())
