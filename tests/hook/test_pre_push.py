"""The pre-push hook through real `git push`es to a local bare remote: every kind of ref update,
each mode's exit code and message, and the ways to skip it."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.hook.run import install
from tests.hook.test_pre_push_helpers import Repo, make_repo


@pytest.fixture
def repo(tmp_path: Path) -> Repo:
    return make_repo(tmp_path)


def _installed(repo: Repo, mode: str = "check") -> Repo:
    install(repo.path, mode=mode)
    return repo


def test_new_branch_lists_the_untested_seam_and_the_command_that_fixes_it(repo: Repo) -> None:
    _installed(repo)
    main = repo.sha("main")
    repo.git("checkout", "--quiet", "-b", "feature")
    head = repo.change_notify()

    done = repo.push("origin", "feature")

    assert done.returncode == 0, done.stderr
    assert repo.remote_sha("refs/heads/feature") == head
    assert "refs/heads/feature" in done.stderr
    assert f"{main[:12]}..{head[:12]}, new branch" in done.stderr
    assert "app.notify (app/notify.py): no test imports it" in done.stderr
    assert "subprocess" in done.stderr and "in announce" in done.stderr
    assert f"fix: itarch generate --base {main[:12]}" in done.stderr


def test_a_tested_change_passes_even_in_block_mode(repo: Repo) -> None:
    _installed(repo, "block")
    head = repo.change_store()

    done = repo.push("origin", "main")

    assert done.returncode == 0, done.stderr
    assert repo.remote_sha("refs/heads/main") == head
    assert "1 changed module(s), 1 changed seam(s)" in done.stderr
    assert "every one is exercised by an existing test" in done.stderr


def test_an_update_is_measured_from_the_remote_tip(repo: Repo) -> None:
    _installed(repo)
    repo.git("checkout", "--quiet", "-b", "feature")
    first = repo.change_store()
    assert repo.push("origin", "feature").returncode == 0
    head = repo.change_notify()

    done = repo.push("origin", "feature")

    assert done.returncode == 0, done.stderr
    assert f"{first[:12]}..{head[:12]}, update" in done.stderr
    assert f"itarch generate --base {first[:12]}" in done.stderr


def test_a_new_branch_that_merged_the_remote_main_counts_only_its_own_changes(repo: Repo) -> None:
    _installed(repo)
    repo.git("checkout", "--quiet", "-b", "feature")
    repo.change_notify()
    repo.git("checkout", "--quiet", "main")
    main = repo.change_store()  # someone else's change, already on the remote
    assert repo.push("--no-verify", "origin", "main").returncode == 0
    repo.git("checkout", "--quiet", "feature")
    repo.git("merge", "--quiet", "--no-edit", "main")

    done = repo.push("origin", "feature")

    assert done.returncode == 0, done.stderr
    assert "1 changed module(s)" in done.stderr  # app.notify; app.store came with main
    assert f"({main[:12]}..{repo.sha()[:12]}, new branch)" in done.stderr


def test_several_refs_in_one_push_are_checked_each_on_its_own(repo: Repo) -> None:
    _installed(repo)
    main = repo.sha("main")
    repo.git("checkout", "--quiet", "-b", "loud")
    loud = repo.change_notify()
    repo.git("checkout", "--quiet", "-b", "kept", main)
    repo.change_store()

    done = repo.push("origin", "loud", "kept")

    assert done.returncode == 0, done.stderr
    assert "2 changed module(s), 2 changed seam(s)" in done.stderr
    assert f"refs/heads/loud ({main[:12]}..{loud[:12]}" in done.stderr
    assert "refs/heads/kept" not in done.stderr  # its change is tested: no gap to list
    assert repo.remote_sha("refs/heads/kept") == repo.sha("kept")


def test_several_refs_block_the_whole_push_when_one_has_a_gap(repo: Repo) -> None:
    _installed(repo, "block")
    main = repo.sha("main")
    repo.git("checkout", "--quiet", "-b", "loud")
    repo.change_notify()
    repo.git("checkout", "--quiet", "-b", "kept", main)
    repo.change_store()

    done = repo.push("origin", "loud", "kept")

    assert done.returncode != 0
    assert "push blocked" in done.stderr
    assert repo.remote_sha("refs/heads/loud") is None
    assert repo.remote_sha("refs/heads/kept") is None


def test_deleting_a_branch_is_not_checked(repo: Repo) -> None:
    repo.git("checkout", "--quiet", "-b", "feature")
    repo.change_notify()
    assert repo.push("--no-verify", "origin", "feature").returncode == 0
    _installed(repo, "block")

    done = repo.push("origin", "--delete", "feature")

    assert done.returncode == 0, done.stderr
    assert repo.remote_sha("refs/heads/feature") is None
    assert "itarch:" not in done.stderr


def test_tags_are_not_checked(repo: Repo) -> None:
    _installed(repo, "block")
    head = repo.change_notify()
    repo.git("tag", "-a", "v1.0", "-m", "release")

    done = repo.push("origin", "v1.0")

    assert done.returncode == 0, done.stderr
    assert repo.remote_sha("refs/tags/v1.0^{commit}") == head
    assert "itarch:" not in done.stderr


def test_a_force_push_is_measured_from_the_merge_base(repo: Repo) -> None:
    _installed(repo)
    main = repo.sha("main")
    repo.git("checkout", "--quiet", "-b", "feature")
    repo.change_store()
    assert repo.push("origin", "feature").returncode == 0
    repo.git("reset", "--quiet", "--hard", main)
    head = repo.change_notify()

    done = repo.push("--force", "origin", "feature")

    assert done.returncode == 0, done.stderr
    assert repo.remote_sha("refs/heads/feature") == head
    assert f"{main[:12]}..{head[:12]}, force push" in done.stderr
    assert "app.notify" in done.stderr and "app.store" not in done.stderr


def test_a_force_push_over_a_tip_never_fetched_uses_the_remote_tracking_refs(
    repo: Repo, tmp_path: Path
) -> None:
    main = repo.sha("main")
    other = tmp_path / "other"
    repo.git("clone", "--quiet", "--branch", "main", str(repo.remote), str(other))
    (other / "CHANGES.md").write_text("someone else's work\n")
    repo.git("-C", str(other), "add", "--all")
    repo.git("-C", str(other), "commit", "--quiet", "-m", "elsewhere")
    repo.git("-C", str(other), "push", "--quiet", "origin", "main")
    _installed(repo)
    head = repo.change_notify()

    done = repo.push("--force", "origin", "main")

    assert done.returncode == 0, done.stderr
    assert f"({main[:12]}..{head[:12]}, remote tip not fetched here)" in done.stderr


def test_block_mode_stops_an_untested_push_and_says_how_to_fix_or_skip(repo: Repo) -> None:
    _installed(repo, "block")
    before = repo.sha("main")
    repo.change_notify()

    done = repo.push("origin", "main")

    assert done.returncode != 0
    assert repo.remote_sha("refs/heads/main") == before
    assert "push blocked" in done.stderr
    assert f"itarch generate --base {before[:12]}" in done.stderr
    assert "ITARCH_SKIP=1 git push" in done.stderr


def test_itarch_skip_and_no_verify_let_an_untested_push_through(repo: Repo) -> None:
    _installed(repo, "block")
    first = repo.change_notify("once")

    skipped = repo.push("origin", "main", ITARCH_SKIP="1")

    assert skipped.returncode == 0, skipped.stderr
    assert repo.remote_sha("refs/heads/main") == first
    assert "itarch: pre-push check skipped (ITARCH_SKIP=1)" in skipped.stderr

    second = repo.change_notify("twice")
    unverified = repo.push("--no-verify", "origin", "main")

    assert unverified.returncode == 0, unverified.stderr
    assert repo.remote_sha("refs/heads/main") == second
    assert "itarch:" not in unverified.stderr


WEB = """\
from flask import Flask

