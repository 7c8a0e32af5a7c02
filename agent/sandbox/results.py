"""Turn the plugin's signed JSON lines into a RunResult (never pytest's console output).

Every line must carry a valid HMAC under the run's key, and each writing process's lines must
be numbered without a gap or repeat, starting from the bootstrap's "hello". Anything else (a
forged or altered line, a truncated stream, a tamper report from inside, an exit status the
results contradict) makes the whole run untrusted: every outcome becomes an error.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from agent.log import get_logger
from agent.schema import CollectError, IsolationLevel, RunResult, TestOutcome

log = get_logger(__name__)

MAX_RESULTS_BYTES = 64 * 1024 * 1024  # far beyond what an honest run writes
MAX_LINE_BYTES = 4 * 1024 * 1024
TAMPERING = "ResultTampering"
_HANG_TAIL = 6000
_TESTS_FAILED = 1  # pytest's exit codes
_INTERNAL_ERROR = 3
_USAGE_ERROR = 4


@dataclass
class Events:
    collected: list[str] = field(default_factory=list)
    collect_errors: list[CollectError] = field(default_factory=list)
    outcomes: list[TestOutcome] = field(default_factory=list)
    running: tuple[str, int] | None = None  # started but never reported
    finished: bool = False  # pytest reached sessionfinish
    exit_code: int | None = None
    leftover: int = 0
    tampered: list[str] = field(default_factory=list)  # why these results cannot be trusted

    def distrust(self, why: str) -> None:
        if why not in self.tampered:
            self.tampered.append(why)


def read_events(data: bytes, key: bytes) -> Events:
    """The verified events of one run's results stream (see the module docstring)."""
    events = Events()
    if len(data) > MAX_RESULTS_BYTES:
        events.distrust("the results stream is larger than any honest run writes")
        data = data[:MAX_RESULTS_BYTES]
    lines = data.split(b"\n")
    # The last piece has no newline: empty, or a line cut off mid-write by a kill.
    signer = hmac.new(key, digestmod=hashlib.sha256)
    last: dict[int, int] = {}
    first_pid: int | None = None
    for raw in lines[:-1]:
        if len(raw) > MAX_LINE_BYTES:
            events.distrust("an oversized line in the results stream")
            continue
        mac, _, payload = raw.partition(b" ")
        expected = signer.copy()
        expected.update(payload)
        if not hmac.compare_digest(expected.hexdigest().encode("ascii"), mac):
            events.distrust("a result line that the sandbox's plugin did not write")
            continue
        try:
            line = json.loads(payload)
            pid, seq = int(line.pop("pid")), int(line.pop("seq"))
        except (ValueError, KeyError, TypeError, AttributeError):
            events.distrust("a signed result line without its process and sequence number")
            continue
        previous = last.get(pid)
        if first_pid is None:
            first_pid = pid
            if seq != 0 or line.get("event") != "hello":
                events.distrust("the results stream does not start at its beginning")
        elif previous is not None and seq != previous + 1:
            events.distrust("result lines are missing or repeated")
        last[pid] = seq
        if line.get("event") in ("end", "hello") and pid != first_pid:
            events.distrust("a final result line from a process that is not the bootstrap")
        _apply(events, line)
    return events


def _apply(events: Events, data: dict[str, Any]) -> None:
    kind = data.pop("event", None)
    try:
        if kind == "collected":
            for nodeid in data.get("nodeids", []):
                if nodeid not in events.collected:
                    events.collected.append(str(nodeid))
        elif kind == "collect_error":
            events.collect_errors.append(CollectError.model_validate(data))
        elif kind == "start":
            events.running = (str(data["nodeid"]), int(data.get("run", 0)))
        elif kind == "outcome":
            events.outcomes.append(TestOutcome.model_validate(data))
            events.running = None
        elif kind == "sessionfinish":
            events.finished = True
        elif kind == "end":
            events.exit_code = int(data.get("exit_code", 0))
            events.leftover = int(data.get("leftover", 0))
        elif kind == "tamper":
            events.distrust(str(data.get("detail", "the plugin reported tampering")))
    except (ValidationError, KeyError, TypeError, ValueError) as exc:
        log.debug("unreadable result line", kind=kind, error=str(exc))


def _signal_name(code: int) -> str:
    import signal

    try:
        return signal.Signals(-code).name
    except ValueError:
        return f"signal {-code}"


