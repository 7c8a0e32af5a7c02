"""`[tool.itarch.sandbox] pass_env`: the variables a repository's tests need reach them at every
level; nothing else of itarch's environment does, and the sandbox's own ones can't be asked for.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from agent.config import ConfigError, SandboxSettings, load_settings
from agent.sandbox import Sandbox
from agent.schema import IsolationLevel, RunResult

from .helpers import ALL_LEVELS, PYTHON, make_git_repo

DATABASE_URL = "postgresql://app:s3cret-pass-env@127.0.0.1:5432/shop"
FAKE_KEY = "sk-ant-api03-pass-env-test-key-never-visible"

# As a project's conftest does: the variable is required at import time, i.e. at collection.
CONFTEST = """
import os

DATABASE_URL = os.environ["DATABASE_URL"]
"""

TESTS = """
import os

from tests.conftest import DATABASE_URL


def test_the_database_url_is_passed_as_it_is():
    assert DATABASE_URL == {url!r}
    assert os.environ["SQLITE"] == "1"


def test_nothing_unlisted_is_passed():
    assert "ANTHROPIC_API_KEY" not in os.environ
    assert "SHOP_UNLISTED_TOKEN" not in os.environ
    everything = "\\n".join("%s=%s" % item for item in os.environ.items())
    assert {key!r} not in everything
"""


@pytest.fixture
def db_repo(tmp_path: Path) -> Path:
    return make_git_repo(
        tmp_path / "shop",
        {
            "tests/conftest.py": CONFTEST,
            "pyproject.toml": '[tool.itarch.sandbox]\npass_env = ["DATABASE_URL", "SQLITE"]\n',
        },
    )


@pytest.fixture
def our_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """What the user's shell exported (CONTRIBUTING: `export SQLITE=1`), and secrets of ours."""
    monkeypatch.setenv("DATABASE_URL", DATABASE_URL)
    monkeypatch.setenv("SQLITE", "1")
    monkeypatch.setenv("ANTHROPIC_API_KEY", FAKE_KEY)
    monkeypatch.setenv("SHOP_UNLISTED_TOKEN", FAKE_KEY)


def _run(repo: Path, level: IsolationLevel, *, configured: bool) -> RunResult:
    """The repository's own settings (its pass_env) or the defaults, at `level`."""
    base = load_settings(repo).sandbox if configured else SandboxSettings()
    settings = base.model_copy(update={"isolation": level.value})
    with Sandbox(repo, PYTHON, settings) as box:
        return box.run({"tests/test_db.py": TESTS.format(url=DATABASE_URL, key=FAKE_KEY)})


@pytest.mark.parametrize("level", ALL_LEVELS, ids=lambda level: level.value)
@pytest.mark.usefixtures("our_environment")
def test_listed_variables_reach_the_tests_and_nothing_else_does(
    db_repo: Path, level: IsolationLevel
) -> None:
    result = _run(db_repo, level, configured=True)
    found = {o.nodeid.rsplit("::", 1)[-1]: o for o in result.outcomes}
    assert result.collect_errors == []
    assert {name: o.outcome for name, o in found.items()} == {
        "test_the_database_url_is_passed_as_it_is": "passed",
        "test_nothing_unlisted_is_passed": "passed",
    }, [o.longrepr for o in found.values()]


@pytest.mark.parametrize("level", ALL_LEVELS, ids=lambda level: level.value)
@pytest.mark.usefixtures("our_environment")
def test_without_pass_env_the_conftest_cannot_collect(db_repo: Path, level: IsolationLevel) -> None:
    result = _run(db_repo, level, configured=False)
    # what a user sees: pytest stops loading the conftest, nothing is collected or run
    assert result.outcomes == [] and result.collected == []
    assert "KeyError: 'DATABASE_URL'" in result.crashed


def test_a_passed_value_is_on_no_command_line(
    db_repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The value travels in the environment of the sandbox's first process, never in an argv
    (which every user of the machine can read); a test sees no command line carrying it.
    """
    monkeypatch.setenv("DATABASE_URL", DATABASE_URL)
    monkeypatch.setenv("SQLITE", "1")
    probe = (
        "import os\n\n\ndef test_no_command_line_carries_it():\n"
        "    for pid in filter(str.isdigit, os.listdir('/proc')):\n"
        "        try:\n"
        "            line = open('/proc/%s/cmdline' % pid, 'rb').read()\n"
        "        except OSError:\n"
        "            continue\n"
        f"        assert {DATABASE_URL.encode()!r} not in line\n"
    )
    for level in ALL_LEVELS:
        settings = load_settings(db_repo).sandbox.model_copy(update={"isolation": level.value})
        with Sandbox(db_repo, PYTHON, settings) as box:
            result = box.run({"tests/test_argv.py": probe})
        assert [o.outcome for o in result.outcomes] == ["passed"], (level, result.outcomes)


@pytest.mark.parametrize(
    ("name", "why"),
    [
        ("ANTHROPIC_API_KEY", "never reaches a test"),
        ("HOME", "home of its own"),
        ("PYTHONPATH", "which code"),
        ("PYTEST_ADDOPTS", "pytest's options"),
        ("LD_PRELOAD", "native code"),
        ("NOT=A NAME", "not the name"),
    ],
)
def test_names_that_would_undo_the_sandbox_are_one_clear_config_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, why: str
) -> None:
    (tmp_path / "pyproject.toml").write_text(f"[tool.itarch.sandbox]\npass_env = [{name!r}]\n")
    with pytest.raises(ConfigError) as caught:
        load_settings(tmp_path)
    message = str(caught.value)
    assert "sandbox.pass_env" in message and why in message and "\n" not in message
    (tmp_path / "pyproject.toml").unlink()
    monkeypatch.setenv("ITARCH_SANDBOX__PASS_ENV", f'["DATABASE_URL", "{name}"]')
    with pytest.raises(ConfigError, match=r"sandbox\.pass_env"):
        load_settings(tmp_path)


def test_pass_env_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ITARCH_SANDBOX__PASS_ENV", '["DATABASE_URL","SQLITE","SQLITE"]')
    assert load_settings(tmp_path).sandbox.pass_env == ["DATABASE_URL", "SQLITE"]
    monkeypatch.delenv("ITARCH_SANDBOX__PASS_ENV")
    assert load_settings(tmp_path).sandbox.pass_env == []


def test_the_cli_refuses_a_bad_pass_env_in_one_line(db_repo: Path) -> None:
    (db_repo / "pyproject.toml").write_text('[tool.itarch.sandbox]\npass_env = ["HOME"]\n')
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ANTHROPIC_", "ITARCH_"))}
    proc = subprocess.run(
        [str(Path(sys.executable).parent / "itarch"), "context", "--base", "HEAD"],
        cwd=db_repo,
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout
    assert "'sandbox.pass_env': HOME cannot be passed to tests" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
