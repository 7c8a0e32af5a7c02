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


def test_an_answer_is_kept_until_the_interpreter_or_its_path_changes(tmp_path: Path) -> None:
    """Each command does not start the interpreter again to ask the same questions; installing
    a package (a change in a directory on its path) or replacing it asks again."""
    from agent.sandbox import python as target

    starts, extra = tmp_path / "starts", tmp_path / "site"
    extra.mkdir()
    body = f'echo x >> {starts}; PYTHONPATH={extra} exec {PYTHON} "$@"'
    python = wrapper(tmp_path / "py" / "python", body)

    def asked() -> int:
        target._inspect.cache_clear()  # a new command: nothing remembered in memory
        info = inspect_python(python)
        assert str(extra) in info.sys_path
        return len(starts.read_text().splitlines())

    assert asked() == 1
    assert asked() == 1  # read back from the cache file
    (extra / "newly_installed.pth").write_text("")
    assert asked() == 2
    assert asked() == 2
    wrapper(python, body + "\n# replaced")
    assert asked() == 3


def test_an_unwritable_cache_costs_only_the_answer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from agent.sandbox import python as target

    monkeypatch.setenv("ITARCH_CACHE_DIR", "/proc/itarch-cannot-write-here")
    target._inspect.cache_clear()
    info = inspect_python(working(tmp_path / "py" / "python"))
    assert info.pytest_version == pytest.__version__
