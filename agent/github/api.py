"""The PR bot's side of GitHub: the `pull_request` event, and the REST API through PyGithub.

`itarch pr` keeps exactly one comment per pull request. It finds it again on every run by a hidden
marker *and* by its author being the token's own user, so a re-run edits it and a comment someone
else wrote (marker or not) is never touched. Review suggestions go only on lines inside the diff,
which GitHub requires and which `diff_lines` reads from each file's patch.

Every failure a user can fix (no token, a missing permission, a rate limit, a wrong repository or
pull request number) becomes a `GitHubError` with one line saying what to do.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import requests
from github import Auth, Github, GithubRetry
from github.GithubException import (
    BadCredentialsException,
    GithubException,
    RateLimitExceededExceedsMaxWait,
    RateLimitExceededException,
    UnknownObjectException,
)
from github.PullRequest import PullRequest
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from agent import __version__
from agent.errors import UserError
from agent.log import get_logger
from agent.patch import new_side_lines

log = get_logger(__name__)

DEFAULT_API_URL = "https://api.github.com"
ACTION_REF = "itarch/itarch@v0"  # how workflows refer to this repository's action.yml
INTEGRATION_DENIED = "resource not accessible by integration"


class GitHubError(UserError):
    """GitHub could not do what the PR bot asked; the message says what to change, in one line."""


class PermissionDenied(GitHubError):
    """403 "Resource not accessible by integration": the token lacks a permission."""


# ---------------------------------------------------------------- the event Actions hands us


class _Payload(BaseModel):
    # GitHub's payloads carry hundreds of fields; we model the ones we read and ignore the rest.
    model_config = ConfigDict(extra="ignore")


class CommitRef(_Payload):
    sha: str = Field(min_length=7)
    ref: str = ""


class PullRequestPayload(_Payload):
    number: int = Field(gt=0)
    head: CommitRef
    base: CommitRef
    html_url: str = ""


class RepositoryPayload(_Payload):
    full_name: str


class PullRequestEvent(_Payload):
    """The fields of a `pull_request` webhook event the bot reads."""

    action: str = ""
    pull_request: PullRequestPayload
    repository: RepositoryPayload | None = None


def load_event(path: Path) -> PullRequestEvent:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise GitHubError(f"cannot read the GitHub event file {path}: {exc.strerror}") from None
    except ValueError as exc:
        raise GitHubError(f"the GitHub event file {path} is not JSON: {exc}") from None
    if not isinstance(data, dict) or "pull_request" not in data:
        raise GitHubError(
            f"{path} is not a pull_request event; run `itarch pr` from a workflow triggered "
            "by `on: pull_request`, or pass --github-repo OWNER/NAME and --pr N"
        )
    try:
        return PullRequestEvent.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise GitHubError(f"the event in {path} has a bad {where!r}: {first['msg']}") from None


# ---------------------------------------------------------------- environment and client policy


class ActionsEnv(BaseSettings):
    """What GitHub Actions sets in a job's environment (all optional outside Actions)."""

    model_config = SettingsConfigDict(extra="ignore", env_ignore_empty=True)

    token: SecretStr | None = Field(default=None, validation_alias="GITHUB_TOKEN")
    api_url: str = Field(default=DEFAULT_API_URL, validation_alias="GITHUB_API_URL")
    server_url: str = Field(default="https://github.com", validation_alias="GITHUB_SERVER_URL")
    repository: str | None = Field(default=None, validation_alias="GITHUB_REPOSITORY")
    event_path: Path | None = Field(default=None, validation_alias="GITHUB_EVENT_PATH")
    event_name: str | None = Field(default=None, validation_alias="GITHUB_EVENT_NAME")
    run_id: str | None = Field(default=None, validation_alias="GITHUB_RUN_ID")
    step_summary: Path | None = Field(default=None, validation_alias="GITHUB_STEP_SUMMARY")

    def run_url(self, repository: str) -> str | None:
        """The workflow run's page, where its artifacts are listed."""
        if not self.run_id:
            return None
        return f"{self.server_url.rstrip('/')}/{repository}/actions/runs/{self.run_id}"


