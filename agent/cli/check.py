"""`itarch check FILE...`: judge test files in the sandbox through every gate, without a model."""

from __future__ import annotations

from pathlib import Path

import typer

from agent.cli.common import (
    CliError,
    console,
    emit_json,
    globals_of,
    output_file,
    settings_for,
    user_errors,
    with_globals,
)
from agent.pipeline import check as run_check
from agent.pytest_files import resolve_test_files
from agent.report import print_check, to_junit


def register(app: typer.Typer) -> None:
    app.command("check")(with_globals(check))


def check(
    ctx: typer.Context,
    files: list[Path] = typer.Argument(
        ...,
        help="Test files, or folders of them, to judge; relative to --repo when it is given.",
        show_default=False,
    ),
    base: str | None = typer.Option(None, "--base", help="Judge coverage of the change from REF."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON document."),
    junit: Path | None = typer.Option(None, "--junit", help="Also write JUnit XML here."),
) -> None:
    """Exit 0 when every test is accepted or documents a bug, 1 when any is rejected."""
    g = globals_of(ctx)
    with user_errors():
        if junit is not None:
            output_file(junit, "--junit")
        paths = resolve_test_files(files, repo=g.repo, repo_given=g.repo_given, cwd=Path.cwd())
        result = run_check(g.repo, [str(p) for p in paths], settings=settings_for(g), base=base)
        if junit is not None:
            try:
                junit.write_text(to_junit(result.files), encoding="utf-8")
            except OSError as exc:
                raise CliError(f"--junit {junit}: {exc.strerror}") from None
    if as_json:
        emit_json(result.model_dump_json(indent=2))
    else:
        print_check(console, result)
    if any(t.verdict == "rejected" for f in result.files for t in f.tests):
        raise typer.Exit(1)
