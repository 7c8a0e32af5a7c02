"""Is a passing test worth keeping? It must check something (an oracle), and, when there is a
scope to measure against, reach the change it was written for. Coverage and mutant kills are
measured here; `redundancy` compares them with the existing suite."""

from __future__ import annotations

from agent.log import get_logger
from agent.quality import coverage as cov
from agent.quality.baseline import FileBaseline, covered_lines
from agent.quality.classify import Failure
from agent.quality.mutation import MutationResult, make_mutants, run_mutants
from agent.quality.mutator import Mutant
from agent.quality.sandbox_port import SandboxPort
from agent.quality.scope import Scope
from agent.quality.work import FileWork
from agent.schema import Reason, Seam

log = get_logger(__name__)

MAX_EVIDENCE_MUTANTS = 20  # on the lines of tests that add no coverage: redundancy evidence


def check_oracles(works: list[FileWork]) -> None:
    for work in works:
        for test in work.tests.values():
            if test.candidate and not work.facts.has_oracle.get(test.qualname, True):
                test.fail(
                    Failure(
                        Reason.NO_ASSERTIONS,
                        "checks nothing: no assert, pytest.raises/warns or assert_* call "
                        "in the test or the helpers and fixtures it uses",
                        "A test must be able to fail when the behaviour is wrong: assert on "
                        "the observable result (return value, response, stored state, emitted "
                        "event).",
                    )
                )


def measure_coverage(works: list[FileWork], scope: Scope, existing: cov.Lines) -> None:
    """Per test: traced lines of the scope, lines beyond the existing suite, changed lines hit,
    seams reached: all by trace (child Python processes included), never by names."""
    for work in works:
        for test in work.tests.values():
            if not test.alive or test.skipped:
                continue
            if scope.trace:
                traced = {p: ls for p, ls in test.lines.items() if p in scope.trace}
                test.lines = traced = cov.with_headers(traced, scope.workspace)
                test.lines_added = cov.count(cov.added_lines(traced, existing))
                test.changed_lines_covered = cov.as_refs(cov.intersect(traced, scope.changed))
            test.seams = [s.id for s in scope.seams if _exercises(scope, s, test.lines)]


def run_mutation(
    sandbox: SandboxPort,
    works: list[FileWork],
    scope: Scope,
    baselines: dict[str, FileBaseline],
    per_test_limit: float,
) -> MutationResult | None:
    """Mutants of the changed lines (or, without a base, of the lines the new tests add): the
    score. Plus, for a new test that adds no lines, mutants of the lines it runs: evidence for
    the redundant gate. Each mutant runs against the new tests that reach it, and against the
    existing ones when a new test adds no lines (does it kill anything they miss?)."""
    candidates = [t for w in works for t in w.tests.values() if t.candidate]
    if not candidates:
        return None
    targets: dict[str, set[int]] = {}
    if scope.changed:
        targets = scope.changed
    else:
        existing = covered_lines(list(baselines.values()))
        for test in candidates:
            for path, lines in cov.added_lines(test.lines, existing).items():
                targets.setdefault(path, set()).update(lines)
    evidence: dict[str, set[int]] = {}
    for test in candidates:
        if test.lines_added == 0:
            for path, lines in cov.added_lines(test.lines, targets).items():
                evidence.setdefault(path, set()).update(lines)
    scored = make_mutants(scope.workspace, targets)
    mutants = scored + make_mutants(scope.workspace, evidence, limit=MAX_EVIDENCE_MUTANTS)
    if not mutants:
        return None
    # Cheapest existing tests first: they only run until one of them kills the mutant.
    existing_tests = sorted(
        (
            (entry.durations.get(nodeid, 0.5), nodeid, entry.lines.get(nodeid, {}))
            for entry in baselines.values()
            for nodeid in entry.passed
        ),
        key=lambda e: (e[0], e[1]),
    )
    durations = {t.nodeid: t.first.duration if t.first else 0.5 for t in candidates}
    tests_for: dict[str, list[str]] = {}
    stop_on_kill: set[str] = set()
    for mutant in mutants:
        reached = [t for t in candidates if _reaches(mutant, t.lines)]
        chosen = _one_per_function([t.nodeid for t in reached])
        if any(t.lines_added == 0 for t in reached):
            existing_reached = [n for _, n, lines in existing_tests if _reaches(mutant, lines)]
            for nodeid in _one_per_function(existing_reached):
                chosen.append(nodeid)
                stop_on_kill.add(nodeid)
        tests_for[mutant.id] = chosen
    durations.update({n: d for d, n, _ in existing_tests if n in stop_on_kill})
    result = run_mutants(
        sandbox,
        files={w.path: w.content for w in works},
        mutants=mutants,
        tests_for=tests_for,
        stop_on_kill=stop_on_kill,
        durations=durations,
        per_test_limit=per_test_limit,
    )
    result.scored = {m.id for m in scored}
    if result.attempted and not result.applied:
        # Nothing ran under a mutant: the project's pytest setup kept the driver out (or the
        # run died). No evidence is better than a score of zero.
        log.warning("mutation run produced no results; mutation evidence skipped")
        return None
    # One parametrized case ran for its whole function: what it kills, they all kill.
    for test in candidates:
        test.mutants_killed = sorted(
            m
            for m, killers in result.killed_by.items()
            if any(_function_of(k) == _function_of(test.nodeid) for k in killers)
        )
    return result


def _function_of(nodeid: str) -> str:
    return nodeid.split("[", 1)[0]


def _one_per_function(nodeids: list[str]) -> list[str]:
    """The first parametrized case of each test function (a mutant rarely tells them apart,
    and running every case multiplies the cost)."""
    seen: set[str] = set()
    kept = []
    for nodeid in nodeids:
        if _function_of(nodeid) not in seen:
            seen.add(_function_of(nodeid))
            kept.append(nodeid)
    return kept


def check_reaches_change(works: list[FileWork], scope: Scope) -> None:
    if not scope.changed:
        return
    touched = [s for s in scope.seams if s.changed]
    for work in works:
        for test in work.tests.values():
            if not test.candidate or test.changed_lines_covered:
                continue
            if any(s.id in test.seams for s in touched):
                continue
            test.fail(_misses(scope, touched))


def _exercises(scope: Scope, seam: Seam, lines: cov.Lines) -> bool:
    """A test exercises a seam when it executed the seam's own lines (by trace; the Python
    processes a test starts are traced too, so `python -m pkg.cli` counts by what it ran)."""
    hit = lines.get(seam.path)
    return bool(hit and hit & cov.body_lines(scope.workspace, seam.path, seam.line))


def _reaches(mutant: Mutant, lines: dict[str, set[int]]) -> bool:
    """A test reaches a mutant that executes its line; a module-level mutant (a constant read
    at call time) is reached by any test that runs code of that module."""
    hit = lines.get(mutant.path) or set()
    return bool(hit) and (mutant.line in hit or mutant.statement is not None)


def _misses(scope: Scope, touched: list[Seam]) -> Failure:
    seams = (
        "; touched seams: " + ", ".join(f"{s.kind} {s.detail or s.symbol}" for s in touched[:5])
        if touched
        else ""
    )
    return Failure(
        Reason.MISSES_CHANGE,
        "exercises none of the changed lines or touched seams",
        "Changed: " + cov.describe_lines(scope.changed, scope.workspace) + seams,
    )
