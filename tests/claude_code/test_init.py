"""`itarch init`: the subagent file and the MCP registration, idempotent and careful with edits."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from agent.claude_code.initialize import MCP_CONFIG, WORKFLOW_PATH, mcp_server_entry
from agent.claude_code.subagent import SUBAGENT_PATH, subagent_file
from agent.cli.main import app

SUBAGENT = SUBAGENT_PATH.as_posix()
MCP = MCP_CONFIG.as_posix()


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    path = tmp_path / "project"
    path.mkdir()
    subprocess.run(["git", "init", "--quiet", str(path)], check=True)
    return path


def run_init(repo: Path, *flags: str) -> tuple[int, list[str], str]:
    result = CliRunner().invoke(app, ["--repo", str(repo), "init", *flags])
    assert "Traceback" not in result.output, result.output
    return result.exit_code, result.stdout.splitlines(), result.stderr


def actions(lines: list[str]) -> dict[str, str]:
    """{path: action} from init's one line per file ("<action> <path>  (detail)")."""
    parsed = {}
    for line in lines:
        if line.startswith("note:"):
            continue
        action, path = line.split()[:2]
        parsed[path] = action
    return parsed


def snapshot(repo: Path) -> dict[str, tuple[bytes, int]]:
    return {
        p.relative_to(repo).as_posix(): (p.read_bytes(), p.stat().st_mtime_ns)
        for p in sorted(repo.rglob("*"))
        if p.is_file() and ".git" not in p.relative_to(repo).parts
    }


def test_fresh_repo_gets_the_subagent_and_the_mcp_server(repo: Path) -> None:
    code, lines, _ = run_init(repo)

    assert code == 0
    assert actions(lines) == {SUBAGENT: "created", MCP: "created"}
    assert (repo / SUBAGENT_PATH).read_text(encoding="utf-8") == subagent_file()
    server = json.loads((repo / MCP_CONFIG).read_text(encoding="utf-8"))["mcpServers"]["itarch"]
    # The file is committed: it names `itarch` on PATH, never a path into one machine's venv.
    assert server == {"type": "stdio", "command": "itarch", "args": ["mcp"], "env": {}}


def test_init_says_what_it_assumed_and_how_to_change_it(repo: Path) -> None:
    _, lines, _ = run_init(repo)

    notes = [line for line in lines if line.startswith("note:")]
    assert len(notes) == 2
    mcp_note, subagent_note = notes
    assert "`itarch` must be on the PATH Claude Code runs with" in mcp_note
    assert '"command": "/path/to/itarch"' in mcp_note and '"--python"' in mcp_note
    assert SUBAGENT in subagent_note and "`itarch` on PATH" in subagent_note


def test_the_registered_command_is_a_working_itarch(repo: Path) -> None:
    run_init(repo)
    server = json.loads((repo / MCP_CONFIG).read_text(encoding="utf-8"))["mcpServers"]["itarch"]
    # Same command, `mcp` swapped for `--help`, with this installation's itarch on PATH: proves
    # the entry starts the CLI, and that `itarch mcp` takes the global options after its name.
    bindir = Path(os.path.abspath(sys.executable)).parent
    proc = subprocess.run(
        [server["command"], *server["args"], "--python", sys.executable, "--help"],
        cwd=repo,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PATH": f"{bindir}{os.pathsep}{os.environ.get('PATH', '')}"},
    )
    assert proc.returncode == 0, proc.stderr
    assert "MCP server" in proc.stdout


def test_rerun_changes_nothing(repo: Path) -> None:
    run_init(repo)
    before = snapshot(repo)

    code, lines, _ = run_init(repo, "--claude")

    assert code == 0
    assert actions(lines) == {SUBAGENT: "unchanged", MCP: "unchanged"}
    assert snapshot(repo) == before


def test_a_user_modified_subagent_is_kept_without_force(repo: Path) -> None:
    run_init(repo)
    edited = subagent_file().replace("model: sonnet", "model: opus") + "\nOur team's extra rule.\n"
    (repo / SUBAGENT_PATH).write_text(edited, encoding="utf-8")

    code, lines, _ = run_init(repo)

    assert code == 0
    assert actions(lines)[SUBAGENT] == "kept"
    assert "--force" in next(line for line in lines if SUBAGENT in line)
    assert (repo / SUBAGENT_PATH).read_text(encoding="utf-8") == edited


