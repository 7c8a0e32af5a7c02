"""The private copy: what goes in, what a run may change, and how it is put back."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from agent.sandbox import Sandbox, SandboxError
from agent.sandbox.workspace import Workspace
from agent.schema import IsolationLevel

from .helpers import ALL_LEVELS, git, tree_fingerprint, write_tree

SCRIBBLER = """
import os
from pathlib import Path


def test_scribbles_over_the_repo():
    Path("shopkit/prices.py").write_text("def total(items):\\n    return -1\\n")
    os.remove("tests/test_prices.py")
    Path("output.txt").write_text("left behind")
    Path("reports").mkdir()
    Path("reports/run.json").write_text("{}")
    Path("empty_dir").mkdir()
    Path("shopkit/__pycache__").mkdir(exist_ok=True)
    Path("shopkit/__pycache__/junk.pyc").write_bytes(b"cache")
    os.chmod("shopkit/__init__.py", 0o600)
"""

MUTANT = "def total(items):\n    return 0\n\n\ndef discount(amount, percent):\n    return amount\n"


def test_copy_holds_tracked_and_untracked_files_but_not_ignored_or_git(
    repo: Path, tmp_path: Path
) -> None:
    write_tree(repo, {"notes.md": "untracked", "ignored.txt": "secret-ish", "debug.log": "x"})
    workspace = Workspace(repo, tmp_path / "copy")
    copied = {p.relative_to(workspace.path).as_posix() for p in workspace.path.rglob("*")}
    assert {"shopkit/prices.py", "tests/test_prices.py", "notes.md", ".gitignore"} <= copied
    assert "ignored.txt" not in copied
    assert "debug.log" not in copied
    assert not any(p == ".git" or p.startswith(".git/") for p in copied)
    assert workspace.path.name == repo.name


def test_copy_holds_ignored_modules_the_package_imports_but_no_build_output(
    repo: Path, tmp_path: Path
) -> None:
    (repo / ".gitignore").write_text(
        "shopkit/_version.py\n*.so\nbuild/\n*.egg-info/\n.venv/\nlocal_settings.py\n.coverage*\n"
    )
    write_tree(
        repo,
        {
            "shopkit/_version.py": "version = '1.2.3'\n",  # written by setuptools-scm / hatch-vcs
            "shopkit/_speedups.cpython-311-x86_64-linux-gnu.so": "binary",
            "build/lib/shopkit/_version.py": "version = '1.2.3'\n",
            "shopkit.egg-info/PKG-INFO": "Name: shopkit\n",
            ".venv/lib/python3.11/site-packages/dep.py": "",
            "local_settings.py": "SECRET = 1\n",  # ignored, and not inside a package
            ".coverage.host.1234": "data",  # untracked, not ignored by this repo: a cache still
        },
    )
    (repo / ".gitignore").write_text((repo / ".gitignore").read_text().replace(".coverage*\n", ""))
    workspace = Workspace(repo, tmp_path / "copy")
    copied = {p.relative_to(workspace.path).as_posix() for p in workspace.path.rglob("*")}
    assert "shopkit/_version.py" in copied
    assert "shopkit/_speedups.cpython-311-x86_64-linux-gnu.so" in copied
    absent = ("build", "shopkit.egg-info", ".venv", "local_settings.py", ".coverage.host.1234")
    assert not set(absent) & copied


def test_copy_is_a_real_copy_not_a_hard_link(repo: Path, tmp_path: Path) -> None:
    workspace = Workspace(repo, tmp_path / "copy")
    original = repo / "shopkit" / "prices.py"
    copy = workspace.path / "shopkit" / "prices.py"
    assert original.stat().st_ino != copy.stat().st_ino
    assert copy.stat().st_nlink == 1
    before = original.read_bytes()
    copy.write_text("changed in the copy")
    assert original.read_bytes() == before


def test_non_git_directory_skips_hidden_venv_cache_and_env_files(tmp_path: Path) -> None:
    source = tmp_path / "plain"
    write_tree(
        source,
        {
            "app/main.py": "x = 1\n",
            "tests/test_main.py": "def test_x():\n    pass\n",
            ".env": "API_KEY=secret\n",
            ".hidden/config": "x",
            "env/pyvenv.cfg": "home = /usr\n",
            "env/lib/site.py": "x",
            "app/__pycache__/main.cpython-311.pyc": "x",
            "pkg.egg-info/PKG-INFO": "x",
        },
    )
    workspace = Workspace(source, tmp_path / "copy")
    copied = sorted(
        p.relative_to(workspace.path).as_posix() for p in workspace.path.rglob("*") if p.is_file()
    )
    assert copied == ["app/main.py", "tests/test_main.py"]


def test_symlink_out_of_the_repo_becomes_a_plain_copy(repo: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside.txt"
    outside.write_text("user data")
    (repo / "data.txt").symlink_to(outside)
    (repo / "alias.py").symlink_to("shopkit/prices.py")
    workspace = Workspace(repo, tmp_path / "copy")
    copied = workspace.path / "data.txt"
    assert not copied.is_symlink()
    assert copied.read_text() == "user data"
    assert (workspace.path / "alias.py").is_symlink()  # links inside the repo stay links
    copied.write_text("overwritten")
    assert outside.read_text() == "user data"


@pytest.mark.parametrize("bad", ["../escape.py", "/etc/evil.py", "tests/../../x.py", ".git/x.py"])
def test_file_paths_must_stay_inside_the_repo(
    repo: Path, sandbox_factory: Callable[..., Sandbox], bad: str
) -> None:
    box = sandbox_factory(repo)
    with pytest.raises(SandboxError, match="relative to the repository") as caught:
        box.run({bad: "x = 1\n"})
    assert "\n" not in str(caught.value)


def test_changes_are_reported_and_undone(
    repo: Path, sandbox_factory: Callable[..., Sandbox]
) -> None:
    box = sandbox_factory(repo)
    pristine = tree_fingerprint(box.workspace)
    result = box.run({"tests/test_scribble.py": SCRIBBLER})
    assert [o.outcome for o in result.outcomes] == ["passed"]
    assert result.changed_paths == [
        "empty_dir/",
        "output.txt",
        "reports/run.json",
        "shopkit/__init__.py",
        "shopkit/prices.py",
        "tests/test_prices.py",
    ]
    after = {k: v for k, v in tree_fingerprint(box.workspace).items() if "__pycache__" not in k}
    assert after == {k: v for k, v in pristine.items() if "__pycache__" not in k}
    # and the next run sees the original code again
    again = box.run(select=["tests/test_prices.py"])
    assert [(o.nodeid, o.outcome) for o in again.outcomes] == [
        ("tests/test_prices.py::test_total", "passed")
    ]
    assert again.changed_paths == []


def test_given_files_are_removed_and_a_replaced_file_is_restored_silently(
    repo: Path, sandbox_factory: Callable[..., Sandbox]
) -> None:
    box = sandbox_factory(repo)
    original = (box.workspace / "shopkit" / "prices.py").read_text()
    mutant = box.run({"shopkit/prices.py": MUTANT}, select=["tests/test_prices.py"])
    assert [o.outcome for o in mutant.outcomes] == ["failed"]  # the run saw the mutant
    assert mutant.changed_paths == []
    assert (box.workspace / "shopkit" / "prices.py").read_text() == original
    added = box.run({"tests/deep/new/test_new.py": "def test_new():\n    assert True\n"})
    assert [o.outcome for o in added.outcomes] == ["passed"]
    assert added.changed_paths == []
    assert not (box.workspace / "tests" / "deep").exists()


@pytest.mark.parametrize("level", ALL_LEVELS, ids=lambda level: level.value)
def test_users_tree_is_byte_identical_after_runs(
    repo: Path, sandbox_factory: Callable[..., Sandbox], level: IsolationLevel
) -> None:
    write_tree(repo, {"untracked_notes.md": "mine"})
    status_before = git(repo, "status", "--porcelain")  # (refreshes .git/index once)
    before = tree_fingerprint(repo)
    box = sandbox_factory(repo, level)
    box.run({"tests/test_scribble.py": SCRIBBLER})
    box.run({"shopkit/prices.py": MUTANT}, select=["tests"], reruns=1)
    box.close()
    assert tree_fingerprint(repo) == before
    assert git(repo, "status", "--porcelain") == status_before
    assert not os.path.exists(box.workspace)
