"""The global options work before and after the subcommand, for every subcommand; `--help` works
anywhere, inside a repository or not."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from agent.cli.main import app
from tests.cli.support import PYTHON, itarch, make_repo

COMMANDS = [
    ["generate"],
    ["check"],
    ["context"],
    ["doctor"],
    ["demo"],
    ["init"],
    ["mcp"],
    ["pr"],
    ["hook", "install"],
    ["hook", "uninstall"],
    ["hook", "run"],
]


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
@pytest.mark.parametrize("where", ["before", "after"])
def test_every_command_takes_the_global_options_on_either_side(
    command: list[str], where: str, tmp_path: Path
) -> None:
    options = ["--repo", str(tmp_path), "--python", PYTHON, "-v", "2"]
    args = [*options, *command, "--help"] if where == "before" else [*command, *options, "--help"]

    # Outside any git repository: help is printed, nothing is resolved.
    result = CliRunner().invoke(app, args)

    assert result.exit_code == 0, result.output
    assert f"Usage: itarch {' '.join(command)}" in " ".join(result.stdout.split())
    assert "--repo" in result.stdout and "--python" in result.stdout


@pytest.mark.parametrize("command", ["check", "generate"])
def test_help_outside_a_git_repository(command: str, tmp_path: Path) -> None:
    proc = itarch(command, "--help", cwd=tmp_path)

    assert proc.returncode == 0, proc.stderr
    assert f"Usage: itarch {command}" in proc.stdout
    assert proc.stderr == ""


def test_check_with_every_global_option_after_the_files(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "calc")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()

    proc = itarch(
        "check", "tests/test_add.py", "--repo", str(repo), "--python", PYTHON, "--json",
        cwd=elsewhere,
    )  # fmt: skip

    assert proc.returncode == 0, proc.stderr
    [judged] = json.loads(proc.stdout)["files"]
    assert judged["path"] == "tests/test_add.py"
    assert [t["verdict"] for t in judged["tests"]] == ["accepted"]


@pytest.mark.parametrize(
    "flags",
    [["-v", "2"], ["--verbose", "2"], ["--verbose=2"], ["-vv"], ["-v2"]],
    ids=" ".join,
)
@pytest.mark.parametrize("where", ["before", "after"])
def test_every_spelling_of_debug_verbosity(flags: list[str], where: str, tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "calc")
    command = ["context", "--base", "HEAD", "--json"]
    args = [*flags, *command] if where == "before" else [*command, *flags]

    proc = itarch(*args, cwd=repo)

    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["base"] == "HEAD"  # logs never reach stdout
    levels = {json.loads(line)["level"] for line in proc.stderr.splitlines()}
    assert "debug" in levels


def test_one_v_is_info_and_none_is_quiet(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "calc")
    args = ["check", "tests/test_add.py", "--json"]

    quiet = itarch(*args, cwd=repo)
    info = itarch(*args, "-v", cwd=repo)

    assert quiet.returncode == info.returncode == 0, quiet.stderr + info.stderr
    assert quiet.stderr == ""
    levels = {json.loads(line)["level"] for line in info.stderr.splitlines()}
    assert levels == {"info"}


def test_json_before_the_command(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "calc")

    proc = itarch("--json", "context", "--base", "HEAD", cwd=repo)

    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["base"] == "HEAD"


def test_json_before_a_command_without_json_output_is_refused(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "calc")

    proc = itarch("--json", "init", cwd=repo)

    assert proc.returncode == 2
    assert proc.stderr.strip() == "itarch: error: --json: `itarch init` has no JSON output"
    assert not (repo / ".mcp.json").exists()


def test_the_repo_given_after_the_command_wins(tmp_path: Path) -> None:
    first = make_repo(tmp_path / "first")
    second = make_repo(tmp_path / "second")

    proc = itarch(
        "--repo", str(first), "context", "--base", "HEAD", "--json", "--repo", str(second),
        cwd=tmp_path,
    )  # fmt: skip

    assert proc.returncode == 0, proc.stderr
    assert Path(json.loads(proc.stdout)["repo"]) == second.resolve()
