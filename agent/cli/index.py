"""`itarch index`: run the existing suite once and record which lines each test executes."""

from __future__ import annotations

import time

import typer

from agent.cli.common import (
    console,
    emit_json,
    err_console,
    globals_of,
    settings_for,
    user_errors,
    with_globals,
)
from agent.pipeline import index as run_index
from agent.report import styled


def register(app: typer.Typer) -> None:
    app.command("index")(with_globals(index))


def index(
    ctx: typer.Context,
    as_json: bool = typer.Option(False, "--json", help="Print one JSON document."),
) -> None:
    """Build or refresh the test-impact index (.itarch/index.db) that check, context, review and
    the pre-push hook read: test files whose code is unchanged since their last run are kept."""
    g = globals_of(ctx)
    started = time.monotonic()

    def progress(text: str) -> None:
        err_console.print(styled(f"index [{time.monotonic() - started:5.1f}s] {text}"))

    with user_errors():
        summary = run_index(g.repo, settings=settings_for(g), on_progress=progress)
    if as_json:
        emit_json(summary.model_dump_json(indent=2))
        return
    console.print(
        f"{summary.path}: {summary.test_files} test files, {summary.tests} tests "
        f"({summary.passed} passing) in {summary.seconds:.1f} s; "
        f"{summary.ran} run, {summary.reused} unchanged since their last run"
    )
    for path in summary.not_collected:
        console.print(f"  not collected: {path} (its tests are not in the index)")
