"""Scores: how the judge did on the corpus, how much of the held-out suite came back, and what
it cost. Pure functions of verdicts and measurements, so a replay computes the same numbers.
"""

from __future__ import annotations

from collections import Counter
from decimal import Decimal
from statistics import median

from pydantic import BaseModel, Field

from agent.schema import CheckResult, FileVerdict, Reason, Report, TestVerdict
from evals.corpus import ACCEPTED, Case
from evals.measure import Measured, Reference
from evals.variants import qualname_of

REASON_ORDER = [r.value for r in Reason]  # the gates' order
NOT_BUILT = {Reason.PATH, Reason.SYNTAX, Reason.IMPORT, Reason.COLLECTION, Reason.NO_TESTS}
NOT_RELIABLE = {
    Reason.FAILS,
    Reason.ERROR,
    Reason.TIMEOUT,
    Reason.NETWORK,
    Reason.SIDE_EFFECT,
    Reason.FLAKY,
    Reason.ORDER_DEPENDENT,
}


# ---------------------------------------------------------------- judge accuracy


class CaseResult(BaseModel):
    name: str
    heldout: str
    path: str
    expected: str
    actual: str  # "accepted", "bug" or the reason code that decided
    correct: bool
    reasons: dict[str, int] = Field(default_factory=dict)  # every rejected test's reason
    rejected: dict[str, str] = Field(default_factory=dict)  # test (params folded) -> reason
    detail: str = ""  # the judge's one line for the deciding test
    description: str = ""


class Accuracy(BaseModel):
    cases: int = 0
    correct: int = 0
    false_accepts: int = 0  # a broken variant kept
    false_rejects: int = 0  # the real file turned away
    wrong_reason: int = 0  # rejected, but for another reason than the defect's
    confusion: dict[str, dict[str, int]] = Field(default_factory=dict)  # expected -> actual -> n

    @property
    def share(self) -> float | None:
        return self.correct / self.cases if self.cases else None


def judge_case(case: Case, verdict: FileVerdict | None) -> CaseResult:
    by_test: dict[str, str] = {}
    if verdict is None:
        actual, reasons, detail = "missing", Counter[str](), "no verdict for this file"
    elif verdict.accepted:
        actual = "bug" if any(t.verdict == "bug" for t in verdict.tests) else ACCEPTED
        reasons, detail = Counter(), ""
    else:
        rejected = [t for t in verdict.tests if t.verdict == "rejected" and t.reason]
        reasons = Counter(t.reason.value for t in rejected if t.reason)
        by_test = {qualname_of(t.nodeid): t.reason.value for t in rejected if t.reason}
        if case.known:  # the known rejections do not count against the file
            rejected = [t for t in rejected if case.known.get(qualname_of(t.nodeid)) != _code(t)]
        targeted = [t for t in rejected if qualname_of(t.nodeid) in case.tests] or rejected
        deciding = _deciding(targeted)
        actual = deciding.reason.value if deciding and deciding.reason else "rejected"
        detail = deciding.detail if deciding else ""
        if not rejected:
            actual = ACCEPTED
            detail = "; ".join(f"{t} {r} (known)" for t, r in sorted(by_test.items()))
    correct = actual == case.expected
    missed = sorted(set(case.known) - set(by_test))
    if missed and correct:
        # a test the judge should have turned away was kept
        correct, detail = False, f"kept {', '.join(missed)}, expected {case.known[missed[0]]}"
    return CaseResult(
        name=case.name,
        heldout=case.heldout,
        path=case.path,
        expected=case.expected,
        actual=actual,
        correct=correct,
        reasons=dict(reasons),
        rejected=by_test,
        detail=detail,
        description=case.description,
    )


def _code(test: TestVerdict) -> str:
    return test.reason.value if test.reason else ""


def _deciding(tests: list[TestVerdict]) -> TestVerdict | None:
    """The reason most of the tests share (the earlier gate on a tie), and one test with it."""
    if not tests:
        return None
    counts = Counter(t.reason.value for t in tests if t.reason)
    best = min(counts, key=lambda r: (-counts[r], REASON_ORDER.index(r)))
    return next(t for t in tests if t.reason and t.reason.value == best)


