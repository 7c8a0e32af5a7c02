"""The existing suite's baseline: which of its tests pass alone, and what lines they cover.

Computed once per test file and cached for the life of a Judge, so repeated proposals in one
session only pay for the new files; with the test-impact index (`agent/index`), across
invocations too: a test file whose dependencies are unchanged is read back, not run again.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from agent.context.imports import import_closure
from agent.index import FileRecord, ImpactIndex, TestRecord, file_deps, functions_of
from agent.log import get_logger
from agent.quality.classify import worst
from agent.quality.sandbox_port import SandboxPort
from agent.schema import RunResult

log = get_logger(__name__)


@dataclass
class FileBaseline:
    path: str
    collects: bool = True
    passed: set[str] = field(default_factory=set)  # node ids that passed
    lines: dict[str, dict[str, set[int]]] = field(default_factory=dict)  # nodeid -> file -> lines
    durations: dict[str, float] = field(default_factory=dict)
    changed_paths: set[str] = field(default_factory=set)  # what its run wrote (shared per run)
    leftover_processes: int = 0


class Baseline:
    def __init__(
        self,
        sandbox: SandboxPort,
        trace: list[str],
        *,
        index: ImpactIndex | None = None,
        sources: list[str] | None = None,
    ) -> None:
        self._sandbox = sandbox
        self._trace = trace
        self._index = index
        # With an index, runs trace every source file so the entry serves any later question.
        self._record_trace = sorted({*(sources or []), *trace}) if index is not None else trace
        self._environment = str(getattr(sandbox, "python", ""))
        self._files: dict[str, FileBaseline] = {}
        self.seconds = 0.0  # time spent on the last `of` call that ran anything
        self.reused = 0  # test files read back from the index, all calls

    def of(self, paths: list[str]) -> dict[str, FileBaseline]:
        """Baselines of these existing test files, running only the ones not seen before."""
        self.seconds = 0.0
        missing = [p for p in paths if p not in self._files]
        if missing and self._index is not None:
            for path in missing:
                record = self._index.load(path, self._environment)
                if record is not None:
                    self._files[path] = self._narrowed(_from_record(record))
                    self.reused += 1
            missing = [p for p in missing if p not in self._files]
        if missing:
            result = self._sandbox.run({}, select=missing, trace=self._record_trace or None)
            self.seconds = result.duration
            entries = _from_run(result, missing)
            # A run cut short (crash, wall clock) says nothing reliable about the files.
            if self._index is not None and not (result.crashed or result.timed_out):
                self._remember(entries)
            for path, entry in entries.items():
                self._files[path] = self._narrowed(entry)
            log.info("baseline computed", files=len(missing), seconds=round(result.duration, 2))
        return {p: self._files[p] for p in paths}

    def _narrowed(self, entry: FileBaseline) -> FileBaseline:
        """Only the lines of the files this judge traces, as if only those had been traced."""
        keep = set(self._trace)
        entry.lines = {
            nodeid: {f: ls for f, ls in files.items() if f in keep}
            for nodeid, files in entry.lines.items()
        }
        return entry

    def _remember(self, entries: dict[str, FileBaseline]) -> None:
        assert self._index is not None
        root = self._sandbox.workspace
        hasher = self._index.hash
        for entry in entries.values():
            executed = {f for files in entry.lines.values() for f in files}
            deps = file_deps(root, entry.path, executed | import_closure(root, entry.path), hasher)
            tests = [
                TestRecord(
                    nodeid=nodeid,
                    passed=nodeid in entry.passed,
                    duration=entry.durations.get(nodeid, 0.0),
                    lines=files,
                    functions={
                        f: functions_of(root, f, deps.get(f, ""), ls) for f, ls in files.items()
                    },
                )
                for nodeid, files in entry.lines.items()
            ]
            record = FileRecord(
                path=entry.path,
                collects=entry.collects,
                deps=deps,
                tests=tests,
                changed_paths=sorted(entry.changed_paths),
                leftover_processes=entry.leftover_processes,
            )
            self._index.record(record, self._environment)


def _from_run(result: RunResult, paths: list[str]) -> dict[str, FileBaseline]:
    broken = {e.path for e in result.collect_errors}
    entries = {
        path: FileBaseline(
            path=path,
            collects=path not in broken,
            changed_paths=set(result.changed_paths),
            leftover_processes=result.leftover_processes,
        )
        for path in paths
    }
    for nodeid, records in result.by_nodeid().items():
        entry = entries.get(nodeid.split("::", 1)[0])
        if entry is None:
            continue
        first = worst([r for r in records if r.run == 0] or records)
        if first.outcome in ("passed", "xpassed"):
            entry.passed.add(nodeid)
        entry.lines[nodeid] = {f: set(ls) for f, ls in first.lines.items()}
        entry.durations[nodeid] = first.duration
    return entries


def _from_record(record: FileRecord) -> FileBaseline:
    return FileBaseline(
        path=record.path,
        collects=record.collects,
        passed={t.nodeid for t in record.tests if t.passed},
        lines={t.nodeid: dict(t.lines) for t in record.tests},
        durations={t.nodeid: t.duration for t in record.tests},
        changed_paths=set(record.changed_paths),
        leftover_processes=record.leftover_processes,
    )


def covered_lines(baselines: list[FileBaseline]) -> dict[str, set[int]]:
    """Union of the lines the passing existing tests execute, per traced file."""
    union: dict[str, set[int]] = {}
    for entry in baselines:
        for nodeid in entry.passed:
            for path, lines in entry.lines.get(nodeid, {}).items():
                union.setdefault(path, set()).update(lines)
    return union
