"""The integration-test-architect persona, kept once in `prompts/`, and what is built from it.

`itarch generate` sends `system_prompt()`; the Claude Code subagent file is `subagent_file()`.
Both start from the same persona, so they cannot drift apart.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

SUBAGENT_NAME = "integration-test-architect"
SUBAGENT_PATH = Path(".claude/agents") / f"{SUBAGENT_NAME}.md"

_FRONTMATTER = f"""---
name: {SUBAGENT_NAME}
description: Integration-test specialist for Python repositories. Use PROACTIVELY after a \
change that crosses module boundaries (HTTP routes, services, database, events, external clients, \
CLI), and whenever the user asks for integration tests, seam coverage, or proof that modules still \
work together. It grounds itself with `itarch context`, proves every test with `itarch check`, and \
reports suspected bugs as strict xfails instead of weakening assertions.
tools: Read, Grep, Glob, Write, Edit, Bash, mcp__itarch__context, mcp__itarch__check, \
mcp__itarch__read_report, mcp__itarch__review
model: sonnet
---
"""


def prompts_dir() -> Path:
    """`prompts/` in a source checkout, or its copy shipped inside the wheel."""
    here = Path(__file__).resolve().parent
    for candidate in (here / "_prompts", here.parent / "prompts"):
        if (candidate / "persona.md").is_file():
            return candidate
    raise FileNotFoundError("prompts/persona.md is missing from this installation")


@cache
def _read(name: str) -> str:
    return (prompts_dir() / name).read_text(encoding="utf-8").strip()


def system_prompt() -> str:
    """The system prompt of `itarch generate`."""
    return f"{_read('persona.md')}\n\n{_read('generate.md')}\n"


def subagent_file() -> str:
    """The full text of `.claude/agents/integration-test-architect.md`."""
    return f"{_FRONTMATTER}\n{_read('persona.md')}\n\n{_read('subagent.md')}\n"
