"""`itarch pr`: tests for a pull request's change, posted as one sticky comment (the PR bot).

Run by `action.yml` in a `pull_request` workflow: the event gives base and head, the loop runs on
that diff without touching the checkout, and the result goes to one comment that every re-run
edits. Without an Anthropic key (pull requests from forks get no secrets) it posts nothing and
exits 0 with a notice. `--repo` (global) is the local checkout; `--github-repo` is OWNER/NAME.
"""

from __future__ import annotations

import sys
from decimal import Decimal
from pathlib import Path

import typer
from git import BadName, GitCommandError, Repo

from agent.cli.common import (
    CliError,
    console,
    err_console,
    globals_of,
    settings_for,
    user_errors,
    with_globals,
)
from agent.config import Settings
from agent.integrations.github import (
    ActionsEnv,
    GitHubError,
    PullRequestClient,
    load_event,
)
from agent.integrations.pr_comment import MARKER, CommentLinks, plan_suggestions, render_comment
from agent.log import get_logger
from agent.models.base import Model
from agent.pipeline import generate
from agent.report import styled, summary_line, to_json
from agent.schema import Report

log = get_logger(__name__)
PATCH_NAME = "itarch.patch"


def register(app: typer.Typer) -> None:
    app.command("pr")(with_globals(pr))


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
            settings.budget = settings.budget.model_copy(update={"dollars": max_dollars})
        if not _has_key(settings):
            annotate(
                "notice",
                "no ANTHROPIC_API_KEY, so no tests were suggested and nothing was posted "
                "(pull requests from forks get no secrets)",
            )
            return
        try:
            code = _run(
                g.repo,
                settings,
                env,
                event_file=event or env.event_path,
                github_repo=github_repo or env.repository,
                number=number,
                dry_run=dry_run,
                artifacts=artifacts or g.repo / ".itarch" / "pr",
                artifact_name=artifact_name,
                suggestions=suggestions,
            )
        except GitHubError as exc:
            raise CliError(str(exc)) from None
    if code:
        raise typer.Exit(code)


def _run(
    repo: Path,
    settings: Settings,
    env: ActionsEnv,
    *,
    event_file: Path | None,
    github_repo: str | None,
    number: int | None,
    dry_run: bool,
    artifacts: Path,
    artifact_name: str,
    suggestions: bool,
) -> int:
    payload = load_event(event_file) if event_file else None
    repository = github_repo or (
        payload.repository.full_name if payload and payload.repository else None
    )
    number = number or (payload.pull_request.number if payload else None)
    if not repository or not number:
        raise CliError(
            "which pull request? Pass --event PATH (default: $GITHUB_EVENT_PATH), "
            "or --github-repo OWNER/NAME and --pr N"
        )
    token = env.token.get_secret_value().strip() if env.token else ""
    if not token and not dry_run:
        raise CliError(
            "no GitHub token: set GITHUB_TOKEN (in a workflow: `GITHUB_TOKEN: "
            "${{ github.token }}`), or preview with --dry-run"
        )
    client = PullRequestClient(token, repository, number, api_url=env.api_url) if token else None
    # The event is what the checkout was made from; the API checks token and PR before we spend.
    if client is not None:
        info = client.info()
        client.login()
    if payload is not None and payload.pull_request.number == number:
        base_sha, head_sha = payload.pull_request.base.sha, payload.pull_request.head.sha
    elif client is not None:
        base_sha, head_sha = info.base_sha, info.head_sha
    else:
        raise CliError("without GITHUB_TOKEN, --dry-run needs the pull request's event (--event)")
    base, at_head = change_base(repo, base_sha, head_sha)

    artifacts.mkdir(parents=True, exist_ok=True)
    with err_console.status("starting") as status:
        report = generate(
            repo,
            settings=settings,
            model=_claude(settings),
            base=base,
            write=False,
            patch=artifacts / PATCH_NAME,
            on_progress=lambda text: status.update(styled(text)),
        )
    links = CommentLinks(
        base=base,
        head=head_sha,
        run_url=env.run_url(repository),
        artifact=artifact_name,
        patch_name=PATCH_NAME,
    )
    body = render_comment(report, links)
    save_artifacts(artifacts, report, body)
    if env.step_summary is not None:
        with env.step_summary.open("a", encoding="utf-8") as summary:
            summary.write(body.replace(MARKER, "") + "\n")

    if dry_run or client is None:
        sys.stdout.write(body)  # verbatim: what would be posted
        sys.stdout.flush()
    else:
        outcome = client.upsert_sticky_comment(body, marker=MARKER)
        console.print(styled(f"itarch: {outcome.action} the pull request comment {outcome.url}"))
        if suggestions:
            _suggest(client, report, repo, head_sha=head_sha, at_head=at_head)
    err_console.print(styled(summary_line(report)))
    return 1 if report.stopped_by == "model_error" and not report.accepted else 0


def _suggest(
    client: PullRequestClient, report: Report, repo: Path, *, head_sha: str, at_head: bool
) -> None:
    if not at_head:
        # Line numbers would refer to another version of the files than the PR's head.
        log.warning("checkout is not the pull request's head; no review suggestions")
        return
    files = {f.path: f.lines for f in client.changed_files()}
    planned = plan_suggestions(report.accepted, repo, files)
    if planned:
        outcome = client.post_suggestions(planned, commit_id=head_sha)
        console.print(
            styled(
                f"itarch: {outcome.posted} review suggestion(s) posted, "
                f"{outcome.already_there} already there"
            )
        )


def change_base(repo: Path, base_sha: str, head_sha: str) -> tuple[str, bool]:
    """Where the PR's own change starts (the merge base), and whether HEAD is the PR's head."""
    git = Repo(repo)
    try:
        git.commit(base_sha)
    except (BadName, ValueError, GitCommandError):
        raise CliError(
            f"the pull request's base commit {base_sha[:10]} is not in the checkout at {repo}: "
            "check out with `fetch-depth: 0`"
        ) from None
    try:
        git.commit(head_sha)
        tip = head_sha
    except (BadName, ValueError, GitCommandError):
        tip = "HEAD"  # e.g. a merge-commit checkout without the head's history
    bases = git.merge_base(base_sha, tip)
    base = bases[0].hexsha if bases else base_sha
    return base, git.head.commit.hexsha == head_sha


def save_artifacts(artifacts: Path, report: Report, body: str) -> None:
    """The comment, the full report and each accepted file (the patch is written by the loop)."""
    (artifacts / "comment.md").write_text(body, encoding="utf-8")
    (artifacts / "report.json").write_text(to_json(report) + "\n", encoding="utf-8")
    for accepted in report.accepted:
        target = (artifacts / "files" / accepted.path).resolve()
        if artifacts.resolve() in target.parents:  # paths were gated; stay inside regardless
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(accepted.content, encoding="utf-8")


def annotate(level: str, message: str) -> None:
    """A GitHub Actions `::notice::` / `::warning::` line (readable as plain text elsewhere)."""
    escaped = message.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    sys.stdout.write(f"::{level} title=itarch::{escaped}\n")
    sys.stdout.flush()


def _has_key(settings: Settings) -> bool:
    # Actions passes `${{ secrets.X }}` as an empty string when the secret is unavailable.
    return settings.api_key is not None and bool(settings.api_key.get_secret_value().strip())


def _claude(settings: Settings) -> Model:
    from agent.models.anthropic import create_model  # the SDK takes a second or two to import

    return create_model(settings)
