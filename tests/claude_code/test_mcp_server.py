"""`itarch mcp` as Claude Code meets it: a real server process, spoken to with the MCP client SDK
over stdio, on the example shop built as a git repository."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Awaitable, Callable
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

import anyio
from mcp import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client
from mcp.types import CallToolResult, TextContent

from agent.claude_code.mcp_server import context_budget
from agent.config import load_settings
from agent.context import build_context, render_context
from agent.demo.shop import ShopRepo
from agent.journal import Journal
from agent.review.model import ReviewResult
from agent.schema import (
    AcceptedFile,
    CheckResult,
    Context,
    FileVerdict,
    IsolationLevel,
    Report,
)
from agent.schema import TestVerdict as Verdict  # aliased: pytest would try to collect Test*

T = TypeVar("T")

# Judging stays real but quick: one flakiness rerun, no mutants (the gates' tests cover those).
FAST_GATES = {"ITARCH_RERUNS": "1", "ITARCH_MUTATION": "false"}

DISCOUNT_TEST = '''\
"""A discount code given over HTTP is priced into the stored order."""


def login(client):
    token = client.post("/login", json={"username": "alice", "password": "wonderland"})
    return {"Authorization": f"Bearer {token.get_json()['token']}"}


def test_discount_code_is_applied_and_stored(client):
    headers = login(client)
    created = client.post(
        "/orders",
        json={"items": [{"sku": "WIDGET", "quantity": 2}], "discount_code": "SAVE10"},
        headers=headers,
    )
    assert created.status_code == 201
    order = created.get_json()
    assert (order["subtotal"], order["discount"], order["total"]) == ("50.00", "5.00", "45.00")
    stored = client.get(f"/orders/{order['id']}", headers=headers).get_json()
    assert stored["discount_code"] == "SAVE10" and stored["total"] == "45.00"


def test_unknown_discount_code_is_not_found(client):
    created = client.post(
        "/orders",
        json={"items": [{"sku": "WIDGET", "quantity": 1}], "discount_code": "NOPE"},
        headers=login(client),
    )
    assert created.status_code == 404
'''


def server_params(repo: Path, *, via_cwd: bool = False) -> StdioServerParameters:
    """The server as `.mcp.json` starts it: this interpreter's itarch, `mcp`, in the repo."""
    repo_args = [] if via_cwd else ["--repo", str(repo)]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ANTHROPIC_", "ITARCH_"))}
    return StdioServerParameters(
        command=sys.executable,
        args=["-m", "agent.cli.main", *repo_args, "mcp"],
        env=env | FAST_GATES,
        cwd=repo if via_cwd else Path.cwd(),
    )


def with_session(params: StdioServerParameters, talk: Callable[[ClientSession], Awaitable[T]]) -> T:
    async def main() -> T:
        async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
            await session.initialize()
            return await talk(session)

    return anyio.run(main)


def call(repo: Path, tool: str, arguments: dict[str, Any], **kw: Any) -> CallToolResult:
    async def talk(session: ClientSession) -> CallToolResult:
        return await session.call_tool(tool, arguments)

    return with_session(server_params(repo, **kw), talk)


def text_of(result: CallToolResult) -> str:
    return "\n".join(b.text for b in result.content if isinstance(b, TextContent))


def assert_one_line_tool_error(result: CallToolResult, fragment: str) -> None:
    assert result.is_error
    message = text_of(result)
    assert fragment in message
    assert "\n" not in message.strip() and "Traceback" not in message


def test_serves_context_check_and_read_report_with_typed_schemas(shop: ShopRepo) -> None:
    async def talk(session: ClientSession) -> dict[str, Any]:
        return {t.name: t for t in (await session.list_tools()).tools}

    tools = with_session(server_params(shop.path), talk)

    assert set(tools) == {"context", "check", "read_report", "review"}
    assert tools["check"].input_schema["required"] == ["files"]
    assert set(tools["context"].input_schema["properties"]) >= {"base", "modules"}
    # Output schemas are the Pydantic models' own, so clients can rely on the JSON shapes.
    outputs = {name: tool.output_schema or {} for name, tool in tools.items()}
    assert set(outputs["context"]["properties"]) == set(Context.model_fields)
    assert set(outputs["check"]["properties"]) == set(CheckResult.model_fields)
    assert set(outputs["read_report"]["properties"]) == set(Report.model_fields)
    assert set(outputs["review"]["properties"]) == set(ReviewResult.model_fields)


def test_context_is_the_change_seen_from_the_servers_working_directory(shop: ShopRepo) -> None:
    async def talk(session: ClientSession) -> list[CallToolResult]:
        return [
            await session.call_tool("context", {"base": shop.base}),
            await session.call_tool("context", {"base": shop.base, "budget_tokens": 4000}),
        ]

    result, small = with_session(server_params(shop.path, via_cwd=True), talk)

    assert not result.is_error, text_of(result)
    ctx = Context.model_validate(result.structured_content)
    settings = load_settings(shop.path)
    expected = build_context(
        shop.path,
        base=shop.base,
        budget_tokens=context_budget(settings.context_tokens),
        tests_root=settings.tests_root,
    )
    assert ctx.model_dump(exclude={"repo"}) == expected.model_dump(exclude={"repo"})
    assert Path(ctx.repo).resolve() == shop.path
    assert {"shop/orders.py", "shop/api.py"} <= {c.path for c in ctx.changed}
    assert any(seam.changed for seam in ctx.seams)
    # Clients that show text get the same rendering `itarch context` prints.
    assert text_of(result) == render_context(ctx)
    # A caller's budget is honoured: the context is trimmed, and says what it dropped.
    trimmed = Context.model_validate(small.structured_content)
    assert trimmed.tokens <= 4000 < ctx.tokens and trimmed.dropped


