"""The verdict text the model receives for a proposal: what was kept, what failed, what to fix."""

from __future__ import annotations

from agent.schema import CheckResult, FileVerdict, Reason, TestVerdict

_PER_TEST_FEEDBACK = 1_200
_TOTAL = 14_000

# What a model can do about each rejection, in one line.
_REPAIR: dict[Reason, str] = {
    Reason.PATH: "use a new path under the tests root that does not exist yet",
    Reason.SYNTAX: "fix the syntax error",
    Reason.IMPORT: "import only names that exist (check with read_file/get_symbol)",
    Reason.COLLECTION: "make the file collect: no error at import time, and only fixtures "
    "that exist (or are defined in the file)",
    Reason.NO_TESTS: "write test functions pytest collects (test_*) that run here",
    Reason.FAILS: "fix the expectation, or mark the test as a bug with a justification if the "
    "code is wrong",
    Reason.ERROR: "fix the test code or its setup so it only fails on an assertion",
    Reason.TIMEOUT: "remove the wait or the blocking call; bound every loop and wait",
    Reason.NETWORK: "talk only to servers the test starts on 127.0.0.1, or fake the client",
    Reason.SIDE_EFFECT: "write only under tmp_path, and stop every process and thread you start",
    Reason.FLAKY: "remove the dependence on timing, randomness, ordering or leftover state",
    Reason.ORDER_DEPENDENT: "give each test its own setup (fixtures) instead of sharing state",
    Reason.NO_ASSERTIONS: "assert on the observable outcome",
    Reason.REDUNDANT: "test behaviour the existing suite does not already cover",
    Reason.MISSES_CHANGE: "exercise the changed lines or the touched seams",
    Reason.GUARDS_ONLY: "assert on what the change makes different, so the test fails on the "
    "base revision (or kills a mutant of the changed lines)",
    Reason.KILLS_NO_MUTANT: "assert on the exact values the changed lines produce, so a mutant "
    "of them (an operator, a constant, a return value) makes the test fail",
}


def verdict_feedback(result: CheckResult) -> str:
    """Per file and per test: verdict, reason, detail, and for rejections what to repair."""
    kept = [f for f in result.files if f.accepted]
    out = [f"Verdict: {len(kept)} of {len(result.files)} file(s) kept."]
    for file in result.files:
        out.append("")
        out.extend(_file_section(file, result.mutants_total))
    if result.mutants_total:
        out.append("")
        out.append(
            f"Mutation on the change: this proposal's tests kill {result.mutants_killed} of "
            f"{result.mutants_total} mutants of the changed lines (mutants are applied in the "
            "test process: code a test runs in a child process is not mutated)."
        )
    out.extend(_guards(result))
    out.extend(_still_open(result))
    out.append("")
    out.append(_next_step(result))
    text = "\n".join(out)
    if len(text) > _TOTAL:
        text = text[: _TOTAL - 40].rstrip() + "\n... (verdict trimmed)\n" + _next_step(result)
    return text


def _file_section(file: FileVerdict, mutants: int) -> list[str]:
    bugs = [t for t in file.tests if t.verdict == "bug"]
    if file.accepted:
        note = f", {len(bugs)} kept as strict xfail documenting a defect" if bugs else ""
        head = f"{file.path}: ACCEPTED, it will be kept as written{note}."
    else:
        rejected = sum(t.verdict == "rejected" for t in file.tests)
        head = (
            f"{file.path}: REJECTED ({rejected} of {len(file.tests)} test(s) rejected); "
            "nothing in this file is kept until every test is accepted or documents a bug."
        )
    lines = [head]
    if file.mutation_score is not None:
        killed = round(file.mutation_score * mutants)
        lines.append(
            f"  its tests kill {killed} of the {mutants} mutants of the changed lines "
            "(evidence of what they pin; not a condition for keeping the file)"
        )
    for test in file.tests:
        lines.extend(
            _test_lines(test, show_details=not file.accepted or test.verdict != "accepted")
        )
    return lines


