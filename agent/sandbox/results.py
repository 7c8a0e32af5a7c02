"""Turn the plugin's JSON lines into a RunResult (nothing here reads pytest's console output)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from agent.log import get_logger
from agent.schema import CollectError, IsolationLevel, RunResult, TestOutcome

log = get_logger(__name__)

MAX_RESULTS_BYTES = 64 * 1024 * 1024  # a test could write into the file; don't read forever
MAX_LINE_BYTES = 4 * 1024 * 1024
_HANG_TAIL = 6000
_INTERNAL_ERROR = 3  # pytest's exit codes
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


def read_events(path: Path) -> Events:
    events = Events()
    if not path.exists():
        return events
    read = 0
    with path.open("rb") as handle:
        for raw in handle:
            read += len(raw)
            if read > MAX_RESULTS_BYTES:
                log.warning("results file too large; the rest is ignored", path=str(path))
                break
            if len(raw) > MAX_LINE_BYTES or not raw.endswith(b"\n"):
                continue  # oversized, or cut off mid-write by a kill
            try:
                data = json.loads(raw)
            except ValueError:
                continue
            if isinstance(data, dict):
                _apply(events, data)
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
) -> RunResult:
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
    exit_code = events.exit_code if events.exit_code is not None else returncode
    if not crashed and exit_code in (_INTERNAL_ERROR, _USAGE_ERROR) and not timed_out:
        last = _last_line(stderr_tail) or _last_line(stdout_tail)
        crashed = f"pytest could not run (exit code {exit_code}): {last}"
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
