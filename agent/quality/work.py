"""The judge's working state for one check: per file and per test, what each gate found."""

from __future__ import annotations

from dataclasses import dataclass, field

from agent.gates import RANK
from agent.quality.classify import Failure
from agent.quality.facts import FileFacts
from agent.schema import FileVerdict, OnBase, Reason, TestOutcome, TestVerdict


def rank(reason: Reason) -> int:
    """Position of a reason in the gates' order (`gates.GATES`): lower decides first."""
    return RANK[reason]


def file_of(nodeid: str) -> str:
    return nodeid.split("::", 1)[0]


@dataclass
class TestWork:
    nodeid: str
    qualname: str
    expected_bug: bool = False
    declared_raises: bool = False  # its xfail mark names the exception (`raises=...`)
    failure: Failure | None = None
    bug: bool = False  # failed on an assertion as its strict xfail mark says it should
    skipped: bool = False  # skipped (or a non-strict xfail) here: kept, but proves nothing
    first: TestOutcome | None = None  # first execution, in file order
    note: str = ""  # detail for a test that is not rejected
    reruns_passed: int | None = None
    reruns_total: int | None = None
    lines: dict[str, set[int]] = field(default_factory=dict)
    lines_added: int | None = None
    changed_lines_covered: list[str] = field(default_factory=list)
    seams: list[str] = field(default_factory=list)
    mutants_killed: list[str] = field(default_factory=list)
    change_mutants: int | None = None
    change_mutants_killed: int | None = None
    on_base: OnBase = "not_applicable"
    detects_change: bool | None = None
    base_detail: str = ""

    @property
    def alive(self) -> bool:
        """Still in the running: not rejected so far (bug tests included)."""
        return self.failure is None

    @property
    def candidate(self) -> bool:
        """Passing and not rejected: the tests coverage and mutation are measured on."""
        return self.failure is None and not self.bug and not self.skipped

    def fail(self, failure: Failure) -> None:
        if self.failure is None or RANK[failure.reason] < RANK[self.failure.reason]:
            self.failure = failure

    def verdict(self) -> TestVerdict:
        if self.failure is not None:
            verdict, reason = "rejected", self.failure.reason
            detail, feedback = self.failure.detail, self.failure.feedback
        elif self.bug:
            verdict, reason, detail, feedback = "bug", None, self.note or "fails as marked", ""
        else:
            verdict, reason, detail, feedback = "accepted", None, self.note, ""
        return TestVerdict(
            nodeid=self.nodeid,
            verdict=verdict,  # type: ignore[arg-type]
            reason=reason,
            detail=detail,
            feedback=feedback,
            reruns_passed=self.reruns_passed,
            reruns_total=self.reruns_total,
            lines_added=self.lines_added,
            changed_lines_covered=self.changed_lines_covered,
            seams=self.seams,
            mutants_killed=self.mutants_killed,
            change_mutants=self.change_mutants,
            change_mutants_killed=self.change_mutants_killed,
            on_base=self.on_base,
            detects_change=self.detects_change,
            base_detail=self.base_detail,
        )


@dataclass
class FileWork:
    path: str
    content: str  # with bug marks applied
    facts: FileFacts
    bug_names: set[str] = field(default_factory=set)  # qualnames proposed or marked as bugs
    failure: Failure | None = None  # a failure of the whole file (path, syntax, collection...)
    tests: dict[str, TestWork] = field(default_factory=dict)
    mutation_score: float | None = None

    @property
    def runnable(self) -> bool:
        return self.failure is None

    def add_test(self, nodeid: str) -> TestWork:
        if nodeid not in self.tests:
            qualname = self.facts.qualname_of(nodeid)
            self.tests[nodeid] = TestWork(
                nodeid=nodeid,
                qualname=qualname,
                expected_bug=qualname in self.bug_names
                or qualname.split("::")[-1] in self.bug_names,
                declared_raises=qualname in self.facts.xfail_raises,
            )
        return self.tests[nodeid]

    def verdict(self) -> FileVerdict:
        if self.failure is not None:
            f = self.failure
            tests = [
                TestVerdict(
                    nodeid=self.path,
                    verdict="rejected",
                    reason=f.reason,
                    detail=f.detail,
                    feedback=f.feedback,
                )
            ]
        else:
            tests = [t.verdict() for t in self.tests.values()]
        return FileVerdict(path=self.path, tests=tests, mutation_score=self.mutation_score)
