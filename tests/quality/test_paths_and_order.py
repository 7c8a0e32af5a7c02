"""The path gate on a real directory tree, and the planned order of the rerun run in a real
sandbox (round 0 in reverse file order; no fixture skipped at a round boundary)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from agent.config import SandboxSettings
from agent.quality.paths import path_problem
from agent.quality.rerun_order import presorted, shuffled
from agent.sandbox import Sandbox

from .ledger import git


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    (tmp_path / "tests" / "unit").mkdir(parents=True)
    (tmp_path / "tests" / "test_old.py").write_text("def test_x():\n    assert 1\n")
    (tmp_path / "pkg").mkdir()
    (tmp_path / "tests" / "to_pkg").symlink_to("../pkg")
    (tmp_path / "tests" / "dangling.py").symlink_to("nowhere.py")
    return tmp_path


@pytest.mark.parametrize(
    ("path", "problem"),
    [
        ("tests/unit/test_new.py", None),
        ("tests/brand/new/dir/test_new.py", None),
        ("tests/test_old.py", "already exists"),
        ("tests/dangling.py", "already exists"),
        ("tests/to_pkg/test_x.py", "symlink"),
        ("pkg/test_x.py", "outside the tests root"),
        ("tests/../pkg/test_x.py", "'..'"),
        ("/etc/test_x.py", "absolute"),
        ("~/test_x.py", "absolute"),
        ("tests/test_x.pyc", "not a Python file"),
        ("tests\\test_x.py", "relative POSIX"),
        ("tests/.git/test_x.py", ".git"),
        ("tests/test_old.py/test_x.py", "needs a directory"),
        ("", "empty"),
    ],
)
def test_path_gate(tree: Path, path: str, problem: str | None) -> None:
    found = path_problem(path, tree, "tests")
    if problem is None:
        assert found is None
    else:
        assert found is not None and problem in found


def test_existing_files_may_be_judged_in_place(tree: Path) -> None:
    assert path_problem("tests/test_old.py", tree, "tests", existing_ok=True) is None
    assert path_problem("pkg/test_elsewhere.py", tree, "tests", existing_ok=True) is None
    assert "'..'" in (path_problem("../x/test_x.py", tree, "tests", existing_ok=True) or "")


def test_presorted_order_comes_out_of_round_zero_as_wanted() -> None:
    target = ["a", "b", "c", "d", "e"]
    for seed in range(50):
        assert shuffled(presorted(target, seed), seed, 0) == target


def test_sandbox_runs_round_zero_as_planned(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    (repo / "tests").mkdir(parents=True)
    (repo / "tests" / "test_seen.py").write_text("def test_one():\n    assert True\n")
    git(repo, "init", "-q")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "init")
    new = "tests/test_new.py"
    content = "import pytest\n\n\n@pytest.fixture\ndef value():\n    return 3\n\n\n" + "".join(
        f"def test_{i}(value):\n    assert value == 3\n\n\n" for i in range(4)
    )
    target = [f"{new}::test_{i}" for i in reversed(range(4))]
    with Sandbox(repo, Path(sys.executable), SandboxSettings()) as box:
        result = box.run({new: content}, select=presorted(target, 7), reruns=2, shuffle_seed=7)
    assert [o.nodeid for o in result.outcomes if o.run == 0] == target
    assert [o.outcome for o in result.outcomes] == ["passed"] * 12
