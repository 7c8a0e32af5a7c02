"""Models that run offline: a queue of responses, or a function of the conversation.

They ship in the package so that every path (the demo, the tests, the evaluation) runs without a
key. Their responses are labelled `scripted`/`function`, never as a model's.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable
from typing import Any, Literal

from agent.models.base import ModelError
from agent.schema import ModelResponse, Usage

Turn = ModelResponse | dict[str, Any] | list[dict[str, Any]] | BaseException
_ids = itertools.count(1)


def tool_use(name: str, input: dict[str, Any], id: str | None = None) -> dict[str, Any]:
    """A tool_use content block."""
    return {
        "type": "tool_use",
        "id": id or f"toolu_scripted_{next(_ids)}",
        "name": name,
        "input": input,
    }


def text(value: str) -> dict[str, Any]:
    return {"type": "text", "text": value}


def as_response(turn: Turn, source: Literal["scripted", "function"]) -> ModelResponse:
    """Normalise a scripted turn: a ModelResponse, one content block, or a list of blocks."""
    if isinstance(turn, ModelResponse):
        return turn.model_copy(update={"source": source})
    blocks = [turn] if isinstance(turn, dict) else list(turn)  # type: ignore[arg-type]
    stop = "tool_use" if any(b.get("type") == "tool_use" for b in blocks) else "end_turn"
    return ModelResponse(
        content=blocks, stop_reason=stop, usage=Usage(), model=source, source=source
    )


class ScriptedModel:
    """Answers each request with the next scripted turn; a turn that is an exception is raised."""

    def __init__(self, turns: Iterable[Turn], name: str = "scripted") -> None:
        self.name = name
        self._turns = list(turns)
        self.requests: list[dict[str, Any]] = []

    def complete(
        self,
        *,
        system: str,
        messages: list[dict[str, Any]],
        tools: list[dict[str, Any]],
        max_tokens: int,
    ) -> ModelResponse:
        # A copy: the loop keeps appending to the same conversation list.
        self.requests.append({"system": system, "messages": list(messages), "tools": tools})
        if not self._turns:
            raise ModelError("scripted model has no more turns")
        turn = self._turns.pop(0)
        if isinstance(turn, BaseException):
            raise turn
        return as_response(turn, "scripted")


class FunctionModel:
    """Answers with `fn(messages, tools)`, so a test can react to what the harness sent back."""

    def __init__(
        self,
        fn: Callable[[list[dict[str, Any]], list[dict[str, Any]]], Turn],
        name: str = "function",
    ) -> None:
        self.name = name
        self._fn = fn
        self.requests: list[dict[str, Any]] = []

    def complete(
        self,
        *,
        system: str,
        messages: list[dict[str, Any]],
        tools: list[dict[str, Any]],
        max_tokens: int,
    ) -> ModelResponse:
        # A copy: the loop keeps appending to the same conversation list.
        self.requests.append({"system": system, "messages": list(messages), "tools": tools})
        turn = self._fn(messages, tools)
        if isinstance(turn, BaseException):
            raise turn
        return as_response(turn, "function")
