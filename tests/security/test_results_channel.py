"""The results channel, without a sandbox: what the harness accepts as a run's results.

Lines are built the way the plugin builds them (`_Channel.emit` on a real file descriptor), so
these tests pin the format both sides rely on; forged, altered, missing, repeated and
contradicting lines must each make the run untrusted: every outcome an error, never a pass.
"""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest

from agent.sandbox.inside import itarch_pytest
from agent.sandbox.results import TAMPERING, build_result, read_events
from agent.schema import IsolationLevel, RunResult

NODE = "tests/test_x.py::test_x"
PASSED = {
    "nodeid": NODE,
    "outcome": "passed",
    "when": "call",
    "duration": 0.01,
    "exc_type": None,
    "message": "",
    "longrepr": "",
    "assertion": False,
    "network": [],
    "lines": {},
    "xfail_strict": False,
    "xfail_reason": "",
    "timed_out": False,
    "run": 0,
}


class Stream:
    """A channel writing into a real file, like a run's; `data()` is what the harness reads."""

    def __init__(self, path: Path) -> None:
        self.key = secrets.token_bytes(32)
        self.fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o600)
        self.channel = itarch_pytest._Channel(self.fd, self.key)

    def emit(self, event: str, **data: object) -> None:
        self.channel.emit(event, **data)

    def honest_run(self, outcome: str = "passed", exit_code: int = 0) -> None:
        self.emit("hello")
        self.emit("collected", nodeids=[NODE])
        self.emit("start", nodeid=NODE, run=0)
        self.emit("outcome", **{**PASSED, "outcome": outcome})
        self.emit("sessionfinish", exitstatus=exit_code)
        self.emit("end", exit_code=exit_code, leftover=0)

    def data(self) -> bytes:
        return os.pread(self.fd, 1 << 20, 0)

    def append(self, raw: bytes) -> None:
        os.write(self.fd, raw)


@pytest.fixture
def stream(tmp_path: Path) -> Iterator[Stream]:
    made = Stream(tmp_path / "results")
    yield made
    os.close(made.fd)


def result_of(stream: Stream, data: bytes | None = None, returncode: int = 0) -> RunResult:
    return build_result(
        read_events(stream.data() if data is None else data, stream.key),
        isolation=IsolationLevel.BWRAP,
        returncode=returncode,
        timed_out=False,
        run_timeout=60,
        duration=1.0,
        stdout_tail="",
        stderr_tail="",
        hang_report="",
        changed_paths=[],
    )


def assert_untrusted(result: RunResult, why: str) -> None:
    assert result.outcomes, "an untrusted run still reports every test"
    assert {o.outcome for o in result.outcomes} == {"error"}
    assert {o.exc_type for o in result.outcomes} == {TAMPERING}
    assert why in result.crashed


def test_an_honest_run_is_read_as_written(stream: Stream) -> None:
    stream.honest_run()
    result = result_of(stream)
    assert [(o.nodeid, o.outcome) for o in result.outcomes] == [(NODE, "passed")]
    assert (result.crashed, result.exit_code) == ("", 0)


def test_every_line_is_signed_and_numbered(stream: Stream) -> None:
    stream.honest_run()
    lines = stream.data().splitlines()
    mac, _, payload = lines[0].partition(b" ")
    assert len(mac) == 64
    assert json.loads(payload)["event"] == "hello"
    assert [json.loads(line.partition(b" ")[2])["seq"] for line in lines] == list(range(6))


def test_unsigned_lines_make_the_run_untrusted(stream: Stream) -> None:
    stream.honest_run(outcome="failed", exit_code=1)
    forged = {**PASSED, "event": "outcome", "pid": os.getpid(), "seq": 99}
    stream.append(b"0" * 64 + b" " + json.dumps(forged).encode() + b"\n")
    assert_untrusted(result_of(stream, returncode=1), "did not write")


