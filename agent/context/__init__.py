"""What the model (and `itarch context`) knows about a change: diff, seams, repo map, tests.

The names below load on first use: the pre-push hook imports a few of this package's modules
(files, seams, behaviour) on every push and should not pay for the context builder's imports.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from agent.context.builder import build_context, render_context
    from agent.context.diff import changes
    from agent.context.errors import ContextError
    from agent.context.repo_tools import RepoTools, tool_specs

_HOMES = {
    "build_context": "agent.context.builder",
    "render_context": "agent.context.builder",
    "changes": "agent.context.diff",
    "ContextError": "agent.context.errors",
    "RepoTools": "agent.context.repo_tools",
    "tool_specs": "agent.context.repo_tools",
}

__all__ = ["ContextError", "RepoTools", "build_context", "changes", "render_context", "tool_specs"]


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'agent.context' has no attribute {name!r}")
    value = getattr(importlib.import_module(home), name)
    globals()[name] = value
    return value
