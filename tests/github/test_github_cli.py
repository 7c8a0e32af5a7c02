"""`itarch pr` as Actions runs it: a real git checkout, real PyGithub, our GitHub on loopback."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from agent.demo.shop import ShopRepo
from agent.github.comment import MARKER, SUGGESTION_MARKER
from agent.schema import AcceptedFile, Report
from tests.fakes.github_server import (
    GitHubServer,
    PullFile,
    github_server,
    integration_denied,
)
from tests.github.test_github_comment import make_report

__all__ = ["github_server"]

ITARCH = str(Path(sys.executable).parent / "itarch")
REPO = "octo/shop"
NUMBER = 7
COMMENTS = rf"/repos/{REPO}/issues/{NUMBER}/comments"
_OURS = ("GITHUB_", "ITARCH_", "ANTHROPIC_", "RUNNER_")


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Nothing from the machine running the suite (it may itself be an Actions job) leaks in."""
    for name in list(os.environ):
        if name.startswith(_OURS):
            monkeypatch.delenv(name)
    # Pacing and retry waits are for github.com; our loopback server needs none.
    monkeypatch.setenv("ITARCH_GITHUB_SECONDS_BETWEEN_REQUESTS", "0")
    monkeypatch.setenv("ITARCH_GITHUB_SECONDS_BETWEEN_WRITES", "0")
    monkeypatch.setenv("ITARCH_GITHUB_BACKOFF", "0")


def git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(repo), *args], capture_output=True, text=True, check=True
    ).stdout


def pull_files(shop: ShopRepo) -> list[PullFile]:
    """The pull request's files as GitHub lists them, patches taken from git itself."""
    files = []
    for line in git(shop.path, "diff", "--name-status", shop.base, shop.head).splitlines():
        status, path = line.split("\t")
        patch = git(shop.path, "diff", shop.base, shop.head, "--", path)
        files.append(
            PullFile(
                path,
                {"A": "added", "M": "modified", "D": "removed"}[status[0]],
                patch[patch.index("@@") :].rstrip("\n"),
            )
        )
    return files


@pytest.fixture
def pull(github_server: GitHubServer, shop: ShopRepo) -> GitHubServer:
    github_server.add_pull(
        REPO, NUMBER, base_sha=shop.base, head_sha=shop.head, files=pull_files(shop)
    )
    return github_server


def event_file(tmp_path: Path, shop: ShopRepo, number: int = NUMBER) -> Path:
    event = {
        "action": "synchronize",
        "number": number,
        "pull_request": {
            "number": number,
            "head": {"sha": shop.head, "ref": "feature", "repo": {"full_name": REPO}},
            "base": {"sha": shop.base, "ref": "main"},
            "html_url": f"https://github.example/{REPO}/pull/{number}",
            "title": "Add discount codes",
        },
        "repository": {"full_name": REPO, "private": False},
        "sender": {"login": "contributor"},
    }
    path = tmp_path / "event.json"
    path.write_text(json.dumps(event), encoding="utf-8")
    return path


def actions_env(server: GitHubServer, event: Path, **extra: str) -> dict[str, str]:
    """The variables a `pull_request` job has, pointed at our server."""
    return {
        "ANTHROPIC_API_KEY": "sk-ant-test",
        "GITHUB_TOKEN": server.token,
        "GITHUB_API_URL": server.base_url,
        "GITHUB_SERVER_URL": "https://github.example",
        "GITHUB_REPOSITORY": REPO,
        "GITHUB_EVENT_PATH": str(event),
        "GITHUB_RUN_ID": "4242",
        **extra,
    }


class StubPipeline:
    """Stands in for `agent.pipeline.generate`: records the call, writes the patch as it does."""

    def __init__(self, report: Report) -> None:
        self.report = report
        self.calls: list[dict[str, Any]] = []

    def __call__(self, repo: Path, **kwargs: Any) -> Report:
        from agent.pipeline import new_files_patch

        self.calls.append({"repo": repo, **kwargs})
        if kwargs.get("patch") is not None:
            kwargs["patch"].write_text(new_files_patch(self.report.accepted), encoding="utf-8")
        return self.report


@pytest.fixture
def stub(monkeypatch: pytest.MonkeyPatch) -> StubPipeline:
    pipeline = StubPipeline(make_report())
    monkeypatch.setattr("agent.github.run.generate", pipeline)
    return pipeline


def invoke(mp: pytest.MonkeyPatch, shop: ShopRepo, env: dict[str, str], *args: str) -> Any:
    """`itarch --repo SHOP pr ARGS` in this process (so the pipeline can be stubbed)."""
    from agent.cli.main import app

    for name, value in env.items():
        mp.setenv(name, value)
    return CliRunner().invoke(app, ["--repo", str(shop.path), "pr", *args], catch_exceptions=False)


