"""The existing suite's baseline: which of its tests pass alone, and what lines they cover.

Computed once per test file and cached for the life of a Judge, so repeated proposals in one
session only pay for the new files; across invocations too, through the test-impact index
(`existing_runs`): a test file whose dependencies are unchanged is read back, not run again.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from agent.log import get_logger
from agent.quality.classify import worst
from agent.quality.existing_runs import ExistingRuns
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
        self, sandbox: SandboxPort, trace: list[str], *, runs: ExistingRuns | None = None
    ) -> None:
        self._trace = trace
        self.runs = runs or ExistingRuns(sandbox, None)
        self._files: dict[str, FileBaseline] = {}
        self.seconds = 0.0  # time spent on the last `of` call that ran anything

    def of(self, paths: list[str]) -> dict[str, FileBaseline]:
        """Baselines of these existing test files, running only the ones not seen before."""
        self.seconds = 0.0
        missing = [p for p in paths if p not in self._files]
        if missing:
            result = self.runs.run(missing, self._trace)
            self.seconds = self.runs.seconds
            self._files.update(_from_run(result, missing))
            log.info("baseline computed", files=len(missing), seconds=round(self.seconds, 2))
        return {p: self._files[p] for p in paths}


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


def covered_lines(baselines: list[FileBaseline]) -> dict[str, set[int]]:
    """Union of the lines the passing existing tests execute, per traced file."""
    union: dict[str, set[int]] = {}
    for entry in baselines:
        for nodeid in entry.passed:
            for path, lines in entry.lines.get(nodeid, {}).items():
                union.setdefault(path, set()).update(lines)
    return union
