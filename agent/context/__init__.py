"""What the model (and `itarch context`) knows about a change: diff, seams, repo map, tests."""

from agent.context.builder import build_context, render_context
from agent.context.diff import changes
from agent.context.errors import ContextError
from agent.context.repo_tools import RepoTools, tool_specs

__all__ = ["ContextError", "RepoTools", "build_context", "changes", "render_context", "tool_specs"]