def judge_turns(turns: list[list[Case]], results: list[CheckResult]) -> list[CaseResult]:
    out = []
    for turn, result in zip(turns, results, strict=False):
        by_path = {f.path: f for f in result.files}
        out += [judge_case(case, by_path.get(case.path)) for case in turn]
    return out


def accuracy(results: list[CaseResult]) -> Accuracy:
    acc = Accuracy(cases=len(results))
    for r in results:
        acc.confusion.setdefault(r.expected, {}).setdefault(r.actual, 0)
        acc.confusion[r.expected][r.actual] += 1
        if r.correct:
            acc.correct += 1
        elif r.expected == ACCEPTED:
            acc.false_rejects += 1
        elif r.actual in (ACCEPTED, "bug"):
            acc.false_accepts += 1
        else:
            acc.wrong_reason += 1
    return acc


def merge_accuracy(parts: list[Accuracy]) -> Accuracy:
    total = Accuracy()
    for part in parts:
        total.cases += part.cases
        total.correct += part.correct
        total.false_accepts += part.false_accepts
        total.false_rejects += part.false_rejects
        total.wrong_reason += part.wrong_reason
        for expected, row in part.confusion.items():
            for actual, n in row.items():
                cell = total.confusion.setdefault(expected, {})
                cell[actual] = cell.get(actual, 0) + n
    return total


# ---------------------------------------------------------------- recovery


class ModuleCoverage(BaseModel):
    path: str
    statements: int
    by_accepted: float | None  # share of statements the accepted tests execute alone
    with_baseline: float | None  # ... together with the baseline suite
    full_suite: float | None  # ... by the project's full suite (baseline + held-out)


class Recovery(BaseModel):
    statements: int = 0
    covered_full: int = 0
    covered_baseline: int = 0
    covered_with_accepted: int = 0
    lines_lost: int = 0  # covered by the held-out files and nothing else
    lines_regained: int = 0  # ... and covered again by the accepted tests
    mutants: int = 0
    killed_full: int = 0
    killed_baseline: int = 0
    killed_with_accepted: int = 0
    modules: list[ModuleCoverage] = Field(default_factory=list)

    @property
    def coverage_ratio(self) -> float | None:
        """Baseline + accepted coverage as a share of the full suite's."""
        return _share(self.covered_with_accepted, self.covered_full)

    @property
    def regained_share(self) -> float | None:
        return _share(self.lines_regained, self.lines_lost)

    @property
    def mutation_ratio(self) -> float | None:
        return _share(self.killed_with_accepted, self.killed_full)


def recovery(ref: Reference, accepted: Measured) -> Recovery:
    stmts = {p: set(lines) for p, lines in ref.statements.items()}
    base = _within(ref.baseline, stmts)
    held: dict[str, set[int]] = {}
    for lines in ref.heldout.values():
        for path, hit in _within(lines, stmts).items():
            held.setdefault(path, set()).update(hit)
    new = _within(accepted.lines, stmts)
    full = _union(base, held)
    with_accepted = _union(base, new)
    lost = {p: held.get(p, set()) - base.get(p, set()) for p in stmts}
    regained = {p: lost[p] & new.get(p, set()) for p in stmts}
    baseline_kills = set(ref.killed_by_baseline)
    heldout_kills = {m for ms in ref.killed_by_heldout.values() for m in ms}
    accepted_kills = set(accepted.killed)
    return Recovery(
        statements=_count(stmts),
        covered_full=_count(full),
        covered_baseline=_count(base),
        covered_with_accepted=_count(with_accepted),
        lines_lost=_count(lost),
        lines_regained=_count(regained),
        mutants=len(ref.mutants),
        killed_full=len(baseline_kills | heldout_kills),
        killed_baseline=len(baseline_kills),
        killed_with_accepted=len(baseline_kills | accepted_kills),
        modules=[
            ModuleCoverage(
                path=p,
                statements=len(stmts[p]),
                by_accepted=_share(len(new.get(p, set())), len(stmts[p])),
                with_baseline=_share(len(with_accepted.get(p, set())), len(stmts[p])),
                full_suite=_share(len(full.get(p, set())), len(stmts[p])),
            )
            for p in sorted(stmts)
        ],
    )


