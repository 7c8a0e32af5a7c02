"""A pull request, start to end: the event gives base and head, the loop runs on that diff without
touching the checkout, the result goes to one sticky comment that every re-run edits, and review
suggestions go on the diff's lines. `itarch pr` parses the flags and renders what this returns."""

from __future__ import annotations

import sys
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from agent import git
from agent.config import Settings
from agent.fs import is_within
from agent.github.api import ActionsEnv, GitHubError, PullRequestClient, load_event
from agent.github.comment import MARKER, CommentLinks, plan_suggestions, render_comment
from agent.log import get_logger
from agent.models import claude
from agent.pipeline import generate
from agent.report import to_json
from agent.schema import Report

log = get_logger(__name__)
PATCH_NAME = "itarch.patch"


class Screen(Protocol):
    """What a run shows while it works; the CLI renders it."""

    def working(self) -> AbstractContextManager[Callable[[str], None]]:
        """Progress while the loop runs: entered around it, called with each step's text."""
        ...

    def say(self, line: str) -> None:
        """One line for the user (what was posted)."""
        ...


@dataclass
class PullRequestRun:
    """What one run produced: the report, the comment's body, and whether it was posted."""

    report: Report
    body: str
    posted: bool

    @property
    def exit_code(self) -> int:
        return 1 if self.report.stopped_by == "model_error" and not self.report.accepted else 0


def run_pull_request(
    repo: Path,
    settings: Settings,
    env: ActionsEnv,
    screen: Screen,
    *,
    event_file: Path | None,
    github_repo: str | None,
    number: int | None,
    dry_run: bool,
    artifacts: Path,
    artifact_name: str,
    suggestions: bool,
) -> PullRequestRun:
    payload = load_event(event_file) if event_file else None
    repository = github_repo or (
        payload.repository.full_name if payload and payload.repository else None
    )
    number = number or (payload.pull_request.number if payload else None)
    if not repository or not number:
        raise GitHubError(
            "which pull request? Pass --event PATH (default: $GITHUB_EVENT_PATH), "
            "or --github-repo OWNER/NAME and --pr N"
        )
    token = env.token.get_secret_value().strip() if env.token else ""
    if not token and not dry_run:
        raise GitHubError(
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
        raise GitHubError(
            "without GITHUB_TOKEN, --dry-run needs the pull request's event (--event)"
        )
    base, at_head = change_base(repo, base_sha, head_sha)

    artifacts.mkdir(parents=True, exist_ok=True)
    with screen.working() as progress:
        report = generate(
            repo,
            settings=settings,
            model=claude(settings),
            base=base,
            write=False,
            patch=artifacts / PATCH_NAME,
            on_progress=progress,
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
        return PullRequestRun(report, body, posted=False)
    outcome = client.upsert_sticky_comment(body, marker=MARKER)
    screen.say(f"itarch: {outcome.action} the pull request comment {outcome.url}")
    if suggestions:
        _suggest(client, report, repo, screen, head_sha=head_sha, at_head=at_head)
    return PullRequestRun(report, body, posted=True)


def _suggest(
    client: PullRequestClient,
    report: Report,
    repo: Path,
    screen: Screen,
    *,
    head_sha: str,
    at_head: bool,
) -> None:
    if not at_head:
        # Line numbers would refer to another version of the files than the PR's head.
        log.warning("checkout is not the pull request's head; no review suggestions")
        return
    files = {f.path: f.lines for f in client.changed_files()}
    planned = plan_suggestions(report.accepted, repo, files)
    if planned:
        outcome = client.post_suggestions(planned, commit_id=head_sha)
        screen.say(
            f"itarch: {outcome.posted} review suggestion(s) posted, "
            f"{outcome.already_there} already there"
        )


def change_base(repo: Path, base_sha: str, head_sha: str) -> tuple[str, bool]:
    """Where the PR's own change starts (the merge base), and whether HEAD is the PR's head."""
    if not git.is_commit(repo, base_sha):
        raise GitHubError(
            f"the pull request's base commit {base_sha[:10]} is not in the checkout at {repo}: "
            "check out with `fetch-depth: 0`"
        )
    # Without the head's commit (a merge-commit checkout without its history, say): HEAD.
    tip = head_sha if git.is_commit(repo, head_sha) else "HEAD"
    base = git.merge_base(repo, base_sha, tip) or base_sha
    try:
        at_head = git.rev_parse(repo, "HEAD") == head_sha
    except git.GitError as exc:
        raise GitHubError(f"the checkout at {repo} has no HEAD commit ({exc})") from None
    return base, at_head


def save_artifacts(artifacts: Path, report: Report, body: str) -> None:
    """The comment, the full report and each accepted file (the patch is written by the loop)."""
    (artifacts / "comment.md").write_text(body, encoding="utf-8")
    (artifacts / "report.json").write_text(to_json(report) + "\n", encoding="utf-8")
    for accepted in report.accepted:
        target = (artifacts / "files" / accepted.path).resolve()
        root = artifacts.resolve()
        if is_within(target, root) and target != root:  # gated already; stay inside regardless
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(accepted.content, encoding="utf-8")


def annotate(level: str, message: str) -> None:
    """A GitHub Actions `::notice::` / `::warning::` line (readable as plain text elsewhere)."""
    escaped = message.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    sys.stdout.write(f"::{level} title=itarch::{escaped}\n")
    sys.stdout.flush()


def has_key(settings: Settings) -> bool:
    # Actions passes `${{ secrets.X }}` as an empty string when the secret is unavailable.
    return settings.api_key is not None and bool(settings.api_key.get_secret_value().strip())
