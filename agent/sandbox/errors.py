"""Errors a user can cause around the sandbox; each message is one line a person can act on."""

from __future__ import annotations

from agent.errors import UserError


class SandboxError(UserError):
    """The sandbox cannot do what was asked (bad isolation setting, bad file path, broken copy)."""


class TargetPythonError(SandboxError):
    """The target interpreter is missing, does not run, or has no pytest."""
