"""Mutation on the change: do the tests notice small bugs planted in the changed lines?

Mutants come from `mutator.generate_mutants`. They are run in one sandboxed pytest session by
the in-sandbox `mutation_driver` (agent/sandbox/inside/), copied into the workspace and hooked in
by one line appended to the conftest.py above the tests it runs: collection happens once, each
mutant runs in a forked child that swaps one function's code in memory, children run in
parallel, and no source file is ever rewritten. For each mutant only the tests that execute its
line run.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from agent.log import get_logger
from agent.quality.mutator import Mutant, generate_mutants
from agent.quality.sandbox_port import SandboxPort
from agent.sandbox.isolation import INSIDE_DIR
from agent.source.files import module_name

log = get_logger(__name__)

DRIVER_MODULE = "_itarch_mutation"
PLAN_FILE = "_itarch_mutation_plan.json"
MAX_MUTANTS = 40
_DRIVER_SOURCE = INSIDE_DIR / "mutation_driver.py"
_HOOK_LINE = f"from {DRIVER_MODULE} import pytest_runtestloop  # noqa: E402,F401  itarch mutation\n"


@dataclass
class MutationResult:
    mutants: list[Mutant] = field(default_factory=list)
    attempted: set[str] = field(default_factory=set)  # mutant ids sent to the sandbox
    applied: set[str] = field(default_factory=set)  # ... and that ran against tests there
    killed_by: dict[str, set[str]] = field(default_factory=dict)  # mutant id -> killing node ids
    scored: set[str] | None = None  # the mutants the score is about (None: all of them)
    seconds: float = 0.0

    def killed(self, among: set[str] | None = None) -> set[str]:
        """Mutants killed by any test (or any test in `among`)."""
        return {
            m for m, tests in self.killed_by.items() if tests and (among is None or tests & among)
        }

    def counted(self) -> list[Mutant]:
        """Mutants that count for a score: scored, and applied or covered by no test (so they
        survive)."""
        return [
            m
            for m in self.mutants
            if (self.scored is None or m.id in self.scored)
            and (m.id in self.applied or m.id not in self.attempted)
        ]


def make_mutants(
    workspace: Path, targets: dict[str, set[int]], *, limit: int = MAX_MUTANTS
) -> list[Mutant]:
    """Mutants on the given lines of each file, at most `limit` overall (spread across files)."""
    per_file = max(1, limit // max(1, len(targets)))
    mutants: list[Mutant] = []
    for path, lines in sorted(targets.items()):
        try:
            source = (workspace / path).read_text(encoding="utf-8")
        except OSError:
            continue
        mutants.extend(generate_mutants(path, source, lines, limit=per_file))
    return mutants[:limit]


def run_mutants(
    sandbox: SandboxPort,
    *,
    files: dict[str, str],
    mutants: list[Mutant],
    tests_for: dict[str, list[str]],
    stop_on_kill: set[str],
    durations: dict[str, float],
    workers: int | None = None,
    per_test_limit: float = 60.0,
) -> MutationResult:
    """Run each mutant against `tests_for[mutant.id]` (node ids; new tests first).

    Tests in `stop_on_kill` (existing ones) stop a mutant's run once one of them kills it.
    """
    result = MutationResult(mutants=list(mutants))
    runnable = [m for m in mutants if tests_for.get(m.id)]
    if not runnable:
        return result
    result.attempted = {m.id for m in runnable}
    index = dict(enumerate(runnable))
    entries = [
        _plan_entry(i, m, tests_for[m.id], stop_on_kill, durations, per_test_limit)
        for i, m in index.items()
    ]
    parallel = workers or min(2, os.cpu_count() or 1)
    plan = {"workers": parallel, "mutants": entries}
    select = sorted({n.split("::", 1)[0] for m in runnable for n in tests_for[m.id]})
    injected = dict(files)
    injected[f"{DRIVER_MODULE}.py"] = _DRIVER_SOURCE.read_text(encoding="utf-8")
    injected[PLAN_FILE] = json.dumps(plan)
    conftest = _conftest_path(select)
    injected[conftest] = _hooked_conftest(sandbox.workspace / conftest, files.get(conftest))
    budget = sum(float(e["budget"]) for e in entries) / parallel + 60.0
    run = sandbox.run(injected, select=select, timeout=budget)
    result.seconds = run.duration
    for outcome in run.outcomes:
        mutant = index.get(outcome.run - 1)
        if mutant is None:
            continue
        result.applied.add(mutant.id)
        kills = result.killed_by.setdefault(mutant.id, set())
        if outcome.outcome in ("failed", "error"):
            kills.add(outcome.nodeid)
    for m in runnable:
        if m.id not in result.applied:
            log.debug("mutant could not be applied", mutant=m.id)
    log.info(
        "mutation run",
        mutants=len(runnable),
        applied=len(result.applied),
        killed=len(result.killed()),
        seconds=round(run.duration, 2),
    )
    return result


def _plan_entry(
    index: int,
    mutant: Mutant,
    tests: list[str],
    stop_on_kill: set[str],
    durations: dict[str, float],
    per_test_limit: float,
) -> dict[str, Any]:
    usual = sum(durations.get(n, 0.5) for n in tests)
    # An infinite loop is the classic mutant: give the tests a few times their usual time.
    budget = min(3.0 + 4.0 * usual, per_test_limit * len(tests))
    return {
        "index": index,
        "id": mutant.id,
        "path": mutant.path,
        "module": module_name(mutant.path),
        "function": mutant.function,
        "function_line": mutant.function_line,
        "statement": mutant.statement,
        "statement_line": _statement_line(mutant),
        "source": mutant.source if mutant.function else "",
        "tests": tests,
        "stop_on_kill": sorted(set(tests) & stop_on_kill),
        "budget": round(budget, 2),
    }


def _statement_line(mutant: Mutant) -> int:
    if not mutant.statement:
        return 0
    lines = mutant.source.splitlines(keepends=True)
    first = mutant.statement.splitlines(keepends=True)[0]
    for number in range(mutant.line, 0, -1):
        if lines[number - 1] == first:
            return number
    return mutant.line


def _conftest_path(test_files: list[str]) -> str:
    """The conftest.py of the deepest folder holding every test file that runs: pytest loads it
    for all of them."""
    parents = [PurePosixPath(f).parent.parts for f in test_files]
    common: list[str] = []
    for parts in zip(*parents, strict=False):
        if len(set(parts)) != 1:
            break
        common.append(parts[0])
    return PurePosixPath(*common, "conftest.py").as_posix()


def _hooked_conftest(existing: Path, override: str | None) -> str:
    """That conftest (or an empty one) with one line appended that hooks the driver in."""
    if override is not None:
        content = override
    else:
        try:
            content = existing.read_text(encoding="utf-8")
        except OSError:
            content = ""
    if content and not content.endswith("\n"):
        content += "\n"
    return content + _HOOK_LINE
