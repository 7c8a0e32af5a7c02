"""The one exception a user can cause while context is gathered."""

from __future__ import annotations


class ContextError(Exception):
    """The repository or a requested ref/module cannot be read; the message is one clear line."""
