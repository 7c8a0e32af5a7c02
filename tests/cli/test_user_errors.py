"""Errors a user can cause end in one line on stderr that says what to do, with exit code 2,
before any work is done."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli.support import (
    assert_one_line_error,
    commit,
    git,
    itarch,
    make_repo,
    owned_by_someone_else,
)


def test_a_file_that_is_not_a_python_test_file(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "calc", {"setup.cfg": "[metadata]\nname = calc\n"})

    proc = itarch("check", "setup.cfg", cwd=repo)

    assert_one_line_error(proc, "setup.cfg is not a Python test file", "folders of them")


def test_a_missing_file_says_where_it_was_looked_for(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "calc")

    proc = itarch("check", "tests/test_nowhere.py", "--repo", str(repo), cwd=tmp_path)

    assert_one_line_error(proc, "no such test file: tests/test_nowhere.py", str(repo))


def test_an_unwritable_junit_path_is_refused_before_any_work(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "calc")
    args = ["check", "tests/test_add.py", "--junit", "/no/such/dir/j.xml"]

    proc = itarch(*args, cwd=repo)
    logged = itarch(*args, "-v", cwd=repo)

    assert_one_line_error(proc, "--junit /no/such/dir/j.xml", "/no/such/dir does not exist")
    assert logged.returncode == 2
    # No interpreter was probed, no sandbox built: the path was checked first.
    events = [json.loads(line)["event"] for line in logged.stderr.splitlines()[:-1]]
    assert "sandbox ready" not in events and "target python" not in events, events


def test_a_junit_file_is_written_where_asked(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "calc")
    (tmp_path / "reports").mkdir()

    proc = itarch("check", "tests/test_add.py", "--junit", "../reports/j.xml", cwd=repo)

    assert proc.returncode == 0, proc.stderr
    assert 'name="tests/test_add.py::test_add"' in (tmp_path / "reports/j.xml").read_text()


def test_a_patch_path_in_a_missing_folder_is_refused_before_the_key(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "calc")

    proc = itarch("generate", "--base", "HEAD", "--patch", "/no/such/dir/t.diff", cwd=repo)

    assert_one_line_error(proc, "--patch /no/such/dir/t.diff")


@pytest.mark.parametrize("command", [["context", "--base", "HEAD"], ["check", "tests"]])
def test_a_repository_git_refuses_names_safe_directory(command: list[str], tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "calc")
    empty = tmp_path / "gitconfig"
    empty.write_text("", encoding="utf-8")
    env = owned_by_someone_else(repo) | {"GIT_CONFIG_GLOBAL": str(empty)}

    proc = itarch(*command, cwd=repo, env=env)

    line = assert_one_line_error(proc, "safe.directory")
    assert line.endswith(f"run: git config --global --add safe.directory {repo.resolve()}")
    assert "no commits" not in line


def test_a_shallow_clone_says_how_to_fetch_more_history(tmp_path: Path) -> None:
    origin = make_repo(tmp_path / "origin")
    commit(origin, {"calc.py": "def add(a, b):\n    return b + a\n"}, "second")
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "--quiet", "--depth", "1", f"file://{origin}", str(clone))

    proc = itarch("context", "--base", "HEAD~1", cwd=clone)

    assert_one_line_error(
        proc, "'HEAD~1'", "shallow clone", "git fetch --deepen=N", "git fetch --unshallow"
    )


def test_an_unknown_ref_in_a_full_clone_is_not_called_shallow(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "calc")

    proc = itarch("context", "--base", "HEAD~5", cwd=repo)

    line = assert_one_line_error(proc, "unknown git ref 'HEAD~5'")
    assert "shallow" not in line


def test_relative_files_are_the_repositorys_when_repo_is_given(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "calc")
    elsewhere = tmp_path / "elsewhere"
    (elsewhere / "tests").mkdir(parents=True)  # a same-named path here must not be taken

    proc = itarch("--repo", str(repo), "check", "tests/test_add.py", "--json", cwd=elsewhere)

    assert proc.returncode == 0, proc.stderr
    assert [f["path"] for f in json.loads(proc.stdout)["files"]] == ["tests/test_add.py"]


def test_relative_files_from_inside_the_repository(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "calc")

    here = itarch("check", "test_add.py", "--json", cwd=repo / "tests")
    from_top = itarch("check", "tests/test_add.py", "--json", cwd=repo / "tests")

    for proc in (here, from_top):
        assert proc.returncode == 0, proc.stderr
        assert [f["path"] for f in json.loads(proc.stdout)["files"]] == ["tests/test_add.py"]


TEST_SUB = "from calc import add\n\n\ndef test_sub():\n    assert add(5, -3) == 2\n"


def test_a_folder_is_the_test_files_pytest_would_collect_in_it(tmp_path: Path) -> None:
    repo = make_repo(
        tmp_path / "calc",
        {
            "tests/conftest.py": "",
            "tests/helpers.py": "X = 1\n",
            "tests/unit/sub_test.py": TEST_SUB,
            "tests/.hidden/test_hidden.py": TEST_SUB,
            "tests/notes.txt": "not a test\n",
        },
    )

    proc = itarch("check", "tests", "--json", cwd=repo)

    assert proc.returncode == 0, proc.stderr
    judged = [f["path"] for f in json.loads(proc.stdout)["files"]]
    assert judged == ["tests/test_add.py", "tests/unit/sub_test.py"]


def test_a_folder_honours_the_projects_python_files(tmp_path: Path) -> None:
    pyproject = (
        '[project]\nname = "calc"\nversion = "0.1.0"\n\n[tool.pytest.ini_options]\n'
        'pythonpath = ["."]\npython_files = ["check_*.py"]\n'
    )
    repo = make_repo(
        tmp_path / "calc", {"pyproject.toml": pyproject, "tests/check_sub.py": TEST_SUB}
    )

    proc = itarch("check", "tests/", "--json", cwd=repo)

    assert proc.returncode == 0, proc.stderr
    assert [f["path"] for f in json.loads(proc.stdout)["files"]] == ["tests/check_sub.py"]


def test_a_folder_without_test_files(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "calc", {"docs/index.md": "# calc\n"})

    proc = itarch("check", "docs", cwd=repo)

    assert_one_line_error(proc, "docs holds no test files", "test_*.py *_test.py")


def test_a_path_that_is_not_a_directory_as_repo(tmp_path: Path) -> None:
    file = tmp_path / "file.txt"
    file.write_text("x", encoding="utf-8")

    proc = itarch("context", "--repo", str(file), cwd=tmp_path)

    assert_one_line_error(proc, f"{file} is not a directory")
