"""`itarch context`: what the model would be told about a change — diff, seams, map, conventions."""

from __future__ import annotations

import typer

from agent.cli.common import (
    emit_json,
    emit_text,
    globals_of,
    settings_for,
    user_errors,
    with_globals,
)
from agent.context import build_context, render_context


def register(app: typer.Typer) -> None:
    app.command("context")(with_globals(context))


def context(
    ctx: typer.Context,
    base: str | None = typer.Option(None, "--base", help="Git ref the change is measured from."),
    module: list[str] = typer.Option([], "--module", "-m", help="Module(s) to focus on."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON document."),
    budget: int | None = typer.Option(None, "--budget", help="Token budget for the context."),
) -> None:
    """Print the change's context: diff, seams touched, repo map, existing tests, conventions."""
    g = globals_of(ctx)
    with user_errors():
        settings = settings_for(g)
        built = build_context(
            g.repo,
            base=base,
            modules=module or None,
            budget_tokens=budget or settings.context_tokens,
            tests_root=settings.tests_root,
            python=settings.python,
        )
    if as_json:
        emit_json(built.model_dump_json(indent=2))
    else:
        emit_text(render_context(built))  # a document: verbatim, never wrapped
