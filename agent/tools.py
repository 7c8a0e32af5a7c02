"""The tools the model gets: context on demand (read_file, search_code, get_symbol), and the two
that steer the run (propose_tests, finish). Schemas are generated from the Pydantic models.
"""

from __future__ import annotations

from copy import deepcopy
from typing import Any

from pydantic import BaseModel, Field

from agent.context import RepoTools
from agent.schema import TestSuiteProposal

PROPOSE = "propose_tests"
FINISH = "finish"


class FinishInput(BaseModel):
    summary: str = Field(description="What the accepted tests prove, and any suspected bugs.")


def inline_refs(schema: dict[str, Any]) -> dict[str, Any]:
    """Resolve `$ref`s into a self-contained schema: tool schemas are read without `$defs`."""
    defs = schema.get("$defs", {})

    def walk(node: Any) -> Any:
        if isinstance(node, dict):
            if "$ref" in node:
                return walk(deepcopy(defs[node["$ref"].rsplit("/", 1)[-1]]))
            return {k: walk(v) for k, v in node.items() if k != "$defs"}
        if isinstance(node, list):
            return [walk(v) for v in node]
        return node

    resolved: dict[str, Any] = walk(schema)
    return resolved


STEERING_SPECS: list[dict[str, Any]] = [
    {
        "name": PROPOSE,
        "description": (
            "Propose whole new test files. Each is run in a sandbox and judged per test; the "
            "result lists accepted, bug and rejected tests with the evidence to repair them."
        ),
        "input_schema": inline_refs(TestSuiteProposal.model_json_schema()),
    },
    {
        "name": FINISH,
        "description": "End the session with a short summary.",
        "input_schema": inline_refs(FinishInput.model_json_schema()),
    },
]


class ToolBox:
    """Dispatches the model's tool calls; reading is bounded so a model cannot loop forever."""

    def __init__(self, repo_tools: RepoTools, max_reads: int = 60) -> None:
        self.repo_tools = repo_tools
        self.max_reads = max_reads
        self.reads = 0
        self._specs = [*repo_tools.tool_specs(), *STEERING_SPECS]

    def specs(self) -> list[dict[str, Any]]:
        return self._specs

    def dispatch(self, name: str, input: Any) -> tuple[str, bool]:
        self.reads += 1
        if self.reads > self.max_reads:
            return (
                f"Reading limit reached ({self.max_reads} calls). Propose tests now with "
                f"`{PROPOSE}`, or call `{FINISH}`.",
                True,
            )
        return self.repo_tools.dispatch(name, input)
