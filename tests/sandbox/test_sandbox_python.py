"""Finding the target interpreter, and saying clearly when it can't run the tests."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from agent.sandbox import TargetPythonError, find_python, inspect_python

from .helpers import PYTHON


def wrapper(path: Path, body: str) -> Path:
    """An executable standing in for an interpreter (a real one, reached through a script)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"#!/bin/sh\n{body}\n")
    path.chmod(0o755)
    return path


def working(path: Path) -> Path:
    return wrapper(path, f'exec {PYTHON} "$@"')


@pytest.fixture(autouse=True)
def no_active_venv(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("VIRTUAL_ENV", raising=False)


def test_explicit_interpreter_wins(tmp_path: Path) -> None:
    working(tmp_path / "repo" / ".venv" / "bin" / "python")
    chosen = working(tmp_path / "elsewhere" / "python")
    assert find_python(tmp_path / "repo", str(chosen)) == chosen


def test_virtual_env_comes_before_the_repo_venv(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    active = working(tmp_path / "active" / "bin" / "python")
    working(tmp_path / "repo" / ".venv" / "bin" / "python")
    monkeypatch.setenv("VIRTUAL_ENV", str(tmp_path / "active"))
    assert find_python(tmp_path / "repo") == active


def test_repo_dot_venv_then_venv(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    plain = working(repo / "venv" / "bin" / "python")
    assert find_python(repo) == plain
    dotted = working(repo / ".venv" / "bin" / "python")
    assert find_python(repo) == dotted


def test_falls_back_to_our_own_interpreter(tmp_path: Path) -> None:
    (tmp_path / "repo").mkdir()
    assert find_python(tmp_path / "repo") == Path(sys.executable).absolute()


def test_reports_the_pytest_version(tmp_path: Path) -> None:
    info = inspect_python(working(tmp_path / "py" / "python"))
    assert info.pytest_version == pytest.__version__
    assert info.version == ".".join(map(str, sys.version_info[:3]))
    assert Path(info.executable).exists()


def test_interpreter_without_pytest_is_one_actionable_line(tmp_path: Path) -> None:
    # -S: no site-packages, so no pytest; otherwise a perfectly good interpreter
    bare = wrapper(tmp_path / "bare" / "python", f'exec {PYTHON} -S "$@"')
    with pytest.raises(TargetPythonError) as caught:
        find_python(tmp_path, str(bare))
    message = str(caught.value)
    assert "\n" not in message
    assert f"{bare} has no pytest" in message
    assert f"{bare} -m pip install pytest" in message
    assert "--python" in message


def test_broken_or_missing_interpreter_is_one_clear_line(tmp_path: Path) -> None:
    broken = wrapper(tmp_path / "broken" / "python", "echo 'bad magic' >&2; exit 3")
    with pytest.raises(TargetPythonError, match="does not run") as caught:
        find_python(tmp_path, str(broken))
    assert "\n" not in str(caught.value)
    assert "bad magic" in str(caught.value)
    with pytest.raises(TargetPythonError, match="does not exist"):
        find_python(tmp_path, str(tmp_path / "nope" / "python"))
