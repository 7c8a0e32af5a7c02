"""`itarch index`: run the whole existing suite once in the sandbox and record it in the
test-impact index; test files whose entries are still valid are not run again."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import PurePosixPath

from pydantic import BaseModel

from agent.index import ImpactIndex
from agent.quality.baseline import Baseline
from agent.quality.existing_runs import ExistingRuns
from agent.quality.sandbox_port import SandboxPort
from agent.source.files import discover_python_files

CHUNK = 12  # test files per pytest start: progress stays visible, starts stay few


class IndexSummary(BaseModel):
    path: str
    test_files: int
    ran: int  # test files run now
    reused: int  # test files whose entries were still valid
    tests: int
    passed: int
    not_collected: list[str]
    seconds: float


def is_test_module(rel: str) -> bool:
    name = PurePosixPath(rel).name
    return name.startswith("test_") or name.endswith("_test.py")


def build_index(
    sandbox: SandboxPort,
    index: ImpactIndex,
    *,
    path: str,
    on_progress: Callable[[str], None] = lambda _: None,
) -> IndexSummary:
    started = time.monotonic()
    sources, tests = discover_python_files(sandbox.workspace)
    files = [t for t in tests if is_test_module(t)]
    runs = ExistingRuns(sandbox, index, sources, record=True)
    baseline = Baseline(sandbox, [], runs=runs)
    results = {}
    for start in range(0, len(files), CHUNK):
        chunk = files[start : start + CHUNK]
        results.update(baseline.of(chunk))
        on_progress(f"{min(start + CHUNK, len(files))}/{len(files)} test files")
    return IndexSummary(
        path=path,
        test_files=len(files),
        ran=len(files) - runs.reused,
        reused=runs.reused,
        tests=sum(len(b.durations) for b in results.values()),
        passed=sum(len(b.passed) for b in results.values()),
        not_collected=sorted(p for p, b in results.items() if not b.collects),
        seconds=round(time.monotonic() - started, 2),
    )
