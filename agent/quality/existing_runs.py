"""Runs of the project's existing test files: read back from the test-impact index while nothing
they depend on changed, run in the sandbox otherwise, and then recorded (`agent/index`).

A recorded run traces every source file of the project, so it answers any later question about
lines; what a caller gets back is narrowed to the files it asked to trace, as if only those had
been traced. The judge's baselines and `review` both start from here.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from agent.index import (
    FileRecord,
    ImpactIndex,
    TestRecord,
    file_deps,
    functions_of,
    open_index,
)
from agent.log import get_logger
from agent.quality.classify import worst
from agent.quality.sandbox_port import SandboxPort
from agent.schema import CollectError, RunResult, TestOutcome
from agent.source.imports import import_closure

log = get_logger(__name__)

_PASSED = ("passed", "xpassed")


def index_for(sandbox: SandboxPort, repo: Path) -> ImpactIndex | None:
    """The index a sandbox's runs read and fill."""
    return open_index(repo, sandbox.workspace)


class ExistingRuns:
    def __init__(
        self,
        sandbox: SandboxPort,
        index: ImpactIndex | None,
        sources: list[str] | None = None,
        *,
        record: bool = False,
    ) -> None:
        self.sandbox = sandbox
        self.index = index
        self.sources = sorted(set(sources or []))
        self.environment = str(getattr(sandbox, "python", ""))
        # Tracing every source file (an entry that answers any question) is cheap with
        # sys.monitoring (3.12+) and with the records compiled into traced files before that
        # (sandbox/inside/itarch_lines.py); with `sys.settrace` forced it is dear, so then it is
        # done only when asked (`itarch index`) or once the user built an index, and otherwise
        # runs are kept for what they traced.
        cheap = os.environ.get("ITARCH_LINE_TRACER", "") != "settrace"
        self.records = index is not None and (record or cheap or index.has_entries())
        self.reused = 0  # test files read back from the index, all calls
        self.seconds = 0.0  # the sandbox time of the last call

    def run(self, files: list[str], trace: list[str]) -> RunResult:
        """Every test of `files` once, in file order, with the lines of `trace` recorded."""
        if self.index is None:
            result = self.sandbox.run({}, select=files, trace=trace or None)
            self.seconds = result.duration
            return result
        known: dict[str, FileRecord] = {}
        for path in files:
            if (record := self.index.load(path, self.environment, set(trace))) is not None:
                known[path] = record
        self.reused += len(known)
        fresh = [p for p in files if p not in known]
        live: RunResult | None = None
        self.seconds = 0.0
        if fresh:
            traced = sorted({*self.sources, *trace}) if self.records else trace
            live = self.sandbox.run({}, select=fresh, trace=traced or None)
            self.seconds = live.duration
            # A run cut short (crash, wall clock) says nothing reliable about the files. Where
            # tracing everything is dear, the run is kept for what it traced: the next check of
            # the same change reads it back.
            if not (live.crashed or live.timed_out):
                self._record(live, fresh, None if self.records else traced)
        if known:
            log.info("existing tests read from the index", files=len(known), ran=len(fresh))
        return _narrowed(_merged(files, known, live), set(trace))

    def _record(self, result: RunResult, files: list[str], traced: list[str] | None) -> None:
        assert self.index is not None
        root = self.sandbox.workspace
        errors = {e.path: e for e in result.collect_errors}
        tests: dict[str, list[TestRecord]] = {path: [] for path in files}
        for nodeid, records in result.by_nodeid().items():
            path = nodeid.split("::", 1)[0]
            if path not in tests:
                continue
            first = [r for r in records if r.run == 0] or records
            lines: dict[str, set[int]] = {}
            for r in first:
                for f, hit in r.lines.items():
                    lines.setdefault(f, set()).update(hit)
            decisive = worst(first)
            tests[path].append(
                TestRecord(
                    nodeid=nodeid,
                    passed=decisive.outcome in _PASSED,
                    duration=decisive.duration,
                    lines=lines,
                    records=[r.model_dump(mode="json", exclude={"lines"}) for r in first],
                )
            )
        for path in files:
            executed = {f for t in tests[path] for f in t.lines}
            deps = file_deps(root, path, executed | import_closure(root, path), self.index.hash)
            for t in tests[path]:
                t.functions = {
                    f: functions_of(root, f, deps.get(f, ""), ls) for f, ls in t.lines.items()
                }
            error = errors.get(path)
            self.index.record(
                FileRecord(
                    path=path,
                    collects=error is None,
                    deps=deps,
                    tests=tests[path],
                    changed_paths=list(result.changed_paths),
                    leftover_processes=result.leftover_processes,
                    collect_error=error.model_dump(mode="json") if error else None,
                ),
                self.environment,
                traced,
            )


def _merged(files: list[str], known: dict[str, FileRecord], live: RunResult | None) -> RunResult:
    """One run's result, in file order, from recorded files and the live run of the rest."""
    outcomes: list[TestOutcome] = []
    errors: list[CollectError] = []
    changed: set[str] = set(live.changed_paths) if live else set()
    leftover = live.leftover_processes if live else 0
    live_by_file: dict[str, list[TestOutcome]] = {}
    for o in live.outcomes if live else []:
        live_by_file.setdefault(o.nodeid.split("::", 1)[0], []).append(o)
    for path in files:
        record = known.get(path)
        if record is None:
            outcomes += live_by_file.get(path, [])
            continue
        outcomes += [o for t in record.tests for o in _outcomes(t)]
        if record.collect_error:
            errors.append(CollectError.model_validate(record.collect_error))
        changed.update(record.changed_paths)
        leftover = max(leftover, record.leftover_processes)
    if live:
        errors += live.collect_errors
    base: dict[str, Any] = live.model_dump(exclude={"outcomes", "collect_errors"}) if live else {}
    return RunResult.model_validate(
        {
            **base,
            "outcomes": [],
            "collect_errors": [],
            "collected": list(dict.fromkeys(o.nodeid for o in outcomes)),
            "changed_paths": sorted(changed),
            "leftover_processes": leftover,
            "exit_code": base.get("exit_code", 0),
        }
    ).model_copy(update={"outcomes": outcomes, "collect_errors": errors})


def _outcomes(test: TestRecord) -> list[TestOutcome]:
    lines = {f: sorted(ls) for f, ls in test.lines.items()}
    return [TestOutcome.model_validate({**r, "lines": lines}) for r in test.records]


def _narrowed(result: RunResult, keep: set[str]) -> RunResult:
    """Only the lines of the files asked for, as if only those had been traced."""
    for o in result.outcomes:
        if set(o.lines) - keep:
            o.lines = {f: ls for f, ls in o.lines.items() if f in keep}
    return result
