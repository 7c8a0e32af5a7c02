"""`itarch init`: the Claude Code subagent and MCP server, and optionally the git hook and CI."""

from __future__ import annotations

import typer

from agent.claude_code.initialize import InitError, assumptions
from agent.claude_code.initialize import init as run_init
from agent.cli.common import CliError, console, globals_of, user_errors, with_globals
from agent.report import styled


def register(app: typer.Typer) -> None:
    app.command("init")(with_globals(init))


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
    with_claude = claude or not (hook or ci)
    steps = run_init(g.repo, claude=with_claude, hook=hook, ci=ci, force=force, python=g.python)
    with user_errors():
        try:
            for step in steps:
                console.print(styled(step.line()))
        except InitError as exc:
            raise CliError(str(exc)) from None
    if with_claude:
        for line in assumptions():
            console.print(styled(line))
