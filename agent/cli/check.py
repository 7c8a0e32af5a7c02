"""`itarch check FILE...`: judge test files in the sandbox through every gate, without a model."""

from __future__ import annotations

from pathlib import Path

import typer

from agent.cli.common import console, emit_json, globals_of, settings_for, user_errors
from agent.pipeline import check as run_check
from agent.report import print_check, to_junit


def register(app: typer.Typer) -> None:
    app.command("check")(check)


def check(
    ctx: typer.Context,
    files: list[Path] = typer.Argument(..., help="Test files to judge."),
    base: str | None = typer.Option(None, "--base", help="Judge coverage of the change from REF."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON document."),
    junit: Path | None = typer.Option(None, "--junit", help="Also write JUnit XML here."),
) -> None:
    """Exit 0 when every test is accepted or documents a bug, 1 when any is rejected."""
    g = globals_of(ctx)
    with user_errors():
        result = run_check(g.repo, [str(f) for f in files], settings=settings_for(g), base=base)
    if junit is not None:
        junit.write_text(to_junit(result.files), encoding="utf-8")
    if as_json:
        emit_json(result.model_dump_json(indent=2))
    else:
        print_check(console, result)
    if any(t.verdict == "rejected" for f in result.files for t in f.tests):
        raise typer.Exit(1)
