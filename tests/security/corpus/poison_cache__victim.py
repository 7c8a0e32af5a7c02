"""The second proposal: tests that fail on the current code."""

from shopkit.prices import total


def test_total_is_wrong():
    assert total([(2, 3)]) == 7


def test_raises():
    assert total([]) == 0
    raise RuntimeError("this must not count as a pass")
