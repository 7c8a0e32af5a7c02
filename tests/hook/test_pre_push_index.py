"""The pre-push hook decides on changed behaviour (real `git push` to a local bare remote): with
the test-impact index (filled by `itarch index`'s real pytest runs in the sandbox), by execution
— a push whose changed functions existing tests run goes through block mode, a new function
nobody calls in an already-tested module is stopped; without it, by reading the tests — a new
function no test names is stopped, a test reaching the code through a re-exporting package
counts; a version bump is not a change to test."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.hook.run import install
from tests.hook.test_pre_push_helpers import PYTHON, STORE, Repo, make_repo


@pytest.fixture
def indexed(tmp_path: Path) -> Repo:
    repo = make_repo(tmp_path)
    install(repo.path, mode="block")
    built = repo.itarch("--python", PYTHON, "index")
    assert built.returncode == 0, built.stderr
    assert "1 test files, 1 tests (1 passing)" in built.stdout
    return repo


def test_a_change_existing_tests_execute_goes_through_block_mode(indexed: Repo) -> None:
    head = indexed.change_store()

    done = indexed.push("origin", "main")

    assert done.returncode == 0, done.stderr
    assert indexed.remote_sha("refs/heads/main") == head
    assert "every one is exercised by an existing test" in done.stderr
    assert "test-impact index of 1 test file(s)" in done.stderr


def test_an_untested_new_function_in_a_tested_module_is_blocked(indexed: Repo) -> None:
    added = STORE + (
        "\n\ndef rename(conn, old, new):\n"
        "    from app import notify\n"
        '    conn.execute("UPDATE items SET name = ? WHERE name = ?", (new, old))\n'
        "    return notify.announce(new)\n"
    )
    indexed.commit({"app/store.py": added}, "rename items")

    done = indexed.push("origin", "main")

    assert done.returncode == 1, done.stderr
    assert "function    rename" in done.stderr and "no existing test runs it" in done.stderr
    assert "push blocked" in done.stderr
    # the tested function beside it is not listed
    assert "function    save" not in done.stderr


def test_a_version_bump_is_not_a_change_to_test(indexed: Repo) -> None:
    indexed.commit({"app/__init__.py": '"""A small service."""\n__version__ = "0.2.0"\n'}, "0.2")

    done = indexed.push("origin", "main")

    assert done.returncode == 0, done.stderr
    assert "untested" not in done.stderr and "push blocked" not in done.stderr


def test_without_an_index_the_answer_says_it_is_static(tmp_path: Path) -> None:
    repo = make_repo(tmp_path)
    install(repo.path, mode="check")
    repo.change_notify()

    done = repo.push("origin", "main")

    assert done.returncode == 0, done.stderr
    assert "static only: build the test-impact index with `itarch index`" in done.stderr


def test_without_an_index_a_new_function_nobody_calls_is_still_blocked(tmp_path: Path) -> None:
    repo = make_repo(tmp_path)
    install(repo.path, mode="block")
    added = STORE + "\n\ndef forget(conn, name):\n    conn.execute('DELETE FROM items')\n"
    repo.commit({"app/store.py": added}, "forget")

    done = repo.push("origin", "main")

    assert done.returncode == 1, done.stderr
    assert "function    forget" in done.stderr and "new; no existing test runs it" in done.stderr
    assert "static only" in done.stderr


def test_without_an_index_a_test_through_a_re_exporting_package_counts(tmp_path: Path) -> None:
    from tests.hook.test_pre_push_helpers import APP

    files = {
        **APP,
        "app/__init__.py": "from app.store import *  # noqa: F403\n",
        "tests/test_store.py": (
            "import app\n\n\ndef test_saved(tmp_path):\n"
            "    conn = app.connect(tmp_path / 'i.db')\n    assert app.save(conn, 'x') == 'x'\n"
        ),
    }
    repo = make_repo(tmp_path, files)
    install(repo.path, mode="block")
    repo.change_store()

    done = repo.push("origin", "main")

    assert done.returncode == 0, done.stderr
    assert "push blocked" not in done.stderr