def one_line_error(stderr: str, fragment: str) -> None:
    assert "Traceback" not in stderr
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    assert lines[0].startswith("itarch: error:")
    assert fragment in lines[0]


# ---------------------------------------------------------------- no key: a notice, nothing else


def test_without_a_key_nothing_is_posted_and_the_job_passes(
    pull: GitHubServer, shop: ShopRepo, tmp_path: Path
) -> None:
    """A fork's pull request: Actions passes the unavailable secret as an empty string."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(_OURS)}
    env |= actions_env(pull, event_file(tmp_path, shop), ANTHROPIC_API_KEY="")

    proc = subprocess.run(
        [ITARCH, "pr"], cwd=shop.path, env=env, capture_output=True, text=True, timeout=120
    )

    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("::notice title=itarch::no ANTHROPIC_API_KEY")
    assert pull.requests == []
    assert not (shop.path / ".itarch" / "pr").exists()


def test_without_a_key_set_at_all_likewise(
    pull: GitHubServer, shop: ShopRepo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = actions_env(pull, event_file(tmp_path, shop))
    del env["ANTHROPIC_API_KEY"]
    result = invoke(monkeypatch, shop, env)
    assert result.exit_code == 0
    assert result.stdout.startswith("::notice title=itarch::")
    assert pull.requests == []


# ---------------------------------------------------------------- errors: one line, exit 2


def test_a_missing_github_token_is_named(
    pull: GitHubServer, shop: ShopRepo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = actions_env(pull, event_file(tmp_path, shop))
    del env["GITHUB_TOKEN"]
    result = invoke(monkeypatch, shop, env)
    assert result.exit_code == 2
    one_line_error(result.stderr, "no GitHub token: set GITHUB_TOKEN")
    assert pull.requests == []


def test_an_unknown_pull_request_stops_before_any_model_call(
    pull: GitHubServer,
    shop: ShopRepo,
    tmp_path: Path,
    stub: StubPipeline,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    result = invoke(monkeypatch, shop, actions_env(pull, event_file(tmp_path, shop)), "--pr", "99")
    assert result.exit_code == 2
    one_line_error(result.stderr, "404 Not Found")
    assert pull.writes == []
    assert stub.calls == []


def test_an_event_that_is_not_a_pull_request_is_named(
    pull: GitHubServer, shop: ShopRepo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    push = tmp_path / "push.json"
    push.write_text(json.dumps({"ref": "refs/heads/main", "after": shop.head}), encoding="utf-8")
    result = invoke(monkeypatch, shop, actions_env(pull, push))
    assert result.exit_code == 2
    one_line_error(result.stderr, "is not a pull_request event")


def test_a_shallow_checkout_is_told_to_fetch_the_base(
    pull: GitHubServer,
    shop: ShopRepo,
    tmp_path: Path,
    stub: StubPipeline,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    shallow = tmp_path / "shallow"
    subprocess.run(
        ["git", "clone", "-q", "--depth", "1", f"file://{shop.path}", str(shallow)], check=True
    )
    clone = ShopRepo(path=shallow, base=shop.base, head=shop.head)
    result = invoke(monkeypatch, clone, actions_env(pull, event_file(tmp_path, shop)))
    assert result.exit_code == 2
    one_line_error(result.stderr, "fetch-depth: 0")
    assert stub.calls == []


# ---------------------------------------------------------------- the sticky comment, end to end


def test_first_run_posts_the_comment_and_a_rerun_updates_it(
    pull: GitHubServer,
    shop: ShopRepo,
    tmp_path: Path,
    stub: StubPipeline,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    artifacts = tmp_path / "runner temp" / "itarch"
    env = actions_env(pull, event_file(tmp_path, shop))

    first = invoke(monkeypatch, shop, env, "--artifacts", str(artifacts))
    second = invoke(monkeypatch, shop, env, "--artifacts", str(artifacts))

    assert (first.exit_code, second.exit_code) == (0, 0), first.stderr + second.stderr
    (comment,) = pull.comments_on(NUMBER)
    assert comment.login == pull.login and comment.body.startswith(MARKER)
    assert [r.method for r in pull.writes if "/issues/" in r.path] == ["POST", "PATCH"]
    assert "created the pull request comment" in first.stdout
    assert "updated the pull request comment" in second.stdout

    # The loop ran on the pull request's change, wrote nothing into the checkout.
    call = stub.calls[-1]
    assert call["base"] == git(shop.path, "merge-base", shop.base, shop.head).strip()
    assert call["write"] is False
    assert call["patch"] == artifacts / "itarch.patch"

    # Everything the comment points to is in the artifact directory.
    assert (artifacts / "comment.md").read_text(encoding="utf-8") == comment.body
    assert json.loads((artifacts / "report.json").read_text())["run_id"] == stub.report.run_id
    for accepted in stub.report.accepted:
        assert (artifacts / "files" / accepted.path).read_text() == accepted.content
    applies = subprocess.run(
        ["git", "-C", str(shop.path), "apply", "--check", str(artifacts / "itarch.patch")],
        capture_output=True,
        text=True,
    )
    assert applies.returncode == 0, applies.stderr
    assert "https://github.example/octo/shop/actions/runs/4242" in comment.body


def test_someone_elses_comment_survives_a_run(
    pull: GitHubServer,
    shop: ShopRepo,
    tmp_path: Path,
    stub: StubPipeline,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    theirs = pull.add_comment(REPO, NUMBER, f"{MARKER}\nquoting the bot", login="maintainer")
    result = invoke(monkeypatch, shop, actions_env(pull, event_file(tmp_path, shop)))
    assert result.exit_code == 0, result.stderr
    assert pull.comments[theirs.id].body == f"{MARKER}\nquoting the bot"
    assert len([c for c in pull.comments_on(NUMBER) if c.login == pull.login]) == 1


def test_a_missing_permission_is_one_line_naming_it(
    pull: GitHubServer,
    shop: ShopRepo,
    tmp_path: Path,
    stub: StubPipeline,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    pull.fail("POST", COMMENTS, integration_denied())
    result = invoke(monkeypatch, shop, actions_env(pull, event_file(tmp_path, shop)))
    assert result.exit_code == 2
    one_line_error(result.stderr, "pull-requests: write")
    assert pull.comments_on(NUMBER) == []


def test_dry_run_prints_the_comment_and_posts_nothing(
    pull: GitHubServer,
    shop: ShopRepo,
    tmp_path: Path,
    stub: StubPipeline,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    env = actions_env(pull, event_file(tmp_path, shop))
    result = invoke(monkeypatch, shop, env, "--dry-run")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith(MARKER)
    assert "### How to apply" in result.stdout
    assert pull.writes == []


def test_dry_run_needs_no_github_token_when_the_event_is_there(
    pull: GitHubServer,
    shop: ShopRepo,
    tmp_path: Path,
    stub: StubPipeline,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    env = actions_env(pull, event_file(tmp_path, shop))
    del env["GITHUB_TOKEN"]
    result = invoke(monkeypatch, shop, env, "--dry-run")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith(MARKER)
    assert pull.requests == []


def test_github_repo_and_pr_flags_work_without_an_event(
    pull: GitHubServer,
    shop: ShopRepo,
    tmp_path: Path,
    stub: StubPipeline,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    env = actions_env(pull, event_file(tmp_path, shop))
    del env["GITHUB_EVENT_PATH"], env["GITHUB_REPOSITORY"]
    # --repo is the local checkout (global option); --github-repo is OWNER/NAME on GitHub.
    result = invoke(monkeypatch, shop, env, "--github-repo", REPO, "--pr", str(NUMBER))
    assert result.exit_code == 0, result.stderr
    assert stub.calls[-1]["repo"] == shop.path
    assert len(pull.comments_on(NUMBER)) == 1


def test_the_step_summary_gets_the_comment(
    pull: GitHubServer,
    shop: ShopRepo,
    tmp_path: Path,
    stub: StubPipeline,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    summary = tmp_path / "step_summary.md"
    env = actions_env(pull, event_file(tmp_path, shop), GITHUB_STEP_SUMMARY=str(summary))
    assert invoke(monkeypatch, shop, env).exit_code == 0
    (comment,) = pull.comments_on(NUMBER)
    assert summary.read_text(encoding="utf-8").strip() == comment.body.replace(MARKER, "").strip()


# ---------------------------------------------------------------- review suggestions


def test_suggestions_for_a_file_the_pr_changes_land_on_diff_lines_only(
    pull: GitHubServer,
    shop: ShopRepo,
    tmp_path: Path,
    stub: StubPipeline,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    path = "tests/test_orders.py"
    head_lines = (shop.path / path).read_text(encoding="utf-8").splitlines()
    (pr_file,) = [f for f in pull.pulls[(REPO, NUMBER)].files if f.filename == path]
    in_diff = sorted(pr_file.right_lines())
    outside = next(n for n in range(1, len(head_lines) + 1) if n not in in_diff)
    anchor = in_diff[-1]
    # The accepted version adds a test after a diff line, and edits a line outside the diff.
    proposed = list(head_lines)
    proposed[outside - 1] = head_lines[outside - 1] + "  # edited"
    proposed[anchor:anchor] = ["", "", "def test_added_by_itarch():", "    assert True"]
    stub.report = make_report([AcceptedFile(path=path, content="\n".join(proposed) + "\n")])

    result = invoke(monkeypatch, shop, actions_env(pull, event_file(tmp_path, shop)))

    assert result.exit_code == 0, result.stderr
    (review,) = pull.review_comments_on(NUMBER)
    assert (review.path, review.line, review.side, review.commit_id) == (
        path,
        anchor,
        "RIGHT",
        shop.head,
    )
    assert review.body.startswith(SUGGESTION_MARKER)
    assert "def test_added_by_itarch():" in review.body
    posted = pull.requests_to("POST", rf"/repos/{REPO}/pulls/{NUMBER}/comments")
    assert set(posted[0].body) == {"body", "commit_id", "path", "line", "side"}
    assert "1 review suggestion(s) posted" in result.stdout


# ---------------------------------------------------------------- the real loop, and its secrets


def test_the_real_loop_posts_what_it_found(
    pull: GitHubServer, shop: ShopRepo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Real pipeline, sandbox and Anthropic SDK (against a scripted API), real PyGithub."""
    from agent.demo.script import demo_turns
    from agent.github.comment import CommentLinks, render_comment
    from tests.conftest import tree_state
    from tests.fakes.anthropic_server import AnthropicServer, message

    artifacts = tmp_path / "artifacts"
    before = tree_state(shop.path)
    with AnthropicServer([message(turn) for turn in demo_turns()]) as claude:
        env = actions_env(pull, event_file(tmp_path, shop), ANTHROPIC_BASE_URL=claude.base_url)
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        from agent.cli.main import app

        args = ["--repo", str(shop.path), "--python", sys.executable, "pr"]
        result = CliRunner().invoke(app, [*args, "--artifacts", str(artifacts)])
        asked = claude.message_requests()

    assert result.exit_code == 0, result.stderr
    assert asked  # the key reached Claude (and, below, nothing reached the tests)
    for request in asked:
        sent = {request.headers.get("x-api-key"), request.headers.get("authorization")}
        assert sent & {"sk-ant-test", "Bearer sk-ant-test"}
    report = Report.model_validate_json((artifacts / "report.json").read_text())
    (comment,) = pull.comments_on(NUMBER)
    links = CommentLinks(
        base=report.base or "",
        head=shop.head,
        run_url="https://github.example/octo/shop/actions/runs/4242",
    )
    assert comment.body == render_comment(report, links)
    assert report.base == git(shop.path, "merge-base", shop.base, shop.head).strip()
    assert report.verdicts  # the scripted model's proposals were judged
    # Nothing was written into the checkout: the accepted files travel as the artifact.
    assert tree_state(shop.path) == before
    if report.accepted:
        patch = artifacts / "itarch.patch"
        check = subprocess.run(["git", "-C", str(shop.path), "apply", "--check", str(patch)])
        assert check.returncode == 0


