"""The PR bot's GitHub client: the real PyGithub over real HTTP, against our loopback server."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from agent.github.api import (
    ClientPolicy,
    GitHubError,
    PermissionDenied,
    PullRequestClient,
    ReviewSuggestion,
)
from agent.github.comment import MARKER, MAX_COMMENT_CHARS, render_comment
from tests.fakes.github_server import (
    SECONDARY_RATE_LIMIT,
    Fault,
    GitHubServer,
    PullFile,
    github_server,
    integration_denied,
    secondary_rate_limit,
)
from tests.github.test_github_comment import LINKS, make_report

__all__ = ["github_server"]

REPO = "octo/shop"
NUMBER = 7
BASE, HEAD = "1" * 40, "2" * 40
COMMENTS = rf"/repos/{REPO}/issues/{NUMBER}/comments"
EDIT = rf"/repos/{REPO}/issues/comments/\d+"
# Retries without the production waits, so a test takes milliseconds, not minutes.
FAST = ClientPolicy(
    retries=2,
    backoff=0,
    max_wait=5,
    secondary_wait=0.1,
    timeout=10,
    seconds_between_requests=0,
    seconds_between_writes=0,
)

ORDERS_PATCH = "\n".join(
    [
        "@@ -1,3 +1,5 @@",
        " import pytest",
        "+",
        "+def test_order_total(client):",
        "+    assert client.get('/orders/1').json['total'] == '62.99'",
        " ",
        "@@ -30,2 +32,3 @@ def test_refund(client):",
        "     response = client.post('/refunds')",
        "+    assert response.status_code == 201",
        "     return response",
    ]
)


@pytest.fixture
def server(github_server: GitHubServer) -> Iterator[GitHubServer]:
    github_server.add_pull(
        REPO,
        NUMBER,
        base_sha=BASE,
        head_sha=HEAD,
        files=[
            PullFile("tests/test_orders.py", "modified", ORDERS_PATCH),
            PullFile("shop/logo.png", "added", None),
        ],
    )
    yield github_server


def client_for(server: GitHubServer, **overrides: object) -> PullRequestClient:
    options: dict[str, object] = {"api_url": server.base_url, "policy": FAST}
    options.update(overrides)
    return PullRequestClient(server.token, REPO, NUMBER, **options)  # type: ignore[arg-type]


def ours(server: GitHubServer) -> list[str]:
    return [c.body for c in server.comments_on(NUMBER) if c.login == server.login]


# ---------------------------------------------------------------- the sticky comment


def test_first_run_creates_the_comment_and_a_rerun_updates_the_same_one(
    server: GitHubServer,
) -> None:
    first = client_for(server).upsert_sticky_comment(f"{MARKER}\nrun one", marker=MARKER)
    second = client_for(server).upsert_sticky_comment(f"{MARKER}\nrun two", marker=MARKER)

    assert (first.action, second.action) == ("created", "updated")
    assert first.id == second.id
    assert ours(server) == [f"{MARKER}\nrun two"]
    posts = server.requests_to("POST", COMMENTS)
    patches = server.requests_to("PATCH", EDIT)
    assert [r.path for r in patches] == [f"/repos/{REPO}/issues/comments/{first.id}"]
    for request in [*posts, *patches]:
        assert set(request.body) == {"body"}  # GitHub's shape: {"body": str}
        assert request.status in (200, 201)


def test_someone_elses_comment_with_the_marker_is_left_alone(server: GitHubServer) -> None:
    lookalike = server.add_comment(
        REPO, NUMBER, f"{MARKER}\n## itarch: suggested integration tests\n(copied)", login="mallory"
    )
    plain = server.add_comment(REPO, NUMBER, "LGTM", login="maintainer")

    outcome = client_for(server).upsert_sticky_comment(f"{MARKER}\nours", marker=MARKER)

    assert outcome.action == "created"
    assert outcome.id not in (lookalike.id, plain.id)
    assert server.comments[lookalike.id].body.endswith("(copied)")
    touched = {r.path.rsplit("/", 1)[1] for r in server.writes if "/issues/comments/" in r.path}
    assert str(lookalike.id) not in touched
    assert ours(server) == [f"{MARKER}\nours"]


def test_our_comment_is_found_past_the_first_page(server: GitHubServer) -> None:
    for n in range(40):
        server.add_comment(REPO, NUMBER, f"comment {n}", login="maintainer")
    sticky = server.add_comment(REPO, NUMBER, f"{MARKER}\nold", login=server.login)
    for n in range(10):
        server.add_comment(REPO, NUMBER, f"later {n}", login="maintainer")

    outcome = client_for(server).upsert_sticky_comment(f"{MARKER}\nnew", marker=MARKER)

    assert (outcome.action, outcome.id) == ("updated", sticky.id)
    assert server.requests_to("POST", COMMENTS) == []
    pages = [r.query.get("page", ["1"])[0] for r in server.requests_to("GET", COMMENTS)]
    assert "2" in pages


def test_an_actions_token_finds_itself_through_graphql() -> None:
    """GITHUB_TOKEN cannot read GET /user; the viewer query names the bot instead."""
    with GitHubServer(login="github-actions[bot]", integration_token=True) as server:
        server.add_pull(REPO, NUMBER, base_sha=BASE, head_sha=HEAD)
        sticky = server.add_comment(REPO, NUMBER, f"{MARKER}\nold", login="github-actions[bot]")

        client = client_for(server)
        assert client.login() == "github-actions[bot]"
        outcome = client.upsert_sticky_comment(f"{MARKER}\nnew", marker=MARKER)

        assert (outcome.action, outcome.id) == ("updated", sticky.id)
        assert [r.status for r in server.requests_to("GET", "/user")] == [403]
        assert [r.body["query"] for r in server.requests_to("POST", "/graphql")] == [
            "query { viewer { login } }"
        ]


def test_a_duplicate_of_our_comment_is_removed(server: GitHubServer) -> None:
    keep = server.add_comment(REPO, NUMBER, f"{MARKER}\none", login=server.login)
    extra = server.add_comment(REPO, NUMBER, f"{MARKER}\ntwo", login=server.login)

    outcome = client_for(server).upsert_sticky_comment(f"{MARKER}\nthree", marker=MARKER)

    assert (outcome.id, outcome.removed_duplicates) == (keep.id, 1)
    assert extra.id not in server.comments
    assert ours(server) == [f"{MARKER}\nthree"]


def test_a_body_without_the_marker_is_refused_before_any_request(server: GitHubServer) -> None:
    with pytest.raises(ValueError, match="marker"):
        client_for(server).upsert_sticky_comment("no marker", marker=MARKER)
    assert server.writes == []


def test_an_over_long_comment_is_truncated_and_github_accepts_it(server: GitHubServer) -> None:
    from agent.schema import AcceptedFile

    files = [
        AcceptedFile(path=f"tests/integration/test_{i}.py", content="x = 1\n" * 4_000)
        for i in range(4)
    ]
    body = render_comment(make_report(files), LINKS)
    assert len(body) <= MAX_COMMENT_CHARS

    client_for(server).upsert_sticky_comment(body, marker=MARKER)

    assert ours(server) == [body]
    # The same server refuses what an untruncated comment would be, as GitHub does.
    with pytest.raises(GitHubError, match="maximum is 65536 characters"):
        client_for(server).upsert_sticky_comment(MARKER + "x" * MAX_COMMENT_CHARS, marker=MARKER)


# ---------------------------------------------------------------- review suggestions


def suggestion(line: int, start: int | None = None, text: str = "x") -> ReviewSuggestion:
    body = f"<!-- itarch:suggestion -->\n```suggestion\n{text}\n```"
    return ReviewSuggestion(path="tests/test_orders.py", line=line, start_line=start, body=body)


def test_review_suggestions_go_only_on_lines_inside_the_diff(server: GitHubServer) -> None:
    client = client_for(server)
    inside = [suggestion(3), suggestion(5, start=2), suggestion(33)]
    outside = [
        suggestion(10),  # between the hunks
        suggestion(33, start=31),  # starts before the second hunk
        ReviewSuggestion(path="shop/logo.png", line=1, body="binary: no patch, no lines"),
        ReviewSuggestion(path="README.md", line=1, body="not in the pull request"),
    ]

    outcome = client.post_suggestions([*inside, *outside], commit_id=HEAD)

    assert (outcome.posted, outcome.outside_diff) == (len(inside), len(outside))
    posted = server.requests_to("POST", rf"/repos/{REPO}/pulls/{NUMBER}/comments")
    assert all(r.status == 201 for r in posted)  # the server checks lines against the diff too
    single, multi = posted[0].body, posted[1].body
    assert set(single) == {"body", "commit_id", "path", "line", "side"}
    assert single == {
        "body": inside[0].body,
        "commit_id": HEAD,
        "path": "tests/test_orders.py",
        "line": 3,
        "side": "RIGHT",
    }
    assert set(multi) == {"body", "commit_id", "path", "line", "side", "start_line", "start_side"}
    assert (multi["start_line"], multi["line"], multi["start_side"]) == (2, 5, "RIGHT")


def test_a_rerun_does_not_repeat_review_suggestions(server: GitHubServer) -> None:
    planned = [suggestion(3), suggestion(33)]
    first = client_for(server).post_suggestions(planned, commit_id=HEAD)
    second = client_for(server).post_suggestions(planned, commit_id=HEAD)

    assert (first.posted, second.posted, second.already_there) == (2, 0, 2)
    assert len(server.review_comments_on(NUMBER)) == 2


def test_the_fake_refuses_a_line_outside_the_diff_as_github_does(server: GitHubServer) -> None:
    """What our own check prevents: posting straight through PyGithub gets GitHub's 422."""
    pull = client_for(server).pull()
    from github import GithubException

    with pytest.raises(GithubException) as caught:
        pull.create_review_comment("x", HEAD, "tests/test_orders.py", line=10, side="RIGHT")
    assert caught.value.status == 422


