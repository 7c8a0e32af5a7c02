"""A GitHub REST API server of our own, on 127.0.0.1, holding pull requests and their comments.

It answers the endpoints the PR bot uses, closely enough for the real PyGithub client:

    GET    /user                                          the token's own user
    POST   /graphql                                       `viewer { login }` only
    GET    /repos/{owner}/{repo}
    GET    /repos/{owner}/{repo}/pulls/{n}
    GET    /repos/{owner}/{repo}/pulls/{n}/files          paginated, with each file's patch
    GET    /repos/{owner}/{repo}/issues/{n}/comments      paginated
    POST   /repos/{owner}/{repo}/issues/{n}/comments      {"body": str}
    GET    /repos/{owner}/{repo}/issues/comments/{id}
    PATCH  /repos/{owner}/{repo}/issues/comments/{id}     {"body": str}
    DELETE /repos/{owner}/{repo}/issues/comments/{id}
    GET    /repos/{owner}/{repo}/pulls/{n}/comments       review comments, paginated
    POST   /repos/{owner}/{repo}/pulls/{n}/comments       {"body", "commit_id", "path", "line",
                                                          "side"} (+ "start_line", "start_side")

Request bodies are validated against the REST API's shapes (unknown or mistyped fields get the
API's 422), comment bodies against its 65,536-character limit, and review comments against the
pull request's diff: a line outside the patch's hunks is refused as GitHub refuses it. Every
request is recorded; `fail()` queues error replies (403, 404, rate limits...) for a route.

    with GitHubServer() as server:
        pull = server.add_pull("octo/shop", 7, base_sha=..., head_sha=..., files=[...])
        gh = Github(auth=Auth.Token(server.token), base_url=server.base_url)
"""

from __future__ import annotations

import itertools
import json
import re
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal, TypeVar
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from pydantic import BaseModel, ConfigDict, StrictInt, StrictStr, ValidationError

from tests.fakes.loopback import LoopbackServer, TrackingHandler

MAX_BODY_CHARS = 65_536
DOCS = "https://docs.github.com/rest"
INTEGRATION_DENIED = "Resource not accessible by integration"
SECONDARY_RATE_LIMIT = (
    "You have exceeded a secondary rate limit. Please wait a few minutes before you try again."
)


# ---------------------------------------------------------------- request shapes (REST API)


class _Shape(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CommentRequest(_Shape):
    """`POST .../issues/{n}/comments` and `PATCH .../issues/comments/{id}`."""

    body: StrictStr


class ReviewCommentRequest(_Shape):
    """`POST .../pulls/{n}/comments` for a line (or a range of lines) of the diff."""

    body: StrictStr
    commit_id: StrictStr
    path: StrictStr
    line: StrictInt
    side: Literal["LEFT", "RIGHT"]
    start_line: StrictInt | None = None
    start_side: Literal["LEFT", "RIGHT"] | None = None


class GraphQLRequest(_Shape):
    query: StrictStr
    variables: dict[str, Any] | None = None


# ---------------------------------------------------------------- state


@dataclass(frozen=True)
class Fault:
    """An error reply: by default GitHub's `{"message", "documentation_url"}` for `status`."""

    status: int
    message: str = "Error"
    headers: Mapping[str, str] = field(default_factory=dict)
    body: dict[str, Any] | None = None


def integration_denied() -> Fault:
    """What a workflow token without `pull-requests: write` gets when it writes."""
    return Fault(403, INTEGRATION_DENIED)


def secondary_rate_limit(retry_after: int | None = None) -> Fault:
    headers = {"Retry-After": str(retry_after)} if retry_after is not None else {}
    return Fault(403, SECONDARY_RATE_LIMIT, headers=headers)


def not_found() -> Fault:
    return Fault(404, "Not Found")


@dataclass
class PullFile:
    filename: str
    status: Literal["added", "modified", "removed", "renamed"] = "modified"
    patch: str | None = None

    def right_lines(self) -> set[int]:
        """New-file lines inside the patch's hunks (added or context)."""
        found: set[int] = set()
        line = 0
        for text in (self.patch or "").splitlines():
            header = re.match(r"@@ -\d+(?:,\d+)? \+(\d+)(?:,\d+)? @@", text)
            if header:
                line = int(header.group(1))
            elif line and text[:1] in (" ", "+", ""):
                found.add(line)
                line += 1
        return found


@dataclass
class Comment:
    id: int
    number: int
    body: str
    login: str
    created_at: str
    updated_at: str


@dataclass
class ReviewComment:
    id: int
    number: int
    body: str
    login: str
    commit_id: str
    path: str
    line: int
    side: str
    start_line: int | None
    start_side: str | None
    created_at: str


@dataclass
class Pull:
    repo: str
    number: int
    base_sha: str
    head_sha: str
    files: list[PullFile] = field(default_factory=list)
    base_ref: str = "main"
    head_ref: str = "feature"
    title: str = "A change"


@dataclass
class RecordedRequest:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]  # names lower-cased
    body: Any  # parsed JSON, or None
    status: int = 0  # what the server answered
    received_at: float = 0.0  # time.monotonic()


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# ---------------------------------------------------------------- HTTP plumbing


