"""The state of one run of the agent loop, and the budgets that end it.

Kept apart from the loop so that `agent.resume` can rebuild it from a journal.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from agent.config import Budget
from agent.schema import AcceptedFile, CheckResult, FileVerdict, ProposedFile, StopCause, Usage


@dataclass(frozen=True)
class Spent:
    """What a run had used when this attempt of it started: budgets count from here."""

    turns: int = 0
    rounds: int = 0
    tokens: int = 0
    cost: Decimal = Decimal(0)
    elapsed: float = 0.0


@dataclass
class LoopState:
    """Everything needed to continue a run: rebuilt from the journal on `--resume`."""

    messages: list[dict[str, Any]] = field(default_factory=list)
    accepted: dict[str, AcceptedFile] = field(default_factory=dict)
    verdicts: dict[str, FileVerdict] = field(default_factory=dict)
    usage: Usage = field(default_factory=Usage)
    cost: Decimal = Decimal(0)
    iterations: int = 0  # model turns, over the whole run
    rounds: int = 0  # judged proposals, over the whole run
    undelivered: bool = False  # a verdict is waiting for the model's next turn
    elapsed: float = 0.0  # wall time of earlier attempts of this run
    stopped_by: StopCause | None = None
    message: str = ""
    pending: tuple[list[dict[str, Any]], str] | None = None  # a journaled turn not yet acted on
    shrunk: bool = False
    spent: Spent = field(default_factory=Spent)

    def take_verdict(
        self, result: CheckResult, files: list[ProposedFile]
    ) -> list[tuple[str, dict[str, Any]]]:
        """Record a judged proposal; return the journal events it makes (dropped, accepted)."""
        self.rounds, self.undelivered = self.rounds + 1, True
        events: list[tuple[str, dict[str, Any]]] = []
        by_path = {f.path: f for f in files}
        for verdict in result.files:
            self.verdicts[verdict.path] = verdict
            if self.accepted.pop(verdict.path, None):
                events.append(("dropped", {"path": verdict.path}))
            if verdict.accepted and verdict.path in by_path:
                kept = by_path[verdict.path]
                accepted = AcceptedFile(path=kept.path, content=kept.content, purpose=kept.purpose)
                self.accepted[kept.path] = accepted
                events.append(("accepted", {"file": accepted}))
        return events

    def continue_with_fresh_budgets(self) -> None:
        """Resume a run that a budget, an error or an interruption ended."""
        self.stopped_by, self.message = None, ""
        self.spent = Spent(self.iterations, self.rounds, self.usage.total, self.cost, self.elapsed)


def over_budget(state: LoopState, budget: Budget) -> StopCause | None:
    """The budget a run has used up, if any; checked before every request.

    Hard limits (tokens, dollars, wall time) end a run at once. Turns and proposal rounds wait
    until the model has read the last verdict, so no judged proposal goes unanswered.
    """
    spent = state.spent
    if state.usage.total - spent.tokens >= budget.tokens:
        return "tokens"
    if state.cost - spent.cost >= budget.dollars:
        return "dollars"
    if state.elapsed - spent.elapsed >= budget.wall_seconds:
        return "wall_time"
    if state.undelivered:
        return None
    if state.rounds - spent.rounds >= budget.rounds:
        return "rounds"
    if state.iterations - spent.turns >= budget.turns:
        return "turns"
    return None


def rounds_left(state: LoopState, budget: Budget) -> int:
    return budget.rounds - (state.rounds - state.spent.rounds)


LAST_ROUND = "That was the last proposal round: call `finish` with your summary."


def rounds_note(state: LoopState, budget: Budget) -> str:
    """The line that ends a verdict: how many proposals the model has left."""
    left = rounds_left(state, budget)
    return LAST_ROUND if left <= 0 else f"Proposal rounds left: {left}."