def test_a_signed_line_with_changed_content_is_rejected(stream: Stream) -> None:
    stream.honest_run(outcome="failed", exit_code=1)
    data = stream.data().replace(b'"outcome": "failed"', b'"outcome": "passed"')
    assert_untrusted(result_of(stream, data, returncode=1), "did not write")


def test_a_dropped_line_is_noticed(stream: Stream) -> None:
    stream.honest_run(outcome="failed", exit_code=1)
    lines = stream.data().splitlines(keepends=True)
    without_failure = b"".join(line for line in lines if b'"outcome": "failed"' not in line)
    assert_untrusted(result_of(stream, without_failure, returncode=1), "missing or repeated")


def test_a_truncated_start_is_noticed(stream: Stream) -> None:
    stream.honest_run()
    lines = stream.data().splitlines(keepends=True)
    assert_untrusted(result_of(stream, b"".join(lines[2:])), "does not start")


def test_a_replayed_line_is_noticed(stream: Stream) -> None:
    stream.honest_run()
    lines = stream.data().splitlines(keepends=True)
    replayed = b"".join([*lines[:4], lines[3], *lines[4:]])
    assert_untrusted(result_of(stream, replayed), "missing or repeated")


def test_a_tamper_report_from_inside_makes_the_run_untrusted(stream: Stream) -> None:
    stream.emit("hello")
    stream.emit("collected", nodeids=[NODE])
    stream.emit("start", nodeid=NODE, run=0)
    stream.emit("outcome", **PASSED)
    stream.emit("tamper", detail="tests/conftest.py implements pytest_runtest_makereport")
    stream.emit("sessionfinish", exitstatus=0)
    stream.emit("end", exit_code=0, leftover=0)
    assert_untrusted(result_of(stream), "pytest_runtest_makereport")


def test_pytest_counting_a_failure_nobody_reported_is_tampering(stream: Stream) -> None:
    stream.honest_run(outcome="passed", exit_code=1)
    assert_untrusted(result_of(stream, returncode=1), "no result shows")


def test_an_exit_status_that_contradicts_the_results_is_tampering(stream: Stream) -> None:
    stream.honest_run()
    assert_untrusted(result_of(stream, returncode=1), "exited with status 1")


def test_leaving_right_after_a_result_is_tampering(stream: Stream) -> None:
    stream.emit("hello")
    stream.emit("collected", nodeids=[NODE])
    stream.emit("start", nodeid=NODE, run=0)
    stream.emit("outcome", **PASSED)
    assert_untrusted(result_of(stream), "between two tests")


def test_an_honest_crash_during_a_test_stays_a_failure_of_that_test(stream: Stream) -> None:
    stream.emit("hello")
    stream.emit("collected", nodeids=[NODE])
    stream.emit("start", nodeid=NODE, run=0)
    result = result_of(stream, returncode=-11)
    assert [(o.outcome, o.exc_type) for o in result.outcomes] == [("failed", None)]
    assert "SIGSEGV" in result.crashed


def test_a_forked_process_numbers_its_own_lines(stream: Stream) -> None:
    stream.emit("hello")
    stream.emit("collected", nodeids=[NODE])
    pid = os.fork()
    if pid == 0:  # the mutation driver's children report like this
        stream.emit("start", nodeid=NODE, run=1)
        stream.emit("outcome", **{**PASSED, "outcome": "failed", "run": 1})
        os._exit(0)
    os.waitpid(pid, 0)
    stream.emit("sessionfinish", exitstatus=0)
    stream.emit("end", exit_code=0, leftover=0)
    result = result_of(stream)
    assert result.crashed == ""
    assert [(o.outcome, o.run) for o in result.outcomes] == [("failed", 1)]


def test_a_final_line_from_another_process_is_tampering(stream: Stream) -> None:
    stream.emit("hello")
    pid = os.fork()
    if pid == 0:
        stream.emit("end", exit_code=0, leftover=0)
        os._exit(0)
    os.waitpid(pid, 0)
    assert "not the bootstrap" in result_of(stream).crashed
