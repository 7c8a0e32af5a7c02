"""The gates that decide which proposed tests are worth keeping.

Usage: `Judge(sandbox, settings, context=ctx, tests_root="tests").check(files)` returns a
`CheckResult` (a verdict per test); `verdict_feedback(result)` is what the model is told;
`mark_bugs(content, {"test_x": "why the code is wrong"})` keeps defect tests as strict xfails.
"""

from agent.quality.feedback import verdict_feedback
from agent.quality.judge import Judge
from agent.quality.marks import mark_bugs

__all__ = ["Judge", "mark_bugs", "verdict_feedback"]
