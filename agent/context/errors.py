"""The one exception a user can cause while context is gathered."""

from __future__ import annotations

from agent.errors import UserError


class ContextError(UserError):
    """The repository or a requested ref/module cannot be read; the message is one clear line."""
