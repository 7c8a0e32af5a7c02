"""AnthropicModel through the real `anthropic` client against our server on loopback."""

from __future__ import annotations

import copy
import email.utils
import itertools
import socket
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest

from agent.config import Price
from agent.models.anthropic import AnthropicModel, default_model, retry_after_seconds
from agent.models.base import ContextTooLong, Model, ModelError
from tests.fakes.anthropic_server import (
    AnthropicServer,
    Delay,
    Drop,
    Fault,
    StreamError,
    count_cache_breakpoints,
    message,
    text_message,
    tool_use_message,
)

MakeModel = Callable[..., AnthropicModel]

SYSTEM = "You write integration tests."
CONTEXT = "# Repository context\nshop/api.py imports shop/payments.py"
TOOLS: list[dict[str, Any]] = [
    {"name": "read_file", "description": "Read a file", "input_schema": {"type": "object"}},
    {"name": "propose_tests", "description": "Propose tests", "input_schema": {"type": "object"}},
]


def ask(model: AnthropicModel, messages: list[dict[str, Any]] | None = None, **kw: Any) -> Any:
    return model.complete(
        system=SYSTEM,
        messages=messages or [{"role": "user", "content": CONTEXT}],
        tools=TOOLS,
        max_tokens=kw.pop("max_tokens", 1024),
        **kw,
    )


def gaps(server: AnthropicServer) -> list[float]:
    times = [r.received_at for r in server.message_requests()]
    return [b - a for a, b in itertools.pairwise(times)]


# ---------------------------------------------------------------- answers


def test_is_a_model(make_model: MakeModel) -> None:
    assert isinstance(make_model(), Model)


def test_streamed_tool_input_arrives_intact(
    anthropic_server: AnthropicServer, make_model: MakeModel
) -> None:
    source = 'def test_pay():\n    assert charge("€5") == {"ok": True}\n' * 20
    proposal = {
        "files": [{"path": "tests/test_pay.py", "content": source, "tests": []}],
        "notes": 'quotes " and \\ and ünïcode',
    }
    anthropic_server.chunk_size = 7  # many small input_json_delta fragments
    anthropic_server.push(tool_use_message("propose_tests", proposal, text="Here they are."))

    response = ask(make_model())

    assert response.stop_reason == "tool_use"
    assert response.text() == "Here they are."
    (use,) = response.tool_uses()
    assert use["name"] == "propose_tests"
    assert use["input"] == proposal
    assert use["id"].startswith("toolu_")
    assert response.source == "anthropic"
    model_name = anthropic_server.message_requests()[0].body["model"]
    assert response.model == model_name == default_model()
    assert anthropic_server.message_requests()[0].stream is True


def test_text_answer_and_tool_result_round_trip(
    anthropic_server: AnthropicServer, make_model: MakeModel
) -> None:
    anthropic_server.push(tool_use_message("read_file", {"path": "shop/api.py"}))
    anthropic_server.push(text_message("The API calls payments."))
    model = make_model()
    messages: list[dict[str, Any]] = [{"role": "user", "content": CONTEXT}]

    first = ask(model, messages)
    messages.append({"role": "assistant", "content": first.content})
    use = first.tool_uses()[0]
    messages.append(
        {
            "role": "user",
            "content": [{"type": "tool_result", "tool_use_id": use["id"], "content": "code"}],
        }
    )
    second = ask(model, messages)

    assert second.text() == "The API calls payments."
    assert second.stop_reason == "end_turn"
    sent = anthropic_server.message_requests()[1].body["messages"]
    # What we returned goes back to the API exactly as the API produced it.
    assert sent[1]["content"][0] == {k: v for k, v in use.items() if k != "cache_control"}
    assert sent[2]["content"][0]["tool_use_id"] == use["id"]


@pytest.mark.parametrize("stop_reason", ["max_tokens", "refusal", "pause_turn"])
def test_stop_reason_is_kept(
    anthropic_server: AnthropicServer, make_model: MakeModel, stop_reason: str
) -> None:
    anthropic_server.push(text_message("partial answ", stop_reason=stop_reason))

    response = ask(make_model(), max_tokens=5)

    assert response.stop_reason == stop_reason
    assert response.text() == "partial answ"
    assert anthropic_server.message_requests()[0].body["max_tokens"] == 5