# ---------------------------------------------------------------- failures, said clearly


def one_line(exc: BaseException) -> str:
    text = str(exc)
    assert "\n" not in text and "Traceback" not in text
    return text


def test_missing_permission_tells_the_user_which_one(server: GitHubServer) -> None:
    server.fail("POST", COMMENTS, integration_denied())
    with pytest.raises(PermissionDenied) as caught:
        client_for(server).upsert_sticky_comment(f"{MARKER}\nx", marker=MARKER)
    message = one_line(caught.value)
    assert "Resource not accessible by integration" in message
    assert "pull-requests: write" in message
    assert server.comments_on(NUMBER) == []


def test_an_unknown_pull_request_is_a_404_with_advice(server: GitHubServer) -> None:
    client = PullRequestClient(server.token, REPO, 999, api_url=server.base_url, policy=FAST)
    with pytest.raises(GitHubError) as caught:
        client.info()
    message = one_line(caught.value)
    assert "404" in message and "--github-repo" in message and "--pr" in message


def test_a_bad_token_is_named(server: GitHubServer) -> None:
    client = PullRequestClient("ghs_wrong", REPO, NUMBER, api_url=server.base_url, policy=FAST)
    with pytest.raises(GitHubError, match=r"401 Bad credentials.*GITHUB_TOKEN"):
        client.info()


