"""Verdicts the judge used to get wrong on real suites' tests: a test failing at random called
order dependent, parametrized cases of one body judged apart, a copied test file accepted, and
tests that check through local helpers or decorators called assertion-free."""

from __future__ import annotations

from collections.abc import Callable

from agent.quality import Judge
from agent.schema import Reason

from .conftest import Ledger, proposed, verdicts

AT_RANDOM = """
import os

import pytest

from ledger.pricing import subtotal


@pytest.mark.parametrize("n", range(4))
def test_draws(n):
    assert os.urandom(1)[0] < 128  # nothing seeds this: half the runs fail
    assert subtotal([(n, 3.0)]) == 3.0 * n
"""


def test_a_test_failing_at_random_is_flaky_not_order_dependent(
    judges: Callable[..., Judge],
) -> None:
    path = "tests/test_at_random.py"
    for _ in range(2):
        found = verdicts(judges().check([proposed(path, AT_RANDOM)]), path)
        reasons = {name: v.reason for name, v in found.items()}
        assert Reason.ORDER_DEPENDENT not in reasons.values(), found
        assert Reason.FLAKY in reasons.values(), reasons


REWRITES_SOURCE = """
from pathlib import Path

import pytest

import ledger.pricing
from ledger.pricing import subtotal


@pytest.mark.parametrize("n", range(10))
def test_rewrites_the_module(n):
    source = Path(ledger.pricing.__file__)
    source.write_text(source.read_text() + "\\n# touched\\n")
    assert subtotal([(n, 2.0)]) == 2.0 * n


def test_clean():
    assert subtotal([(3, 2.0)]) == 6.0
"""


def test_a_side_effect_of_the_body_rejects_every_parametrized_case(
    judges: Callable[..., Judge],
) -> None:
    path = "tests/test_rewrites_source.py"
    found = verdicts(judges().check([proposed(path, REWRITES_SOURCE)]), path)
    for n in range(10):
        case = found[f"test_rewrites_the_module[{n}]"]
        assert case.reason == Reason.SIDE_EFFECT, case
        assert "ledger/pricing.py" in case.detail
    assert found["test_clean"].reason != Reason.SIDE_EFFECT


def test_a_copied_test_file_is_redundant_naming_the_tests_it_repeats(
    ledger: Ledger, judges: Callable[..., Judge]
) -> None:
    original = (ledger.path / "tests" / "test_pricing.py").read_text(encoding="utf-8")
    # the same tests under new names, with a docstring, new local names and another layout
    near = original.replace("def test_", "def test_copied_").replace("(", "( ")
    near = '"""Pricing, again."""\n' + near
    for judge in (judges(), judges(with_context=False)):
        path = "tests/test_pricing_again.py"
        found = verdicts(judge.check([proposed(path, near)]), path)
        assert found, found
        for name, verdict in found.items():
            assert verdict.reason == Reason.REDUNDANT, verdict
            assert "tests/test_pricing.py::" + name.replace("copied_", "") in verdict.detail


CHECKED_THROUGH_HELPERS = """
import pytest

from ledger.pricing import subtotal, total


def check_subtotal(items, expected):
    if subtotal(items) != expected:
        raise ValueError(f"subtotal of {items} is not {expected}")


def refuses(items):
    with pytest.raises(TypeError):
        total(items)


def test_subtotal_through_a_raising_helper():
    check_subtotal([(2, 4.0)], 8.0)


def test_refusal_through_a_helper():
    refuses(None)


def test_total_of_an_empty_cart_does_not_raise():
    total([])


def test_total_runs():
    total([(3, 10.0)])
"""


def test_checks_made_by_local_helpers_count_and_assert_free_tests_do_not(
    judges: Callable[..., Judge],
) -> None:
    path = "tests/test_through_helpers.py"
    found = verdicts(
        judges(with_context=False).check([proposed(path, CHECKED_THROUGH_HELPERS)]), path
    )
    for name in (
        "test_subtotal_through_a_raising_helper",
        "test_refusal_through_a_helper",
        "test_total_of_an_empty_cart_does_not_raise",
    ):
        assert found[name].verdict == "accepted", found[name]
    assert found["test_total_runs"].reason == Reason.NO_ASSERTIONS


CHECKED_BY_A_DECORATOR = """
from ledger.pricing import subtotal


def costs_eight(func):
    def run():
        assert subtotal(func()) == 8.0
    return run


def logged(func):
    def run():
        return func()
    return run


@costs_eight
def test_two_at_four():
    return [(2, 4.0)]


@logged
def test_logged_only():
    subtotal([(1, 1.0)])
"""


def test_a_decorator_that_checks_the_tests_result_is_an_oracle(
    judges: Callable[..., Judge],
) -> None:
    path = "tests/test_checked_by_decorator.py"
    found = verdicts(
        judges(with_context=False).check([proposed(path, CHECKED_BY_A_DECORATOR)]), path
    )
    assert found["test_two_at_four"].verdict == "accepted", found["test_two_at_four"]
    assert found["test_logged_only"].reason == Reason.NO_ASSERTIONS