class _Handler(TrackingHandler):
    server_version = "github-test-server"

    def _dispatch(self) -> None:
        try:
            self.server.app.handle(self)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    do_GET = do_POST = do_PATCH = do_DELETE = do_PUT = _dispatch


class _Reply(Exception):
    """Raised by a route to answer at once (errors, mostly)."""

    def __init__(self, status: int, body: Any, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(status)
        self.status = status
        self.body = body
        self.headers = dict(headers or {})


def _error(status: int, message: str, **extra: Any) -> _Reply:
    return _Reply(status, {"message": message, "documentation_url": DOCS, **extra})


def _validation(resource: str, field_name: str, message: str) -> _Reply:
    error = {"resource": resource, "code": "custom", "field": field_name, "message": message}
    return _error(422, "Validation Failed", errors=[error])


# ---------------------------------------------------------------- the server


Route = Callable[["GitHubServer", "RecordedRequest", re.Match[str]], Any]
_S = TypeVar("_S", bound=BaseModel)


class GitHubServer(LoopbackServer):
    """The REST API on a random loopback port; a context manager, or `start()`/`stop()`."""

    def __init__(
        self,
        *,
        token: str = "ghs_test_token",
        login: str = "itarch-bot[bot]",
        integration_token: bool = False,
    ) -> None:
        self.token = token
        self.login = login
        # An Actions / GitHub App installation token cannot read GET /user (GraphQL can).
        self.integration_token = integration_token
        self.pulls: dict[tuple[str, int], Pull] = {}
        self.comments: dict[int, Comment] = {}
        self.review_comments: dict[int, ReviewComment] = {}
        self._ids = itertools.count(1001)
        self._faults: list[tuple[str, re.Pattern[str], Fault]] = []
        self._requests: list[RecordedRequest] = []
        self._lock = threading.RLock()
        self._remaining = 5000

    # -- lifecycle

    handler = _Handler
    thread_name = "github-test-server"

    # -- arranging state

    def add_pull(
        self,
        repo: str,
        number: int,
        *,
        base_sha: str,
        head_sha: str,
        files: list[PullFile] | None = None,
    ) -> Pull:
        pull = Pull(repo, number, base_sha, head_sha, files=list(files or []))
        with self._lock:
            self.pulls[(repo, number)] = pull
        return pull

    def add_comment(self, repo: str, number: int, body: str, *, login: str) -> Comment:
        """A comment already on the pull request, by anyone."""
        self._pull(repo, number)
        with self._lock:
            comment = Comment(next(self._ids), number, body, login, _now(), _now())
            self.comments[comment.id] = comment
        return comment

    def fail(self, method: str, path: str, *faults: Fault) -> None:
        """Answer the next matching requests (`path` is a regex on the path) with these faults."""
        with self._lock:
            self._faults += [(method.upper(), re.compile(path), f) for f in faults]

    def comments_on(self, number: int) -> list[Comment]:
        with self._lock:
            return [c for c in self.comments.values() if c.number == number]

    def review_comments_on(self, number: int) -> list[ReviewComment]:
        with self._lock:
            return [c for c in self.review_comments.values() if c.number == number]

    # -- records

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._requests)

    def requests_to(self, method: str, path: str) -> list[RecordedRequest]:
        pattern = re.compile(path)
        return [
            r for r in self.requests if r.method == method.upper() and pattern.fullmatch(r.path)
        ]

    @property
    def writes(self) -> list[RecordedRequest]:
        return [r for r in self.requests if r.method in {"POST", "PATCH", "PUT", "DELETE"}]

    # -- request handling

    def handle(self, handler: _Handler) -> None:
        length = int(handler.headers.get("content-length") or 0)
        raw = handler.rfile.read(length) if length else b""
        url = urlsplit(handler.path)
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        request = RecordedRequest(
            method=handler.command,
            path=url.path,
            query=parse_qs(url.query),
            headers={k.lower(): v for k, v in handler.headers.items()},
            body=body,
            received_at=time.monotonic(),
        )
        with self._lock:
            self._requests.append(request)
        try:
            status, payload, headers = 200, self._route(request), {}
            if request.method == "POST" and request.path != "/graphql":
                status = 201
            if request.method == "DELETE":
                status, payload = 204, None
        except _Reply as reply:
            status, payload, headers = reply.status, reply.body, reply.headers
        if isinstance(payload, _Page):
            headers = {**headers, **payload.link_header(self.base_url, request)}
            payload = payload.items
        request.status = status
        self._send(handler, status, payload, headers)

    def _send(
        self, handler: _Handler, status: int, payload: Any, headers: Mapping[str, str]
    ) -> None:
        body = b"" if payload is None else json.dumps(payload).encode()
        handler.send_response(status)
        with self._lock:
            self._remaining = max(0, self._remaining - 1)
            remaining = self._remaining
        standard = {
            "content-type": "application/json; charset=utf-8",
            "content-length": str(len(body)),
            "x-github-media-type": "github.v3; format=json",
            "x-ratelimit-limit": "5000",
            "x-ratelimit-remaining": str(remaining),
            "x-ratelimit-reset": str(int(time.time()) + 3600),
            "x-ratelimit-used": str(5000 - remaining),
            "x-ratelimit-resource": "core",
        }
        for name, value in {**standard, **{k.lower(): v for k, v in headers.items()}}.items():
            handler.send_header(name, value)
        handler.end_headers()
        handler.wfile.write(body)
        handler.wfile.flush()

    def _route(self, request: RecordedRequest) -> Any:
        if not self._authorised(request):
            raise _error(401, "Bad credentials")
        if not request.headers.get("user-agent"):
            raise _error(403, "Request forbidden by administrative rules. Set a User-Agent.")
        with self._lock:
            for index, (method, pattern, fault) in enumerate(self._faults):
                if method == request.method and pattern.fullmatch(request.path):
                    del self._faults[index]
                    body = fault.body or {"message": fault.message, "documentation_url": DOCS}
                    raise _Reply(fault.status, body, fault.headers)
        for method, pattern, route in _ROUTES:
            match = pattern.fullmatch(request.path)
            if method == request.method and match:
                return route(self, request, match)
        raise _error(404, "Not Found")

    def _authorised(self, request: RecordedRequest) -> bool:
        scheme, _, value = request.headers.get("authorization", "").partition(" ")
        return scheme.lower() in {"token", "bearer"} and value == self.token

    # -- JSON of the API's objects

    def _user(self, login: str) -> dict[str, Any]:
        bot = login.endswith("[bot]")
        return {
            "login": login,
            "id": abs(hash(login)) % 10_000_000,
            "node_id": f"U_{login}",
            "type": "Bot" if bot else "User",
            "site_admin": False,
            "url": f"{self.base_url}/users/{login}",
            "html_url": f"https://github.example/{login}",
        }

    def _repo_json(self, repo: str) -> dict[str, Any]:
        owner, name = repo.split("/")
        return {
            "id": abs(hash(repo)) % 10_000_000,
            "name": name,
            "full_name": repo,
            "owner": self._user(owner),
            "private": False,
            "url": f"{self.base_url}/repos/{repo}",
            "html_url": f"https://github.example/{repo}",
            "default_branch": "main",
        }

    def _pull_json(self, pull: Pull) -> dict[str, Any]:
        api = f"{self.base_url}/repos/{pull.repo}"
        return {
            "id": pull.number * 101,
            "node_id": f"PR_{pull.number}",
            "number": pull.number,
            "state": "open",
            "title": pull.title,
            "user": self._user("contributor"),
            "url": f"{api}/pulls/{pull.number}",
            "html_url": f"https://github.example/{pull.repo}/pull/{pull.number}",
            "issue_url": f"{api}/issues/{pull.number}",
            "comments_url": f"{api}/issues/{pull.number}/comments",
            "review_comments_url": f"{api}/pulls/{pull.number}/comments",
            "head": {
                "ref": pull.head_ref,
                "sha": pull.head_sha,
                "repo": self._repo_json(pull.repo),
            },
            "base": {
                "ref": pull.base_ref,
                "sha": pull.base_sha,
                "repo": self._repo_json(pull.repo),
            },
        }

    def _comment_json(self, repo: str, c: Comment) -> dict[str, Any]:
        api = f"{self.base_url}/repos/{repo}"
        return {
            "id": c.id,
            "node_id": f"IC_{c.id}",
            "url": f"{api}/issues/comments/{c.id}",
            "html_url": f"https://github.example/{repo}/pull/{c.number}#issuecomment-{c.id}",
            "issue_url": f"{api}/issues/{c.number}",
            "body": c.body,
            "user": self._user(c.login),
            "created_at": c.created_at,
            "updated_at": c.updated_at,
            "author_association": "NONE",
        }

    def _review_comment_json(self, repo: str, c: ReviewComment) -> dict[str, Any]:
        api = f"{self.base_url}/repos/{repo}"
        return {
            "id": c.id,
            "node_id": f"PRRC_{c.id}",
            "url": f"{api}/pulls/comments/{c.id}",
            "html_url": f"https://github.example/{repo}/pull/{c.number}#discussion_r{c.id}",
            "pull_request_url": f"{api}/pulls/{c.number}",
            "pull_request_review_id": c.id * 7,
            "body": c.body,
            "user": self._user(c.login),
            "path": c.path,
            "commit_id": c.commit_id,
            "original_commit_id": c.commit_id,
            "line": c.line,
            "original_line": c.line,
            "side": c.side,
            "start_line": c.start_line,
            "original_start_line": c.start_line,
            "start_side": c.start_side,
            "subject_type": "line",
            "created_at": c.created_at,
            "updated_at": c.created_at,
        }

    # -- routes

    def _pull(self, repo: str, number: int) -> Pull:
        with self._lock:
            pull = self.pulls.get((repo, number))
        if pull is None:
            raise _error(404, "Not Found")
        return pull

    def _comment(self, repo: str, comment_id: int) -> Comment:
        with self._lock:
            comment = self.comments.get(comment_id)
        if comment is None or (repo, comment.number) not in self.pulls:
            raise _error(404, "Not Found")
        return comment

    def r_user(self, request: RecordedRequest, m: re.Match[str]) -> Any:
        if self.integration_token:
            raise _error(403, INTEGRATION_DENIED)
        return self._user(self.login)

    def r_graphql(self, request: RecordedRequest, m: re.Match[str]) -> Any:
        query = _parse(GraphQLRequest, request.body, "GraphQL").query
        if not re.fullmatch(r"\s*(query\s*)?\{\s*viewer\s*\{\s*login\s*\}\s*\}\s*", query):
            return {"errors": [{"message": "this test server answers `viewer { login }` only"}]}
        return {"data": {"viewer": {"login": self.login}}}

    def r_repo(self, request: RecordedRequest, m: re.Match[str]) -> Any:
        repo = m["repo"]
        if not any(r == repo for r, _ in self.pulls):
            raise _error(404, "Not Found")
        return self._repo_json(repo)

    def r_pull(self, request: RecordedRequest, m: re.Match[str]) -> Any:
        return self._pull_json(self._pull(m["repo"], int(m["n"])))

    def r_files(self, request: RecordedRequest, m: re.Match[str]) -> Any:
        pull = self._pull(m["repo"], int(m["n"]))
        files = []
        for f in pull.files:
            entry: dict[str, Any] = {
                "sha": f"{abs(hash(f.filename)):040x}"[:40],
                "filename": f.filename,
                "status": f.status,
                "additions": (f.patch or "").count("\n+"),
                "deletions": (f.patch or "").count("\n-"),
                "changes": 0,
                "blob_url": f"https://github.example/{pull.repo}/blob/{pull.head_sha}/{f.filename}",
            }
            if f.patch is not None:  # GitHub omits it for binary and very large diffs
                entry["patch"] = f.patch
            files.append(entry)
        return _Page.of(files, request)

    def r_list_comments(self, request: RecordedRequest, m: re.Match[str]) -> Any:
        repo, number = m["repo"], int(m["n"])
        self._pull(repo, number)
        listed = sorted(self.comments_on(number), key=lambda c: c.id)
        return _Page.of([self._comment_json(repo, c) for c in listed], request)

    def r_create_comment(self, request: RecordedRequest, m: re.Match[str]) -> Any:
        repo, number = m["repo"], int(m["n"])
        self._pull(repo, number)
        body = _parse(CommentRequest, request.body, "IssueComment").body
        _check_length(body, "IssueComment")
        comment = self.add_comment(repo, number, body, login=self.login)
        return self._comment_json(repo, comment)

    def r_get_comment(self, request: RecordedRequest, m: re.Match[str]) -> Any:
        return self._comment_json(m["repo"], self._comment(m["repo"], int(m["id"])))

    def r_edit_comment(self, request: RecordedRequest, m: re.Match[str]) -> Any:
        comment = self._comment(m["repo"], int(m["id"]))
        body = _parse(CommentRequest, request.body, "IssueComment").body
        _check_length(body, "IssueComment")
        with self._lock:
            comment.body, comment.updated_at = body, _now()
        return self._comment_json(m["repo"], comment)

    def r_delete_comment(self, request: RecordedRequest, m: re.Match[str]) -> Any:
        comment = self._comment(m["repo"], int(m["id"]))
        with self._lock:
            del self.comments[comment.id]
        return None

    def r_list_review_comments(self, request: RecordedRequest, m: re.Match[str]) -> Any:
        repo, number = m["repo"], int(m["n"])
        self._pull(repo, number)
        listed = sorted(self.review_comments_on(number), key=lambda c: c.id)
        return _Page.of([self._review_comment_json(repo, c) for c in listed], request)

    def r_create_review_comment(self, request: RecordedRequest, m: re.Match[str]) -> Any:
        repo, number = m["repo"], int(m["n"])
        pull = self._pull(repo, number)
        shape = _parse(ReviewCommentRequest, request.body, "PullRequestReviewComment")
        _check_length(shape.body, "PullRequestReviewComment")
        if shape.commit_id != pull.head_sha:
            raise _validation("PullRequestReviewComment", "commit_id", "is not the head commit")
        changed = {f.filename: f for f in pull.files}
        if shape.path not in changed:
            raise _validation("PullRequestReviewComment", "path", "is not part of the diff")
        lines = changed[shape.path].right_lines()
        wanted = range(shape.start_line or shape.line, shape.line + 1)
        if shape.side != "RIGHT" or not all(n in lines for n in wanted):
            raise _error(
                422,
                "Unprocessable Entity",
                errors=["pull_request_review_thread.line must be part of the diff"],
            )
        with self._lock:
            comment = ReviewComment(
                id=next(self._ids),
                number=number,
                body=shape.body,
                login=self.login,
                commit_id=shape.commit_id,
                path=shape.path,
                line=shape.line,
                side=shape.side,
                start_line=shape.start_line,
                start_side=shape.start_side,
                created_at=_now(),
            )
            self.review_comments[comment.id] = comment
        return self._review_comment_json(repo, comment)


