"""The change is what the user changed: build, venv and cache output and itarch's own files are
never part of it, ignored by git or not, and the label says what was compared."""

from __future__ import annotations

import json
import time
from pathlib import Path

import git
import pytest
from typer.testing import CliRunner

from agent.cli.main import app
from agent.context import build_context, render_context, untracked
from tests.context.helpers import commit_all, make_repo, write_files

FILES = {
    "pyproject.toml": '[project]\nname = "pkg"\nversion = "0.1"\n',
    "pkg/__init__.py": "",
    "pkg/core.py": "def f(x):\n    return x\n",
    "tests/test_core.py": "from pkg.core import f\n\n\ndef test_f():\n    assert f(1) == 1\n",
}


def _artifacts(root: Path, venv_files: int) -> None:
    """What building, installing and `itarch init` leave behind, none of it ignored."""
    for d in range(venv_files // 50):
        folder = root / f".venv/lib/python3.12/site-packages/lib{d}"
        folder.mkdir(parents=True)
        for i in range(50):
            (folder / f"m{i}.py").write_text(f"def g{i}(x):\n    return x\n")
    (root / ".venv/pyvenv.cfg").write_text("home = /usr/bin\n")
    env = root / "env2"  # a virtualenv under any name
    (env / "lib").mkdir(parents=True)
    (env / "pyvenv.cfg").write_text("home = /usr/bin\n")
    (env / "lib/x.py").write_text("x = 1\n")
    write_files(
        root,
        {
            "pkg.egg-info/PKG-INFO": "Metadata-Version: 2.1\n" + "readme line\n" * 20_000,
            "pkg.egg-info/SOURCES.txt": "pkg/core.py\n",
            "build/lib/pkg/__init__.py": "",
            "build/lib/pkg/core.py": "def f(x):\n    return x + 1\n",
            "dist/pkg-0.1.tar.gz.txt": "x\n",
            ".tox/py312/log.txt": "x\n",
            "node_modules/a/index.js": "x\n",
            ".itarch/runs/1.json": "{}\n",
            ".claude/agents/integration-test-architect.md": "---\nname: x\n---\n",
            ".mcp.json": "{}\n",
        },
    )
    (root / "pkg/__pycache__").mkdir()
    (root / "pkg/__pycache__/core.cpython-312.pyc").write_bytes(b"\0\1")


def _repo_with_artifacts(tmp_path: Path, venv_files: int = 3_000) -> Path:
    repo = make_repo(tmp_path / "r", FILES)
    root = Path(repo.working_tree_dir)
    write_files(root, {"pkg/core.py": "def f(x):\n    return x + 1\n"})
    commit_all(repo, "change")
    _artifacts(root, venv_files)
    return root


def test_context_lists_only_the_real_change_among_unignored_artifacts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = _repo_with_artifacts(tmp_path)
    walked: list[str] = []
    real_walk = untracked._walk

    def walk(root: Path, folder: str, limit: int) -> list[str]:
        walked.append(folder)
        return real_walk(root, folder, limit)

    monkeypatch.setattr(untracked, "_walk", walk)

    started = time.perf_counter()
    result = CliRunner().invoke(app, ["--repo", str(root), "context", "--base", "HEAD~1", "--json"])
    elapsed = time.perf_counter() - started

    assert result.exit_code == 0, result.output
    ctx = json.loads(result.stdout)
    assert [f["path"] for f in ctx["changed"]] == ["pkg/core.py"]
    assert ctx["uncommitted"] is False
    assert "readme line" not in ctx["diff"] and "build/lib" not in ctx["diff"]
    assert [s["path"] for s in ctx["seams"]] == [] or all(
        s["path"] == "pkg/core.py" for s in ctx["seams"]
    )
    # git lists untracked folders collapsed: no artifact folder is read, only .claude/ (to find
    # that the one file in it is itarch's own)
    assert walked == [".claude"]
    assert elapsed < 10, f"context took {elapsed:.1f}s"


def test_the_users_untracked_source_is_part_of_the_change_and_the_label_says_so(
    tmp_path: Path,
) -> None:
    root = _repo_with_artifacts(tmp_path, venv_files=100)
    write_files(
        root,
        {
            "pkg/extra.py": "def g():\n    return 2\n",
            "newpkg/__init__.py": "",
            "newpkg/mod.py": "y = 1\n",
            "newpkg/.venv/pyvenv.cfg": "home = /usr/bin\n",
            "newpkg/.venv/lib/z.py": "z = 1\n",
            "newpkg/build/lib/mod.py": "y = 1\n",
            "newpkg/debug.log": "x\n",
            ".gitignore": "*.log\n",
        },
    )

    ctx = build_context(root, base="HEAD~1")

    assert [f.path for f in ctx.changed] == [
        ".gitignore",
        "newpkg/__init__.py",
        "newpkg/mod.py",
        "pkg/core.py",
        "pkg/extra.py",
    ]
    assert ctx.uncommitted
    assert "Change: `HEAD~1`..`HEAD` and uncommitted work; 5 file(s)" in render_context(ctx)


def test_a_committed_range_is_labelled_as_the_range(tmp_path: Path) -> None:
    root = _repo_with_artifacts(tmp_path, venv_files=50)
    text = render_context(build_context(root, base="HEAD~1"))
    assert "Change: `HEAD~1`..`HEAD`; 1 file(s) changed." in text


def test_tracked_edits_count_as_uncommitted_work(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "r", FILES)
    root = Path(repo.working_tree_dir)
    write_files(root, {"pkg/core.py": "def f(x):\n    return x * 2\n"})
    commit_all(repo, "change")
    write_files(root, {"pkg/__init__.py": "VERSION = 1\n"})

    ctx = build_context(root, base="HEAD~1")

    assert [f.path for f in ctx.changed] == ["pkg/__init__.py", "pkg/core.py"]
    assert ctx.uncommitted


def test_itarch_init_files_count_once_committed(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "r", FILES)
    root = Path(repo.working_tree_dir)
    write_files(root, {".mcp.json": "{}\n"})
    repo.git.add(".mcp.json")
    repo.index.commit("add mcp config")

    ctx = build_context(root, base="HEAD~1")

    assert [f.path for f in ctx.changed] == [".mcp.json"]
    assert not git.Repo(root).is_dirty(untracked_files=False)
