"""API faults through the real client driving the real loop, over loopback HTTP.

Transient failures are retried and the run completes; a rejected key stops at once with one
clear line; a prompt that is too long is trimmed and asked once more; budgets hold to within
one request; what was spent is reported whatever ended the run.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from agent.demo.shop import ShopRepo
from agent.models.anthropic import cost_usd
from agent.pipeline import generate
from agent.schema import Usage
from tests.conftest import tree_state
from tests.fakes.anthropic_server import (
    AnthropicServer,
    Delay,
    Drop,
    Fault,
    ScriptItem,
    StreamError,
    tool_use_message,
)
from tests.reliability.support import (
    MODEL,
    claude,
    fast_settings,
    itarch_env,
    journals,
    kinds,
    read_events,
    run_itarch,
)

USAGE = {"input_tokens": 3_000, "output_tokens": 500}
READ = tool_use_message("read_file", {"path": "shop/payments.py"}, usage=USAGE)
FINISH = tool_use_message("finish", {"summary": "done"}, usage=USAGE)
TOO_LONG = "prompt is too long: 212000 tokens > 200000 maximum"


def spent(turns: int, shop: ShopRepo) -> Decimal:
    """What `turns` answers of USAGE cost at the configured price."""
    return turns * cost_usd(Usage(**USAGE), fast_settings(shop.path).price_for(MODEL))


def test_transient_faults_are_retried_and_the_run_completes(shop: ShopRepo) -> None:
    wait = 0.3
    script: list[ScriptItem] = [
        Fault(429, headers={"retry-after": str(wait)}),
        Fault(429),  # no retry-after: exponential backoff
        READ,
        Fault(529),
        Fault(500),
        Delay(3.0, READ),  # slower than the client's timeout
        READ,
        Drop(after_events=4, message=FINISH),  # the connection goes mid-stream
        StreamError(after_events=3, reply=FINISH),  # overloaded_error inside a 200 stream
        FINISH,
    ]
    before = tree_state(shop.path)
    settings = fast_settings(shop.path)
    with AnthropicServer(script) as server:
        model = claude(server, settings, timeout=0.5, max_attempts=5)
        report = generate(shop.path, settings=settings, model=model, base=shop.base)
        requests = server.message_requests()
    assert report.stopped_by == "finish" and report.iterations == 3
    assert len(requests) == len(script)
    # A retry sends the very same request; each turn's answer is journaled once.
    for first, last in [(0, 2), (3, 6), (7, 9)]:
        assert all(r.body == requests[first].body for r in requests[first : last + 1])
    assert requests[1].received_at - requests[0].received_at >= wait  # retry-after honoured
    [journal] = journals(shop.path)
    assert kinds(journal).count("response") == 3
    assert report.cost_usd == spent(3, shop)  # failed attempts cost nothing
    assert tree_state(shop.path) == before


@pytest.mark.parametrize(
    ("failure", "attempts", "said"),
    [
        ([Fault(401)], 1, "the API key was rejected (401)"),
        ([Fault(500)] * 3, 3, "after 3 attempts"),
    ],
    ids=["401 is not retried", "500 until the attempts run out"],
)
def test_a_failed_run_still_reports_what_it_spent(
    shop: ShopRepo, failure: list[ScriptItem], attempts: int, said: str
) -> None:
    settings = fast_settings(shop.path)
    with AnthropicServer([READ, *failure]) as server:
        model = claude(server, settings, max_attempts=3)
        report = generate(shop.path, settings=settings, model=model, base=shop.base)
        requests = server.message_requests()
    assert len(requests) == 1 + attempts
    assert report.stopped_by == "model_error" and said in report.message
    assert report.iterations == 1 and report.cost_usd == spent(1, shop) > 0
    [journal] = journals(shop.path)
    events = read_events(journal)
    assert [e["error"] for e in events if e["kind"] == "model_error"] == [report.message]
    assert Decimal(events[-1]["report"]["cost_usd"]) == report.cost_usd


def test_rejected_key_ends_the_cli_with_one_line_and_the_cost_so_far(
    shop: ShopRepo, tmp_path: Any
) -> None:
    with AnthropicServer([READ, Fault(401)]) as server:
        done = run_itarch(
            shop.path, itarch_env(server, tmp_path / "tmp"), "generate", "--base", shop.base
        )
        asked = len(server.message_requests())
    assert done.returncode == 1 and asked == 2
    [line] = done.stderr.strip().splitlines()
    assert line.startswith("itarch: error: the API key was rejected (401)")
    assert "ANTHROPIC_API_KEY" in line and "Traceback" not in done.stdout + done.stderr
    assert f"${spent(1, shop):.4f}" in done.stdout and "stopped by model_error" in done.stdout
    [journal] = journals(shop.path)
    assert kinds(journal)[-2:] == ["model_error", "report"]


def test_a_prompt_too_long_is_trimmed_and_asked_once_more(shop: ShopRepo) -> None:
    settings = fast_settings(shop.path)
    with AnthropicServer([Fault(400, TOO_LONG), FINISH]) as server:
        report = generate(
            shop.path, settings=settings, model=claude(server, settings), base=shop.base
        )
        first, second = server.message_requests()
    assert report.stopped_by == "finish"

    def context_of(body: dict[str, Any]) -> str:
        block: str = body["messages"][0]["content"][0]["text"]
        return block

    assert len(context_of(second.body)) < len(context_of(first.body))
    assert second.body["messages"][0]["content"][1:] == first.body["messages"][0]["content"][1:]
    [journal] = journals(shop.path)
    assert kinds(journal).count("context_shrunk") == 1


def test_a_prompt_still_too_long_after_trimming_ends_the_run(shop: ShopRepo) -> None:
    settings = fast_settings(shop.path)
    with AnthropicServer([Fault(400, TOO_LONG)] * 3) as server:
        report = generate(
            shop.path, settings=settings, model=claude(server, settings), base=shop.base
        )
        asked = len(server.message_requests())
    assert asked == 2  # trimmed once, never again
    assert report.stopped_by == "model_error" and "too long" in report.message


@pytest.mark.parametrize("budget", ["tokens", "dollars"])
def test_budgets_are_never_exceeded_by_more_than_one_request(shop: ShopRepo, budget: str) -> None:
    per_request: Any = Usage(**USAGE).total if budget == "tokens" else spent(1, shop)
    limit = per_request * 5 / 2  # two requests fit, the third goes over
    settings = fast_settings(shop.path, **{budget: limit})
    with AnthropicServer(respond=lambda request: READ) as server:
        report = generate(
            shop.path, settings=settings, model=claude(server, settings), base=shop.base
        )
        asked = len(server.message_requests())
    used = report.usage.total if budget == "tokens" else report.cost_usd
    assert report.stopped_by == budget and asked == 3
    assert used - per_request < limit <= used  # the last request started under the limit