def test_thinking_blocks_come_back_whole(
    anthropic_server: AnthropicServer, make_model: MakeModel
) -> None:
    thinking = {"type": "thinking", "thinking": "The seam is shop.payments.", "signature": "c2ln"}
    anthropic_server.push(message([thinking, {"type": "text", "text": "ok"}]))

    response = ask(make_model())

    assert response.content == [thinking, {"type": "text", "text": "ok"}]


# ---------------------------------------------------------------- usage and cost


def test_usage_and_cost_are_exact(anthropic_server: AnthropicServer, make_model: MakeModel) -> None:
    anthropic_server.push(
        text_message(
            "one",
            usage={
                "input_tokens": 1_000_000,
                "output_tokens": 2_000,
                "cache_creation_input_tokens": 10_000,
                "cache_read_input_tokens": 123_457,
            },
        ),
        text_message(
            "two",
            usage={
                "input_tokens": 1,
                "output_tokens": 1,
                "cache_creation_input_tokens": 0,
                "cache_read_input_tokens": 1,
            },
        ),
    )
    model = make_model()

    first, second = ask(model), ask(model)

    assert first.usage.input_tokens == 1_000_000
    assert first.usage.output_tokens == 2_000
    assert first.usage.cache_creation_input_tokens == 10_000
    assert first.usage.cache_read_input_tokens == 123_457
    # $3 + $0.03 + $0.0375 + $0.0370371 at Sonnet list prices, to the last digit.
    assert first.cost_usd == Decimal("3.1045371")
    # $0.000003 + $0.000015 + $0.0000003: a float sum would not be exact.
    assert second.cost_usd == Decimal("0.0000183")
    assert isinstance(second.cost_usd, Decimal)
    total = first.usage + second.usage
    assert total.input_tokens == 1_000_001
    assert total.cache_read_input_tokens == 123_458
    assert first.cost_usd + second.cost_usd == Decimal("3.1045554")


# ---------------------------------------------------------------- prompt caching


def test_cache_breakpoints_on_the_stable_prefix_of_every_request(
    anthropic_server: AnthropicServer, make_model: MakeModel
) -> None:
    anthropic_server.push(
        tool_use_message("read_file", {"path": "a.py"}),
        tool_use_message("read_file", {"path": "b.py"}),
        text_message("done"),
    )
    model = make_model()
    tools = copy.deepcopy(TOOLS)
    messages: list[dict[str, Any]] = [
        {
            "role": "user",
            "content": [{"type": "text", "text": CONTEXT}, {"type": "text", "text": "Go"}],
        }
    ]
    for _ in range(3):
        before = (copy.deepcopy(messages), copy.deepcopy(tools))
        response = model.complete(system=SYSTEM, messages=messages, tools=tools, max_tokens=100)
        assert (messages, tools) == before  # the caller's lists are never touched
        if response.tool_uses():
            messages.append({"role": "assistant", "content": response.content})
            tool_id = response.tool_uses()[0]["id"]
            result = {"type": "tool_result", "tool_use_id": tool_id, "content": "x = 1"}
            messages.append({"role": "user", "content": [result]})

    requests = anthropic_server.message_requests()
    assert len(requests) == 3
    for request in requests:
        body = request.body
        assert body["system"] == [
            {"type": "text", "text": SYSTEM, "cache_control": {"type": "ephemeral"}}
        ]
        assert body["tools"][-1]["cache_control"] == {"type": "ephemeral"}
        assert all("cache_control" not in t for t in body["tools"][:-1])
        context = body["messages"][0]["content"][0]
        assert context["text"] == CONTEXT
        assert context["cache_control"] == {"type": "ephemeral"}
        assert count_cache_breakpoints(body) <= 4
    # Later turns also cache the conversation so far, on the newest block.
    last = requests[-1].body["messages"][-1]["content"][-1]
    assert last["type"] == "tool_result"
    assert last["cache_control"] == {"type": "ephemeral"}