def _parse(shape: type[_S], body: Any, resource: str) -> _S:
    try:
        return shape.model_validate(body)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "body"
        raise _validation(resource, where, first["msg"]) from None


def _check_length(body: str, resource: str) -> None:
    if len(body) > MAX_BODY_CHARS:
        raise _validation(
            resource, "body", f"body is too long (maximum is {MAX_BODY_CHARS} characters)"
        )


@dataclass
class _Page:
    """One page of a list endpoint, and the `Link` header pointing at the others."""

    items: list[Any]
    page: int
    last: int
    per_page: int

    @classmethod
    def of(cls, items: list[Any], request: RecordedRequest) -> _Page:
        per_page = min(100, int(request.query.get("per_page", ["30"])[0]))
        page = max(1, int(request.query.get("page", ["1"])[0]))
        last = max(1, -(-len(items) // per_page))
        return cls(items[(page - 1) * per_page : page * per_page], page, last, per_page)

    def link_header(self, base_url: str, request: RecordedRequest) -> dict[str, str]:
        def url(page: int) -> str:
            query = urlencode({"per_page": self.per_page, "page": page})
            return f"{base_url}{request.path}?{query}"

        links = []
        if self.page < self.last:
            links += [f'<{url(self.page + 1)}>; rel="next"', f'<{url(self.last)}>; rel="last"']
        if self.page > 1:
            links += [f'<{url(1)}>; rel="first"', f'<{url(self.page - 1)}>; rel="prev"']
        return {"link": ", ".join(links)} if links else {}


_REPO = r"/repos/(?P<repo>[^/]+/[^/]+)"
_ROUTES: list[tuple[str, re.Pattern[str], Route]] = [
    (method, re.compile(path), route)
    for method, path, route in [
        ("GET", r"/user", GitHubServer.r_user),
        ("POST", r"/graphql", GitHubServer.r_graphql),
        ("GET", _REPO, GitHubServer.r_repo),
        ("GET", _REPO + r"/pulls/(?P<n>\d+)", GitHubServer.r_pull),
        ("GET", _REPO + r"/pulls/(?P<n>\d+)/files", GitHubServer.r_files),
        ("GET", _REPO + r"/issues/(?P<n>\d+)/comments", GitHubServer.r_list_comments),
        ("POST", _REPO + r"/issues/(?P<n>\d+)/comments", GitHubServer.r_create_comment),
        ("GET", _REPO + r"/issues/comments/(?P<id>\d+)", GitHubServer.r_get_comment),
        ("PATCH", _REPO + r"/issues/comments/(?P<id>\d+)", GitHubServer.r_edit_comment),
        ("DELETE", _REPO + r"/issues/comments/(?P<id>\d+)", GitHubServer.r_delete_comment),
        ("GET", _REPO + r"/pulls/(?P<n>\d+)/comments", GitHubServer.r_list_review_comments),
        ("POST", _REPO + r"/pulls/(?P<n>\d+)/comments", GitHubServer.r_create_review_comment),
    ]
]


@pytest.fixture
def github_server() -> Iterator[GitHubServer]:
    with GitHubServer() as server:
        yield server
