"""action.yml and the example workflow: schema-valid offline, safe by construction, and wired up."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
from importlib import resources
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from agent.github.api import ACTION_REF, workflow_text

ROOT = Path(__file__).resolve().parents[2]
ACTION = ROOT / "action.yml"
WORKFLOW = ROOT / "agent" / "github" / "workflow.yml"
CHECK_JSONSCHEMA = Path(sys.executable).with_name("check-jsonschema")


def load(text: str) -> dict[str, Any]:
    # YAML 1.2 (ruamel): `on:` stays the string "on", as GitHub reads it.
    data = YAML(typ="safe").load(StringIO(text))
    assert isinstance(data, dict)
    return data


def _offline_prefix() -> list[str]:
    """Run in a network namespace of its own when the kernel allows, so no request can leave."""
    unshare = shutil.which("unshare")
    if unshare and subprocess.run([unshare, "-rn", "true"], capture_output=True).returncode == 0:
        return [unshare, "-rn"]
    return []


def check_jsonschema(schema: str, path: Path) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        # Without a network namespace, a proxy nobody listens on stops any download as surely.
        "HTTP_PROXY": "http://127.0.0.1:9",
        "HTTPS_PROXY": "http://127.0.0.1:9",
        "NO_PROXY": "",
    }
    cmd = [*_offline_prefix(), str(CHECK_JSONSCHEMA), "--no-cache", "--builtin-schema", schema]
    return subprocess.run([*cmd, str(path)], capture_output=True, text=True, env=env, timeout=60)


# ---------------------------------------------------------------- schema validation, offline


def test_the_schemas_ship_inside_check_jsonschema() -> None:
    vendor = resources.files("check_jsonschema.builtin_schemas.vendor")
    for name in ("github-actions.json", "github-workflows.json"):
        text = vendor.joinpath(name).read_text("utf-8")
        assert '"$ref": "http' not in text  # nothing to fetch: every $ref is local


@pytest.mark.parametrize(
    ("schema", "path"),
    [
        ("vendor.github-actions", ACTION),
        ("vendor.github-workflows", WORKFLOW),
        ("custom.github-workflows-require-timeout", WORKFLOW),
    ],
)
def test_action_and_workflow_validate_without_network(schema: str, path: Path) -> None:
    result = check_jsonschema(schema, path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "ok -- validation done" in result.stdout


@pytest.mark.parametrize(
    ("schema", "source", "breakage"),
    [
        ("vendor.github-actions", ACTION, ("runs:", "rns:")),
        ("vendor.github-workflows", WORKFLOW, ("runs-on:", "runs_on:")),
    ],
)
def test_the_validator_catches_a_broken_file(
    tmp_path: Path, schema: str, source: Path, breakage: tuple[str, str]
) -> None:
    broken = tmp_path / source.name
    broken.write_text(source.read_text().replace(*breakage), encoding="utf-8")
    result = check_jsonschema(schema, broken)
    assert result.returncode == 1
    assert "Schema validation errors" in result.stdout


# ---------------------------------------------------------------- the example workflow


def test_workflow_text_is_the_packaged_example() -> None:
    assert workflow_text() == WORKFLOW.read_text(encoding="utf-8")


def test_workflow_runs_on_pull_request_with_least_privilege() -> None:
    workflow = load(workflow_text())
    assert "pull_request" in workflow["on"]
    assert "pull_request_target" not in workflow["on"]  # never run PR code with base secrets
    assert workflow["permissions"] == {"contents": "read", "pull-requests": "write"}
    (job,) = workflow["jobs"].values()
    checkout, bot = job["steps"]
    assert checkout["uses"].startswith("actions/checkout@")
    assert checkout["with"]["fetch-depth"] == 0
    assert checkout["with"]["ref"] == "${{ github.event.pull_request.head.sha }}"
    assert checkout["with"]["persist-credentials"] is False
    assert bot["uses"] == ACTION_REF
    assert bot["with"]["anthropic-api-key"] == "${{ secrets.ANTHROPIC_API_KEY }}"


# ---------------------------------------------------------------- the composite action


def action_steps() -> dict[str, dict[str, Any]]:
    action = load(ACTION.read_text(encoding="utf-8"))
    assert action["runs"]["using"] == "composite"
    return {step["name"]: step for step in action["runs"]["steps"]}


def test_action_installs_itarch_from_its_own_path_and_uploads_the_artifact() -> None:
    steps = action_steps()
    assert steps["Set up Python"]["uses"].startswith("actions/setup-python@")
    install = steps["Install itarch"]
    assert install["env"]["ITARCH_SOURCE"] == "${{ github.action_path }}"
    assert 'pip install --quiet "$ITARCH_SOURCE"' in install["run"]
    run = steps["Suggest integration tests"]
    upload = steps["Upload the suggested tests"]
    assert upload["uses"].startswith("actions/upload-artifact@")
    assert upload["if"] == "always()"
    assert upload["with"]["path"] == run["env"]["PRBOT_ARTIFACTS"]
    assert upload["with"]["name"] == "${{ inputs.artifact-name }}"


def test_inputs_never_reach_a_script_except_through_the_environment() -> None:
    for name, step in action_steps().items():
        assert "${{" not in step.get("run", ""), f"{name}: an expression spliced into a script"


def _fake_itarch(bin_dir: Path, record: Path) -> None:
    bin_dir.mkdir()
    fake = bin_dir / "itarch"
    fake.write_text(f'#!/bin/sh\nfor a in "$@"; do printf "%s\\n" "$a"; done > {record}\n')
    fake.chmod(fake.stat().st_mode | stat.S_IXUSR)


@pytest.mark.parametrize(
    ("inputs", "expected_tail"),
    [
        ({}, []),
        (
            {
                "PRBOT_MODEL": "claude-test",
                "PRBOT_MAX_DOLLARS": "0.75",
                "PRBOT_SUGGESTIONS": "false",
            },
            ["--model", "claude-test", "--max-dollars", "0.75", "--no-suggestions"],
        ),
    ],
)
def test_the_run_step_turns_inputs_into_itarch_pr_arguments(
    tmp_path: Path, inputs: dict[str, str], expected_tail: list[str]
) -> None:
    """Runs the action's own script with bash, `itarch` replaced by a recorder."""
    step = action_steps()["Suggest integration tests"]
    record, output = tmp_path / "args", tmp_path / "github_output"
    _fake_itarch(tmp_path / "bin", record)
    env = {
        "PATH": f"{tmp_path / 'bin'}:{os.environ['PATH']}",
        "GITHUB_OUTPUT": str(output),
        "PRBOT_ARTIFACTS": str(tmp_path / "runner temp" / "itarch"),
        "PRBOT_ARTIFACT_NAME": "itarch-tests",
        "PRBOT_MODEL": "",
        "PRBOT_MAX_DOLLARS": "",
        "PRBOT_SUGGESTIONS": "true",
        **inputs,
    }
    subprocess.run(["bash", "-e", "-c", step["run"]], env=env, check=True, timeout=30)

    args = record.read_text().splitlines()
    assert args == [
        "pr",
        "--artifacts",
        env["PRBOT_ARTIFACTS"],  # one argument, spaces and all
        "--artifact-name",
        "itarch-tests",
        *expected_tail,
    ]
    assert output.read_text() == f"artifact-dir={env['PRBOT_ARTIFACTS']}\n"
    assert set(step["env"]) >= {"ANTHROPIC_API_KEY", "GITHUB_TOKEN"}


def test_the_docs_show_the_workflow_itarch_init_writes() -> None:
    docs = (ROOT / "docs" / "pr-bot.md").read_text(encoding="utf-8")
    block = docs.split("```yaml\n", 1)[1].split("\n```", 1)[0]
    assert block + "\n" == workflow_text()
    assert "--github-repo OWNER/NAME" in docs  # not to be confused with the global --repo