def test_the_server_takes_repo_and_python_after_mcp(shop: ShopRepo, tmp_path: Path) -> None:
    """As a `.mcp.json` entry writes it: `"args": ["mcp", "--repo", ..., "--python", ...]`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ANTHROPIC_", "ITARCH_"))}
    params = StdioServerParameters(
        command=str(Path(sys.executable).parent / "itarch"),
        args=["mcp", "--repo", str(shop.path), "--python", sys.executable],
        env=env | FAST_GATES,
        cwd=tmp_path,
    )

    async def talk(session: ClientSession) -> CallToolResult:
        return await session.call_tool("check", {"files": ["tests/integration"]})

    result = with_session(params, talk)

    assert not result.is_error, text_of(result)
    checked = CheckResult.model_validate(result.structured_content)
    # A folder is the test files in it, relative to the repository given after `mcp`.
    assert [f.path for f in checked.files] == ["tests/integration/test_order_placement.py"]


def test_check_judges_the_files_it_is_given(shop: ShopRepo) -> None:
    path = "tests/integration/test_discount_over_http.py"
    (shop.path / path).write_text(DISCOUNT_TEST, encoding="utf-8")

    result = call(shop.path, "check", {"files": [path], "base": shop.base})

    assert not result.is_error, text_of(result)
    checked = CheckResult.model_validate(result.structured_content)
    assert CheckResult.model_validate_json(text_of(result)) == checked
    [judged] = checked.files
    assert judged.path == path
    verdicts = {t.nodeid.rsplit("::", 1)[-1]: t for t in judged.tests}
    assert verdicts["test_discount_code_is_applied_and_stored"].verdict == "accepted"
    wrong = verdicts["test_unknown_discount_code_is_not_found"]
    assert wrong.verdict == "rejected"
    assert wrong.reason is not None and wrong.reason.value == "fails"
    assert "404" in wrong.feedback + wrong.detail


def test_user_errors_come_back_as_one_line_tool_errors(shop: ShopRepo) -> None:
    async def talk(session: ClientSession) -> list[CallToolResult]:
        return [
            await session.call_tool("check", {"files": ["tests/integration/test_nowhere.py"]}),
            await session.call_tool("context", {"base": "no-such-branch"}),
            await session.call_tool("context", {"base": shop.base}),  # the server is still fine
        ]

    missing, bad_ref, after = with_session(server_params(shop.path), talk)

    assert_one_line_tool_error(missing, "no such test file: tests/integration/test_nowhere.py")
    assert_one_line_tool_error(bad_ref, "no-such-branch")
    assert not after.is_error and Context.model_validate(after.structured_content).seams


def _journal_report(repo: Path, *, total: str, with_report: bool = True) -> str:
    journal = Journal.create(repo)
    journal.append("run_started", repo=str(repo), base=None, modules=None, model="claude-test")
    if with_report:
        verdict = Verdict(nodeid="tests/integration/test_a.py::test_a", verdict="accepted")
        report = Report(
            run_id=journal.run_id,
            repo=str(repo),
            model="claude-test",
            model_source="scripted",
            isolation=IsolationLevel.PROCESS,
            stopped_by="all_accepted",
            accepted=[AcceptedFile(path="tests/integration/test_a.py", content="# a\n")],
            verdicts=[FileVerdict(path="tests/integration/test_a.py", tests=[verdict])],
            cost_usd=Decimal(total),
        )
        journal.append("report", report=report)
    return journal.run_id


def test_read_report_returns_a_runs_report_from_the_journal(shop: ShopRepo) -> None:
    first = _journal_report(shop.path, total="0.25")
    second = _journal_report(shop.path, total="0.50")
    _journal_report(shop.path, total="0", with_report=False)  # the newest run is still going

    async def talk(session: ClientSession) -> list[CallToolResult]:
        return [
            await session.call_tool("read_report", {}),
            await session.call_tool("read_report", {"run_id": first}),
            await session.call_tool("read_report", {"run_id": "19990101-000000-abcdef"}),
        ]

    latest, named, unknown = with_session(server_params(shop.path), talk)

    assert Report.model_validate(latest.structured_content).run_id == second
    report = Report.model_validate(named.structured_content)
    assert (report.run_id, report.cost_usd) == (first, Decimal("0.25"))
    assert report.verdicts[0].tests[0].verdict == "accepted"
    assert json.loads(text_of(named))["run_id"] == first
    assert_one_line_tool_error(unknown, "no run '19990101-000000-abcdef'")
