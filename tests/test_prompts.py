"""The persona lives once in prompts/: the committed subagent file and `itarch generate`'s system
prompt are both built from it, and the subagent's frontmatter names tools that really exist."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from agent.claude_code.mcp_server import SERVER_NAME, build_server, tool_names
from agent.claude_code.subagent import SUBAGENT_NAME, SUBAGENT_PATH, subagent_file
from agent.prompts import prompts_dir, system_prompt

ROOT = Path(__file__).resolve().parents[1]
REGENERATE = (
    "python -c 'from agent.claude_code.subagent import SUBAGENT_PATH, subagent_file; "
    "SUBAGENT_PATH.write_text(subagent_file())'"
)


def split_frontmatter(text: str) -> tuple[dict[str, object], str]:
    match = re.match(r"---\n(.*?)\n---\n(.*)", text, re.S)
    assert match, "the subagent file must open with a --- delimited YAML frontmatter"
    meta = YAML(typ="safe").load(match.group(1))
    assert isinstance(meta, dict)
    return meta, match.group(2)


@pytest.fixture(scope="module")
def persona() -> str:
    return (prompts_dir() / "persona.md").read_text(encoding="utf-8").strip()


def test_committed_subagent_file_matches_what_the_prompts_build() -> None:
    committed = (ROOT / SUBAGENT_PATH).read_text(encoding="utf-8")
    assert committed == subagent_file(), f"{SUBAGENT_PATH} has drifted; regenerate: {REGENERATE}"


def test_subagent_and_generate_prompts_start_from_the_same_persona(persona: str) -> None:
    _, body = split_frontmatter(subagent_file())
    assert body.lstrip().startswith(persona)
    assert system_prompt().startswith(persona)
    # Each adds its own way of working after the shared persona, not a second copy of it.
    assert body.count(persona) == 1 and system_prompt().count(persona) == 1
    assert "propose_tests" in system_prompt() and "propose_tests" not in body


def test_frontmatter_is_a_valid_claude_code_subagent_definition() -> None:
    meta, body = split_frontmatter(subagent_file())
    assert meta["name"] == SUBAGENT_NAME == SUBAGENT_PATH.stem
    assert re.fullmatch(r"[a-z][a-z0-9-]*", str(meta["name"]))
    description = str(meta["description"])
    assert "integration test" in description.lower() and "PROACTIVELY" in description
    assert meta["model"] in {"sonnet", "opus", "haiku", "inherit"}
    tools = [t.strip() for t in str(meta["tools"]).split(",")]
    assert {"Read", "Write", "Edit", "Bash"} <= set(tools)
    assert len(tools) == len(set(tools))
    assert body.strip()


def test_every_mcp_tool_the_subagent_names_is_served_by_itarch_mcp() -> None:
    meta, body = split_frontmatter(subagent_file())
    served = {f"mcp__{SERVER_NAME}__{name}" for name in tool_names(build_server(ROOT))}
    granted = {t.strip() for t in str(meta["tools"]).split(",") if t.strip().startswith("mcp__")}
    mentioned = set(re.findall(r"mcp__\w+", body))
    assert granted == served, "the frontmatter must grant exactly the tools `itarch mcp` serves"
    assert mentioned and mentioned <= served


def test_workflow_uses_the_commands_the_cli_has() -> None:
    _, body = split_frontmatter(subagent_file())
    assert "itarch context --base <ref>" in body
    assert re.search(r"itarch check <files> --base <ref>", body)
    assert "xfail(strict=True" in body
    assert "coding-standards" in body or "CONTRIBUTING" in body