def heldout_as_measured(ref: Reference, accepted_paths: list[str]) -> Measured:
    """The offline suite's accepted files are held-out files: their evidence is the reference's."""
    lines: dict[str, set[int]] = {}
    kills: set[str] = set()
    for path in accepted_paths:
        for source, hit in ref.heldout.get(path, {}).items():
            lines.setdefault(source, set()).update(hit)
        kills.update(ref.killed_by_heldout.get(path, []))
    return Measured(lines={p: sorted(v) for p, v in lines.items()}, killed=sorted(kills))


def _within(lines: dict[str, list[int]], stmts: dict[str, set[int]]) -> dict[str, set[int]]:
    return {p: set(hit) & stmts[p] for p, hit in lines.items() if p in stmts}


def _union(a: dict[str, set[int]], b: dict[str, set[int]]) -> dict[str, set[int]]:
    return {p: a.get(p, set()) | b.get(p, set()) for p in set(a) | set(b)}


def _count(lines: dict[str, set[int]]) -> int:
    return sum(len(v) for v in lines.values())


def _share(part: float, whole: float) -> float | None:
    return round(part / whole, 4) if whole else None


# ---------------------------------------------------------------- live generation


class Generation(BaseModel):
    """What a generation run produced, counted the way the published studies count."""

    iterations: int = 0
    stopped_by: str = ""
    files_proposed: int = 0
    files_accepted: int = 0
    tests_proposed: int = 0  # test items judged, over every proposal (repairs included)
    tests_built: int = 0  # got past path, syntax, imports and collection
    tests_reliable: int = 0  # ... and passed every run, in any order, without side effects
    tests_accepted: int = 0  # in the files finally kept (bugs included)
    accepted_per_iteration: list[int] = Field(default_factory=list)  # files kept, per turn
    suspected_bugs: list[str] = Field(default_factory=list)
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    cost_usd: Decimal = Decimal(0)

    @property
    def build_rate(self) -> float | None:
        return _share(self.tests_built, self.tests_proposed)

    @property
    def reliable_rate(self) -> float | None:
        return _share(self.tests_reliable, self.tests_proposed)

    @property
    def accept_rate(self) -> float | None:
        return _share(self.tests_accepted, self.tests_proposed)

    @property
    def cache_read_share(self) -> float | None:
        prompt = self.input_tokens + self.cache_read_tokens + self.cache_write_tokens
        return _share(self.cache_read_tokens, prompt)

    @property
    def dollars_per_accepted_test(self) -> Decimal | None:
        if not self.tests_accepted:
            return None
        return (self.cost_usd / self.tests_accepted).quantize(Decimal("0.0001"))


def generation(report: Report, verdicts: list[CheckResult]) -> Generation:
    gen = Generation(
        iterations=report.iterations,
        stopped_by=report.stopped_by,
        input_tokens=report.usage.input_tokens,
        output_tokens=report.usage.output_tokens,
        cache_read_tokens=report.usage.cache_read_input_tokens,
        cache_write_tokens=report.usage.cache_creation_input_tokens,
        cost_usd=report.cost_usd,
        suspected_bugs=sorted(t.nodeid for t in report.bugs),
    )
    for result in verdicts:
        gen.files_proposed += len(result.files)
        gen.accepted_per_iteration.append(sum(f.accepted for f in result.files))
        for file in result.files:
            for test in file.tests:
                gen.tests_proposed += 1
                built = test.verdict != "rejected" or test.reason not in NOT_BUILT
                reliable = built and (test.verdict != "rejected" or test.reason not in NOT_RELIABLE)
                gen.tests_built += built
                gen.tests_reliable += reliable
    kept = {a.path for a in report.accepted}
    gen.files_accepted = len(kept)
    gen.tests_accepted = sum(len(f.tests) for f in report.verdicts if f.path in kept)
    return gen


def median_module_coverage(recoveries: list[Recovery]) -> float | None:
    """CoverUp's statistic: the median, over modules, of the generated tests' coverage."""
    shares = [m.by_accepted for r in recoveries for m in r.modules if m.by_accepted is not None]
    return round(median(shares), 4) if shares else None
