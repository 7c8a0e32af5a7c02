"""The gates that decide which proposed tests are worth keeping.

Usage: `Judge(sandbox, settings, context=ctx, tests_root="tests").check(files)` returns a
`CheckResult` (a verdict per test); `verdict_feedback(result)` is what the model is told;
`mark_bugs(content, {"test_x": "why the code is wrong"})` keeps defect tests as strict xfails.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from agent.quality.feedback import verdict_feedback
    from agent.quality.judge import Judge
    from agent.quality.marks import mark_bugs

__all__ = ["Judge", "mark_bugs", "verdict_feedback"]

# Loaded on first use, so that reading one small module of the package (the gate registry, when
# the settings are validated) does not load the judge and everything below it.
_HOME = {
    "Judge": "agent.quality.judge",
    "mark_bugs": "agent.quality.marks",
    "verdict_feedback": "agent.quality.feedback",
}


def __getattr__(name: str) -> Any:
    if name in _HOME:
        return getattr(import_module(_HOME[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
