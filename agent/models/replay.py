"""Play recorded model responses back, in order, so a past run can be repeated offline."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from agent.models.base import ModelError
from agent.schema import ModelResponse


class ReplayModel:
    """Answers the n-th request with the n-th recorded response, labelled `replay`."""

    def __init__(self, responses: Iterable[ModelResponse], name: str = "replay") -> None:
        self.name = name
        self._responses = list(responses)
        self._played = 0
        self.requests: list[dict[str, Any]] = []

    @property
    def remaining(self) -> int:
        return len(self._responses) - self._played

    def complete(
        self,
        *,
        system: str,
        messages: list[dict[str, Any]],
        tools: list[dict[str, Any]],
        max_tokens: int,
    ) -> ModelResponse:
        self.requests.append({"system": system, "messages": messages, "tools": tools})
        if self._played >= len(self._responses):
            raise ModelError(
                f"the recording has no response left (it holds {len(self._responses)}; "
                "the run asked for more)"
            )
        response = self._responses[self._played]
        self._played += 1
        # Usage and cost stay as recorded: they describe what the original run spent.
        return response.model_copy(update={"source": "replay"}, deep=True)
