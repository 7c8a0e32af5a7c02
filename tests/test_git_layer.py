"""agent/git.py is the one module that talks to git: no other module starts a git command or
imports GitPython, and the layer itself imports only the standard library (the pre-push hook
imports it on every push)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from agent import git

AGENT = Path(__file__).resolve().parents[1] / "agent"
LAYER = AGENT / "git.py"
MODULES = sorted(p for p in AGENT.rglob("*.py") if p != LAYER)


def _ids(paths: list[Path]) -> list[str]:
    return [str(path.relative_to(AGENT)) for path in paths]


def _is_git(value: object) -> bool:
    return isinstance(value, str) and value.rsplit("/", 1)[-1] in ("git", "git.exe")


def _talks_to_git(tree: ast.AST) -> list[str]:
    """Where a module imports GitPython or spells out a git command line."""
    found: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [
                f"line {node.lineno}: import {a.name}"
                for a in node.names
                if a.name.split(".")[0] == "git"
            ]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if node.module.split(".")[0] == "git":
                found.append(f"line {node.lineno}: from {node.module} import ...")
        elif isinstance(node, ast.List | ast.Tuple) and node.elts:
            first = node.elts[0]
            if isinstance(first, ast.Constant) and _is_git(first.value):
                found.append(f"line {node.lineno}: argv {first.value!r}, ...")
        elif isinstance(node, ast.Call) and node.args and _starts_a_process(node.func):
            first = node.args[0]
            if isinstance(first, ast.Constant) and _is_git(str(first.value).split(" ", 1)[0]):
                found.append(f"line {node.lineno}: command {first.value!r}")
    return sorted(found, key=lambda hit: int(hit.split()[1].rstrip(":")))


def _starts_a_process(func: ast.expr) -> bool:
    """subprocess.run/Popen/check_output..., os.system/popen/exec*/spawn*, asyncio's."""
    name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
    return name in _PROCESS_STARTERS or name.startswith(("exec", "spawn"))


_PROCESS_STARTERS = frozenset(
    {
        "run",
        "Popen",
        "call",
        "check_call",
        "check_output",
        "getoutput",
        "getstatusoutput",
        "system",
        "popen",
        "create_subprocess_exec",
        "create_subprocess_shell",
    }
)


@pytest.mark.parametrize("path", MODULES, ids=_ids(MODULES))
def test_only_the_layer_runs_git(path: Path) -> None:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    assert _talks_to_git(tree) == [], f"{path.name}: go through agent/git.py"


def test_the_layer_imports_only_the_standard_library() -> None:
    tree = ast.parse(LAYER.read_text(encoding="utf-8"))
    imported = {
        name.split(".")[0]
        for node in ast.walk(tree)
        for name in (
            [a.name for a in node.names]
            if isinstance(node, ast.Import)
            else [node.module or ""]
            if isinstance(node, ast.ImportFrom) and node.level == 0
            else []
        )
    }
    assert imported <= set(sys.stdlib_module_names) | {"__future__"}, imported


def test_the_rule_catches_each_way_of_reaching_git() -> None:
    source = (
        "import git\n"
        "from git.exc import GitCommandError\n"
        "import subprocess\n"
        "subprocess.run(['git', 'status'])\n"
        "subprocess.run(('/usr/bin/git', '-C', 'x', 'log'))\n"
        "subprocess.run('git status', shell=True)\n"
        "from agent import git as layer\n"
        "mode = 'git' if True else 'walk'\n"
        "raise ValueError('git is not installed')\n"
        "os.execvp('git', ['x'])\n"
    )
    assert [hit.split(":")[0] for hit in _talks_to_git(ast.parse(source))] == [
        "line 1",
        "line 2",
        "line 4",
        "line 5",
        "line 6",
        "line 10",
    ]


def _repo(tmp_path: Path) -> Path:
    repo = tmp_path / "repo"
    repo.mkdir()
    env = {"GIT_CONFIG_GLOBAL": "/dev/null", "GIT_CONFIG_NOSYSTEM": "1", "PATH": "/usr/bin:/bin"}
    ident = ["-c", "user.name=t", "-c", "user.email=t@example.invalid"]
    for args in (
        ["init", "--quiet", "-b", "main"],
        ["add", "--all"],
        [*ident, "commit", "--quiet", "--no-verify", "-m", "one"],
    ):
        if args[0] == "add":
            (repo / "pkg").mkdir()
            (repo / "pkg" / "a.py").write_text("A = 1\n", encoding="utf-8")
            (repo / "bin.dat").write_bytes(b"\0\1\2")
            (repo / ".gitignore").write_text("*.log\n", encoding="utf-8")
        subprocess.run(["git", *args], cwd=repo, env=env, check=True)
    return repo


def test_the_layers_answers(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    head = git.rev_parse(repo, "HEAD")

    assert git.toplevel(repo / "pkg") == repo.resolve()
    where = git.work_tree(repo / "pkg")
    assert (where.top, where.bare) == (repo.resolve(), False)
    assert git.work_tree(tmp_path).top is None
    assert git.is_commit(repo, "HEAD") and not git.is_commit(repo, "no-such-ref")
    assert git.parents(repo, head) == []
    assert git.merge_base(repo, head, "HEAD") == head
    assert git.ls_files(repo) == [".gitignore", "bin.dat", "pkg/a.py"]
    assert git.check_ignore(repo, ["x.log", "pkg/a.py"]) == {"x.log"}
    assert git.show(repo, "HEAD", "pkg/a.py") == b"A = 1\n"
    assert git.show(repo, "HEAD", "missing.py") is None
    # A directory's tree and a missing path are left out; the reading goes on after them.
    assert git.read_blob_bytes(repo, head, ["pkg", "nope", "bin.dat", "pkg/a.py"]) == {
        "bin.dat": b"\0\1\2",
        "pkg/a.py": b"A = 1\n",
    }
    assert git.read_blobs(repo, head, ["pkg/a.py"]) == {"pkg/a.py": "A = 1\n"}


def test_a_failure_is_one_git_error_with_gits_reason(tmp_path: Path) -> None:
    repo = _repo(tmp_path)

    with pytest.raises(git.GitError, match=r"^git rev-parse --verify --end-of-options: fatal"):
        git.rev_parse(repo, "no-such-ref")
    with pytest.raises(git.GitError, match="is not a directory"):
        git.ls_files(tmp_path / "gone")
    assert git.git(repo, "cat-file", "-t", "nope", check=False) == ""
    assert not git.git_ok(repo, "cat-file", "-e", "nope")
