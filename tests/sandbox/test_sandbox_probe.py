"""Before judging, the sandbox must collect the project's own tests, or say in one line why not."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from agent.config import load_settings
from agent.pipeline import check
from agent.sandbox import Sandbox
from agent.sandbox.probe import SandboxEnvironmentError, ensure_suite_collects, existing_test_files

from .helpers import make_git_repo

NEEDS_ENV = "import os\n\nDATABASE = os.environ['SHOPKIT_PROBE_DATABASE_URL']\n"
MISSING_DEP = "import nosuchdep_for_itarch\n\n\ndef test_x():\n    assert nosuchdep_for_itarch\n"


def test_a_healthy_suite_passes_the_probe(
    repo: Path, sandbox_factory: Callable[..., Sandbox]
) -> None:
    ensure_suite_collects(sandbox_factory(repo), "tests")  # no error


def test_what_only_the_sandbox_lacks_is_named_as_the_sandbox_s(
    tmp_path: Path, sandbox_factory: Callable[..., Sandbox], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SHOPKIT_PROBE_DATABASE_URL", "sqlite://")  # the user's shell has it
    repo = make_git_repo(tmp_path / "shop", {"tests/conftest.py": NEEDS_ENV})
    with pytest.raises(SandboxEnvironmentError) as raised:
        ensure_suite_collects(sandbox_factory(repo), "tests")
    message = str(raised.value)
    assert "\n" not in message
    assert "the sandbox cannot collect the project's tests" in message
    assert "(plain pytest can)" in message
    assert "SHOPKIT_PROBE_DATABASE_URL" in message
    # ...and what to do about it, with the variable the conftest reads
    assert 'pass_env = ["SHOPKIT_PROBE_DATABASE_URL"]' in message


def test_a_dependency_missing_everywhere_is_named(
    tmp_path: Path, sandbox_factory: Callable[..., Sandbox]
) -> None:
    repo = make_git_repo(
        tmp_path / "shop",
        {"tests/test_prices.py": MISSING_DEP, "tests/test_more.py": MISSING_DEP},
    )
    with pytest.raises(SandboxEnvironmentError) as raised:
        ensure_suite_collects(sandbox_factory(repo), "tests")
    message = str(raised.value)
    assert "in the sandbox or outside it" in message
    assert "No module named 'nosuchdep_for_itarch'" in message


def test_one_broken_file_is_that_file_s_problem_not_the_environment_s(
    tmp_path: Path, sandbox_factory: Callable[..., Sandbox]
) -> None:
    repo = make_git_repo(
        tmp_path / "shop",
        {
            "tests/test_broken.py": MISSING_DEP,
            "tests/test_ok.py": "def test_ok():\n    assert True\n",
            "tests/test_ok2.py": "def test_ok():\n    assert True\n",
        },
    )
    ensure_suite_collects(sandbox_factory(repo), "tests")


def test_check_stops_before_judging_and_never_blames_the_test(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SHOPKIT_PROBE_DATABASE_URL", "sqlite://")
    repo = make_git_repo(tmp_path / "shop", {"tests/conftest.py": NEEDS_ENV})
    proposed = repo / "tests" / "test_new.py"
    proposed.write_text("def test_new():\n    assert 1 + 1 == 2\n")
    monkeypatch.chdir(repo)
    with pytest.raises(SandboxEnvironmentError):
        check(repo, ["tests/test_new.py"], settings=load_settings(repo))


def test_the_sample_spreads_over_the_suite_and_skips_venvs(tmp_path: Path) -> None:
    for index in range(20):
        (tmp_path / "tests" / f"d{index:02}").mkdir(parents=True)
        (tmp_path / "tests" / f"d{index:02}" / f"test_{index:02}.py").write_text("")
    (tmp_path / "tests" / ".venv" / "lib").mkdir(parents=True)
    (tmp_path / "tests" / ".venv" / "lib" / "test_venv.py").write_text("")
    sample = existing_test_files(tmp_path, "tests", exclude=frozenset({"tests/d00/test_00.py"}))
    assert len(sample) == 8
    assert sample[0] == "tests/d01/test_01.py" and sample[-1] >= "tests/d17"
    assert not any(".venv" in path for path in sample)
