"""The one unified-diff reader: C-quoted paths decoded, hunks read the same for every caller."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from agent.context.diff import change
from agent.github.api import diff_lines
from agent.hook.scan import changed_lines
from agent.patch import Hunk, added_lines, hunks, new_side_lines, split_patch, unquote_path


@pytest.mark.parametrize(
    ("quoted", "name"),
    [
        ("plain.py", "plain.py"),
        ('"a\\tb.py"', "a\tb.py"),
        ('"caf\\303\\251.py"', "café.py"),  # core.quotepath on: UTF-8 bytes in octal
        ('"日本\\t語.py"', "日本\t語.py"),  # quotepath off: non-ASCII as is, beside an escape
        ('"say \\"hi\\".py"', 'say "hi".py'),
        ('"back\\\\slash.py"', "back\\slash.py"),
    ],
)
def test_quoted_paths_are_decoded(quoted: str, name: str) -> None:
    assert unquote_path(quoted) == name


PATCH = """\
diff --git "a/caf\\303\\251.py" "b/caf\\303\\251.py"
index 1..2 100644
--- "a/caf\\303\\251.py"
+++ "b/caf\\303\\251.py"
@@ -1,3 +1,4 @@
 keep
-gone
+new one
+new two
 keep
\\ No newline at end of file
diff --git a/old.py b/old.py
deleted file mode 100644
--- a/old.py
+++ /dev/null
@@ -1 +0,0 @@
-x
"""


def test_one_parser_reads_paths_and_lines() -> None:
    chunks = split_patch(PATCH)
    assert [path for path, _ in chunks] == ["café.py", "old.py"]
    first = chunks[0][1]
    assert added_lines(first) == [2, 3]
    assert new_side_lines(first) == {1, 2, 3, 4} == diff_lines(first)
    assert list(hunks(first)) == [Hunk(1, 3, 1, 4)]
    assert list(hunks(chunks[1][1])) == [Hunk(1, 1, 0, 0)]


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(repo), *args], check=True, capture_output=True, text=True
    ).stdout


def test_a_name_git_quotes_is_the_same_file_for_the_change_and_the_hook(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    _git(repo, "init", "-q")
    _git(repo, "config", "user.email", "t@example.com")
    _git(repo, "config", "user.name", "T")
    odd = 'wé"ird.py'  # a quote makes git quote the name even with core.quotepath off
    (repo / odd).write_text("a = 1\nb = 2\n", encoding="utf-8")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-qm", "one")
    base = _git(repo, "rev-parse", "HEAD").strip()
    (repo / odd).write_text("a = 1\nb = 3\nc = 4\n", encoding="utf-8")
    _git(repo, "commit", "-qam", "two")

    assert changed_lines(repo, base, "HEAD") == {odd: {2, 3}}
    found = change(repo, base, "HEAD", worktree=False)
    assert [(f.path, f.added_lines) for f in found.files] == [(odd, [2, 3])]
    assert [path for path, _ in split_patch(found.patch)] == [odd]
