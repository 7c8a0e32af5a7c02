"""`itarch pr`: tests for a pull request's change, posted as one sticky comment (the PR bot).

Run by `action.yml` in a `pull_request` workflow; the run itself is `agent.github.run`. Without an
Anthropic key (pull requests from forks get no secrets) it posts nothing and exits 0 with a
notice. `--repo` (global) is the local checkout; `--github-repo` is OWNER/NAME.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path

import typer

from agent.cli.common import (
    console,
    err_console,
    globals_of,
    settings_for,
    user_errors,
    with_globals,
)
from agent.config import with_budget
from agent.report import styled, summary_line


def register(app: typer.Typer) -> None:
    app.command("pr")(with_globals(pr))


class _Screen:
    """The run's progress as a spinner on stderr, what it posted as lines on stdout."""

    @contextmanager
    def working(self) -> Iterator[Callable[[str], None]]:
        with err_console.status("starting") as status:
            yield lambda text: status.update(styled(text))

    def say(self, line: str) -> None:
        console.print(styled(line))


def pr(
    ctx: typer.Context,
    event: Path | None = typer.Option(
        None, "--event", help="The GitHub event JSON (default: $GITHUB_EVENT_PATH)."
    ),
    github_repo: str | None = typer.Option(
        None,
        "--github-repo",
        help="OWNER/NAME on GitHub (default: $GITHUB_REPOSITORY); --repo is the local checkout.",
    ),
    number: int | None = typer.Option(None, "--pr", help="Pull request number (default: event)."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Print the comment; post nothing."),
    artifacts: Path | None = typer.Option(
        None, "--artifacts", help="Write the patch, files and comment here (default: .itarch/pr)."
    ),
    artifact_name: str = typer.Option(
        "itarch-tests", "--artifact-name", help="The artifact name the comment points to."
    ),
    suggestions: bool = typer.Option(
        True, "--suggestions/--no-suggestions", help="Review suggestions on lines of the diff."
    ),
    model: str | None = typer.Option(None, "--model", help="Claude model id."),
    max_dollars: Decimal | None = typer.Option(None, "--max-dollars", help="Spend limit in USD."),
) -> None:
    """Suggest integration tests for a pull request as one sticky comment."""
    g = globals_of(ctx)
    # PyGithub and its HTTP stack load only for this command, not for every `itarch` call
    from agent.github.api import ActionsEnv
    from agent.github.run import annotate, has_key, run_pull_request

    env = ActionsEnv()
    if env.event_name == "pull_request_target":
        # That trigger runs with the base repository's secrets; this job runs the PR's code.
        annotate(
            "warning",
            "itarch runs the pull request's code: trigger it with `pull_request`, not "
            "`pull_request_target`, so the pull request never runs with your secrets",
        )
    with user_errors():
        settings = settings_for(g, model=model)
        if max_dollars is not None:
            settings.budget = with_budget(settings.budget, {"dollars": max_dollars})
        if not has_key(settings):
            annotate(
                "notice",
                "no ANTHROPIC_API_KEY, so no tests were suggested and nothing was posted "
                "(pull requests from forks get no secrets)",
            )
            return
        done = run_pull_request(
            g.repo,
            settings,
            env,
            _Screen(),
            event_file=event or env.event_path,
            github_repo=github_repo or env.repository,
            number=number,
            dry_run=dry_run,
            artifacts=artifacts or g.repo / ".itarch" / "pr",
            artifact_name=artifact_name,
            suggestions=suggestions,
        )
    if not done.posted:
        sys.stdout.write(done.body)  # verbatim: what would be posted
        sys.stdout.flush()
    err_console.print(styled(summary_line(done.report)))
    if done.exit_code:
        raise typer.Exit(done.exit_code)
