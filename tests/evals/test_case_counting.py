"""How the offline corpus counts cases: one per file, positives only verbatim, known rejections."""

from __future__ import annotations

from agent.schema import FileVerdict, Reason
from agent.schema import TestVerdict as Judged
from evals.corpus import Case, turns
from evals.scores import judge_case
from evals.targets import TARGETS, KnownRejection, TargetSpec


def verbatim(path: str, known: dict[str, str] | None = None) -> Case:
    return Case(
        target="t",
        heldout=path,
        name="verbatim",
        expected="accepted",
        group="verbatim",
        path=path,
        content="",
        tests=[],
        description="",
        known=known or {},
    )


def verdict(path: str, **rejected: Reason) -> FileVerdict:
    tests = [Judged(nodeid=f"{path}::test_ok", verdict="accepted")]
    tests += [
        Judged(nodeid=f"{path}::{name}", verdict="rejected", reason=reason, detail=name)
        for name, reason in rejected.items()
    ]
    return FileVerdict(path=path, tests=tests)


def test_every_verbatim_file_of_a_target_is_judged_in_one_proposal() -> None:
    cases = [verbatim("tests/test_a.py"), verbatim("tests/test_b.py")]
    assert turns(cases) == [cases]


def test_a_known_rejection_is_right_only_for_its_test_and_reason() -> None:
    path = "tests/test_a.py"
    case = verbatim(path, {"test_skipped": "no_tests"})
    right = judge_case(case, verdict(path, test_skipped=Reason.NO_TESTS))
    assert right.correct and right.actual == "accepted"
    other_reason = judge_case(case, verdict(path, test_skipped=Reason.REDUNDANT))
    assert not other_reason.correct and other_reason.actual == "redundant"
    also_another = judge_case(
        case, verdict(path, test_skipped=Reason.NO_TESTS, test_more=Reason.FAILS)
    )
    assert not also_another.correct and also_another.actual == "fails"
    kept = judge_case(case, verdict(path))
    assert not kept.correct and "test_skipped" in kept.detail


def test_positives_are_at_least_as_many_as_the_variants_can_be() -> None:
    def most_negatives(spec: TargetSpec) -> int:
        per_file = len(spec.variants) or 14  # every reason but misses_change
        return per_file * len(spec.broken_files()) + bool(spec.change_base)

    positives = sum(len(spec.heldout) for spec in TARGETS.values())
    assert positives >= sum(most_negatives(spec) for spec in TARGETS.values())


def test_known_rejections_name_held_out_tests_with_real_reasons() -> None:
    for spec in TARGETS.values():
        for known in spec.known_rejections:
            assert isinstance(known, KnownRejection)
            assert known.test.split("::", 1)[0] in spec.heldout, known.test
            assert Reason(known.reason) and known.why
