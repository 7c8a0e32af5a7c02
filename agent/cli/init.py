"""`itarch init`: the Claude Code subagent and MCP server, and optionally the git hook and CI."""

from __future__ import annotations

import typer

from agent.cli.common import CliError, console, globals_of, user_errors
from agent.integrations.claude_code import InitError
from agent.integrations.claude_code import init as run_init


def register(app: typer.Typer) -> None:
    app.command("init")(init)


def init(
    ctx: typer.Context,
    claude: bool = typer.Option(
        False, "--claude", help="Claude Code: the subagent file and the MCP server (the default)."
    ),
    hook: bool = typer.Option(False, "--hook", help="The git pre-push hook."),
    ci: bool = typer.Option(False, "--ci", help="The GitHub Actions workflow for pull requests."),
    force: bool = typer.Option(False, "--force", help="Replace files that differ from ours."),
) -> None:
    """Set this repository up for itarch; safe to re-run, and keeps files you changed."""
    g = globals_of(ctx)
    steps = run_init(g.repo, claude=claude or not (hook or ci), hook=hook, ci=ci, force=force)
    with user_errors():
        try:
            for step in steps:
                console.print(step.line(), markup=False, soft_wrap=True)
        except InitError as exc:
            raise CliError(str(exc)) from None
