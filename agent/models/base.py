"""The Model protocol: Anthropic Messages in, one assistant turn out.

The internal message format *is* the Anthropic Messages format, so no layer translates between
the loop and the API.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

from agent.errors import UserError
from agent.schema import ModelResponse


class ModelError(UserError):
    """The model could not answer (after retries); the message says why, in one line."""


class ContextTooLong(ModelError):
    """The request exceeded the model's context window; the caller may trim and retry once."""


@runtime_checkable
class Model(Protocol):
    name: str

    def complete(
        self,
        *,
        system: str,
        messages: list[dict[str, Any]],
        tools: list[dict[str, Any]],
        max_tokens: int,
    ) -> ModelResponse:
        """Return the next assistant turn for this conversation."""
        ...