def _test_lines(test: TestVerdict, *, show_details: bool) -> list[str]:
    name = test.nodeid.split("::", 1)[1] if "::" in test.nodeid else test.nodeid
    if test.verdict == "accepted":
        evidence = _evidence(test)
        return [f"  - {name}: accepted{f' ({evidence})' if evidence else ''}"]
    if test.verdict == "bug":
        lines = [f"  - {name}: bug (fails on an assertion as marked; kept as strict xfail)"]
        if test.base_detail:
            lines.append(f"    on the base: {test.base_detail}")
        return lines
    code = test.reason.value if test.reason else "rejected"
    lines = [f"  - {name}: rejected [{code}] {test.detail}".rstrip()]
    if test.breaks_on_change:
        lines.append(
            f"    on the base: {test.base_detail}. If the change is wrong here, keep the test "
            "with expectation 'bug' and say so; if the new behaviour is intended, fix the test."
        )
    elif test.base_detail:
        lines.append(f"    on the base: {test.base_detail}")
    if test.reason in _REPAIR:
        lines.append(f"    to fix: {_REPAIR[test.reason]}")
    if show_details and test.feedback and test.feedback.strip() not in test.detail:
        lines.extend("    | " + line for line in _trim(test.feedback).splitlines())
    return lines


def _evidence(test: TestVerdict) -> str:
    parts = []
    if test.reruns_total:
        parts.append(f"passed {test.reruns_passed}/{test.reruns_total} reruns")
    if test.lines_added:
        parts.append(f"+{test.lines_added} lines no existing test runs")
    if test.changed_lines_covered:
        parts.append(f"runs {len(test.changed_lines_covered)} changed lines")
    if test.change_mutants is not None:
        parts.append(
            f"kills {test.change_mutants_killed} of the {test.change_mutants} mutants of the change"
        )
    elif test.mutants_killed:
        parts.append(f"kills {len(test.mutants_killed)} mutants")
    if test.detects_change:
        parts.append("fails on the base: detects the change")
    elif test.detects_change is False:
        parts.append("GUARD: " + (test.base_detail or "does not fail on the base"))
    return ", ".join(parts)


def _trim(text: str) -> str:
    text = text.strip()
    if len(text) <= _PER_TEST_FEEDBACK:
        return text
    # The end of a traceback says what went wrong; keep the tail.
    return "..." + text[-_PER_TEST_FEEDBACK:]


def _guards(result: CheckResult) -> list[str]:
    """Kept tests that pass on the base too: they guard, they do not pin the change."""
    tests = [t for f in result.files for t in f.tests if t.verdict == "accepted"]
    measured = [t for t in tests if t.detects_change is not None]
    guards = [t for t in measured if t.detects_change is False]
    if not measured:
        return []
    out = [
        "",
        f"Base run: {len(measured) - len(guards)} of {len(measured)} accepted test(s) fail on "
        "the base revision, so they would have caught this change.",
    ]
    if guards:
        names = ", ".join(t.nodeid.split("::", 1)[-1] for t in guards)
        out.append(
            f"Guards only (pass on the base too): {names}. They keep behaviour the change did "
            "not alter. To pin the change itself, write a test whose assertion fails on the "
            "base: aim at the changed lines and surviving mutants below. If the change is a "
            "refactor, guards are the right tests."
        )
    return out


def _still_open(result: CheckResult) -> list[str]:
    """What every test kept so far still leaves untested: where the next test pays most."""
    sections = [
        ("Changed lines no kept test executes", result.unexecuted_changes),
        (
            "Mutants of the changed lines no kept test kills (line: original -> mutant)",
            result.survivors,
        ),
        ("Changed seams no kept test exercises", result.untested_seams),
    ]
    out: list[str] = []
    killed, seen = result.kept_kill
    if seen:
        out += [
            "",
            f"All tests kept so far kill {killed} of the {seen} mutants of the changed lines.",
        ]
    for title, items in sections:
        if items:
            out += ["", f"{title}:", *(f"  - {item}" for item in items)]
    return out


def _next_step(result: CheckResult) -> str:
    rejected = [f.path for f in result.files if not f.accepted]
    if not rejected:
        return (
            "Next: all files are kept. Call `finish`, or propose tests for behaviour not yet "
            "covered."
        )
    return (
        "Next: call `propose_tests` again with the whole corrected content of "
        + ", ".join(rejected)
        + " (accepted files are already kept; do not resend them). Drop a test you cannot fix. "
        "If a test fails because the code is wrong, keep it and list it with expectation 'bug' "
        "and a justification."
    )
