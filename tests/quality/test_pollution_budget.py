"""Which related existing test files run after the new ones (do they break them?): the most
related first, within a budget of their recorded test time; the cheapest when each is over."""

from __future__ import annotations

from agent.quality.baseline import FileBaseline
from agent.quality.judge import POLLUTION_SECONDS, _within_budget


def _baseline(path: str, seconds: float) -> FileBaseline:
    return FileBaseline(path=path, durations={f"{path}::t": seconds})


def test_most_related_first_within_the_budget() -> None:
    costs = {"a.py": 1.0, "huge.py": POLLUTION_SECONDS * 4, "b.py": 2.0, "c.py": POLLUTION_SECONDS}
    baselines = {p: _baseline(p, s) for p, s in costs.items()}
    assert _within_budget(list(costs), baselines) == ["a.py", "b.py"]


def test_when_each_is_over_the_budget_the_cheapest_runs() -> None:
    costs = {"big.py": POLLUTION_SECONDS * 3, "bigger.py": POLLUTION_SECONDS * 2}
    baselines = {p: _baseline(p, s) for p, s in costs.items()}
    assert _within_budget(list(costs), baselines) == ["bigger.py"]
    assert _within_budget([], {}) == []
