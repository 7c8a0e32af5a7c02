"""The sandbox runs of a review: the existing tests once in file order with line tracing, then
repeated (reverse order first, then shuffled) for flaky and order-dependent tests, then alone
when a side effect has to be pinned on one of them, and with `--mutation`, under mutants."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

from agent.log import get_logger
from agent.quality.classify import one_line, worst
from agent.quality.existing_runs import ExistingRuns
from agent.quality.leaks import AppWrites
from agent.quality.mutation import MutationResult, make_mutants, run_mutants
from agent.quality.rerun_order import presorted
from agent.quality.sandbox_port import SandboxPort
from agent.schema import Reason, RunResult, TestOutcome

log = get_logger(__name__)

_FAILED = ("failed", "error")
_MAX_ALONE_RUNS = 16  # runs spent pinning side effects on files, then on tests
_MAX_TESTS_PER_MUTANT = 6
_MAX_NODEIDS = 3000  # beyond this, runs select whole files
_WALL_FLOOR = 600.0  # seconds: the shortest wall clock a rerun run gets


@dataclass
class Observed:
    """What the existing tests did, test by test."""

    order: list[str] = field(default_factory=list)  # node ids in the order they ran first
    first: dict[str, TestOutcome] = field(default_factory=dict)  # first run, file order
    lines: dict[str, dict[str, set[int]]] = field(default_factory=dict)  # nodeid -> file -> lines
    weak: dict[str, dict[Reason, str]] = field(default_factory=dict)  # nodeid -> reason -> detail
    notes: list[str] = field(default_factory=list)
    first_run: RunResult | None = None

    def flag(self, nodeid: str, reason: Reason, detail: str) -> None:
        self.weak.setdefault(nodeid, {}).setdefault(reason, one_line(detail))

    @property
    def passed(self) -> list[str]:
        return [n for n in self.order if self.first[n].outcome in ("passed", "xpassed")]


def first_run(existing: ExistingRuns, files: list[str], trace: list[str]) -> Observed:
    """Every selected test once, in file order, with its lines traced: in a fresh process, or
    as the test-impact index recorded it when nothing it depends on changed since."""
    result = existing.run(files, trace)
    seen = Observed(first_run=result)
    for nodeid, records in result.by_nodeid().items():
        first = [r for r in records if r.run == 0] or records
        outcome = worst(first)
        seen.order.append(nodeid)
        seen.first[nodeid] = outcome
        lines: dict[str, set[int]] = {}
        for record in first:
            for path, hit in record.lines.items():
                lines.setdefault(path, set()).update(hit)
        seen.lines[nodeid] = lines
        if outcome.outcome in _FAILED and result.timed_out and outcome.timed_out:
            continue  # the run's wall clock ended it, not its own fault
        if outcome.outcome in _FAILED:
            what = "times out" if outcome.timed_out else "fails"
            seen.flag(
                nodeid,
                Reason.TIMEOUT if outcome.timed_out else Reason.FAILS,
                f"{what} when the suite runs: {outcome.exc_type or ''} {outcome.message}",
            )
        if outcome.network:
            seen.flag(nodeid, Reason.NETWORK, f"reaches {', '.join(outcome.network[:3])}")
        if outcome.leftover:
            seen.flag(
                nodeid,
                Reason.SIDE_EFFECT,
                f"leaves {outcome.leftover} process(es) running after it ends",
            )
    for error in result.collect_errors:
        seen.notes.append(f"{error.path} does not collect: {one_line(error.message, 160)}")
    if result.timed_out:
        seen.notes.append(
            f"the tests did not finish within the run's wall clock ({result.duration:.0f}s): "
            "tests after that point are not reviewed; raise [tool.itarch.sandbox] run_timeout"
        )
    elif result.crashed:
        seen.notes.append(f"the test run ended early: {one_line(result.crashed, 160)}")
    return seen


def stability(sandbox: SandboxPort, seen: Observed, rounds: int) -> None:
    """Round 0 runs the tests in reverse order (each meets only those after it), later rounds
    shuffled with seeded randomness. A test whose result follows the order is order dependent
    (confirmed by one more fresh run of that order); one whose result changes at random is
    flaky."""
    target = [n for n in seen.order if seen.first[n].outcome in ("passed", "xpassed", *_FAILED)]
    if not target or rounds < 1:
        return
    reverse = list(reversed(target))
    seed = int(hashlib.sha1("\n".join(target).encode()).hexdigest()[:8], 16)
    if len(target) <= _MAX_NODEIDS:
        select = presorted(reverse, seed)
    else:  # too many node ids for one command line: whole files, round 0 shuffled too
        select = list(dict.fromkeys(n.split("::", 1)[0] for n in reverse))
    took = seen.first_run.duration if seen.first_run else 0.0
    result = sandbox.run(
        {},
        select=select,
        reruns=rounds - 1,
        shuffle_seed=seed,
        timeout=max(_WALL_FLOOR, took * rounds * 1.5 + 60.0),
    )
    if result.timed_out:
        seen.notes.append(
            f"reruns: the {rounds} rounds did not finish in time; only the rounds that finished "
            "were read"
        )
    grouped = {
        nodeid: [r for r in records if not (result.timed_out and r.timed_out)]
        for nodeid, records in result.by_nodeid().items()
    }
    suspects: dict[str, bool] = {}  # nodeid -> it failed in file order
    for nodeid in target:
        by_round: dict[int, list[TestOutcome]] = {}
        for record in grouped.get(nodeid, []):
            by_round.setdefault(record.run, []).append(record)
        if not by_round:
            continue
        failed = {r for r, recs in by_round.items() if worst(recs).outcome in _FAILED}
        failed_first = seen.first[nodeid].outcome in _FAILED
        later = {r in failed for r in by_round if r > 0}
        results = {failed_first, *(r in failed for r in by_round)}
        if len(results) == 1:
            continue  # the same every time: passes, or fails (flagged already)
        if len(later) <= 1 and failed_first != (0 in failed):
            suspects[nodeid] = failed_first  # file order and reverse order disagree
            continue
        runs = len(by_round) + 1
        passed = runs - len(failed) - int(failed_first)
        example = next((worst(by_round[r]) for r in sorted(failed)), seen.first[nodeid])
        seen.flag(
            nodeid,
            Reason.FLAKY,
            f"passed {passed} of {runs} runs (file order, reverse order, shuffled reruns with "
            f"seeded randomness); failing run: {example.exc_type or ''} {example.message}",
        )
    if suspects:
        _confirm_order(sandbox, seen, reverse, suspects)


def _confirm_order(
    sandbox: SandboxPort, seen: Observed, reverse: list[str], suspects: dict[str, bool]
) -> None:
    """One more fresh run of the reverse order: the same result again means the order decides."""
    files = {n.split("::", 1)[0] for n in suspects}
    again = sandbox.run({}, select=[n for n in reverse if n.split("::", 1)[0] in files])
    failed = {o.nodeid for o in again.outcomes if o.outcome in _FAILED and o.run == 0}
    for nodeid, failed_first in suspects.items():
        if (nodeid in failed) == failed_first:
            seen.flag(
                nodeid,
                Reason.FLAKY,
                "failed in one fresh run of an order and passed in another run of that order",
            )
        elif failed_first:
            before = _before(nodeid, seen.order)
            seen.flag(
                nodeid,
                Reason.ORDER_DEPENDENT,
                f"fails in file order (after {before or 'nothing'}) but passes in reverse order: "
                f"{seen.first[nodeid].exc_type or ''} {seen.first[nodeid].message}",
            )
        else:
            after = _before(nodeid, list(reversed(seen.order)))
            seen.flag(
                nodeid,
                Reason.ORDER_DEPENDENT,
                f"passes in file order but fails in reverse order (after {after or 'nothing'}): "
                "it needs state an earlier test leaves behind",
            )


def _before(nodeid: str, order: list[str]) -> str:
    same = [n for n in order if n.split("::", 1)[0] == nodeid.split("::", 1)[0]]
    index = same.index(nodeid) if nodeid in same else 0
    return ", ".join(n.split("::", 1)[-1] for n in same[max(0, index - 2) : index])


def side_effects(sandbox: SandboxPort, seen: Observed, files: list[str], repo: Path) -> None:
    """Files the run left changed in the repository copy, pinned on the tests that write them:
    halves of the files first, then test by test inside the files that write on their own."""
    result = seen.first_run
    if result is None or not result.changed_paths:
        return
    writes = AppWrites(repo, sandbox.workspace, set(), [])
    found = writes.of(result)
    if not found:
        return
    budget = [_MAX_ALONE_RUNS]

    def writers(select: list[str], known: list[str] | None = None) -> list[str]:
        if known is None:
            if budget[0] <= 0:
                return []
            budget[0] -= 1
            known = writes.of(sandbox.run({}, select=select))
        if not known:
            return []
        if len(select) == 1:
            return select
        middle = len(select) // 2
        return writers(select[:middle]) + writers(select[middle:])

    blamed = False
    for path in writers(files, found):
        for nodeid in [n for n in seen.order if n.split("::", 1)[0] == path]:
            if budget[0] <= 0:
                break
            budget[0] -= 1
            mine = writes.of(sandbox.run({}, select=[nodeid]))
            if mine:
                blamed = True
                more = " ..." if len(mine) > 3 else ""
                seen.flag(
                    nodeid,
                    Reason.SIDE_EFFECT,
                    f"writes {', '.join(mine[:3])}{more} inside the repository",
                )
    if not blamed:
        seen.notes.append(
            f"side effects: the tests write {', '.join(found[:3])} inside the repository; "
            "no single test was found to do it alone"
        )


@dataclass
class SeamMutants:
    """Mutants of the executed lines of each seam's function, and who killed them."""

    result: MutationResult | None = None
    of_seam: dict[str, list[str]] = field(default_factory=dict)  # seam id -> mutant ids
    tests_for: dict[str, list[str]] = field(default_factory=dict)  # mutant id -> tests run


