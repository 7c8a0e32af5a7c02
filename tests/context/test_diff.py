from __future__ import annotations

from pathlib import Path

import git
import pytest

from agent.context import ContextError, changes
from agent.context.diff import GitRepo
from agent.patch import split_patch
from tests.context.helpers import commit_all, git_state, make_repo, replace_in, write_files


def by_path(files: list) -> dict:
    return {f.path: f for f in files}


def test_worktree_change_has_staged_unstaged_and_untracked_files(shop_repo: git.Repo) -> None:
    root = Path(shop_repo.working_tree_dir)
    replace_in(root / "shop/orders.py", '{"id": order_id}', '{"id": order_id.upper()}')
    (root / "shop/coupons.py").write_text("def apply(total):\n    return total\n")
    shop_repo.git.add("shop/coupons.py")  # staged new file
    replace_in(root / "shop/db.py", '"""Storage."""', '"""Storage, in sqlite."""')
    shop_repo.git.add("shop/db.py")  # staged edit ...
    replace_in(root / "shop/db.py", "conn.commit()", "conn.commit()  # durable")  # ... then more
    (root / "notes.txt").write_text("one\ntwo\n")  # untracked
    (root / "debug.log").write_text("ignored\n")  # ignored by .gitignore
    (root / "shop/events.py").unlink()  # deleted, not staged

    diff, files = changes(root, None)

    got = by_path(files)
    assert set(got) == {
        "shop/orders.py",
        "shop/coupons.py",
        "shop/db.py",
        "notes.txt",
        "shop/events.py",
    }
    assert got["shop/orders.py"].status == "modified"
    assert got["shop/orders.py"].added_lines == [13]
    assert got["shop/orders.py"].module == "shop.orders"
    assert got["shop/coupons.py"].status == "added"
    assert got["shop/coupons.py"].added_lines == [1, 2]
    assert got["shop/db.py"].added_lines == [1, 14]  # staged and unstaged edits together
    assert got["notes.txt"].status == "untracked"
    assert got["notes.txt"].added_lines == [1, 2]
    assert got["notes.txt"].module is None
    assert got["shop/events.py"].status == "deleted"
    assert got["shop/events.py"].added_lines == []
    assert '+    bus.publish("order.placed", {"id": order_id.upper()})' in diff
    assert "+two" in diff  # untracked content is part of the diff text
    assert "debug.log" not in diff
    assert {path for path, _ in split_patch(diff)} == set(got)


def test_reading_changes_leaves_index_head_and_files_untouched(shop_repo: git.Repo) -> None:
    root = Path(shop_repo.working_tree_dir)
    replace_in(root / "shop/orders.py", "TAX = 0", "TAX = 1")
    (root / "new.py").write_text("x = 1\n")
    # Make the index stat-dirty so that a refreshing command would rewrite it.
    (root / "shop/db.py").touch()
    before = git_state(root)

    changes(root, None)
    changes(root, "HEAD", worktree=False)

    assert git_state(root) == before


def test_base_to_head_uses_committed_lines_and_merge_base(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "r", {"app/__init__.py": "", "app/core.py": "a = 1\nb = 2\n"})
    root = Path(repo.working_tree_dir)
    main = repo.active_branch.name
    repo.git.checkout("-b", "feature")
    write_files(root, {"app/core.py": "a = 1\nb = 3\nc = 4\n"})
    commit_all(repo, "feature work")
    repo.git.checkout(main)
    write_files(root, {"app/other.py": "z = 0\n"})
    commit_all(repo, "main moves on")
    repo.git.checkout("feature")
    (root / "scratch.py").write_text("uncommitted = True\n")

    # Only what the feature branch did since it forked: not main's later commit.
    diff, files = changes(root, main, "feature")
    assert [(f.path, f.status, f.added_lines) for f in files] == [
        ("app/core.py", "modified", [2, 3])
    ]
    assert "app/other.py" not in diff
    assert "scratch.py" not in diff  # head is not "HEAD": the working tree is not included

    _, with_worktree = changes(root, main)
    assert {f.path for f in with_worktree} == {"app/core.py", "scratch.py"}


def test_no_base_and_committed_head_shows_that_commit(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "r", {"m.py": "x = 1\n"})
    root = Path(repo.working_tree_dir)
    write_files(root, {"m.py": "x = 1\ny = 2\n"})
    commit_all(repo, "second")

    _, files = changes(root, None, worktree=False)
    assert [(f.path, f.added_lines) for f in files] == [("m.py", [2])]

    first = repo.head.commit.parents[0].hexsha
    _, root_commit = changes(root, None, head=first, worktree=False)  # a root commit
    assert [(f.path, f.status, f.added_lines) for f in root_commit] == [("m.py", "added", [1])]


