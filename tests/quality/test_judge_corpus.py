"""A corpus of deliberately bad tests, each rejected with exactly its reason, in a real repository
and a real sandbox; good tests accepted; a real defect reported as a bug.

The files that cannot disturb each other are judged together in one check (as a proposal with
several files would be); the ones that hang, write, leak state or depend on order get their own.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

import pytest

from agent.quality import Judge, verdict_feedback
from agent.schema import CheckResult, ProposedFile, Reason

from .conftest import Ledger, proposed, verdicts

GOOD = '''
"""Checkout prices the cart with the code's discount and stores what it charged."""
from ledger.checkout import checkout, events
from ledger.store import Store


def test_discount_code_is_applied_and_stored():
    store = Store()
    order_id = checkout(store, [(2, 10.0)], code="HALF")
    assert store.get(order_id) == 12.0
    assert ("order.placed", order_id) in events()


def test_empty_cart_is_refused():
    import pytest

    with pytest.raises(ValueError, match="empty cart"):
        checkout(Store(), [])
'''

BUG_BY_PROPOSAL = """
from ledger.checkout import checkout
from ledger.store import Store


def test_codes_are_case_insensitive():
    store = Store()
    order_id = checkout(store, [(2, 10.0)], code="half")
    assert store.get(order_id) == 12.0
"""

BUG_BY_AUTHOR = """
import pytest

from ledger.checkout import checkout
from ledger.store import Store


@pytest.mark.xfail(strict=True, reason="codes are documented as case-insensitive")
def test_tenoff_lowercase():
    store = Store()
    order_id = checkout(store, [(1, 10.0)], code="tenoff")
    assert store.get(order_id) == 10.8
"""

# path -> (content, the reason it must be rejected with)
BATCH: dict[str, tuple[str, Reason]] = {
    "tests/test_bad_syntax.py": ("def test_broken(:\n    assert True\n", Reason.SYNTAX),
    "tests/test_missing_name.py": (
        "from ledger.pricing import apply_coupon\n\n\ndef test_x():\n    assert apply_coupon\n",
        Reason.IMPORT,
    ),
    "tests/test_missing_module.py": (
        "import ledger.loyalty\n\n\ndef test_x():\n    assert ledger.loyalty\n",
        Reason.IMPORT,
    ),
    "tests/test_missing_fixture.py": (
        "def test_uses_fixture(payment_gateway):\n    assert payment_gateway.ok\n",
        Reason.COLLECTION,
    ),
    "tests/test_module_raises.py": (
        "raise RuntimeError('configured wrong')\n\n\ndef test_x():\n    assert True\n",
        Reason.COLLECTION,
    ),
    "tests/test_only_helpers.py": (
        "def make_cart():\n    return [(1, 2.0)]\n\n\ndef check_cart():\n    assert make_cart()\n",
        Reason.NO_TESTS,
    ),
    "tests/test_all_skipped.py": (
        "import pytest\n\npytestmark = pytest.mark.skip(reason='later')\n\n\n"
        "def test_x():\n    assert 1 == 2\n",
        Reason.NO_TESTS,
    ),
    "tests/test_wrong_total.py": (
        "from ledger.pricing import total\n\n\ndef test_total():\n"
        "    assert total([(1, 10.0)], discount=0.5) == 5.0\n",
        Reason.FAILS,
    ),
    "tests/test_type_error.py": (
        "from ledger.pricing import total\n\n\ndef test_total():\n    assert total(None) == 0\n",
        Reason.ERROR,
    ),
    "tests/test_no_oracle.py": (
        "from ledger.pricing import total\n\n\ndef test_total_runs():\n"
        "    total([(3, 10.0)], discount=0.1)\n",
        Reason.NO_ASSERTIONS,
    ),
}

PATHS = {
    "../outside/test_escape.py": "'..'",
    "/tmp/test_absolute.py": "absolute",
    "ledger/test_in_package.py": "outside the tests root",
    "tests/test_pricing.py": "already exists",
    "tests/package_link/test_through_link.py": "symlink",
}


@pytest.fixture(scope="module")
def batch(judges: Callable[..., Judge]) -> CheckResult:
    files = [proposed(path, content) for path, (content, _) in BATCH.items()]
    files.append(proposed("tests/test_checkout_good.py", GOOD))
    files.append(
        proposed(
            "tests/test_checkout_bug.py",
            BUG_BY_PROPOSAL,
            bugs={"test_codes_are_case_insensitive": "codes are documented case-insensitive"},
        )
    )
    files.append(proposed("tests/test_checkout_author_bug.py", BUG_BY_AUTHOR))
    files += [proposed(path, "def test_x():\n    assert True\n") for path in PATHS]
    files.append(ProposedFile.model_construct(path="tests/test_notes.txt", content="", tests=[]))
    return judges().check(files)


@pytest.mark.parametrize("path", sorted(BATCH))
def test_bad_file_is_rejected_with_its_reason(batch: CheckResult, path: str) -> None:
    expected = BATCH[path][1]
    found = verdicts(batch, path)
    assert {t.verdict for t in found.values()} == {"rejected"}
    assert {t.reason for t in found.values()} == {expected}, found
    assert all(t.detail and "\n" not in t.detail for t in found.values())


@pytest.mark.parametrize("path", sorted(PATHS))
def test_path_outside_what_may_be_written_is_rejected(batch: CheckResult, path: str) -> None:
    (verdict,) = verdicts(batch, path).values()
    assert verdict.reason == Reason.PATH
    assert PATHS[path] in verdict.detail


def test_non_python_path_is_rejected(batch: CheckResult) -> None:
    (verdict,) = verdicts(batch, "tests/test_notes.txt").values()
    assert verdict.reason == Reason.PATH and ".py" in verdict.detail


def test_feedback_names_what_is_missing(batch: CheckResult) -> None:
    assert (
        "apply_coupon"
        in verdicts(batch, "tests/test_missing_name.py")["tests/test_missing_name.py"].detail
    )
    assert (
        "ledger.loyalty"
        in verdicts(batch, "tests/test_missing_module.py")["tests/test_missing_module.py"].detail
    )
    fixture = verdicts(batch, "tests/test_missing_fixture.py")["test_uses_fixture"]
    assert "payment_gateway" in fixture.detail
    wrong = verdicts(batch, "tests/test_wrong_total.py")["test_total"]
    assert "6.0 == 5.0" in wrong.detail or "6.0 == 5.0" in wrong.feedback
    assert "TypeError" in verdicts(batch, "tests/test_type_error.py")["test_total"].detail


def test_good_tests_are_accepted_with_evidence(batch: CheckResult) -> None:
    found = verdicts(batch, "tests/test_checkout_good.py")
    assert {t.verdict for t in found.values()} == {"accepted"}
    stored = found["test_discount_code_is_applied_and_stored"]
    assert stored.reruns_total == 5 and stored.reruns_passed == 5
    assert "ledger/pricing.py:13" in stored.changed_lines_covered  # the discount branch
    assert stored.lines_added and stored.lines_added > 0
    (file,) = [f for f in batch.files if f.path == "tests/test_checkout_good.py"]
    assert file.accepted


def test_real_defect_is_reported_as_bug(batch: CheckResult) -> None:
    (verdict,) = verdicts(batch, "tests/test_checkout_bug.py").values()
    assert verdict.verdict == "bug", verdict
    assert "24.0 == 12.0" in verdict.detail
    (author,) = verdicts(batch, "tests/test_checkout_author_bug.py").values()
    assert author.verdict == "bug", author
    assert all(f.accepted for f in batch.files if "bug" in f.path)


def test_gate_seconds_are_recorded(batch: CheckResult) -> None:
    assert {"static", "baseline", "run", "reruns"} <= set(batch.gate_seconds)
    assert all(seconds >= 0 for seconds in batch.gate_seconds.values())
    assert batch.isolation.value in {"bwrap", "unshare", "container", "process"}


def test_verdict_text_carries_reasons_and_next_step(batch: CheckResult) -> None:
    text = verdict_feedback(batch)
    assert "[import]" in text and "apply_coupon" in text
    assert "tests/test_checkout_good.py: ACCEPTED" in text
    assert "strict xfail" in text
    assert text.rstrip().splitlines()[-1].startswith("Next:")


# ---------------------------------------------------------------- bug marks that don't hold


def test_bug_that_passes_or_errors_is_rejected_as_fails(judges: Callable[..., Judge]) -> None:
    content = (
        "from ledger.pricing import total\n\n\n"
        "def test_passes():\n    assert total([(1, 10.0)]) == 12.0\n\n\n"
        "def test_type_error():\n    assert total(None) == 1\n"
    )
    file = proposed(
        "tests/test_bad_bugs.py",
        content,
        bugs={"test_passes": "claimed defect", "test_type_error": "claimed defect"},
    )
    found = verdicts(judges().check([file]), file.path)
    assert found["test_passes"].reason == Reason.FAILS
    assert "passes on the current code" in found["test_passes"].detail
    assert found["test_type_error"].reason == Reason.FAILS
    assert "TypeError" in found["test_type_error"].detail


def test_judge_prepares_bug_marks_it_judged(judges: Callable[..., Judge]) -> None:
    file = proposed(
        "tests/test_x.py", BUG_BY_PROPOSAL, bugs={"test_codes_are_case_insensitive": "x"}
    )
    prepared = judges().prepared(file)
    assert "@pytest.mark.xfail(strict=True, reason='x')" in prepared
    assert prepared.startswith("import pytest\n")


# ---------------------------------------------------------------- gates that need their own run


def test_hanging_test_is_rejected_as_timeout(judges: Callable[..., Judge]) -> None:
    content = "import time\n\n\ndef test_waits_forever():\n    time.sleep(30)\n    assert True\n"
    found = verdicts(
        judges().check([proposed("tests/test_hangs.py", content)]), "tests/test_hangs.py"
    )
    assert found["test_waits_forever"].reason == Reason.TIMEOUT


def test_writing_into_the_repo_is_a_side_effect_of_that_test_only(
    judges: Callable[..., Judge],
) -> None:
    content = """
from pathlib import Path

import ledger
from ledger.pricing import subtotal


def test_clean():
    assert subtotal([(1, 3.0)]) == 3.0


def test_writes_cache_next_to_the_code():
    Path(ledger.__file__).with_name("cache.txt").write_text("stale")
    assert subtotal([(2, 3.0)]) == 6.0


def test_scratch_under_tmp_path_is_fine(tmp_path):
    (tmp_path / "out.txt").write_text("ok")
    assert (tmp_path / "out.txt").read_text() == "ok"
"""
    result = judges().check([proposed("tests/test_writes.py", content)])
    found = verdicts(result, "tests/test_writes.py")
    assert found["test_writes_cache_next_to_the_code"].reason == Reason.SIDE_EFFECT
    assert "ledger/cache.txt" in found["test_writes_cache_next_to_the_code"].detail
    assert found["test_clean"].reason != Reason.SIDE_EFFECT
    assert found["test_scratch_under_tmp_path_is_fine"].reason != Reason.SIDE_EFFECT


def test_leftover_process_is_a_side_effect(judges: Callable[..., Judge]) -> None:
    content = (
        "import subprocess\n\n\ndef test_starts_a_daemon():\n"
        "    proc = subprocess.Popen(['sleep', '60'])\n    assert proc.pid > 0\n"
    )
    found = verdicts(
        judges().check([proposed("tests/test_daemon.py", content)]), "tests/test_daemon.py"
    )
    assert found["test_starts_a_daemon"].reason == Reason.SIDE_EFFECT
    assert "process" in found["test_starts_a_daemon"].detail


def test_test_that_fails_on_a_rerun_is_flaky(judges: Callable[..., Judge]) -> None:
    content = """
from ledger.pricing import subtotal

_CALLS = []


def test_only_first_time():
    _CALLS.append(1)
    assert len(_CALLS) == 1
    assert subtotal([(1, 1.0)]) == 1.0
"""
    found = verdicts(
        judges().check([proposed("tests/test_flaky.py", content)]), "tests/test_flaky.py"
    )
    flaky = found["test_only_first_time"]
    assert flaky.reason == Reason.FLAKY
    assert flaky.reruns_total == 5 and flaky.reruns_passed == 1


def test_test_needing_an_earlier_test_is_order_dependent(judges: Callable[..., Judge]) -> None:
    content = """
from ledger.store import Store

STATE = {}


def test_creates_store():
    STATE["store"] = Store()
    assert STATE["store"].add(5.0) == 1


def test_reads_what_the_first_stored():
    assert STATE["store"].get(1) == 5.0
"""
    found = verdicts(
        judges().check([proposed("tests/test_order.py", content)]), "tests/test_order.py"
    )
    assert found["test_reads_what_the_first_stored"].reason == Reason.ORDER_DEPENDENT
    assert "fails when run" in found["test_reads_what_the_first_stored"].detail
    assert found["test_creates_store"].reason != Reason.ORDER_DEPENDENT


def test_test_breaking_the_existing_suite_is_order_dependent(
    judges: Callable[..., Judge],
) -> None:
    content = """
from ledger import pricing


def test_tax_free_total():
    pricing.TAX_RATE = 0.0
    assert pricing.total([(1, 10.0)]) == 10.0
"""
    found = verdicts(
        judges().check([proposed("tests/test_pollutes.py", content)]), "tests/test_pollutes.py"
    )
    polluter = found["test_tax_free_total"]
    assert polluter.reason == Reason.ORDER_DEPENDENT
    assert "tests/test_pricing.py::test_total" in polluter.detail


def test_test_covering_only_what_the_suite_covers_is_redundant(
    judges: Callable[..., Judge],
) -> None:
    content = (
        "from ledger.pricing import total\n\n\n"
        "def test_total_again():\n    assert total([(1, 10.0)]) == 12.0\n"
    )
    for judge in (judges(), judges(mutation=True)):
        result = judge.check([proposed("tests/test_again.py", content)])
        (verdict,) = verdicts(result, "tests/test_again.py").values()
        assert verdict.reason == Reason.REDUNDANT, verdict
        assert verdict.lines_added == 0


def test_test_missing_the_change_is_rejected(judges: Callable[..., Judge]) -> None:
    content = (
        "from ledger.store import Store\n\n\n"
        "def test_store_round_trip():\n    store = Store()\n"
        "    assert store.get(store.add(7.5)) == 7.5\n"
    )
    (verdict,) = verdicts(
        judges().check([proposed("tests/test_store_only.py", content)]), "tests/test_store_only.py"
    ).values()
    assert verdict.reason == Reason.MISSES_CHANGE
    assert "ledger/pricing.py" in verdict.feedback and "ledger/checkout.py" in verdict.feedback


def test_without_context_coverage_gates_do_not_apply(judges: Callable[..., Judge]) -> None:
    content = (
        "from ledger.store import Store\n\n\n"
        "def test_store_round_trip():\n    store = Store()\n"
        "    assert store.get(store.add(7.5)) == 7.5\n"
    )
    result = judges(with_context=False).check([proposed("tests/test_store_only.py", content)])
    (verdict,) = verdicts(result, "tests/test_store_only.py").values()
    assert verdict.verdict == "accepted", verdict
    assert result.mutants_total == 0


def test_the_users_repository_is_never_changed(
    ledger: Ledger, judges: Callable[..., Judge]
) -> None:
    def fingerprint(root: Path) -> dict[str, str]:
        return {
            p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*"))
            if p.is_file() and ".git" not in p.parts and "__pycache__" not in p.parts
        }

    before = fingerprint(ledger.path)
    judges().check([proposed("tests/test_checkout_good.py", GOOD)])
    assert fingerprint(ledger.path) == before
    assert not (ledger.path / "tests" / "test_checkout_good.py").exists()


def test_test_failing_first_then_passing_is_flaky_not_failing(
    judges: Callable[..., Judge],
) -> None:
    content = """
from ledger.pricing import subtotal

_CALLS = []


def test_passes_only_once_warmed_up():
    _CALLS.append(1)
    assert len(_CALLS) > 1
    assert subtotal([(1, 1.0)]) == 1.0
"""
    result = judges().check([proposed("tests/test_warm.py", content)])
    (verdict,) = verdicts(result, "tests/test_warm.py").values()
    assert verdict.reason == Reason.FLAKY, verdict
    assert "failed on its first run" in verdict.detail


def test_test_needing_a_later_test_is_order_dependent(judges: Callable[..., Judge]) -> None:
    content = """
from ledger.store import Store

STATE = {}


def test_reads_what_a_later_test_stores():
    assert STATE["store"].get(1) == 5.0


def test_stores():
    STATE["store"] = Store()
    assert STATE["store"].add(5.0) == 1
"""
    result = judges().check([proposed("tests/test_backwards.py", content)])
    found = verdicts(result, "tests/test_backwards.py")
    assert found["test_reads_what_a_later_test_stores"].reason == Reason.ORDER_DEPENDENT
    assert "passes in another order" in found["test_reads_what_a_later_test_stores"].detail


def test_the_judge_takes_each_path_once(judges: Callable[..., Judge]) -> None:
    # A path proposed twice is refused where proposals enter (the propose tool), with the reason.
    file = proposed("tests/test_x.py", BUG_BY_PROPOSAL)
    with pytest.raises(ValueError, match="each path once"):
        judges().check([file, file])