def test_no_secret_reaches_a_generated_test(
    shop: ShopRepo, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The job's environment holds the key and the token; the sandbox's allowlist drops both."""
    import secrets as random_secrets

    from agent.sandbox import Sandbox, find_python

    secrets = {
        "ANTHROPIC_API_KEY": "sk-ant-" + random_secrets.token_hex(16),
        "GITHUB_TOKEN": "ghs_" + random_secrets.token_hex(16),
        "INPUT_ANTHROPIC-API-KEY": "sk-ant-" + random_secrets.token_hex(16),
    }
    for name, value in secrets.items():
        monkeypatch.setenv(name, value)
    probe = "\n".join(
        [
            "import os",
            "",
            f"SECRETS = {sorted(secrets.values())!r}",
            "",
            "",
            "def test_the_environment_holds_no_secret():",
            "    assert 'ANTHROPIC_API_KEY' not in os.environ",
            "    assert 'GITHUB_TOKEN' not in os.environ",
            "    leaked = [k for k, v in os.environ.items() if any(s in v for s in SECRETS)]",
            "    assert leaked == []",
            "",
        ]
    )
    path = "tests/integration/test_secrets_probe.py"
    with Sandbox(shop.path, find_python(shop.path, sys.executable)) as sandbox:
        result = sandbox.run({path: probe})

    outcomes = [(o.nodeid, o.outcome) for o in result.outcomes if o.when == "call"]
    assert outcomes == [(f"{path}::test_the_environment_holds_no_secret", "passed")], result


def test_a_pull_request_target_trigger_is_warned_about(
    pull: GitHubServer, shop: ShopRepo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = actions_env(pull, event_file(tmp_path, shop), GITHUB_EVENT_NAME="pull_request_target")
    del env["ANTHROPIC_API_KEY"]
    result = invoke(monkeypatch, shop, env)
    assert result.exit_code == 0
    warning, notice = result.stdout.splitlines()
    assert warning.startswith("::warning title=itarch::") and "`pull_request`" in warning
    assert notice.startswith("::notice title=itarch::no ANTHROPIC_API_KEY")
