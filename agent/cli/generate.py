"""`itarch generate`: from a diff (or modules) to proven integration tests written into the tree."""

from __future__ import annotations

import signal
from decimal import Decimal
from pathlib import Path

import typer

from agent.cli.common import (
    CliError,
    console,
    emit_json,
    err_console,
    globals_of,
    output_file,
    settings_for,
    user_errors,
    with_globals,
)
from agent.config import with_budget
from agent.models import claude
from agent.pipeline import generate as run_generate
from agent.report import print_report, styled, to_json


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def register(app: typer.Typer) -> None:
    app.command("generate")(with_globals(generate))


def generate(
    ctx: typer.Context,
    base: str | None = typer.Option(None, "--base", help="Git ref the change is measured from."),
    module: list[str] = typer.Option([], "--module", "-m", help="Module(s) to test (no diff)."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Judge and report; write nothing."),
    patch: Path | None = typer.Option(
        None, "--patch", help="Write accepted files as a patch, not into the tree."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the report as one JSON document."),
    model: str | None = typer.Option(None, "--model", help="Claude model id."),
    max_rounds: int | None = typer.Option(
        None, "--max-rounds", help="Proposals judged (default 5)."
    ),
    max_turns: int | None = typer.Option(
        None, "--max-turns", "--max-iterations", help="Model requests, reads included (40)."
    ),
    max_dollars: Decimal | None = typer.Option(None, "--max-dollars", help="Spend limit in USD."),
    resume: str | None = typer.Option(
        None, "--resume", help="Continue an interrupted run: its id, or 'latest'."
    ),
) -> None:
    """Write integration tests for a change, prove them in the sandbox, keep the ones that hold."""
    g = globals_of(ctx)
    # SIGTERM (a cancelled CI job, a stopped container) ends a run like Ctrl-C: resumable.
    signal.signal(signal.SIGTERM, _interrupt)
    with user_errors():
        if patch is not None:
            output_file(patch, "--patch")
        if not base and not module and resume is None:
            raise CliError("say what to test: --base REF (a change) or --module M (modules)")
        flags = {"rounds": max_rounds, "turns": max_turns, "dollars": max_dollars}
        settings = settings_for(g, model=model)
        if budget := {k: v for k, v in flags.items() if v is not None}:
            settings.budget = with_budget(settings.budget, budget)
        llm = claude(settings)
        with err_console.status("starting") as status:
            report = run_generate(
                g.repo,
                settings=settings,
                model=llm,
                base=base,
                modules=module or None,
                write=not dry_run and patch is None,
                patch=patch,
                on_progress=lambda text: status.update(styled(text)),
                resume=None if resume is None else ("" if resume == "latest" else resume),
            )
    if as_json:
        emit_json(to_json(report))
    else:
        print_report(console, report)
        if patch is not None:
            console.print(styled(f"patch written to {patch} (apply with: git apply {patch})"))
    if report.stopped_by == "model_error":
        err_console.print(styled(f"itarch: error: {report.message}"))
    # 0: something kept (or nothing in the change to test); 1: the run ended with nothing kept
    if not report.kept and not report.nothing_to_test:
        raise typer.Exit(1)
