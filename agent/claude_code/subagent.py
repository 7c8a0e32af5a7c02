"""The Claude Code subagent file, `.claude/agents/integration-test-architect.md`: built from the
same persona in `prompts/` as the system prompt of `itarch generate`, so they cannot drift apart.

Regenerate the committed copy with `python -c 'from agent.claude_code.subagent import
SUBAGENT_PATH, subagent_file; SUBAGENT_PATH.write_text(subagent_file())'`.
"""

from __future__ import annotations

from pathlib import Path

from agent.prompts import read_prompt

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


def subagent_file() -> str:
    """The full text of `.claude/agents/integration-test-architect.md`."""
    return f"{_FRONTMATTER}\n{read_prompt('persona.md')}\n\n{read_prompt('subagent.md')}\n"