def test_module_names_follow_src_layout_and_package_roots(tmp_path: Path) -> None:
    repo = make_repo(
        tmp_path / "r",
        {
            "src/shop/__init__.py": "",
            "src/shop/sub/__init__.py": "",
            "src/shop/sub/deep.py": "",
            "scripts/run_me.py": "",
            "my-tools/tool.py": "",
            "top.py": "",
        },
    )
    root = Path(repo.working_tree_dir)
    for rel in ("src/shop/sub/deep.py", "scripts/run_me.py", "my-tools/tool.py", "top.py"):
        (root / rel).write_text("changed = True\n")
    (root / "src/shop/sub/__init__.py").write_text("changed = True\n")

    _, files = changes(root, None)
    assert {f.path: f.module for f in files} == {
        "src/shop/sub/deep.py": "shop.sub.deep",
        "src/shop/sub/__init__.py": "shop.sub",
        "scripts/run_me.py": "scripts.run_me",  # namespace package from the root
        "my-tools/tool.py": "tool",  # not importable by path: the importable tail
        "top.py": "top",
    }


def test_rename_and_paths_with_spaces(tmp_path: Path) -> None:
    repo = make_repo(
        tmp_path / "r", {"old_name.py": "a = 1\nb = 2\nc = 3\nd = 4\n", "my notes.txt": "hi\n"}
    )
    root = Path(repo.working_tree_dir)
    repo.git.mv("old_name.py", "new_name.py")
    write_files(root, {"new_name.py": "a = 1\nb = 2\nc = 3\nd = 5\n", "my notes.txt": "hi\nyo\n"})

    diff, files = changes(root, None)
    got = by_path(files)
    assert got["new_name.py"].status == "renamed"
    assert got["new_name.py"].added_lines == [4]
    assert got["my notes.txt"].added_lines == [2]
    assert "+yo" in diff


def test_repository_subfolder_reports_paths_relative_to_it(tmp_path: Path) -> None:
    repo = make_repo(
        tmp_path / "mono",
        {"backend/app/__init__.py": "", "backend/app/x.py": "v = 1\n", "web/site.js": "1;\n"},
    )
    root = Path(repo.working_tree_dir)
    (root / "backend/app/x.py").write_text("v = 2\n")
    (root / "backend/app/y.py").write_text("w = 1\n")
    (root / "web/site.js").write_text("2;\n")

    _, files = changes(root / "backend", None)
    assert {f.path: (f.status, f.module) for f in files} == {
        "app/x.py": ("modified", "app.x"),
        "app/y.py": ("untracked", "app.y"),
    }


def test_not_a_git_repository(tmp_path: Path) -> None:
    (tmp_path / "m.py").write_text("x = 1\n")
    with pytest.raises(ContextError, match="not a git repository"):
        changes(tmp_path, None)


def test_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(ContextError, match="not a directory"):
        changes(tmp_path / "nope", None)


def test_repository_without_commits(tmp_path: Path) -> None:
    git.Repo.init(tmp_path)
    (tmp_path / "m.py").write_text("x = 1\n")
    with pytest.raises(ContextError, match="no commits"):
        changes(tmp_path, None)


@pytest.mark.parametrize("ref", ["no-such-branch", "deadbeef" * 5, "--output=/tmp/x"])
def test_unknown_ref_is_named(shop_repo: git.Repo, ref: str) -> None:
    root = Path(shop_repo.working_tree_dir)
    with pytest.raises(ContextError) as err:
        changes(root, ref)
    assert str(err.value).startswith(f"unknown git ref {ref!r}")
    assert "\n" not in str(err.value)
    with pytest.raises(ContextError, match="unknown git ref"):
        changes(root, None, head=ref)


def test_a_failing_git_command_is_one_line_with_gits_reason(shop_repo: git.Repo) -> None:
    repo = GitRepo(Path(shop_repo.working_tree_dir))
    with pytest.raises(ContextError) as err:
        repo.run("diff", "no-such-revision")
    message = str(err.value)
    assert message.startswith("git diff failed in ")
    assert "fatal: ambiguous argument 'no-such-revision'" in message
    assert "\n" not in message
