"""The flaky and order-dependent gates: one run that repeats the new tests in-interpreter.

Round 0 runs them in reverse file order in a fresh process, so each test first meets only the
tests that came after it: a test that needs an earlier one fails there. Later rounds are
shuffled, with `random` seeded per test and round: a test that does not pass every time is
flaky. Tests that failed on their first run go too, so that a test which passes later is called
flaky (or order dependent) rather than broken.

With the flaky gate switched off only round 0 runs (the order-dependent gate's), and a test is
never called flaky; with the order-dependent gate off, never order dependent. Either way a test
the gate would have called so keeps the verdict of its first run.
"""

from __future__ import annotations

import hashlib

from agent.quality.classify import Failure, one_line, run_failure, worst
from agent.quality.rerun_order import presorted
from agent.quality.sandbox_port import SandboxPort
from agent.quality.work import FileWork, TestWork, file_of
from agent.schema import Reason, RunResult, TestOutcome

_RERUN_FAILURES = {Reason.FAILS, Reason.ERROR}
_JUDGED = frozenset({Reason.FLAKY, Reason.ORDER_DEPENDENT})


def check_stability(
    sandbox: SandboxPort,
    works: list[FileWork],
    rounds: int,
    judged: frozenset[Reason] = _JUDGED,
) -> RunResult | None:
    """Run the tests that ran `rounds` times (at least once); judge what the rounds show, with
    the reasons of `judged` (the gates switched on)."""
    target = [
        t.nodeid
        for w in works
        for t in reversed(list(w.tests.values()))
        if t.first is not None
        and not t.skipped
        and (t.alive or (t.failure is not None and t.failure.reason in _RERUN_FAILURES))
    ]
    if not target:
        return None
    seed = _seed(works)
    if Reason.FLAKY not in judged:
        rounds = 1
    first = {t.nodeid: t.failure for w in works for t in w.tests.values()}
    say = _Say(judged, first)
    result = sandbox.run(
        {w.path: w.content for w in works},
        select=presorted(target, seed),
        reruns=max(0, rounds - 1),
        shuffle_seed=seed,
    )
    order = [o.nodeid for o in result.outcomes if o.run == 0]
    grouped = result.by_nodeid()
    for work in works:
        file_order = list(work.tests)
        for test in work.tests.values():
            if test.nodeid in target:
                _read(test, grouped.get(test.nodeid, []), order, file_order, say)
    _confirm_order(sandbox, works, order, say)
    return result


class _Say:
    """Gives a test the reason its rounds show, when that reason's gate is on; otherwise the
    verdict of its first run stands."""

    def __init__(self, judged: frozenset[Reason], first: dict[str, Failure | None]) -> None:
        self.judged = judged
        self.first = first

    def __call__(self, test: TestWork, failure: Failure) -> None:
        if failure.reason in self.judged:
            test.failure = failure
        else:
            test.failure = self.first.get(test.nodeid)


_CONFIRMATIONS = 3  # fresh runs of each order before a failure is said to follow the order


def _confirm_order(
    sandbox: SandboxPort, works: list[FileWork], order: list[str], say: _Say
) -> None:
    """An order-dependent test fails in one order and passes in the other, every time. Run
    both orders again in fresh processes (unseeded): a test that fails in the order it passed
    in, or passes in the order it failed in, fails at random: it is flaky."""
    suspects = {
        t.nodeid: t
        for w in works
        for t in w.tests.values()
        if t.failure is not None
        and t.failure.reason == Reason.ORDER_DEPENDENT
        and t.nodeid in order
        and not t.failure.detail.startswith("breaks the existing test")
    }
    if not suspects:
        return
    files = {file_of(n) for n in suspects}
    reverse = [n for n in order if file_of(n) in files]
    forward = [t.nodeid for w in works if w.path in files for t in w.tests.values()]
    forward = [n for n in forward if n in reverse]
    fails_first = {n: _fails_in_file_order(t) for n, t in suspects.items()}
    contents = {w.path: w.content for w in works if w.path in files}
    for _ in range(_CONFIRMATIONS):
        if not suspects:
            return
        for name, select in (("file", forward), ("other", reverse)):
            run = sandbox.run(contents, select=select)
            failed = {
                o.nodeid
                for o in run.outcomes
                if o.outcome in ("failed", "error") and o.run == 0 and not o.timed_out
            }
            ran = {o.nodeid for o in run.outcomes}
            for nodeid, test in list(suspects.items()):
                if nodeid not in ran:
                    continue
                should_fail = fails_first[nodeid] == (name == "file")
                if (nodeid in failed) != should_fail:
                    _at_random(test, name, should_fail, say)
                    del suspects[nodeid]


def _fails_in_file_order(test: TestWork) -> bool:
    return test.failure is not None and test.failure.detail.startswith("fails in file order")