def build_result(
    events: Events,
    *,
    isolation: IsolationLevel,
    returncode: int | None,
    timed_out: bool,
    run_timeout: float,
    duration: float,
    stdout_tail: str,
    stderr_tail: str,
    hang_report: str,
    changed_paths: list[str],
    tampered: list[str] | None = None,
) -> RunResult:
    for why in tampered or []:
        events.distrust(why)
    outcomes = list(events.outcomes)
    crashed = ""
    if events.running is not None:
        nodeid, run = events.running
        if timed_out:
            message = f"the run's {run_timeout:g}s wall clock ran out during this test"
        elif hang_report:
            message = "test hung in code that ignores signals; the watchdog ended the run"
        else:
            message = f"the test process died during this test ({_describe(returncode)})"
            crashed = f"pytest died while running {nodeid} ({_describe(returncode)})"
        outcomes.append(
            TestOutcome(
                nodeid=nodeid,
                outcome="failed",
                exc_type=None,
                message=message,
                longrepr=hang_report[-_HANG_TAIL:],
                timed_out=timed_out or bool(hang_report),
                run=run,
            )
        )
    elif not events.finished and not timed_out:
        last = _last_line(stderr_tail) or _last_line(stdout_tail) or _describe(returncode)
        crashed = f"pytest did not finish: {last}"
        if events.outcomes:
            # Died with no test running, right after a result: what a test that wrote its own
            # result and left would look like. Honest crashes happen inside a test.
            events.distrust("the test process ended between two tests without finishing")
    outcomes += _siblings_of_hung(outcomes, events.collected)
    exit_code = events.exit_code if events.exit_code is not None else returncode
    if not crashed and exit_code in (_INTERNAL_ERROR, _USAGE_ERROR) and not timed_out:
        last = _last_line(stderr_tail) or _last_line(stdout_tail)
        crashed = f"pytest could not run (exit code {exit_code}): {last}"
    _cross_check(events, outcomes, returncode=returncode, timed_out=timed_out)
    if events.tampered:
        why = "; ".join(events.tampered[:3])
        crashed = f"the results of this run cannot be trusted: {why}"
        outcomes = _distrusted(outcomes, events.collected, crashed)
    return RunResult(
        outcomes=outcomes,
        collect_errors=events.collect_errors,
        collected=events.collected,
        exit_code=exit_code,
        timed_out=timed_out,
        crashed=crashed,
        isolation=isolation,
        duration=duration,
        stdout_tail=stdout_tail,
        stderr_tail=stderr_tail,
        changed_paths=changed_paths,
        leftover_processes=events.leftover,
    )


def family_of(nodeid: str) -> str:
    """The test function a node id belongs to: the id without its parameters (`[...]`).

    The same rule as the plugin's (agent/sandbox/inside/itarch_pytest.py).
    """
    path, sep, rest = nodeid.partition("::")
    return path + sep + rest.split("[", 1)[0]


def _siblings_of_hung(outcomes: list[TestOutcome], collected: list[str]) -> list[TestOutcome]:
    """Timeouts for the cases a run never reached of a test function that timed out in it.

    Inside a run the plugin gives such cases the timeout at once; when the hang ended the whole
    process (the watchdog, the wall clock), they never ran at all. Recording them here means
    no caller runs them again for another full timeout each.
    """
    hung: dict[str, str] = {}
    for outcome in outcomes:
        if outcome.timed_out:
            hung.setdefault(family_of(outcome.nodeid), outcome.nodeid)
    seen = {o.nodeid for o in outcomes}
    added = []
    for nodeid in collected:
        first = hung.get(family_of(nodeid))
        if first is None or nodeid in seen:
            continue
        added.append(
            TestOutcome(
                nodeid=nodeid,
                outcome="failed",
                when="setup",
                exc_type="TestTimeout",
                message=(
                    f"a sibling case timed out ({first.partition('::')[2]}), "
                    "so this case was not run"
                ),
                timed_out=True,
            )
        )
    return added


def _cross_check(
    events: Events, outcomes: list[TestOutcome], *, returncode: int | None, timed_out: bool
) -> None:
    """What pytest and the process say must agree with the results (they come from elsewhere)."""
    if events.exit_code is None or timed_out:
        return
    failed = any(o.outcome in ("failed", "error") for o in outcomes) or events.collect_errors
    if events.exit_code == _TESTS_FAILED and not failed:
        events.distrust("pytest counted a failure that no result shows")
    if returncode is not None and returncode != events.exit_code:
        events.distrust(
            f"the run exited with status {returncode}, its results say {events.exit_code}"
        )


def _distrusted(outcomes: list[TestOutcome], collected: list[str], why: str) -> list[TestOutcome]:
    """Every test of an untrusted run, as an error that says so (never a pass)."""
    update = {"outcome": "error", "exc_type": TAMPERING, "message": why, "assertion": False}
    # not even a hang: a forged hang report is as untrusted as a forged pass
    marked = [
        o.model_copy(update={**update, "xfail_strict": False, "timed_out": False}) for o in outcomes
    ]
    seen = {o.nodeid for o in outcomes}
    marked += [
        TestOutcome(nodeid=n, outcome="error", exc_type=TAMPERING, message=why)
        for n in collected
        if n not in seen
    ]
    return marked


def _describe(returncode: int | None) -> str:
    if returncode is None:
        return "no exit code"
    if returncode < 0:
        return f"killed by {_signal_name(returncode)}"
    return f"exit code {returncode}"


def _last_line(text: str) -> str:
    for line in reversed(text.strip().splitlines()):
        if line.strip():
            return line.strip()[:300]
    return ""
