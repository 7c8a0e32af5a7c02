"""`itarch mcp`: the core's `context`, `check` and reports as MCP tools, served over stdio.

Claude Code (or any MCP client) starts this server in the repository it works on. Inputs and
outputs are the same Pydantic models the CLI's `--json` prints, so tools return structured content
with a published output schema. A user error comes back as a tool error with one clear line.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, TypeVar

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import CallToolResult, TextContent
from pydantic import Field

from agent import __version__
from agent.config import load_settings
from agent.context import build_context, render_context
from agent.errors import UserError  # the base of every error a user can cause
from agent.journal import RUNS_DIR, Journal
from agent.log import get_logger
from agent.pipeline import check as run_check
from agent.pytest_files import resolve_test_files
from agent.review import review as run_review
from agent.review.model import ReviewResult
from agent.schema import CheckResult, Context, Report

log = get_logger(__name__)
T = TypeVar("T")

SERVER_NAME = "itarch"
# Claude Code cuts MCP tool output at 25,000 tokens by default, and a Context as JSON runs about a
# third larger than its rendered estimate: this default keeps a whole context inside that limit.
MCP_CONTEXT_TOKENS = 16_000
INSTRUCTIONS = (
    "itarch grounds and judges integration tests for this Python repository. Call `context` "
    "with the base ref of the change to get the diff, the seams it touches, the repository map, "
    "existing tests and conventions; write test files; call `check` with their paths and the "
    "same base to get a verdict per test (accepted, bug, or rejected with evidence); repair until "
    "every test is accepted or documents a bug. `read_report` returns the report of an "
    "`itarch generate` run. `review` shows how well the existing tests cover modules: the seams "
    "and error paths no test executes, and the weak tests."
)


def context_budget(configured: int) -> int:
    """The token budget `context` uses when the caller gives none."""
    return min(configured, MCP_CONTEXT_TOKENS)


def _started(journal: Path) -> float:
    """When a run started: the time of its first event (run ids only resolve to the second)."""
    try:
        with journal.open(encoding="utf-8") as lines:
            return float(json.loads(lines.readline())["t"])
    except (OSError, ValueError, KeyError, TypeError):
        return journal.stat().st_mtime if journal.exists() else 0.0


def find_report(repo: Path, run_id: str | None = None) -> Report:
    """The Report of a run (or of the newest run that has one) from its journal."""
    root = repo / RUNS_DIR
    runs = sorted(root.glob("*/events.jsonl"), key=_started, reverse=True) if root.is_dir() else []
    if run_id:
        runs = [p for p in runs if p.parent.name == run_id]
        if not runs:
            raise ToolError(f"no run {run_id!r} in {root}")
    for path in runs:
        reports = Journal(path).events("report")
        if reports:
            return Report.model_validate(reports[-1]["report"])
        if run_id:
            raise ToolError(f"run {run_id!r} has no report (still running, or it was interrupted)")
    raise ToolError(f"no finished itarch run in {root}")


class Tools:
    """The tool bodies, bound to one repository.

    One call at a time: loading settings is not thread-safe and sandbox runs are heavy. Settings
    are read per call, so an edit to pyproject.toml applies without restarting the server.
    """

    def __init__(self, repo: Path, *, python: str | None = None) -> None:
        self.repo = repo
        self.python = python
        self._lock = threading.Lock()

    def _run(self, tool: str, body: Callable[[], T]) -> T:
        with self._lock:
            log.info("mcp tool", tool=tool, repo=str(self.repo))
            try:
                return body()
            except ToolError:
                raise
            except UserError as exc:  # a bad ref, a missing file, bad config: one clear line
                raise ToolError(str(exc)) from None
            except Exception as exc:  # the traceback goes to the log, one line to the client
                log.exception("mcp tool failed", tool=tool)
                raise ToolError(f"itarch {tool} failed: {type(exc).__name__}: {exc}") from None

    def context(
        self, base: str | None, modules: list[str] | None, budget_tokens: int | None
    ) -> CallToolResult:
        def body() -> CallToolResult:
            settings = load_settings(self.repo, python=self.python)
            ctx = build_context(
                self.repo,
                base=base,
                modules=modules or None,
                budget_tokens=budget_tokens or context_budget(settings.context_tokens),
                tests_root=settings.tests_root,
                python=settings.python,
            )
            # Clients that show text get what `itarch context` prints; clients that read
            # structured content (Claude Code does) get the Context itself.
            return CallToolResult(
                content=[TextContent(type="text", text=render_context(ctx))],
                structured_content=ctx.model_dump(mode="json"),
            )

        return self._run("context", body)

    def check(self, files: list[str], base: str | None) -> CheckResult:
        def body() -> CheckResult:
            if not files:
                raise ToolError("give at least one test file to check")
            settings = load_settings(self.repo, python=self.python)
            # Relative paths are the repository's, whatever the server's working directory is;
            # a folder stands for the test files pytest would collect in it.
            paths = resolve_test_files(
                [Path(f) for f in files], repo=self.repo, repo_given=True, cwd=self.repo
            )
            return run_check(self.repo, [str(p) for p in paths], settings=settings, base=base)

        return self._run("check", body)

    def read_report(self, run_id: str | None) -> Report:
        return self._run("read_report", lambda: find_report(self.repo, run_id))

    def review(self, modules: list[str] | None, mutation: bool) -> ReviewResult:
        def body() -> ReviewResult:
            settings = load_settings(self.repo, python=self.python)
            return run_review(self.repo, settings=settings, modules=modules, mutation=mutation)

        return self._run("review", body)


def build_server(repo: Path, *, python: str | None = None) -> MCPServer:
    tools = Tools(repo, python=python)
    server: MCPServer = MCPServer(
        name=SERVER_NAME, instructions=INSTRUCTIONS, version=__version__, log_level="WARNING"
    )

    @server.tool(
        name="context",
        description=(
            "What a change touches: diff, changed files, seams (integration points, with ids), "
            "repository map, existing tests and test conventions (including the coding-standards "
            "file). Same as `itarch context --base REF`."
        ),
    )
    def context(
        base: Annotated[
            str | None, Field(description="Git ref the change is measured from, e.g. main.")
        ] = None,
        modules: Annotated[
            list[str] | None, Field(description="Dotted module names to focus on instead.")
        ] = None,
        budget_tokens: Annotated[
            int | None,
            Field(
                description=f"Token budget for the context (default {MCP_CONTEXT_TOKENS:,}).",
                ge=1000,
            ),
        ] = None,
    ) -> Annotated[CallToolResult, Context]:
        return tools.context(base, modules, budget_tokens)

    @server.tool(
        name="check",
        description=(
            "Judge test files in the sandbox through every gate, without a model: per test "
            "'accepted', 'bug' (a strict xfail that fails on an assertion) or 'rejected' with a "
            "reason and evidence. With a base, each test also runs on the base revision: "
            "`on_base` says how it ended there and `detects_change` whether it would have "
            "failed before the change (false: it only guards). "
            "Same as `itarch check FILES --base REF --json`."
        ),
    )
    def check(
        files: Annotated[
            list[str],
            Field(description="Test files (or folders of them), relative to the repository root."),
        ],
        base: Annotated[
            str | None, Field(description="Judge coverage of the change from this git ref.")
        ] = None,
    ) -> CheckResult:
        return tools.check(files, base)

    @server.tool(
        name="read_report",
        description="The report of an `itarch generate` run: the given run id, or the newest.",
    )
    def read_report(
        run_id: Annotated[
            str | None, Field(description="A run id under .itarch/runs/; omit for the newest.")
        ] = None,
    ) -> Report:
        return tools.read_report(run_id)

    @server.tool(
        name="review",
        description=(
            "How well the existing tests cover modules, from what they execute: per module its "
            "seams and the tests that execute each, the untested seams and public functions "
            "(most code first), the error paths no test takes, and the weak tests (no "
            "assertions, flaky, order dependent, side effects, redundant; with mutation, tests "
            "that kill none of their seam's mutants). Same as `itarch review --json`."
        ),
    )
    def review(
        modules: Annotated[
            list[str] | None,
            Field(description="Dotted module names or source paths; omit for the whole project."),
        ] = None,
        mutation: Annotated[
            bool, Field(description="Also run mutants of the tested seams (slower).")
        ] = False,
    ) -> ReviewResult:
        return tools.review(modules, mutation)

    return server


def serve(repo: Path, *, python: str | None = None) -> None:
    """Serve until the client closes stdin (stdout carries the protocol; logs go to stderr)."""
    build_server(repo, python=python).run("stdio")


def tool_names(server: MCPServer) -> list[str]:
    """The names the server exposes (Claude Code calls them `mcp__itarch__<name>`)."""
    import anyio

    async def names() -> list[str]:
        return [t.name for t in await server.list_tools()]

    return anyio.run(names)