class ClientPolicy(BaseSettings):
    """Retries, waits and pacing of API calls (`ITARCH_GITHUB_*` to override)."""

    model_config = SettingsConfigDict(env_prefix="ITARCH_GITHUB_", extra="ignore")

    retries: int = Field(default=4, ge=0)
    backoff: float = Field(default=1.0, ge=0, description="exponential backoff factor, seconds")
    max_wait: float = Field(default=300.0, ge=0, description="longest wait for a rate limit")
    secondary_wait: float = Field(default=60.0, ge=0, description="wait after a secondary limit")
    timeout: int = Field(default=30, ge=1)
    # GitHub asks integrations to pace writes; bursts of them trip the secondary rate limit.
    seconds_between_requests: float = Field(default=0.25, ge=0)
    seconds_between_writes: float = Field(default=1.0, ge=0)


def load_policy() -> ClientPolicy:
    try:
        return ClientPolicy()
    except ValidationError as exc:
        first = exc.errors()[0]
        name = "ITARCH_GITHUB_" + ".".join(str(p) for p in first["loc"]).upper()
        raise GitHubError(f"bad setting {name}: {first['msg']}") from None


def build_retry(policy: ClientPolicy) -> GithubRetry:
    """urllib3 retries that honour `Retry-After` and GitHub's rate-limit answers (403 and 429).

    `raise_on_status=False` hands the last error response to PyGithub once retries run out, so
    the caller sees GitHub's own message instead of a bare "too many retries".
    """
    return GithubRetry(
        total=policy.retries,
        backoff_factor=policy.backoff,
        status_forcelist=[429, 500, 502, 503, 504],
        allowed_methods={"GET", "POST", "PATCH", "DELETE"},
        raise_on_status=False,
        respect_retry_after_header=True,
        retry_after_max=int(policy.max_wait),
        secondary_rate_wait=policy.secondary_wait,
        max_rate_limit_wait=policy.max_wait,
    )


# ---------------------------------------------------------------- turning API errors into advice


def _api_message(exc: GithubException) -> str:
    data = exc.data
    message = exc.message or (data.get("message") if isinstance(data, dict) else None) or ""
    errors = data.get("errors") if isinstance(data, dict) else None
    if errors:
        details = [e.get("message") or e.get("code") if isinstance(e, dict) else e for e in errors]
        message = f"{message}: " + "; ".join(str(d) for d in details if d)
    return message or str(data)


def _spent_rate_limit(exc: GithubException) -> str | None:
    """Which rate limit a 403/429 that outlasted the retries was, if it was one.

    GithubRetry reads a 403's body to tell a rate limit from a refusal and retries only rate
    limits, so a 403 that reaches us without a body was one (a refusal arrives with its message).
    """
    if exc.status not in (403, 429) or (exc.status == 403 and exc.data):
        return None
    headers = {k.lower(): v for k, v in (exc.headers or {}).items()}
    return "rate limit" if headers.get("x-ratelimit-remaining") == "0" else "secondary rate limit"


