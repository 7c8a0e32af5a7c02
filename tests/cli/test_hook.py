"""`itarch hook install` with the global options, before or after the command."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.hook.test_pre_push_helpers import Repo, make_repo


@pytest.fixture
def repo(tmp_path: Path) -> Repo:
    return make_repo(tmp_path)


@pytest.mark.parametrize("where", ["before", "after"])
def test_install_passes_the_target_python_on_and_says_what_generate_needs(
    repo: Repo, where: str
) -> None:
    target = ["--python", "venv/bin/python"]
    command = ["hook", "install", "--mode", "generate"]
    args = [*target, *command] if where == "before" else [*command, *target]

    installed = repo.itarch(*args)

    assert installed.returncode == 0, installed.stderr
    absolute = repo.path / "venv" / "bin" / "python"  # relative to where install ran
    text = (repo.path / ".git" / "hooks" / "pre-push").read_text(encoding="utf-8")
    assert f'hook run pre-push --python {absolute} --mode generate "$@"' in text
    said = installed.stdout
    assert f"the target project's tests run with {absolute}" in said
    assert "generate mode needs ANTHROPIC_API_KEY" in said
    assert "a target interpreter with pytest" in said


def test_hook_run_arguments_have_one_parser_for_git_and_for_the_cli(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from agent.cli.main import app
    from agent.hook.run import main as hook_main

    # A wrong call never stops a push, whichever way it arrives: the hook's parser says so.
    result = CliRunner().invoke(app, ["--repo", str(tmp_path), "hook", "run", "pre-commit"])
    assert result.exit_code == 0 == hook_main(["pre-commit"], start=tmp_path)
    assert "cannot read the arguments ['pre-commit']" in result.output