def test_plain_string_context_becomes_a_cached_text_block(
    anthropic_server: AnthropicServer, make_model: MakeModel
) -> None:
    anthropic_server.push(text_message("ok"))
    messages = [{"role": "user", "content": CONTEXT}]

    ask(make_model(), messages)

    assert messages == [{"role": "user", "content": CONTEXT}]
    sent = anthropic_server.message_requests()[0].body["messages"][0]["content"]
    assert sent == [{"type": "text", "text": CONTEXT, "cache_control": {"type": "ephemeral"}}]


def test_callers_own_breakpoints_are_trimmed_to_the_api_limit(
    anthropic_server: AnthropicServer, make_model: MakeModel
) -> None:
    anthropic_server.push(text_message("ok"))
    marked = {"cache_control": {"type": "ephemeral"}}
    messages: list[dict[str, Any]] = [
        {"role": "user", "content": [{"type": "text", "text": CONTEXT}]},
        {"role": "assistant", "content": [{"type": "text", "text": "a", **marked}]},
        {"role": "user", "content": [{"type": "text", "text": "b", **marked}]},
        {"role": "assistant", "content": [{"type": "text", "text": "c", **marked}]},
        {"role": "user", "content": [{"type": "text", "text": "d", **marked}]},
    ]

    response = ask(make_model(), messages)  # the server answers 400 above four, as the API does

    assert response.text() == "ok"
    body = anthropic_server.message_requests()[0].body
    assert count_cache_breakpoints(body) == 4
    assert body["messages"][0]["content"][0]["cache_control"] == {"type": "ephemeral"}
    # The latest of the caller's markers survives: it covers the longest prefix.
    assert body["messages"][4]["content"][0]["cache_control"] == {"type": "ephemeral"}


# ---------------------------------------------------------------- retries


def test_429_honours_retry_after_seconds(
    anthropic_server: AnthropicServer, make_model: MakeModel
) -> None:
    anthropic_server.push(Fault(429, headers={"retry-after": "0.2"}), text_message("ok"))

    response = ask(make_model(backoff_base=0.0))

    assert response.text() == "ok"
    (gap,) = gaps(anthropic_server)
    assert gap >= 0.2


def test_429_honours_retry_after_ms_before_retry_after(
    anthropic_server: AnthropicServer, make_model: MakeModel
) -> None:
    headers = {"retry-after-ms": "150", "retry-after": "30"}
    anthropic_server.push(Fault(429, headers=headers), text_message("ok"))

    response = ask(make_model(backoff_base=0.0))

    assert response.text() == "ok"
    (gap,) = gaps(anthropic_server)
    assert 0.15 <= gap < 5


def test_429_without_retry_after_backs_off_exponentially(
    anthropic_server: AnthropicServer, make_model: MakeModel
) -> None:
    anthropic_server.push(Fault(429), Fault(429), text_message("ok"))

    response = ask(make_model(backoff_base=0.08))

    assert response.text() == "ok"
    first, second = gaps(anthropic_server)
    assert first >= 0.04  # at least half of 0.08 s
    assert second >= 0.08  # at least half of 0.16 s


@pytest.mark.parametrize("status", [500, 502, 503, 529])
def test_server_errors_are_retried(
    anthropic_server: AnthropicServer, make_model: MakeModel, status: int
) -> None:
    anthropic_server.push(Fault(status), text_message("recovered"))

    response = ask(make_model())

    assert response.text() == "recovered"
    assert len(anthropic_server.message_requests()) == 2


def test_gives_up_after_the_last_attempt_naming_the_failure(
    anthropic_server: AnthropicServer, make_model: MakeModel
) -> None:
    anthropic_server.push(*[Fault(529)] * 3)

    with pytest.raises(ModelError) as caught:
        ask(make_model(max_attempts=3))

    assert len(anthropic_server.message_requests()) == 3
    line = str(caught.value)
    assert "\n" not in line
    assert "after 3 attempts" in line
    assert "529 overloaded_error: Overloaded" in line


def test_stream_dropped_midway_is_retried(
    anthropic_server: AnthropicServer, make_model: MakeModel
) -> None:
    answer = tool_use_message("propose_tests", {"files": [{"path": "t.py", "content": "x" * 200}]})
    anthropic_server.push(Drop(after_events=6, message=answer), answer)

    response = ask(make_model())

    assert response.tool_uses()[0]["input"] == answer["content"][0]["input"]
    assert len(anthropic_server.message_requests()) == 2


