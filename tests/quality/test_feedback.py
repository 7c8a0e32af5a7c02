"""verdict_feedback: what the model is told, per file and per test, trimmed to what it needs."""

from __future__ import annotations

from agent import schema
from agent.quality import verdict_feedback
from agent.quality.classify import trim_tail
from agent.schema import CheckResult, FileVerdict, Reason


def _result() -> CheckResult:
    kept = FileVerdict(
        path="tests/test_kept.py",
        tests=[
            schema.TestVerdict(
                nodeid="tests/test_kept.py::test_ok",
                verdict="accepted",
                reruns_passed=5,
                reruns_total=5,
                lines_added=4,
                mutants_killed=["m1", "m2"],
            ),
            schema.TestVerdict(
                nodeid="tests/test_kept.py::test_bug", verdict="bug", detail="fails"
            ),
        ],
        mutation_score=0.5,
    )
    long_trace = "Traceback\n" + "frame\n" * 2000 + "E   assert 6.0 == 5.0\n"
    rejected = FileVerdict(
        path="tests/test_bad.py",
        tests=[
            schema.TestVerdict(nodeid="tests/test_bad.py::test_good", verdict="accepted"),
            schema.TestVerdict(
                nodeid="tests/test_bad.py::test_total",
                verdict="rejected",
                reason=Reason.FAILS,
                detail="fails on the current code: assert 6.0 == 5.0",
                feedback=long_trace,
            ),
        ],
    )
    return CheckResult(files=[kept, rejected], mutants_total=4, mutants_killed=2)


def test_feedback_lists_each_verdict_and_what_to_fix() -> None:
    text = verdict_feedback(_result())
    assert text.startswith("Verdict: 1 of 2 file(s) kept.")
    assert "tests/test_kept.py: ACCEPTED, it will be kept as written" in text
    ok = "test_ok: accepted (passed 5/5 reruns, +4 lines no existing test runs, kills 2 mutants)"
    assert ok in text
    assert "test_bug: bug" in text
    assert "tests/test_bad.py: REJECTED (1 of 2 test(s) rejected)" in text
    assert "test_total: rejected [fails] fails on the current code: assert 6.0 == 5.0" in text
    assert "to fix:" in text
    assert "E   assert 6.0 == 5.0" in text  # the tail of the traceback is kept
    assert "this proposal's tests kill 2 of 4 mutants" in text
    last = text.rstrip().splitlines()[-1]
    assert last.startswith("Next:") and "tests/test_bad.py" in last
    assert "tests/test_kept.py" not in last


def test_feedback_is_trimmed() -> None:
    text = verdict_feedback(_result())
    assert len(text) < 4_000
    assert text.count("frame") < 300


def test_all_kept_says_to_finish() -> None:
    result = CheckResult(
        files=[
            FileVerdict(
                path="tests/test_a.py",
                tests=[schema.TestVerdict(nodeid="tests/test_a.py::test_a", verdict="accepted")],
            )
        ]
    )
    text = verdict_feedback(result)
    assert "ACCEPTED" in text and "`finish`" in text.splitlines()[-1]


def test_tracebacks_are_shown_in_repo_terms() -> None:
    raw = (
        "ImportError while importing test module "
        "'/tmp/itarch-sandbox-ab12/ws/shop/tests/test_x.py'.\n"
        "Hint: make sure your test modules/packages have valid Python names.\n"
        "Traceback:\n"
        "/usr/lib/python3.11/importlib/__init__.py:126: in import_module\n"
        "    return _bootstrap._gcd_import(name[level:], package, level)\n"
        "tests/test_x.py:1: in <module>\n"
        "    from shop.orders import nothing\n"
        "E   ImportError: cannot import name 'nothing' "
        "(/tmp/itarch-sandbox-ab12/ws/shop/shop/orders.py)\n"
    )
    assert trim_tail(raw).splitlines() == [
        "ImportError while importing test module 'tests/test_x.py'.",
        "tests/test_x.py:1: in <module>",
        "    from shop.orders import nothing",
        "E   ImportError: cannot import name 'nothing' (shop/orders.py)",
    ]
