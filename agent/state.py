"""The state of one run of the agent loop, and the budgets that end it.

Kept apart from the loop so that `agent.resume` can rebuild it from a journal.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from agent.config import Budget
from agent.schema import AcceptedFile, FileVerdict, StopCause, Usage


@dataclass
class LoopState:
    """Everything needed to continue a run: rebuilt from the journal on `--resume`."""

    messages: list[dict[str, Any]] = field(default_factory=list)
    accepted: dict[str, AcceptedFile] = field(default_factory=dict)
    verdicts: dict[str, FileVerdict] = field(default_factory=dict)
    usage: Usage = field(default_factory=Usage)
    cost: Decimal = Decimal(0)
    iterations: int = 0
    elapsed: float = 0.0  # wall time of earlier attempts of this run
    stopped_by: StopCause | None = None
    message: str = ""
    pending: tuple[list[dict[str, Any]], str] | None = None  # a journaled turn not yet acted on
    shrunk: bool = False


def over_budget(state: LoopState, budget: Budget) -> StopCause | None:
    """The budget a run has used up, if any: checked before every request, so a run goes past
    a budget by at most one request."""
    if state.iterations >= budget.iterations:
        return "iterations"
    if state.usage.total >= budget.tokens:
        return "tokens"
    if state.cost >= budget.dollars:
        return "dollars"
    if state.elapsed >= budget.wall_seconds:
        return "wall_time"
    return None
