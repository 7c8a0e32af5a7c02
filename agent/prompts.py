"""The integration-test-architect persona, kept once in `prompts/`, and what is built from it.

`itarch generate` sends `system_prompt()`; the Claude Code subagent file
(`agent.claude_code.subagent`) starts from the same persona, so they cannot drift apart.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path


def prompts_dir() -> Path:
    """`prompts/` in a source checkout, or its copy shipped inside the wheel."""
    here = Path(__file__).resolve().parent
    for candidate in (here / "_prompts", here.parent / "prompts"):
        if (candidate / "persona.md").is_file():
            return candidate
    raise FileNotFoundError("prompts/persona.md is missing from this installation")


@cache
def read_prompt(name: str) -> str:
    """One file of `prompts/`, stripped."""
    return (prompts_dir() / name).read_text(encoding="utf-8").strip()


def system_prompt() -> str:
    """The system prompt of `itarch generate`."""
    return f"{read_prompt('persona.md')}\n\n{read_prompt('generate.md')}\n"