def test_force_replaces_a_user_modified_subagent(repo: Path) -> None:
    run_init(repo)
    (repo / SUBAGENT_PATH).write_text("---\nname: mine\n---\nmine\n", encoding="utf-8")

    code, lines, _ = run_init(repo, "--force")

    assert code == 0
    assert actions(lines) == {SUBAGENT: "replaced", MCP: "unchanged"}
    assert (repo / SUBAGENT_PATH).read_text(encoding="utf-8") == subagent_file()


def test_existing_mcp_json_is_merged_not_replaced(repo: Path) -> None:
    theirs = {
        "mcpServers": {
            "docs": {"type": "stdio", "command": "docs-server", "args": ["--port", "0"]}
        },
        "comment": "kept as written",
    }
    (repo / MCP_CONFIG).write_text(json.dumps(theirs), encoding="utf-8")

    code, lines, _ = run_init(repo)

    assert code == 0
    assert actions(lines)[MCP] == "updated"
    merged = json.loads((repo / MCP_CONFIG).read_text(encoding="utf-8"))
    assert merged["comment"] == theirs["comment"]
    assert merged["mcpServers"]["docs"] == theirs["mcpServers"]["docs"]
    assert merged["mcpServers"]["itarch"] == mcp_server_entry()


def test_a_changed_itarch_server_entry_is_kept_unless_forced(repo: Path) -> None:
    custom = {"command": "/opt/itarch/bin/itarch", "args": ["--python", "/opt/py", "mcp"]}
    (repo / MCP_CONFIG).write_text(json.dumps({"mcpServers": {"itarch": custom}}), encoding="utf-8")

    _, kept, _ = run_init(repo)
    after_kept = json.loads((repo / MCP_CONFIG).read_text(encoding="utf-8"))
    _, forced, _ = run_init(repo, "--force")
    after_forced = json.loads((repo / MCP_CONFIG).read_text(encoding="utf-8"))

    assert actions(kept)[MCP] == "kept"
    assert after_kept["mcpServers"]["itarch"] == custom
    assert actions(forced)[MCP] == "replaced"
    assert after_forced["mcpServers"]["itarch"] == mcp_server_entry()


def test_invalid_mcp_json_is_one_clear_error_and_left_alone(repo: Path) -> None:
    (repo / MCP_CONFIG).write_text("{ not json", encoding="utf-8")

    code, _, stderr = run_init(repo)

    assert code == 2
    assert ".mcp.json is not valid JSON" in stderr
    assert len(stderr.strip().splitlines()) == 1
    assert (repo / MCP_CONFIG).read_text(encoding="utf-8") == "{ not json"


def test_outside_a_git_repository_is_one_clear_error(tmp_path: Path) -> None:
    code, _, stderr = run_init(tmp_path)

    assert code == 2
    assert "not inside a git repository" in stderr
    assert not (tmp_path / SUBAGENT_PATH).exists()


def test_ci_writes_the_pr_workflow_and_nothing_else(repo: Path) -> None:
    from agent.github.api import workflow_text

    code, lines, _ = run_init(repo, "--ci")

    assert code == 0
    assert actions(lines) == {WORKFLOW_PATH.as_posix(): "created"}
    assert (repo / WORKFLOW_PATH).read_text(encoding="utf-8") == workflow_text()
    assert not (repo / SUBAGENT_PATH).exists()


def test_hook_installs_the_pre_push_hook(repo: Path) -> None:
    code, lines, _ = run_init(repo, "--hook", "--claude")

    assert code == 0, lines
    hook = repo / ".git" / "hooks" / "pre-push"
    assert hook.is_file() and os.access(hook, os.X_OK)
    assert "itarch" in hook.read_text(encoding="utf-8")
    assert lines[:2] == [f"created   {SUBAGENT}", f'created   {MCP}  (server "itarch")']
    assert lines[2].startswith("installed the pre-push hook") and str(hook) in lines[2]


def test_init_hook_passes_the_target_python_on(repo: Path) -> None:
    target = repo / ".venv" / "bin" / "python"
    result = CliRunner().invoke(
        app, ["init", "--hook", "--repo", str(repo), "--python", str(target)]
    )

    assert result.exit_code == 0, result.output
    script = (repo / ".git" / "hooks" / "pre-push").read_text(encoding="utf-8")
    assert f"hook run pre-push --python {target} " in script
    assert f"the target project's tests run with {target}" in result.stdout
