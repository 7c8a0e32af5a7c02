"""Rebuild a run's loop state from its journal, so `--resume` repeats no answered model call."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from agent.journal import Journal, JournalError
from agent.schema import AcceptedFile, CheckResult, ModelResponse
from agent.state import LoopState


def run_settings(journal: Journal) -> dict[str, Any]:
    """What the run was started with (base, head, modules)."""
    started = journal.events("run_started")
    if not started:
        raise JournalError(f"run {journal.run_id} never started; start a new one")
    return started[0]


def state_from_journal(journal: Journal) -> LoopState:
    state = LoopState()
    last_response: ModelResponse | None = None
    for event in journal.events():
        kind = event["kind"]
        if kind == "message":
            message = {"role": event["role"], "content": event["content"]}
            if state.messages and state.messages[-1]["role"] == message["role"] == "assistant":
                state.messages[-1] = message  # a turn acted on again after a resume
            else:
                state.messages.append(message)
            if stop := event.get("stop"):  # the run had ended; only the report was left to write
                state.stopped_by, state.message = stop["cause"], stop["message"]
        elif kind == "context_shrunk":
            state.messages[0] = {"role": "user", "content": event["content"]}
            state.shrunk = True
        elif kind == "response":
            last_response = ModelResponse.model_validate(event["response"])
            state.iterations += 1
            state.undelivered = False
            state.usage += last_response.usage
            state.cost += Decimal(str(last_response.cost_usd))
        elif kind == "verdict":
            state.rounds, state.undelivered = state.rounds + 1, True
            for verdict in CheckResult.model_validate(event["result"]).files:
                state.verdicts[verdict.path] = verdict
        elif kind == "accepted":
            accepted = AcceptedFile.model_validate(event["file"])
            state.accepted[accepted.path] = accepted
        elif kind == "dropped":
            state.accepted.pop(event["path"], None)
    if not state.messages:
        raise JournalError(f"run {journal.run_id} has no conversation to resume")
    if state.stopped_by == "finish":
        raise JournalError(
            f"run {journal.run_id} was finished by the model; its report is in {journal.path}"
        )
    state.continue_with_fresh_budgets()
    # The model's last answer was journaled but the run died before acting on it: act on it now.
    answered = sum(1 for m in state.messages if m["role"] == "assistant")
    if last_response is not None and answered < state.iterations:
        state.pending = (last_response.content, str(last_response.stop_reason))
    elif state.messages[-1]["role"] == "assistant":
        content = state.messages.pop()["content"]
        state.pending = (
            content,
            "tool_use" if last_response is None else str(last_response.stop_reason),
        )
    return state