def mutate_seams(
    sandbox: SandboxPort,
    seen: Observed,
    seam_lines: dict[str, tuple[str, set[int]]],
    limit: int,
    per_test_limit: float,
) -> SeamMutants:
    """`seam_lines`: seam id -> (path, the lines of its function the tests execute)."""
    targets: dict[str, set[int]] = {}
    for path, lines in seam_lines.values():
        targets.setdefault(path, set()).update(lines)
    out = SeamMutants()
    mutants = make_mutants(sandbox.workspace, targets, limit=limit)
    if not mutants:
        return out
    passed = seen.passed
    durations = {n: seen.first[n].duration for n in passed}
    assigned: dict[str, int] = {}  # so that every test meets some mutants of what it runs
    for mutant in mutants:
        reached = [n for n in passed if mutant.line in seen.lines[n].get(mutant.path, set())]
        chosen: list[str] = []
        functions: set[str] = set()
        for nodeid in sorted(reached, key=lambda n: (assigned.get(n, 0), durations.get(n, 0.5))):
            function = nodeid.split("[", 1)[0]
            if function not in functions and len(chosen) < _MAX_TESTS_PER_MUTANT:
                functions.add(function)
                chosen.append(nodeid)
                assigned[nodeid] = assigned.get(nodeid, 0) + 1
        out.tests_for[mutant.id] = chosen
        for seam_id, (path, lines) in seam_lines.items():
            if mutant.path == path and mutant.line in lines:
                out.of_seam.setdefault(seam_id, []).append(mutant.id)
    out.result = run_mutants(
        sandbox,
        files={},
        mutants=mutants,
        tests_for=out.tests_for,
        stop_on_kill=set(),
        durations=durations,
        per_test_limit=per_test_limit,
    )
    return out