def test_connection_dropped_before_any_response_is_retried(
    anthropic_server: AnthropicServer, make_model: MakeModel
) -> None:
    anthropic_server.push(Drop(), text_message("ok"))

    assert ask(make_model()).text() == "ok"
    assert len(anthropic_server.message_requests()) == 2


def test_overloaded_error_event_inside_the_stream_is_retried(
    anthropic_server: AnthropicServer, make_model: MakeModel
) -> None:
    anthropic_server.push(StreamError(after_events=3), text_message("ok"))

    assert ask(make_model()).text() == "ok"
    assert len(anthropic_server.message_requests()) == 2


def test_read_timeout_is_retried(anthropic_server: AnthropicServer, make_model: MakeModel) -> None:
    anthropic_server.push(Delay(1.0, text_message("too late")), text_message("in time"))

    assert ask(make_model(timeout=0.3)).text() == "in time"


def test_connection_refused_ends_in_one_line(price: Price) -> None:
    with socket.socket() as sock:  # a loopback port that nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    model = AnthropicModel(
        default_model(),
        api_key="sk-ant-test",
        base_url=f"http://127.0.0.1:{port}",
        price=price,
        max_attempts=2,
        backoff_base=0.01,
    )

    with pytest.raises(ModelError, match=r"after 2 attempts; last failure: connection failed"):
        ask(model)


# ---------------------------------------------------------------- errors that are not retried


def test_rejected_key_fails_at_once_with_a_clear_line(make_model: MakeModel) -> None:
    with AnthropicServer([text_message("never sent")], api_key="sk-ant-right") as server:
        model = make_model(api_key="sk-ant-wrong", base_url=server.base_url)

        with pytest.raises(ModelError) as caught:
            ask(model)

        assert len(server.message_requests()) == 1
    assert str(caught.value).startswith("the API key was rejected (401): check ANTHROPIC_API_KEY")
    assert "sk-ant-wrong" not in str(caught.value)


def test_forbidden_is_not_retried(anthropic_server: AnthropicServer, make_model: MakeModel) -> None:
    anthropic_server.push(Fault(403), text_message("never sent"))

    with pytest.raises(ModelError, match=r"rejected \(403\)"):
        ask(make_model())
    assert len(anthropic_server.message_requests()) == 1


def test_prompt_too_long_raises_context_too_long(
    anthropic_server: AnthropicServer, make_model: MakeModel
) -> None:
    anthropic_server.push(Fault(400, "prompt is too long: 210432 tokens > 200000 maximum"))

    with pytest.raises(ContextTooLong, match="210432 tokens > 200000 maximum"):
        ask(make_model())
    assert len(anthropic_server.message_requests()) == 1


def test_other_client_errors_carry_the_api_message(
    anthropic_server: AnthropicServer, make_model: MakeModel
) -> None:
    anthropic_server.push(Fault(404, "model: claude-nonexistent"))

    with pytest.raises(ModelError) as caught:
        ask(make_model())

    assert not isinstance(caught.value, ContextTooLong)
    assert "404 not_found_error" in str(caught.value)
    assert "model: claude-nonexistent" in str(caught.value)
    assert len(anthropic_server.message_requests()) == 1


# ---------------------------------------------------------------- retry-after parsing


def test_retry_after_as_an_http_date() -> None:
    now = 1_800_000_000.0
    date = email.utils.formatdate(now + 7, usegmt=True)

    assert retry_after_seconds({"retry-after": date}, now=now) == pytest.approx(7)
    assert retry_after_seconds({"retry-after": date}, now=now + 60) == 0.0


@pytest.mark.parametrize(
    ("headers", "seconds"),
    [
        ({"retry-after-ms": "250"}, 0.25),
        ({"retry-after": "3"}, 3.0),
        ({"retry-after-ms": "soon", "retry-after": "2"}, 2.0),
        ({"retry-after": "whenever"}, None),
        ({}, None),
    ],
)
def test_retry_after_headers(headers: dict[str, str], seconds: float | None) -> None:
    assert retry_after_seconds(headers) == seconds
