"""Reading pytest outcomes as gate failures: which reason, a one-line detail, and feedback."""

from __future__ import annotations

import re
from dataclasses import dataclass

from agent.schema import CollectError, Reason, TestOutcome

_FEEDBACK_LIMIT = 1_500
_FIXTURE_MISSING = re.compile(r"fixture '([^']+)' not found")
_NO_MODULE = re.compile(r"No module named '([^']+)'")
_NO_NAME = re.compile(r"cannot import name '([^']+)' from '([^']+)'")
_IMPORT_ERRORS = {"ModuleNotFoundError", "ImportError"}


@dataclass(frozen=True)
class Failure:
    reason: Reason
    detail: str
    feedback: str = ""


_SANDBOX_PREFIX = re.compile(r"/\S*?itarch-sandbox-[^/\s]+/ws/[^/\s]+/")
_OUTSIDE_FRAME = re.compile(r"^/\S+:\d+: in ")  # a frame in the standard library or site-packages
_NOISE = ("_____", "Hint: make sure your test modules", "Traceback:")


def trim_tail(text: str, limit: int = _FEEDBACK_LIMIT) -> str:
    """The end of a traceback says what went wrong: keep the tail, in repo-relative paths,
    without frames from outside the repository or pytest's boilerplate."""
    kept: list[str] = []
    skipping = False
    for line in _SANDBOX_PREFIX.sub("", text.strip()).splitlines():
        if _OUTSIDE_FRAME.match(line):
            skipping = True
            continue
        if skipping and line.startswith((" ", "\t")):
            continue
        skipping = False
        if line.startswith(_NOISE):
            continue
        if "available fixtures:" in line and len(line) > 300:
            line = line[:297] + "..."
        kept.append(line)
    text = "\n".join(kept).strip()
    return text if len(text) <= limit else "..." + text[-limit:]


def one_line(text: str, limit: int = 220) -> str:
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 3] + "..."


def collect_failure(error: CollectError) -> Failure:
    """A file that does not collect: an import failure (naming what is missing) or otherwise."""
    message = error.message or next(iter(reversed(error.longrepr.strip().splitlines())), "")
    feedback = trim_tail(error.longrepr or message)
    if error.exc_type in _IMPORT_ERRORS or _NO_MODULE.search(message) or _NO_NAME.search(message):
        if match := _NO_NAME.search(message):
            detail = f"cannot import {match.group(1)!r} from {match.group(2)!r}: no such name"
        elif match := _NO_MODULE.search(message):
            detail = f"cannot import module {match.group(1)!r}: it does not exist here"
        else:
            detail = f"import failed: {one_line(message)}"
        return Failure(Reason.IMPORT, detail, feedback)
    kind = f"{error.exc_type}: " if error.exc_type else ""
    return Failure(Reason.COLLECTION, f"collection failed: {kind}{one_line(message)}", feedback)


def missing_fixture(outcome: TestOutcome) -> str | None:
    text = f"{outcome.message}\n{outcome.longrepr}"
    match = _FIXTURE_MISSING.search(text)
    return match.group(1) if match else None


def run_failure(
    outcome: TestOutcome, *, expected_bug: bool, declared_raises: bool = False
) -> Failure | None:
    """Why one execution of a test is not acceptable, or None when it is.

    `expected_bug`: the test is a strict xfail documenting a defect, so the acceptable result is
    an assertion failure (`xfailed`), and passing is the failure. `declared_raises`: its xfail
    mark names the exception the defect raises (`raises=...`), which pytest has checked.
    """
    feedback = trim_tail(outcome.longrepr or outcome.message)
    if outcome.timed_out:
        return Failure(Reason.TIMEOUT, f"hangs: {one_line(outcome.message)}", feedback)
    if outcome.network:
        targets = ", ".join(outcome.network[:3])
        return Failure(
            Reason.NETWORK,
            f"tries to reach {targets} (only loopback is allowed)",
            feedback,
        )
    if fixture := missing_fixture(outcome):
        return Failure(
            Reason.COLLECTION, f"asks for fixture {fixture!r}, which does not exist", feedback
        )
    if expected_bug:
        if declared_raises and outcome.outcome == "xfailed":
            return None
        return _bug_failure(outcome, feedback)
    if outcome.outcome in ("passed", "xpassed", "skipped", "xfailed"):
        return None
    what = _exception(outcome)
    if outcome.assertion:
        return Failure(Reason.FAILS, f"fails on the current code: {what}", feedback)
    where = {"setup": " in setup", "teardown": " in teardown"}.get(outcome.when, "")
    return Failure(Reason.ERROR, one_line(f"raises {what}{where}"), feedback)


def _bug_failure(outcome: TestOutcome, feedback: str) -> Failure | None:
    if outcome.outcome == "xfailed" and outcome.assertion:
        return None
    if outcome.outcome in ("passed", "xpassed") or (
        outcome.outcome == "failed" and outcome.exc_type is None and "XPASS" in outcome.message
    ):
        return Failure(
            Reason.FAILS,
            "marked as exposing a defect, but it passes on the current code",
            "A bug test must fail on an assertion today. If the behaviour is correct, expect "
            "'pass'; otherwise assert the correct behaviour so the test fails.",
        )
    if outcome.outcome == "skipped":
        return Failure(Reason.NO_TESTS, "marked as exposing a defect, but it was skipped", feedback)
    return Failure(
        Reason.FAILS,
        one_line(
            f"marked as exposing a defect, but it fails on {_exception(outcome)} rather than "
            "an assertion"
        ),
        feedback,
    )


def _exception(outcome: TestOutcome) -> str:
    message = one_line(outcome.message, 160)
    if outcome.exc_type and outcome.exc_type != "AssertionError":
        return f"{outcome.exc_type}: {message}" if message else outcome.exc_type
    return message or outcome.exc_type or "an unknown failure"


def worst(outcomes: list[TestOutcome]) -> TestOutcome:
    """Of several records for one execution (setup/call/teardown), the one that decides."""
    rank = {"error": 0, "failed": 1, "xpassed": 2, "xfailed": 3, "skipped": 4, "passed": 5}
    return min(outcomes, key=lambda o: (not o.timed_out, not o.network, rank.get(o.outcome, 9)))
