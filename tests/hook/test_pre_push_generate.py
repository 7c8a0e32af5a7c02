"""The hook's `generate` mode through a real `git push`: a scripted model (named in the
environment, since git starts the hook as a subprocess), the real sandbox and gates, and the
accepted test left as a new, uncommitted file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agent.hook.run import install
from tests.hook.test_pre_push_helpers import Repo, make_repo

NEW_TEST = "tests/test_announce_roundtrip.py"
NEW_TEST_CONTENT = '''\
"""An announcement goes through a real child process and comes back unchanged."""

from app.notify import announce


def test_an_announcement_comes_back_through_the_child_process():
    assert announce("the shop is open") == "the shop is open"
'''


def _turns(path: Path) -> Path:
    proposal = {
        "files": [
            {
                "path": NEW_TEST,
                "content": NEW_TEST_CONTENT,
                "purpose": "announce() round-trips a message through a child process.",
                "tests": [
                    {
                        "name": "test_an_announcement_comes_back_through_the_child_process",
                        "expectation": "pass",
                    }
                ],
            }
        ]
    }
    turns = [
        [{"type": "tool_use", "id": "toolu_1", "name": "propose_tests", "input": proposal}],
        [{"type": "tool_use", "id": "toolu_2", "name": "finish", "input": {"summary": "done"}}],
    ]
    path.write_text(json.dumps(turns), encoding="utf-8")
    return path


@pytest.fixture
def repo(tmp_path: Path) -> Repo:
    repo = make_repo(tmp_path)
    install(repo.path, mode="generate")
    return repo


def test_without_a_key_generate_mode_falls_back_to_check(repo: Repo) -> None:
    head = repo.change_notify()

    done = repo.push("origin", "main")

    assert done.returncode == 0, done.stderr
    assert repo.remote_sha("refs/heads/main") == head
    assert "app.notify (app/notify.py): no test imports it" in done.stderr
    assert "generate mode fell back to check: no model (no API key" in done.stderr
    assert not (repo.path / NEW_TEST).exists()


def test_generate_mode_leaves_proven_tests_as_new_uncommitted_files(
    repo: Repo, tmp_path: Path
) -> None:
    repo.git("checkout", "--quiet", "-b", "feature")
    head = repo.change_notify()
    before = repo.snapshot()
    env = {
        "ITARCH_SCRIPTED_MODEL": str(_turns(tmp_path / "turns.json")),
        "ITARCH_RERUNS": "1",
        "ITARCH_MUTATION": "false",
    }

    done = repo.push("origin", "feature", **env)

    assert done.returncode == 0, done.stderr
    assert repo.remote_sha("refs/heads/feature") == head  # the push went ahead
    # The hook's messages go to stderr; the run's own logs stay below warning level, unseen.
    assert done.stdout == ""
    assert "[debug" not in done.stderr and "[info" not in done.stderr
    assert '"level": "info"' not in done.stderr and '"level": "debug"' not in done.stderr
    assert "with the SCRIPTED model from" in done.stderr
    assert "1 file(s) accepted" in done.stderr
    assert "wrote 1 new test file(s), NOT committed" in done.stderr
    assert f"commit them: git add {NEW_TEST} && git commit" in done.stderr
    assert (repo.path / NEW_TEST).read_text(encoding="utf-8") == NEW_TEST_CONTENT
    after = repo.snapshot()
    # Only the new file is new: HEAD, the index and every existing file are as they were.
    assert after.pop(NEW_TEST)
    assert after.pop("<status>") == before.pop("<status>") + f"?? {NEW_TEST}\n"
    assert after == before


def test_generate_mode_needs_the_pushed_commit_checked_out(repo: Repo, tmp_path: Path) -> None:
    repo.git("checkout", "--quiet", "-b", "feature")
    head = repo.change_notify()
    repo.git("checkout", "--quiet", "main")

    done = repo.push(
        "origin", "feature", ITARCH_SCRIPTED_MODEL=str(_turns(tmp_path / "turns.json"))
    )

    assert done.returncode == 0, done.stderr
    assert repo.remote_sha("refs/heads/feature") == head
    assert "refs/heads/feature is not checked out; after checking it out: itarch generate" in (
        done.stderr
    )
    assert not (repo.path / NEW_TEST).exists()


CLI = '''\
"""The command line: `python -m app.cli WORDS` announces them."""

import sys

from app.notify import announce


def main(argv):
    return announce(" ".join(argv))


if __name__ == "__main__":
    print(main(sys.argv[1:]))
'''

THROUGH_CLI = '''\
"""The command line announces through the notifier's child process."""

from app.cli import main


def test_the_command_line_announces_its_words():
    assert main(["closing", "soon"]) == "closing soon"
'''


def test_coverage_from_an_earlier_run_counts_as_tested(tmp_path: Path) -> None:
    from tests.hook.test_pre_push_helpers import APP

    repo = make_repo(tmp_path, {**APP, "app/cli.py": CLI})
    install(repo.path, mode="generate")
    turns = json.loads(_turns(tmp_path / "turns.json").read_text())
    proposed = turns[0][0]["input"]["files"][0]
    proposed["content"] = THROUGH_CLI
    proposed["tests"][0]["name"] = "test_the_command_line_announces_its_words"
    (tmp_path / "turns.json").write_text(json.dumps(turns))
    env = {"ITARCH_SCRIPTED_MODEL": str(tmp_path / "turns.json"), "ITARCH_RERUNS": "1"}
    repo.change_notify()
    generated = repo.push("origin", "main", ITARCH_MUTATION="false", **env)
    assert "1 file(s) accepted" in generated.stderr, generated.stderr
    repo.commit({}, "Add integration tests")  # the file the hook wrote, committed by the user
    install(repo.path, mode="block")
    main = repo.sha()
    head = repo.change_notify("again")
    stdin = f"refs/heads/main {head} refs/heads/main {main}\n"

    # The new test reaches app.notify only through app.cli: the static mapping cannot see it...
    (repo.path / ".itarch").rename(tmp_path / "evidence")
    run = ["hook", "run", "pre-push", "--mode", "block", "origin", str(repo.remote)]
    static = repo.itarch(*run, stdin=stdin)
    assert static.returncode == 1, static.stderr
    assert "app.notify (app/notify.py): no test imports it" in static.stderr

    # ...but the gates traced it there, and the journal of that run says so.
    (tmp_path / "evidence").rename(repo.path / ".itarch")
    done = repo.push("origin", "main")

    assert done.returncode == 0, done.stderr
    assert repo.remote_sha("refs/heads/main") == head
    assert "every one is exercised by an existing test (coverage of 1 seam(s) from run " in (
        done.stderr
    )


def test_the_hook_runs_the_tests_with_the_python_it_was_installed_with(
    tmp_path: Path,
) -> None:
    repo = make_repo(tmp_path)
    missing = tmp_path / "nowhere" / "python"
    said = install(repo.path, mode="generate", python=str(missing))
    assert f"the target project's tests run with {missing}" in said
    head = repo.change_notify()

    done = repo.push("origin", "main", ITARCH_SCRIPTED_MODEL=str(_turns(tmp_path / "turns.json")))

    # The interpreter given at install time is the one the push's run looked for.
    assert done.returncode == 0, done.stderr
    assert repo.remote_sha("refs/heads/main") == head
    assert f"python interpreter {missing} does not exist" in done.stderr
    assert "push continues" in done.stderr
    assert done.stdout == ""
