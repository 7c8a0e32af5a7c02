"""The Judge: proposed test files in, a verdict per test out.

Gates run in order and the first failure decides; they are declared, in that order, in `gates`,
and `[tool.itarch] gates` says which run. The sandbox runs are batched so a check costs few
pytest starts, whichever gates are on:

1. static (here): path, syntax, bug marks; oracles are read from the AST now, applied later
2. first run (here): the new files in file order, then the existing tests of the same modules
   (does the new file break them?), with line tracing of the changed files
3. reruns (`stability`): N rounds in-interpreter; round 0 in reverse file order (does a test
   depend on the ones before it?), later rounds shuffled with per-test random seeds
4. leftovers (`leaks`): single-test runs, only when needed, to pin down a side effect or a broken
   existing test
5. worth (`evidence`): oracle, coverage against the existing suite's cached baseline, mutation
   of the changed lines, redundancy, reaching the change
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from agent import gates
from agent.config import Settings
from agent.log import get_logger
from agent.quality import coverage as cov
from agent.quality.base_run import (
    check_base,
    check_detects_change,
    check_kills_mutants,
    note_mutants,
)
from agent.quality.baseline import Baseline, FileBaseline, covered_lines
from agent.quality.classify import (
    Failure,
    collect_failure,
    one_line,
    run_failure,
    trim_tail,
    worst,
)
from agent.quality.evidence import (
    check_oracles,
    check_reaches_change,
    measure_coverage,
    run_mutation,
)
from agent.quality.existing_runs import ExistingRuns, index_for
from agent.quality.facts import file_facts
from agent.quality.leaks import check_pollution, check_side_effects
from agent.quality.marks import bug_marked, normalise_name
from agent.quality.mutation import MutationResult
from agent.quality.open_work import OpenWork
from agent.quality.oracle import conftest_fixture_oracles
from agent.quality.paths import path_problem
from agent.quality.redundancy import check_redundancy
from agent.quality.sandbox_port import SandboxPort
from agent.quality.scope import scope_of
from agent.quality.stability import check_stability
from agent.quality.work import FileWork, TestWork, file_of
from agent.schema import (
    CheckResult,
    Context,
    Expectation,
    ProposedFile,
    Reason,
    RunResult,
    TestOutcome,
)
from agent.source.files import discover_python_files
from agent.tests_map import module_files, related_test_files

log = get_logger(__name__)


class Judge:
    """Decides which proposed tests are worth keeping. One per sandbox; caches the baseline."""

    def __init__(
        self,
        sandbox: SandboxPort,
        settings: Settings,
        *,
        context: Context | None = None,
        tests_root: str = "tests",
        existing_ok: bool = False,
    ) -> None:
        self.sandbox = sandbox
        self.settings = settings
        self.context = context
        self.tests_root = (tests_root or "tests").strip("/") or "."
        self.existing_ok = existing_ok
        repo = getattr(sandbox, "repo", None) or (context.repo if context else None)
        self.repo = Path(repo) if repo else sandbox.workspace
        self.workspace = sandbox.workspace
        self.scope = scope_of(context, self.workspace, self.tests_root)
        index = index_for(sandbox, self.repo) if settings.index else None
        sources = discover_python_files(self.workspace)[0] if index is not None else None
        runs = ExistingRuns(sandbox, index, sources)
        self.index = index  # also ranks related tests by what they executed
        self.baseline = Baseline(sandbox, self.scope.trace, runs=runs)
        self.open = OpenWork(self.scope)  # what the tests kept so far leave untested

    # ------------------------------------------------------------------ public

    def prepared(self, file: ProposedFile) -> str:
        """The content that is judged and written: tests proposed as bugs marked strict xfail."""
        return bug_marked(file)

    def check(self, files: list[ProposedFile]) -> CheckResult:
        """A verdict per test of `files`. Each path comes once: a path proposed twice is refused,
        with the reason, where proposals enter (`tools.proposal_files`), and check's arguments are
        resolved to distinct files. The switched-on gates run in their order (`gates.GATES`)."""
        if len({f.path for f in files}) != len(files):
            raise ValueError("Judge.check takes each path once")
        check = _Check(self, files, gates.switched_on(self.settings.gate_switches()))
        for gate in check.on:
            if gate.static or check.runnable():
                check.run(gate)
        return self._result(check.works, check.mutants, check.clock.seconds)

    # ------------------------------------------------------------------ 1. static gates

    def _static(self, files: list[ProposedFile]) -> list[FileWork]:
        works: list[FileWork] = []
        for file in files:
            content = self.prepared(file)
            fixtures = conftest_fixture_oracles(self.workspace, file.path)
            facts = file_facts(file.path, content, fixtures)
            proposed_bugs = {
                normalise_name(t.name) for t in file.tests if t.expectation == Expectation.BUG
            }
            works.append(
                FileWork(
                    path=file.path,
                    content=content,
                    facts=facts,
                    bug_names=proposed_bugs | set(facts.strict_xfail),
                )
            )
        return works

    def _path(self, works: list[FileWork]) -> None:
        for work in works:
            problem = path_problem(
                work.path, self.repo, self.tests_root, existing_ok=self.existing_ok
            )
            if problem:
                work.failure = Failure(Reason.PATH, problem, problem)

    def _syntax(self, works: list[FileWork]) -> None:
        for work in works:
            if work.runnable and work.facts.syntax_error:
                work.failure = Failure(
                    Reason.SYNTAX,
                    f"does not parse: {work.facts.syntax_error}",
                    _syntax_feedback(work.content, work.facts.syntax_error),
                )

    # ------------------------------------------------------------------ 2. first run

    def _related(self, runnable: list[FileWork]) -> list[str]:
        imports: set[str] = set().union(*(w.facts.imports for w in runnable))
        sources = {
            f for f in module_files(self.workspace, imports) if not self.scope.in_tests_root(f)
        } | set(self.scope.trace)
        paths = [w.path for w in runnable]
        return related_test_files(
            self.workspace,
            self.tests_root,
            sources,
            exclude=set(paths),
            near=paths,
            index=self.index,
        )

    def _files(self, works: list[FileWork]) -> dict[str, str]:
        return {w.path: w.content for w in works}

    def _first_run(
        self, runnable: list[FileWork], related: list[str], trace: list[str] | None
    ) -> RunResult:
        select = [w.path for w in runnable] + related
        result = self.sandbox.run(self._files(runnable), select=select, trace=trace)
        # A test that kills the process (hang in C code, crash) stops the rest: run those again.
        # The cases of a test function that hung are not among them: the sandbox already gave
        # them the timeout (agent/sandbox/results.py), so a hang costs one timeout, not one each.
        last = result
        for _ in range(2):
            ran = {o.nodeid for o in result.outcomes}
            new_ids = [n for n in result.collected if file_of(n) in {w.path for w in runnable}]
            missing = [n for n in new_ids if n not in ran]
            # the watchdog ending a hang leaves neither `crashed` nor `timed_out`: a timed-out
            # outcome and tests never reached say the same
            ended_early = last.crashed or last.timed_out or any(o.timed_out for o in last.outcomes)
            if not missing or not ended_early:
                break
            log.info("first run ended early; running the rest", missing=len(missing))
            more = last = self.sandbox.run(self._files(runnable), select=missing, trace=trace)
            result = result.model_copy(
                update={
                    "outcomes": result.outcomes + more.outcomes,
                    "changed_paths": sorted(set(result.changed_paths) | set(more.changed_paths)),
                    "leftover_processes": result.leftover_processes + more.leftover_processes,
                    "crashed": more.crashed,
                    "timed_out": more.timed_out,
                }
            )
        return result

    def _read_first_run(
        self, runnable: list[FileWork], run: RunResult, baselines: dict[str, FileBaseline]
    ) -> list[TestOutcome]:
        """Per-test verdicts of the first execution; returns existing tests the new files broke."""
        grouped = run.by_nodeid()
        for work in runnable:
            errors = [e for e in run.collect_errors if _covers(e.path, work.path)]
            if errors:
                work.failure = collect_failure(errors[0])
                continue
            nodeids = [n for n in run.collected if file_of(n) == work.path]
            if not nodeids and run.crashed and not run.collected:
                # pytest stopped before collecting anything (a conftest that fails to import)
                work.failure = Failure(
                    Reason.COLLECTION,
                    one_line(f"pytest could not collect: {run.crashed}"),
                    trim_tail(run.stdout_tail or run.stderr_tail),
                )
                continue
            if not nodeids:
                work.failure = Failure(
                    Reason.NO_TESTS,
                    "no tests collected: pytest found no test functions it runs in this file",
                    "Name test functions test_* (or methods of Test* classes) and do not skip "
                    "the module.",
                )
                continue
            for nodeid in nodeids:
                self._read_first_outcome(work.add_test(nodeid), grouped.get(nodeid, []), run)
            self._nothing_runs(work)

        existing_passed = set().union(*(b.passed for b in baselines.values()))
        broken = []
        for nodeid, records in grouped.items():
            if nodeid in existing_passed:
                first = worst([r for r in records if r.run == 0] or records)
                if first.outcome in ("failed", "error"):
                    broken.append(first)
        return broken

    def _read_first_outcome(
        self, test: TestWork, records: list[TestOutcome], run: RunResult
    ) -> None:
        first_records = [r for r in records if r.run == 0]
        if not first_records:
            why = run.crashed or ("the run hit its wall clock" if run.timed_out else "")
            test.fail(
                Failure(
                    Reason.ERROR,
                    one_line(f"did not run to the end: {why or 'no result was recorded'}"),
                    run.stderr_tail[-1500:],
                )
            )
            return
        outcome = worst(first_records)
        test.first = outcome
        test.lines = {p: set(ls) for p, ls in outcome.lines.items()}
        test.expected_bug = test.expected_bug or outcome.xfail_strict
        failure = run_failure(
            outcome, expected_bug=test.expected_bug, declared_raises=test.declared_raises
        )
        if failure is not None:
            test.fail(failure)
        elif test.expected_bug:
            test.bug = True
            test.note = one_line(f"fails as marked: {outcome.message or outcome.exc_type}")
        elif outcome.outcome == "skipped":
            # A test that did not run proves nothing: it cannot be kept as if it passed.
            test.skipped = True
            test.note = one_line(f"skipped here, so not proven: {outcome.message}")
            test.fail(
                Failure(
                    Reason.NO_TESTS,
                    one_line(
                        f"skipped, so it never ran here: {outcome.message or 'no reason given'}"
                    ),
                    "A test that skips proves nothing. Make it run here: import what the "
                    "project has, or drop the skip (and the condition that skips it).",
                )
            )
        elif outcome.outcome == "xfailed":
            test.skipped = True
            test.note = "non-strict xfail: kept as the author marked it, but proves nothing"

    def _nothing_runs(self, work: FileWork) -> None:
        tests = list(work.tests.values())
        if tests and all(t.skipped for t in tests):
            reasons = {t.note for t in tests}
            work.failure = Failure(
                Reason.NO_TESTS,
                one_line(
                    f"nothing runs: all {len(tests)} test(s) skipped or xfailed; "
                    + next(iter(reasons))
                ),
                "Remove the skip / xfail marks (or the conditions that skip) so the tests run.",
            )
        elif (
            tests and "xfail" in work.facts.module_marks and all(t.bug or t.skipped for t in tests)
        ):
            work.failure = Failure(
                Reason.NO_TESTS,
                "nothing runs: a module-level xfail mark covers every test",
                "Mark only the tests that document a defect, one by one.",
            )

    # ------------------------------------------------------------------ result

    def _result(
        self, works: list[FileWork], mutation: MutationResult | None, seconds: dict[str, float]
    ) -> CheckResult:
        total = killed = 0
        if mutation is not None:
            counted = mutation.counted()
            total = len(counted)
            new_ids = {t.nodeid for w in works for t in w.tests.values() if t.failure is None}
            killed = len(mutation.killed(new_ids) & {m.id for m in counted})
            for work in works:
                ids = {t.nodeid for t in work.tests.values() if t.failure is None}
                if ids and total:
                    mine = mutation.killed(ids) & {m.id for m in counted}
                    work.mutation_score = round(len(mine) / total, 3)
        self.open.keep(works, mutation)
        return CheckResult(
            files=[w.verdict() for w in works],
            isolation=self.sandbox.level,
            gate_seconds={k: round(v, 3) for k, v in seconds.items()},
            mutation_score=round(killed / total, 3) if total else None,
            mutants_total=total,
            mutants_killed=killed,
            kept_kill=self.open.killed_so_far(),
            **self.open.summary(),
        )


# ---------------------------------------------------------------- one check


class _Check:
    """One check: the files' work, the gates switched on, and the inputs they need, each made
    once (`gates.Input`), by the first gate that needs it. A gate's method is named after it;
    the ones with nothing to do beyond their inputs are judged as those inputs are read."""

    def __init__(self, judge: Judge, files: list[ProposedFile], on: list[gates.Gate]) -> None:
        self.judge = judge
        self.on = on
        self.clock = _Clock()
        self.switched = gates.made(on)  # the inputs the gates switched on make
        self.inputs: set[gates.Input] = {"files"}
        with self.clock("static"):
            self.works = judge._static(files)
        self._runnable: list[FileWork] | None = None
        self.running: list[FileWork] = []  # runnable after the first run
        self.baselines: dict[str, FileBaseline] = {}
        self.first: RunResult | None = None
        self.broken: list[TestOutcome] = []  # existing tests the new files broke
        self.reran: RunResult | None = None
        self.mutants: MutationResult | None = None

    def runnable(self) -> list[FileWork]:
        """The files past the static gates (fixed when the first gate after them asks)."""
        if self._runnable is None:
            self._runnable = [w for w in self.works if w.runnable]
        return self._runnable

    def run(self, gate: gates.Gate) -> None:
        for need in (*gate.needs, *gate.uses):
            if need in self.switched and need not in self.inputs:
                self.inputs.add(need)
                getattr(self, f"_make_{need}")()
        getattr(self, gate.name)()

    # ------------------------------------------------------------ inputs

    def _make_first_run(self) -> None:
        judge, runnable = self.judge, self.runnable()
        related = judge._related(runnable)
        with self.clock("baseline"):
            self.baselines = judge.baseline.of(related)
        related = [p for p in related if self.baselines[p].collects]
        trace = (judge.scope.trace or None) if "lines" in self.switched else None
        with self.clock("run"):
            self.first = judge._first_run(runnable, _within_budget(related, self.baselines), trace)
            self.broken = judge._read_first_run(runnable, self.first, self.baselines)
        self.running = [w for w in runnable if w.runnable]

    def _make_reruns(self) -> None:
        judged = frozenset(r for g in self.on for r in g.reasons if "reruns" in g.needs)
        with self.clock("reruns"):
            self.reran = check_stability(
                self.judge.sandbox, self.running, self.judge.settings.reruns, judged
            )

    def _make_lines(self) -> None:
        with self.clock("coverage"):
            workspace = self.judge.workspace
            existing = cov.with_headers(covered_lines(list(self.baselines.values())), workspace)
            measure_coverage(self.running, self.judge.scope, existing)

    def _make_mutants(self) -> None:
        judge = self.judge
        if judge.scope.trace:
            with self.clock("mutation"):
                self.mutants = run_mutation(
                    judge.sandbox,
                    self.running,
                    judge.scope,
                    self.baselines,
                    judge.settings.sandbox.test_timeout,
                )

    def _make_base(self) -> None:
        judge = self.judge
        with self.clock("base"):
            check_base(judge.sandbox, self.runnable(), judge.repo, judge.context)

    # ------------------------------------------------------------ gates, in their order

    def path(self) -> None:
        with self.clock("static"):
            self.judge._path(self.works)

    def syntax(self) -> None:
        with self.clock("static"):
            self.judge._syntax(self.works)

    def collection(self) -> None:
        """Judged as the first run is read, as are no_tests, fails and network."""

    no_tests = fails = network = collection

    def side_effect(self) -> None:
        assert self.first is not None
        with self.clock("side_effect"):
            check_side_effects(
                self.judge.sandbox,
                self.running,
                self.first,
                self.reran,
                self.baselines,
                self.judge.repo,
            )

    def flaky(self) -> None:
        """Judged as the reruns are read."""

    def order_dependent(self) -> None:
        """Judged as the reruns are read, and here: existing tests the new files broke."""
        with self.clock("order"):
            check_pollution(self.judge.sandbox, self.running, self.broken)

    def no_assertions(self) -> None:
        check_oracles(self.running)

    def coverage(self) -> None:
        """A measure: its input is the gate."""

    def redundant(self) -> None:
        judge = self.judge
        with self.clock("redundancy"):
            check_redundancy(judge.sandbox, self.running, judge.scope, self.baselines, self.mutants)

    def misses_change(self) -> None:
        check_reaches_change(self.running, self.judge.scope)

    def mutation(self) -> None:
        note_mutants(self.running, self.mutants)

    def base_run(self) -> None:
        """A measure: its input is the gate."""

    def detects_change(self) -> None:
        context = self.judge.context
        check_detects_change(self.running, has_base=bool(context and context.base))

    def kills_mutants(self) -> None:
        check_kills_mutants(self.running)


# ---------------------------------------------------------------- helpers


class _Clock:
    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    @contextmanager
    def __call__(self, gate: str) -> Iterator[None]:
        started = time.monotonic()
        try:
            yield
        finally:
            self.seconds[gate] = self.seconds.get(gate, 0.0) + time.monotonic() - started


def _covers(error_path: str, file_path: str) -> bool:
    """A collection error at `error_path` (the file, or a directory's conftest) hits the file."""
    error_path = error_path.rstrip("/")
    return error_path in ("", ".", file_path) or file_path.startswith(error_path + "/")


# Existing tests run after the new files, to see whether they break them: the most related
# first, within this much of their recorded test time, so that a large related suite is not run
# whole on every check (their own baseline, which coverage and redundancy use, is kept whole).
POLLUTION_SECONDS = 5.0


def _within_budget(related: list[str], baselines: dict[str, FileBaseline]) -> list[str]:
    chosen: list[str] = []
    spent = 0.0
    for path in related:
        cost = sum(baselines[path].durations.values())
        if spent + cost <= POLLUTION_SECONDS:
            chosen.append(path)
            spent += cost
    if not chosen and related:  # each over budget alone: the cheapest still runs
        chosen.append(min(related, key=lambda p: sum(baselines[p].durations.values())))
    return chosen


def _syntax_feedback(content: str, error: str) -> str:
    match = re.search(r"line (\d+)", error)
    if not match:
        return error
    number = int(match.group(1))
    lines = content.splitlines()
    start = max(0, number - 3)
    shown = [f"{i + 1:4d} | {lines[i]}" for i in range(start, min(len(lines), number + 1))]
    return error + "\n" + "\n".join(shown)
