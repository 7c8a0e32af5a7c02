"""The redundant gate: a new test that adds nothing to the existing suite.

A test is redundant when every line it executes in the scope is executed by the existing suite,
it kills no mutant the suite misses, and one existing test on its own executes all of those
lines and checks the same things (its assertions, literals and local names aside, are among
that test's): it repeats that test. A test that stitches together paths which several existing
tests cover one at a time is an integration of them, and is kept; so is a test that checks a
property on the same path that no existing test checks (lines alone cannot tell a branch or an
oracle apart).

The first run is cold: the test that runs first in a process also executes one-time set-up
(lazy imports, caches). So when no existing test covers a candidate outright, one more run
repeats the candidate beside its closest existing tests and compares their second, warm
executions.
"""

from __future__ import annotations

import ast

from agent.quality import coverage as cov
from agent.quality.baseline import FileBaseline
from agent.quality.classify import Failure
from agent.quality.copies import check_copies
from agent.quality.mutation import MutationResult
from agent.quality.oracle import shapes_by_test
from agent.quality.sandbox_port import SandboxPort
from agent.quality.scope import Scope
from agent.quality.work import FileWork, TestWork, file_of
from agent.schema import Reason

_CLOSEST = 3  # existing tests compared warm with each candidate


def check_redundancy(
    sandbox: SandboxPort,
    works: list[FileWork],
    scope: Scope,
    baselines: dict[str, FileBaseline],
    mutation: MutationResult | None,
) -> None:
    check_copies(works, scope)  # needs no trace
    if not scope.trace:
        return  # nothing traced: no evidence either way
    existing_kills: set[str] = set()
    if mutation is not None:
        new_ids = {t.nodeid for w in works for t in w.tests.values()}
        existing_ids = {n for ks in mutation.killed_by.values() for n in ks} - new_ids
        existing_kills = mutation.killed(existing_ids)
    existing = {
        nodeid: _in_scope(entry.lines.get(nodeid, {}), scope)
        for entry in baselines.values()
        for nodeid in entry.passed
    }
    shapes = _ExistingShapes(scope)
    undecided: list[tuple[FileWork, TestWork, list[str]]] = []
    for work in works:
        refs = cov.test_references(work.facts.tree) if work.facts.tree else {}
        for test in work.tests.values():
            if not test.candidate or test.lines_added != 0:
                continue
            if not test.lines:
                names, _ = refs.get(test.qualname, (set(), set()))
                if not (cov.runs_subprocess(names) or scope.changed):
                    test.fail(_runs_nothing(scope))
                continue  # else not measurable here, or a matter for misses_change
            if set(test.mutants_killed) - existing_kills:
                continue
            mine = work.facts.shapes.get(test.qualname, set())
            same_checks = [e for e in existing if mine <= shapes.of(e)]
            closest = sorted(same_checks, key=lambda e: (_missing(test.lines, existing[e]), e))
            closest = closest[:_CLOSEST]
            if closest and not _missing(test.lines, existing[closest[0]]):
                test.fail(_repeats(closest[0], mutation is not None))
            elif closest:
                undecided.append((work, test, closest))
    if undecided:
        _compare_warm(sandbox, scope, undecided, mutation is not None)


def _compare_warm(
    sandbox: SandboxPort,
    scope: Scope,
    undecided: list[tuple[FileWork, TestWork, list[str]]],
    with_mutants: bool,
) -> None:
    files = {work.path: work.content for work, _, _ in undecided}
    select = list(
        dict.fromkeys(
            [e for _, _, closest in undecided for e in closest]
            + [test.nodeid for _, test, _ in undecided]
        )
    )
    run = sandbox.run(files, select=select, reruns=1, trace=scope.trace)
    warm = {
        o.nodeid: _in_scope(o.lines, scope)
        for o in run.outcomes
        if o.run == 1 and o.outcome == "passed"
    }
    for _, test, closest in undecided:
        mine = warm.get(test.nodeid)
        if mine is None:
            continue
        for nodeid in closest:
            if nodeid in warm and not _missing(mine, warm[nodeid]):
                test.fail(_repeats(nodeid, with_mutants))
                break


class _ExistingShapes:
    """What each existing test checks, read from its file on demand."""

    def __init__(self, scope: Scope) -> None:
        self.scope = scope
        self.files: dict[str, dict[str, set[str]]] = {}

    def of(self, nodeid: str) -> set[str]:
        path = file_of(nodeid)
        if path not in self.files:
            try:
                tree = ast.parse((self.scope.workspace / path).read_text(encoding="utf-8"))
                self.files[path] = shapes_by_test(tree)
            except (OSError, SyntaxError, ValueError):
                self.files[path] = {}
        qualname = nodeid.split("::", 1)[-1].split("[", 1)[0]
        return self.files[path].get(qualname, set())


def _in_scope(lines: dict[str, list[int]] | dict[str, set[int]], scope: Scope) -> cov.Lines:
    traced = {p: set(ls) for p, ls in lines.items() if p in scope.trace}
    return cov.with_headers(traced, scope.workspace)


def _missing(lines: cov.Lines, other: cov.Lines) -> int:
    return cov.count(cov.added_lines(lines, other))


def _runs_nothing(scope: Scope) -> Failure:
    return Failure(
        Reason.REDUNDANT,
        f"executes none of the lines of {', '.join(scope.trace[:3])} (the modules under test)",
        "Call into the modules under test (directly or through their public entry points).",
    )


def _repeats(nodeid: str, with_mutants: bool) -> Failure:
    return Failure(
        Reason.REDUNDANT,
        f"repeats the existing test {nodeid}: it executes no line that test does not"
        + (", and kills no mutant the existing tests miss" if with_mutants else ""),
        "Cover behaviour the existing tests miss: another branch, an error path, or an "
        "integration between modules.",
    )