def test_a_missing_token_fails_before_any_request(server: GitHubServer) -> None:
    with pytest.raises(GitHubError, match="GITHUB_TOKEN"):
        PullRequestClient("  ", REPO, NUMBER, api_url=server.base_url)
    assert server.requests == []


def test_secondary_rate_limit_is_retried_after_retry_after(server: GitHubServer) -> None:
    server.fail("POST", COMMENTS, secondary_rate_limit(retry_after=1))

    outcome = client_for(server).upsert_sticky_comment(f"{MARKER}\nx", marker=MARKER)

    assert outcome.action == "created"
    attempts = server.requests_to("POST", COMMENTS)
    assert [r.status for r in attempts] == [403, 201]
    assert attempts[1].received_at - attempts[0].received_at >= 0.95
    assert len(ours(server)) == 1


@pytest.mark.parametrize(
    "fault",
    [
        secondary_rate_limit(retry_after=None),
        secondary_rate_limit(retry_after=0),
        Fault(429, SECONDARY_RATE_LIMIT, {"Retry-After": "0"}),
    ],
    ids=["403", "403-retry-after", "429"],
)
def test_a_secondary_rate_limit_that_persists_gets_a_clear_message(
    server: GitHubServer, fault: Fault
) -> None:
    attempts = FAST.retries + 1
    server.fail("POST", COMMENTS, *[fault] * attempts)

    with pytest.raises(GitHubError) as caught:
        client_for(server).upsert_sticky_comment(f"{MARKER}\nx", marker=MARKER)

    message = one_line(caught.value)
    assert "secondary rate limit" in message and "re-run" in message
    assert len(server.requests_to("POST", COMMENTS)) == attempts
    assert server.comments_on(NUMBER) == []


def test_a_rate_limit_reset_beyond_the_longest_wait_is_not_waited_for(
    server: GitHubServer,
) -> None:
    reset = str(int(time.time()) + 3_600)
    server.fail(
        "GET",
        rf"/repos/{REPO}/pulls/{NUMBER}",
        Fault(403, "API rate limit exceeded for installation ID 1.", {"X-RateLimit-Reset": reset}),
    )
    started = time.monotonic()
    with pytest.raises(GitHubError, match=r"rate limit would need a \d+s wait"):
        client_for(server).info()
    assert time.monotonic() - started < FAST.max_wait


def test_server_errors_are_retried(server: GitHubServer) -> None:
    server.fail("GET", rf"/repos/{REPO}/pulls/{NUMBER}", Fault(502, "Bad Gateway"))
    info = client_for(server).info()
    assert (info.base_sha, info.head_sha) == (BASE, HEAD)
    assert [r.status for r in server.requests_to("GET", rf"/repos/{REPO}/pulls/{NUMBER}")] == [
        502,
        200,
    ]


def test_an_unreachable_api_is_named() -> None:
    with GitHubServer() as gone:
        url = gone.base_url
    client = PullRequestClient(
        "t", REPO, NUMBER, api_url=url, policy=FAST.model_copy(update={"retries": 0})
    )
    with pytest.raises(GitHubError, match=f"cannot reach GitHub at {url}"):
        client.info()


def test_every_request_identifies_itself_and_authenticates(server: GitHubServer) -> None:
    client = client_for(server)
    client.info()
    client.upsert_sticky_comment(f"{MARKER}\nx", marker=MARKER)
    assert server.requests
    for request in server.requests:
        assert request.headers["user-agent"].startswith("itarch/")
        assert request.headers["authorization"].endswith(server.token)


def test_a_bad_retry_setting_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ITARCH_GITHUB_RETRIES", "lots")
    with pytest.raises(GitHubError, match="bad setting ITARCH_GITHUB_RETRIES"):
        PullRequestClient("t", REPO, NUMBER)
