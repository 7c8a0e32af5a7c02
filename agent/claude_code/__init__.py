"""Claude Code: the subagent file, `itarch init` (subagent, MCP server entry, hook, CI workflow)
and the MCP server (`mcp_server`, imported on its own: it loads the pipeline)."""

from __future__ import annotations

from agent.claude_code.initialize import InitError, Step, assumptions, init
from agent.claude_code.subagent import SUBAGENT_NAME, SUBAGENT_PATH, subagent_file

__all__ = [
    "SUBAGENT_NAME",
    "SUBAGENT_PATH",
    "InitError",
    "Step",
    "assumptions",
    "init",
    "subagent_file",
]