@contextmanager
def _api(action: str, api_url: str) -> Iterator[None]:
    """Run PyGithub calls for `action` ("update the comment"), translating failures."""
    try:
        yield
    except RateLimitExceededExceedsMaxWait as exc:
        raise GitHubError(
            f"GitHub's rate limit would need a {exc.wait or 0:.0f}s wait to {action}, longer "
            "than itarch waits (ITARCH_GITHUB_MAX_WAIT); re-run the job later"
        ) from None
    except RateLimitExceededException as exc:
        message = _api_message(exc)
        kind = "secondary rate limit" if "secondary" in message.lower() else "rate limit"
        raise GitHubError(
            f"GitHub's {kind} stopped itarch from trying to {action}, even after retrying "
            f"({message}); wait a few minutes and re-run the job"
        ) from None
    except BadCredentialsException:
        raise GitHubError(
            f"GitHub rejected the token (401 Bad credentials) when trying to {action}: "
            "check GITHUB_TOKEN"
        ) from None
    except UnknownObjectException:
        raise GitHubError(
            f"GitHub answered 404 Not Found when trying to {action}: check --github-repo "
            "OWNER/NAME and --pr N, and that the token can see the repository"
        ) from None
    except GithubException as exc:
        if spent := _spent_rate_limit(exc):
            raise GitHubError(
                f"GitHub's {spent} stopped itarch from trying to {action}, even after retrying; "
                "wait a few minutes and re-run the job"
            ) from None
        message = _api_message(exc)
        if exc.status == 403 and INTEGRATION_DENIED in message.lower():
            raise PermissionDenied(
                f"GitHub refused to {action}: {message}. The token lacks a permission: give the "
                "workflow job `permissions: {contents: read, pull-requests: write}` (pull "
                "requests from forks get a read-only token)"
            ) from None
        raise GitHubError(
            f"GitHub answered {exc.status} when trying to {action}: {message}"
        ) from None
    except requests.RequestException as exc:
        raise GitHubError(
            f"cannot reach GitHub at {api_url} to {action}: {type(exc).__name__}; "
            "check GITHUB_API_URL and the network"
        ) from None


# ---------------------------------------------------------------- diff lines of a pull request


def diff_lines(patch: str | None) -> set[int]:
    """The new-file lines a review comment may target: added and context lines of the hunks."""
    return new_side_lines(patch or "")


class PullInfo(BaseModel):
    repository: str
    number: int
    base_sha: str
    head_sha: str
    html_url: str = ""


class PullFile(BaseModel):
    path: str
    status: str
    lines: set[int] = Field(default_factory=set)  # commentable lines on the RIGHT side


class ReviewSuggestion(BaseModel):
    """A review comment on lines `start_line..line` of the head version of `path`."""

    path: str
    line: int = Field(gt=0)
    start_line: int | None = Field(default=None, gt=0)
    body: str

    @property
    def span(self) -> range:
        return range(self.start_line or self.line, self.line + 1)


class CommentOutcome(BaseModel):
    action: Literal["created", "updated"]
    id: int
    url: str
    removed_duplicates: int = 0


class ReviewOutcome(BaseModel):
    posted: int = 0
    already_there: int = 0
    outside_diff: int = 0


# ---------------------------------------------------------------- one pull request, via PyGithub


