"""Target interpreters that live where the sandbox hides things: in the repo, or under $HOME."""

from __future__ import annotations

import shutil
import subprocess
import sysconfig
from collections.abc import Callable
from pathlib import Path

import iniconfig
import pytest

from agent.config import SandboxSettings
from agent.sandbox import Sandbox, find_python
from agent.schema import IsolationLevel

from .helpers import ALL_LEVELS, PYTHON, git, write_tree

SEES_THE_COPY = """
import os
import sys

import inventory


def test_editable_package_is_imported_from_the_copy():
    assert inventory.__file__.startswith(os.getcwd() + os.sep), inventory.__file__
    assert inventory.ORIGIN == "src"


def test_runs_under_the_repo_venv():
    assert sys.prefix.endswith(".venv")


def test_imports_what_is_installed_in_the_repo_venv():
    import venvdep  # lives in .venv/lib/python3.X/site-packages, inside the repository

    assert venvdep.WHERE == "venv"


def test_pytest_itself_loaded_the_copy_of_a_package_it_imports():
    import iniconfig  # pytest imports it before any test: it must be the copy under test

    assert iniconfig.__file__.startswith(os.getcwd() + os.sep), iniconfig.__file__
"""


@pytest.fixture(scope="module")
def venv_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A src-layout repo with its own .venv, the package installed 'editable' (a .pth file)."""
    repo = tmp_path_factory.mktemp("venvrepo") / "inventory-svc"
    write_tree(
        repo,
        {
            "src/inventory/__init__.py": "ORIGIN = 'src'\n",
            "tests/test_smoke.py": "import inventory\n\n\ndef test_x():\n"
            "    assert inventory.ORIGIN == 'src'\n",
        },
    )
    subprocess.run([str(PYTHON), "-m", "venv", "--without-pip", str(repo / ".venv")], check=True)
    purelib = sysconfig.get_path("purelib")  # ours, which has pytest
    site = next((repo / ".venv" / "lib").glob("python3*/site-packages"))
    (site / "shared.pth").write_text(purelib + "\n")
    (site / "__editable__inventory.pth").write_text(str(repo / "src") + "\n")
    # What the project depends on lives in its venv, inside the repository (uv's default).
    (site / "venvdep.py").write_text("WHERE = 'venv'\n")
    # The repository is one of pytest's own dependencies, installed editable into the venv.
    shutil.copytree(Path(iniconfig.__file__).parent, repo / "src" / "iniconfig")
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", "src", "tests")
    git(repo, "commit", "-q", "-m", "initial")
    return repo


@pytest.mark.parametrize("level", ALL_LEVELS, ids=lambda level: level.value)
def test_repo_venv_and_editable_install_work_from_the_copy(
    venv_repo: Path, level: IsolationLevel, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("VIRTUAL_ENV", raising=False)
    python = find_python(venv_repo)
    assert python == venv_repo / ".venv" / "bin" / "python"
    with Sandbox(venv_repo, python, SandboxSettings(isolation=level.value)) as box:
        assert not (box.workspace / ".venv").exists()  # an un-ignored venv is not copied
        result = box.run({"tests/test_copy.py": SEES_THE_COPY})
    assert {o.nodeid.rsplit("::", 1)[-1]: o.outcome for o in result.outcomes} == {
        "test_editable_package_is_imported_from_the_copy": "passed",
        "test_runs_under_the_repo_venv": "passed",
        "test_imports_what_is_installed_in_the_repo_venv": "passed",
        "test_pytest_itself_loaded_the_copy_of_a_package_it_imports": "passed",
    }, [o.longrepr for o in result.outcomes]


def test_select_by_node_id_and_a_bad_selection(
    venv_repo: Path, sandbox_factory: Callable[..., Sandbox]
) -> None:
    box = sandbox_factory(venv_repo, python=venv_repo / ".venv" / "bin" / "python")
    picked = box.run(select=["tests/test_smoke.py::test_x"])
    assert [(o.nodeid, o.outcome) for o in picked.outcomes] == [
        ("tests/test_smoke.py::test_x", "passed")
    ]
    missing = box.run(select=["tests/test_nowhere.py"])
    assert missing.outcomes == []
    assert missing.exit_code == 4  # pytest's usage error
    assert "test_nowhere.py" in missing.crashed
    assert "\n" not in missing.crashed


def test_a_test_that_kills_pytest_is_reported_not_lost(
    venv_repo: Path, sandbox_factory: Callable[..., Sandbox]
) -> None:
    box = sandbox_factory(venv_repo)
    result = box.run(
        {
            "tests/test_crash.py": "import os\n\n\ndef test_a():\n    assert True\n\n\n"
            "def test_b():\n    os._exit(3)\n"
        }
    )
    outcomes = {o.nodeid.rsplit("::", 1)[-1]: o for o in result.outcomes}
    assert outcomes["test_a"].outcome == "passed"
    assert outcomes["test_b"].outcome == "failed"
    assert "died" in outcomes["test_b"].message
    assert "tests/test_crash.py::test_b" in result.crashed
    assert result.exit_code == 3
    assert not result.timed_out


def test_sandbox_settings_default_to_a_usable_level(venv_repo: Path) -> None:
    with Sandbox(venv_repo, PYTHON, SandboxSettings()) as box:
        assert box.level == ALL_LEVELS[0]