def _at_random(test: TestWork, order: str, should_fail: bool, say: _Say) -> None:
    failure = test.failure
    assert failure is not None
    where = "in file order" if order == "file" else "in the other order"
    seen = "passed" if should_fail else "failed"
    cause = failure.detail.split(": ", 1)[-1]
    say(
        test,
        Failure(
            Reason.FLAKY,
            one_line(
                f"fails at random, not because of the order: {seen} {where} when run again; "
                f"failing run: {cause}"
            ),
            failure.feedback,
        ),
    )


def _read(
    test: TestWork,
    records: list[TestOutcome],
    order: list[str],
    file_order: list[str],
    say: _Say,
) -> None:
    by_run: dict[int, list[TestOutcome]] = {}
    for r in records:
        by_run.setdefault(r.run, []).append(r)
    failures: dict[int, Failure] = {}
    for run, recs in sorted(by_run.items()):
        failure = run_failure(
            worst(recs), expected_bug=test.expected_bug, declared_raises=test.declared_raises
        )
        if failure is not None:
            failures[run] = failure
    test.reruns_total = len(by_run)
    test.reruns_passed = len(by_run) - len(failures)
    if not test.alive:
        _failed_first(test, failures, set(by_run), order, file_order, say)
    elif failures:
        _failed_later(test, failures, set(by_run), order, file_order, say)


def _steady_later(failures: dict[int, Failure], runs: set[int]) -> bool:
    """The later rounds all ran after every test (round 0 ran them all): a test whose
    failures follow the order gets the same result in each of them; one that fails in some
    and passes in others fails at random."""
    return len({r in failures for r in runs if r > 0}) <= 1


def _failed_later(
    test: TestWork,
    failures: dict[int, Failure],
    runs: set[int],
    order: list[str],
    file_order: list[str],
    say: _Say,
) -> None:
    """A test that passed in file order but not in every round."""
    for failure in failures.values():
        if failure.reason in (Reason.TIMEOUT, Reason.NETWORK):
            test.fail(Failure(failure.reason, f"on a rerun: {failure.detail}", failure.feedback))
            return
    failure = next(iter(failures.values()))
    before_now = _before(test.nodeid, order)
    if (
        0 in failures
        and before_now != _before(test.nodeid, file_order)
        and _steady_later(failures, runs)
    ):
        after = (
            "when run first, without the tests before it"
            if not before_now
            else f"when run after {', '.join(_short_ids(before_now[-2:]))}"
        )
        say(
            test,
            Failure(
                Reason.ORDER_DEPENDENT,
                one_line(f"passes in file order but fails {after}: {failure.detail}"),
                failure.feedback,
            ),
        )
        return
    say(
        test,
        Failure(
            Reason.FLAKY,
            one_line(
                f"passed {test.reruns_passed} of {test.reruns_total} reruns (random order "
                f"and seeds); failing run: {failure.detail}"
            ),
            failure.feedback,
        ),
    )


def _failed_first(
    test: TestWork,
    failures: dict[int, Failure],
    runs: set[int],
    order: list[str],
    file_order: list[str],
    say: _Say,
) -> None:
    """A test that failed in file order: flaky or order dependent if it ever passes again."""
    if not runs or len(failures) == len(runs) or test.failure is None:
        return
    first = test.failure
    if (
        0 not in failures
        and _before(test.nodeid, order) != _before(test.nodeid, file_order)
        and _steady_later(failures, runs)
    ):
        before = _before(test.nodeid, file_order)
        after = f"after {', '.join(_short_ids(before[-2:]))}" if before else "first"
        say(
            test,
            Failure(
                Reason.ORDER_DEPENDENT,
                one_line(
                    f"fails in file order ({after}) but passes in another order: {first.detail}"
                ),
                first.feedback,
            ),
        )
        return
    say(
        test,
        Failure(
            Reason.FLAKY,
            one_line(
                f"failed on its first run, then passed {test.reruns_passed} of "
                f"{test.reruns_total} reruns (random order and seeds): {first.detail}"
            ),
            first.feedback,
        ),
    )


def _seed(works: list[FileWork]) -> int:
    """Stable per proposal, so the same files get the same verdict."""
    digest = hashlib.sha1("".join(w.content for w in works).encode()).hexdigest()
    return int(digest[:8], 16)


def _before(nodeid: str, order: list[str]) -> list[str]:
    """The tests of the same file that ran before `nodeid` in `order`."""
    if nodeid not in order:
        return []
    same_file = [n for n in order if file_of(n) == file_of(nodeid)]
    return same_file[: same_file.index(nodeid)]


def _short_ids(nodeids: list[str]) -> list[str]:
    return [n.split("::", 1)[1] if "::" in n else n for n in nodeids]