from app.store import connect, save

app = Flask(__name__)


@app.get("/items/<name>")
def show(name):
    return {"name": name}


@app.post("/items/<name>")
def add(name):
    return {"saved": save(connect("items.db"), name)}
"""

TEST_WEB = """\
from app.web import app


def test_an_item_page_echoes_its_name():
    name = "apple"
    assert app.test_client().get(f"/items/{name}").get_json() == {"name": name}
"""


def test_a_route_is_tested_when_a_test_requests_its_path(repo: Repo) -> None:
    repo.commit({"app/web.py": WEB, "tests/test_web.py": TEST_WEB}, "web")
    assert repo.push("--no-verify", "origin", "main").returncode == 0
    _installed(repo, "block")
    shown = WEB.replace('return {"name": name}', 'return {"name": name.strip()}')
    repo.commit({"app/web.py": shown}, "strip names")

    requested = repo.push("origin", "main")

    assert requested.returncode == 0, requested.stderr
    assert "1 changed seam(s)" in requested.stderr and "every one is exercised" in requested.stderr

    added = shown.replace('return {"saved": save(', 'return {"saved": True, "name": save(')
    repo.commit({"app/web.py": added}, "say it was saved")

    unrequested = repo.push("origin", "main")

    assert unrequested.returncode != 0  # the test GETs /items/<name>; nothing POSTs to it
    line = added.splitlines().index('@app.post("/items/<name>")') + 1
    seam = f"POST /items/<name> -> add  (line {line} in add)"
    assert f"{seam}: no test requests POST /items/<name>" in unrequested.stderr


def test_a_push_without_python_changes_says_nothing(repo: Repo) -> None:
    _installed(repo, "block")
    head = repo.commit({"README.md": "# app\n\nNow with a README.\n"}, "docs")

    done = repo.push("origin", "main")

    assert done.returncode == 0, done.stderr
    assert repo.remote_sha("refs/heads/main") == head
    assert "itarch:" not in done.stderr


def test_a_first_push_to_an_empty_remote_is_measured_from_the_root(tmp_path: Path) -> None:
    repo = make_repo(tmp_path)
    empty = tmp_path / "empty.git"
    repo.git("init", "--quiet", "--bare", str(empty))
    repo.git("remote", "add", "empty", str(empty))
    _installed(repo)

    done = repo.push("empty", "main")

    assert done.returncode == 0, done.stderr
    assert f"(the root..{repo.sha()[:12]}, new branch, nothing on the remote" in done.stderr
    assert "fix: itarch generate --module app.notify" in done.stderr


def test_the_hook_changes_no_file_no_index_and_not_head(repo: Repo) -> None:
    _installed(repo)
    repo.change_notify()
    repo.write({"app/notify.py": "# uncommitted work stays as it is\n"})
    before = repo.snapshot()

    done = repo.push("origin", "main")

    assert done.returncode == 0, done.stderr
    assert "app.notify" in done.stderr
    assert repo.snapshot() == before


def test_its_own_failure_lets_the_push_through_in_check_mode(repo: Repo) -> None:
    bad = '[tool.itarch.hook]\nwall_seconds = "soon"\n'
    head = repo.commit({"pyproject.toml": bad, "app/notify.py": "VALUE = 1\n"}, "bad config")
    _installed(repo)

    done = repo.push("origin", "main")

    assert done.returncode == 0, done.stderr
    assert repo.remote_sha("refs/heads/main") == head
    failed = [line for line in done.stderr.splitlines() if "itarch:" in line]
    assert len(failed) == 1, done.stderr  # one line, no traceback
    assert "pre-push check failed (ConfigError: bad setting 'hook.wall_seconds'" in failed[0]
    assert failed[0].endswith("push continues")


def test_its_own_failure_stops_the_push_in_block_mode(repo: Repo) -> None:
    before = repo.sha("main")
    repo.commit({"pyproject.toml": '[tool.itarch.hook]\nwall_seconds = "soon"\n'}, "bad config")
    _installed(repo, "block")

    done = repo.push("origin", "main")

    assert done.returncode != 0
    assert repo.remote_sha("refs/heads/main") == before
    assert "push stopped (block mode)" in done.stderr
    assert "Traceback" not in done.stderr


def test_mode_and_watched_paths_come_from_pyproject(repo: Repo) -> None:
    config = '[tool.itarch.hook]\nmode = "block"\npaths = ["app/store.py"]\n'
    repo.commit({"pyproject.toml": config}, "hook config")
    _installed(repo)  # no --mode in the script: the project's setting decides
    repo.change_notify()  # outside the watched paths

    ignored = repo.push("origin", "main")

    assert ignored.returncode == 0, ignored.stderr
    assert "itarch:" not in ignored.stderr

    config = '[tool.itarch.hook]\nmode = "block"\npaths = ["app/"]\n'
    repo.commit({"pyproject.toml": config}, "watch all of app")
    repo.change_notify("again")

    watched = repo.push("origin", "main")

    assert watched.returncode != 0
    assert "[block mode" in watched.stderr and "push blocked" in watched.stderr


def test_pre_commit_framework_variables_stand_in_for_stdin(repo: Repo) -> None:
    main = repo.sha("main")
    head = repo.change_notify()
    env = {
        "PRE_COMMIT_FROM_REF": main,
        "PRE_COMMIT_TO_REF": head,
        "PRE_COMMIT_REMOTE_NAME": "origin",
        "PRE_COMMIT_REMOTE_BRANCH": "refs/heads/main",
        "PRE_COMMIT_LOCAL_BRANCH": "refs/heads/main",
    }

    done = repo.itarch("hook", "run", "pre-push", "--mode", "block", **env)

    assert done.returncode == 1, done.stderr
    assert f"refs/heads/main ({main[:12]}..{head[:12]}, update)" in done.stderr
    assert "app.notify" in done.stderr


def test_a_hook_mode_outside_the_choices_is_said_in_one_line_and_the_push_goes_on(
    repo: Repo,
) -> None:
    repo.commit({"pyproject.toml": '[tool.itarch.hook]\nmode = "loud"\n'}, "bad hook mode")
    _installed(repo)
    repo.change_notify()

    done = repo.push("origin", "main")

    assert done.returncode == 0, done.stderr
    assert "bad setting 'hook.mode': Input should be 'check', 'generate' or 'block'" in done.stderr
    assert "push continues" in done.stderr and "Traceback" not in done.stderr