class PullRequestClient:
    """One pull request: who we are, what it changes, our sticky comment and suggestions."""

    def __init__(
        self,
        token: str,
        repository: str,
        number: int,
        *,
        api_url: str = DEFAULT_API_URL,
        policy: ClientPolicy | None = None,
    ) -> None:
        if not token.strip():
            raise GitHubError("no GitHub token: set GITHUB_TOKEN")
        if not re.fullmatch(r"[\w.-]+/[\w.-]+", repository):
            raise GitHubError(f"{repository!r} is not a GitHub repository name (OWNER/NAME)")
        policy = policy or load_policy()
        self.repository = repository
        self.number = number
        self.api_url = api_url.rstrip("/")
        self._gh = Github(
            auth=Auth.Token(token.strip()),
            base_url=self.api_url,
            retry=build_retry(policy),
            timeout=policy.timeout,
            user_agent=f"itarch/{__version__}",
            seconds_between_requests=policy.seconds_between_requests,
            seconds_between_writes=policy.seconds_between_writes,
            lazy=True,  # no request until a field is read: GET /repos/{repo} is not needed
        )
        self._login: str | None = None
        self._pull: PullRequest | None = None

    def _api(self, action: str) -> Any:
        return _api(action, self.api_url)

    def login(self) -> str:
        """The login of the token's own user: the author of the comments we may edit."""
        if self._login is None:
            try:
                with self._api("read the token's user (GET /user)"):
                    self._login = self._gh.get_user().login
            except PermissionDenied:
                # Installation tokens (Actions' GITHUB_TOKEN, GitHub Apps) cannot read /user;
                # GraphQL's `viewer` answers for them, as "<app>[bot]".
                with self._api("read the token's user (GraphQL viewer)"):
                    _, data = self._gh.requester.graphql_query("query { viewer { login } }", {})
                self._login = str(data["data"]["viewer"]["login"])
            log.info("github identity", login=self._login)
        return self._login

    def pull(self) -> PullRequest:
        if self._pull is None:
            with self._api(f"read pull request #{self.number} of {self.repository}"):
                pull = self._gh.get_repo(self.repository).get_pull(self.number)
                pull.raw_data  # noqa: B018 — fetch now, so a 404 is reported as this PR's
                self._pull = pull
        return self._pull

    def info(self) -> PullInfo:
        pull = self.pull()
        return PullInfo(
            repository=self.repository,
            number=self.number,
            base_sha=pull.base.sha,
            head_sha=pull.head.sha,
            html_url=pull.html_url or "",
        )

    def changed_files(self) -> list[PullFile]:
        with self._api("list the pull request's files"):
            return [
                PullFile(path=f.filename, status=f.status, lines=diff_lines(f.patch))
                for f in self.pull().get_files()
            ]

    def _ours(self, login: str | None) -> bool:
        return login is not None and login.casefold() == self.login().casefold()

    def upsert_sticky_comment(self, body: str, *, marker: str) -> CommentOutcome:
        """Edit our marked comment, or create it; never another author's comment."""
        if marker not in body:
            raise ValueError("the comment body must carry the marker, or re-runs cannot find it")
        with self._api("list the pull request's comments"):
            ours = [
                c
                for c in self.pull().get_issue_comments()
                if marker in (c.body or "") and self._ours(c.user.login if c.user else None)
            ]
        if not ours:
            with self._api("comment on the pull request"):
                created = self.pull().create_issue_comment(body)
            return CommentOutcome(action="created", id=created.id, url=created.html_url)
        sticky, extra = ours[0], ours[1:]
        with self._api("update the itarch comment"):
            sticky.edit(body)
        # Two of ours means an earlier create was retried after GitHub had stored it: keep one.
        for duplicate in extra:
            with self._api("remove a duplicate itarch comment"):
                duplicate.delete()
        return CommentOutcome(
            action="updated", id=sticky.id, url=sticky.html_url, removed_duplicates=len(extra)
        )

    def post_suggestions(
        self, suggestions: list[ReviewSuggestion], *, commit_id: str
    ) -> ReviewOutcome:
        """Post review comments, each only where every line it covers is inside the diff."""
        outcome = ReviewOutcome()
        if not suggestions:
            return outcome
        files = {f.path: f.lines for f in self.changed_files()}
        with self._api("list the pull request's review comments"):
            existing = {
                (c.path, c.line, c.body)
                for c in self.pull().get_review_comments()
                if self._ours(c.user.login if c.user else None)
            }
        for s in suggestions:
            lines = files.get(s.path, set())
            if not all(n in lines for n in s.span):
                outcome.outside_diff += 1
                log.info("suggestion outside the diff, not posted", path=s.path, line=s.line)
                continue
            if (s.path, s.line, s.body) in existing:
                outcome.already_there += 1
                continue
            extra: dict[str, Any] = {}
            if s.start_line is not None and s.start_line < s.line:
                extra = {"start_line": s.start_line, "start_side": "RIGHT"}
            with self._api(f"post a review suggestion on {s.path}:{s.line}"):
                self.pull().create_review_comment(
                    s.body, commit_id, s.path, line=s.line, side="RIGHT", **extra
                )
            outcome.posted += 1
        return outcome


def workflow_text() -> str:
    """The example workflow (`itarch init --ci` writes it to .github/workflows/itarch.yml)."""
    return resources.files("agent.github").joinpath("workflow.yml").read_text("utf-8")
