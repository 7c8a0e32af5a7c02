"""The tools the model gets: context on demand (read_file, search_code, get_symbol), and the two
that steer the run (propose_tests, finish). Schemas are generated from the Pydantic models.
"""

from __future__ import annotations

from copy import deepcopy
from pathlib import Path, PurePosixPath
from typing import Any

from pydantic import BaseModel, Field, ValidationError

from agent.context import RepoTools
from agent.quality.marks import bug_marked
from agent.schema import ProposedFile, TestSuiteProposal

PROPOSE = "propose_tests"
FINISH = "finish"
MAX_FILE_BYTES = 1_000_000  # a proposed test file larger than this is not run
NAME_MAX = 255  # bytes in one path component, on common filesystems


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
        """Run a context tool: (text, is_error). Never raises."""
        self.reads += 1
        names = [spec["name"] for spec in self._specs]
        if not isinstance(name, str) or name not in names:
            return f"error: there is no tool {name!r}; the tools are {', '.join(names)}", True
        if self.reads > self.max_reads:
            return (
                f"Reading limit reached ({self.max_reads} calls). Propose tests now with "
                f"`{PROPOSE}`, or call `{FINISH}`.",
                True,
            )
        return self.repo_tools.dispatch(name, input)

    def proposal(self, input: Any) -> list[ProposedFile] | str:
        """The files of a `propose_tests` call, or why none of it can be run."""
        return proposal_files(input, self.repo_tools.root)


def proposal_files(input: Any, repo: Path) -> list[ProposedFile] | str:
    """The proposed files (tests expected to fail marked strict xfail), or the problems to fix.

    What the gates judge is left to them; refused here is what cannot or must not be run at
    all: schema errors, oversized or non-UTF-8 content, paths no file can be created at.
    """
    try:
        proposal = TestSuiteProposal.model_validate(input)
    except ValidationError as exc:
        return f"The proposal does not match the schema; fix it and call again:\n{exc}"
    problems: list[str] = []
    seen: set[str] = set()
    for file in proposal.files:
        problem = _path_problem(file.path, repo, seen) or _content_problem(file)
        if problem:
            problems.append(f"- {problem}")
        seen.add(file.path)
    if problems:
        return "Nothing in this proposal was run; fix it and call again:\n" + "\n".join(problems)
    return [_with_bug_marks(f) for f in proposal.files]


def _path_problem(path: str, repo: Path, seen: set[str]) -> str | None:
    pure = PurePosixPath(path)
    if path in seen:
        return f"{path!r} is proposed twice; send each file once"
    if any(ord(c) < 32 or 0xD800 <= ord(c) <= 0xDFFF for c in path):
        return f"{path!r} contains control characters or is not valid UTF-8"
    if pure.as_posix() != path:
        return f"write {path!r} as {pure.as_posix()!r}"
    if ".git" in pure.parts:
        return f"{path!r} is inside .git, which is off limits"
    if any(len(part.encode("utf-8")) > NAME_MAX for part in pure.parts):
        return f"{path!r} has a name longer than {NAME_MAX} bytes"
    if pure.is_absolute() or ".." in pure.parts:
        return None  # the path gate rejects it, with the reason in the verdict
    for parent in reversed(pure.parents[:-1]):
        if (repo / parent).exists() and not (repo / parent).is_dir():
            return f"{parent.as_posix()!r} is a file, so {path!r} cannot be created"
    return None


def _content_problem(file: ProposedFile) -> str | None:
    try:
        size = len(file.content.encode("utf-8"))
    except UnicodeEncodeError as exc:
        return f"{file.path!r} is not valid UTF-8 text (character {exc.start})"
    if size > MAX_FILE_BYTES:
        return f"{file.path!r} is {size:,} bytes; a test file may be at most {MAX_FILE_BYTES:,}"
    if "\0" in file.content:
        return f"{file.path!r} contains NUL characters; a test file is plain text"
    return None


def _with_bug_marks(file: ProposedFile) -> ProposedFile:
    """Tests that document a defect are kept as strict xfails: judged and written with the mark."""
    marked = bug_marked(file)
    return file if marked == file.content else file.model_copy(update={"content": marked})
