"""`itarch review`: do the existing tests cover a module's seams? Gaps and weak tests, and with
`--generate`, tests for the gaps."""

from __future__ import annotations

import time
from pathlib import Path

import typer

from agent.cli.common import (
    console,
    emit_json,
    emit_text,
    err_console,
    globals_of,
    settings_for,
    user_errors,
    with_globals,
)
from agent.models import claude
from agent.report import print_report, styled, to_json
from agent.review import review as run_review
from agent.review.generate import generate_for_gaps
from agent.review.model import ReviewResult
from agent.review.render import gap_modules, print_review, to_markdown


def register(app: typer.Typer) -> None:
    app.command("review")(with_globals(review))


def review(
    ctx: typer.Context,
    paths: list[Path] = typer.Argument(
        None,
        help="Source files or folders to review (default: the repository's own packages).",
        show_default=False,
    ),
    module: list[str] = typer.Option([], "--module", "-m", help="Module(s) to review."),
    mutation: bool = typer.Option(
        False, "--mutation", help="Also find tests that kill none of their seam's mutants."
    ),
    generate: bool = typer.Option(
        False, "--generate", help="Then write tests for the gaps, as `itarch generate` does."
    ),
    reruns: int | None = typer.Option(
        None, "--reruns", min=0, help="Rounds for flaky and order-dependent tests (0: none)."
    ),
    markdown: bool = typer.Option(False, "--markdown", help="Print the review as Markdown."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON document."),
    model: str | None = typer.Option(None, "--model", help="Claude model id (with --generate)."),
) -> None:
    """Review the existing tests of modules: the seams no test executes, the error paths no
    test takes, and the weak tests (no assertions, flaky, order dependent, side effects,
    redundant). Exit 0 with a review; with --generate, as `itarch generate`."""
    g = globals_of(ctx)
    started = time.monotonic()

    def progress(text: str) -> None:
        err_console.print(styled(f"review [{time.monotonic() - started:5.1f}s] {text}"))

    with user_errors():
        settings = settings_for(g, model=model, reruns=reruns)
        requested = [*module, *(str(_in_repo(p, g.repo, g.repo_given)) for p in paths or [])]
        llm = None
        if generate:  # a missing key is said before the review runs, not after
            llm = claude(settings)
        result = run_review(
            g.repo,
            settings=settings,
            modules=requested or None,
            mutation=mutation,
            on_progress=progress,
        )
        if llm is None or not gap_modules(result):
            _print(result, as_json=as_json, markdown=markdown)
            if generate:
                err_console.print(styled("review: no gaps to write tests for"))
            return
        _print(result, as_json=False, markdown=markdown, to_err=as_json)
        report = generate_for_gaps(
            g.repo, result, settings=settings, model=llm, on_progress=progress
        )
        assert report is not None
    if as_json:
        emit_json(to_json(report))
    else:
        print_report(console, report)
    if not report.kept and not report.nothing_to_test:
        raise typer.Exit(1)


def _in_repo(path: Path, repo: Path, repo_given: bool) -> Path:
    """A path as given on the command line: relative to --repo when given, else to the cwd."""
    if path.is_absolute():
        return path
    return repo / path if repo_given else Path.cwd() / path


def _print(result: ReviewResult, *, as_json: bool, markdown: bool, to_err: bool = False) -> None:
    if as_json:
        emit_json(result.model_dump_json(indent=2))
    elif markdown and to_err:
        err_console.print(styled(to_markdown(result)))
    elif markdown:
        emit_text(to_markdown(result))
    else:
        print_review(err_console if to_err else console, result)
