"""`itarch mcp`: serve `context`, `check` and `read_report` to Claude Code over MCP (stdio)."""

from __future__ import annotations

import typer

from agent.cli.common import globals_of, with_globals


def register(app: typer.Typer) -> None:
    app.command("mcp")(with_globals(mcp))


def mcp(ctx: typer.Context) -> None:
    """Run the MCP server on stdin/stdout for the repository (--repo, or here).

    --python names the target project's interpreter, as for `itarch check`."""
    # Imported here: the MCP SDK takes about a second to load, which no other command should pay.
    from agent.claude_code.mcp_server import serve

    g = globals_of(ctx)
    serve(g.repo, python=g.python)
