"""The loopback Anthropic server speaks the API's wire format (checked with plain HTTP)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from tests.fakes.anthropic_server import (
    AnthropicServer,
    Drop,
    RecordedRequest,
    text_message,
    tool_use_message,
)

REQUEST: dict[str, Any] = {
    "model": "claude-test-1",
    "max_tokens": 64,
    "messages": [{"role": "user", "content": "hello"}],
}


@pytest.fixture(scope="module")
def http() -> Iterator[httpx.Client]:
    # Loopback only: never route through a proxy configured in the environment.
    with httpx.Client(trust_env=False, timeout=10) as client:
        yield client


def read_sse(response: httpx.Response) -> list[tuple[str, dict[str, Any]]]:
    events = []
    for chunk in response.text.split("\n\n"):
        if not chunk.strip():
            continue
        lines = dict(line.split(": ", 1) for line in chunk.splitlines())
        events.append((lines["event"], json.loads(lines["data"])))
    return events


def test_streaming_sends_the_api_event_sequence(
    anthropic_server: AnthropicServer, http: httpx.Client
) -> None:
    anthropic_server.chunk_size = 4
    anthropic_server.push(
        tool_use_message("read_file", {"path": "shop/api.py"}, text="Reading it.")
    )

    response = http.post(
        f"{anthropic_server.base_url}/v1/messages", json={**REQUEST, "stream": True}
    )

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    assert response.headers["request-id"].startswith("req_01")
    events = read_sse(response)
    names = [name for name, _ in events]
    assert names[0] == "message_start"
    assert names[-2:] == ["message_delta", "message_stop"]
    assert "ping" in names
    assert all(data["type"] == name for name, data in events)
    start = events[0][1]["message"]
    assert start["id"].startswith("msg_01")
    assert (start["type"], start["role"], start["model"]) == (
        "message",
        "assistant",
        "claude-test-1",
    )
    assert start["content"] == [] and start["stop_reason"] is None
    assert set(start["usage"]) >= {
        "input_tokens",
        "output_tokens",
        "cache_creation_input_tokens",
        "cache_read_input_tokens",
    }
    blocks = [d["content_block"] for n, d in events if n == "content_block_start"]
    assert blocks[0] == {"type": "text", "text": ""}
    assert blocks[1]["type"] == "tool_use" and blocks[1]["input"] == {}
    deltas = [d for n, d in events if n == "content_block_delta"]
    text = "".join(d["delta"]["text"] for d in deltas if d["index"] == 0)
    partial = "".join(d["delta"]["partial_json"] for d in deltas if d["index"] == 1)
    assert text == "Reading it."
    assert json.loads(partial) == {"path": "shop/api.py"}
    assert [d["index"] for n, d in events if n == "content_block_stop"] == [0, 1]
    delta = events[-2][1]
    assert delta["delta"]["stop_reason"] == "tool_use"
    assert delta["usage"]["output_tokens"] >= 1


def test_non_streaming_answers_one_json_message(
    anthropic_server: AnthropicServer, http: httpx.Client
) -> None:
    anthropic_server.push(text_message("hi", usage={"input_tokens": 7, "output_tokens": 2}))

    response = http.post(f"{anthropic_server.base_url}/v1/messages", json=REQUEST)

    assert response.status_code == 200
    body = response.json()
    assert body["type"] == "message" and body["role"] == "assistant"
    assert body["content"] == [{"type": "text", "text": "hi"}]
    assert body["stop_reason"] == "end_turn"
    assert body["usage"]["input_tokens"] == 7
    assert body["usage"]["output_tokens"] == 2
    assert body["usage"]["cache_read_input_tokens"] == 0


def test_models_and_count_tokens(anthropic_server: AnthropicServer, http: httpx.Client) -> None:
    base = anthropic_server.base_url
    listing = http.get(f"{base}/v1/models").json()
    first = listing["data"][0]["id"]

    one = http.get(f"{base}/v1/models/{first}")
    missing = http.get(f"{base}/v1/models/claude-nope")
    counted = http.post(f"{base}/v1/messages/count_tokens?beta=true", json=REQUEST)

    assert [m["id"] for m in listing["data"]] == anthropic_server.models
    assert listing["has_more"] is False and listing["first_id"] == first
    assert one.json()["type"] == "model" and one.json()["id"] == first
    assert missing.status_code == 404
    assert missing.json()["error"]["type"] == "not_found_error"
    assert counted.status_code == 200
    assert counted.json()["input_tokens"] >= 1
    assert anthropic_server.pending == 0  # none of these consumed a scripted reply


@pytest.mark.parametrize(
    ("method", "path"), [("POST", "/api/event_logging/batch"), ("GET", "/"), ("DELETE", "/v1/x")]
)
def test_unknown_endpoints_are_a_clean_404(
    anthropic_server: AnthropicServer, method: str, path: str, http: httpx.Client
) -> None:
    response = http.request(method, f"{anthropic_server.base_url}{path}", json={})

    assert response.status_code == 404
    body = response.json()
    assert body["type"] == "error"
    assert body["error"]["type"] == "not_found_error"
    assert body["request_id"] == response.headers["request-id"]


def test_rejects_more_than_four_cache_breakpoints_like_the_api(
    anthropic_server: AnthropicServer, http: httpx.Client
) -> None:
    block = {"type": "text", "text": "x", "cache_control": {"type": "ephemeral"}}
    body = {**REQUEST, "messages": [{"role": "user", "content": [block] * 5}]}

    response = http.post(f"{anthropic_server.base_url}/v1/messages", json=body)

    assert response.status_code == 400
    assert response.json()["error"]["message"].endswith("Found 5.")


def test_missing_field_and_empty_script_are_clear_errors(
    anthropic_server: AnthropicServer, http: httpx.Client
) -> None:
    url = f"{anthropic_server.base_url}/v1/messages"
    no_max = http.post(url, json={k: v for k, v in REQUEST.items() if k != "max_tokens"})
    unscripted = http.post(url, json=REQUEST)

    assert no_max.status_code == 400
    assert no_max.json()["error"]["message"] == "max_tokens: Field required"
    assert unscripted.status_code == 400
    assert "no reply left" in unscripted.json()["error"]["message"]


def test_records_requests_and_answers_with_a_function_of_the_request(http: httpx.Client) -> None:
    def echo(request: RecordedRequest) -> dict[str, Any]:
        return text_message(f"you said {request.body['messages'][-1]['content']}")

    with AnthropicServer(respond=echo) as server:
        response = http.post(
            f"{server.base_url}/v1/messages",
            json=REQUEST,
            headers={"x-api-key": "sk-ant-test", "anthropic-version": "2023-06-01"},
        )

    assert response.json()["content"][0]["text"] == "you said hello"
    (recorded,) = server.requests
    assert (recorded.method, recorded.path) == ("POST", "/v1/messages")
    assert recorded.headers["x-api-key"] == "sk-ant-test"
    assert recorded.headers["anthropic-version"] == "2023-06-01"
    assert recorded.body == REQUEST


def test_serves_concurrent_streams(http: httpx.Client) -> None:
    with AnthropicServer(
        respond=lambda r: text_message("a fairly long answer"), event_delay=0.05
    ) as server:
        url = f"{server.base_url}/v1/messages"
        body = {**REQUEST, "stream": True}
        started = time.monotonic()
        with ThreadPoolExecutor(4) as pool:
            responses = list(pool.map(lambda _: http.post(url, json=body), range(4)))
        elapsed = time.monotonic() - started

    one_stream = len(read_sse(responses[0])) * 0.05
    assert all(r.status_code == 200 for r in responses)
    assert all(read_sse(r)[-1][0] == "message_stop" for r in responses)
    assert elapsed < 3 * one_stream  # served side by side, not one after another


def test_wrong_key_gets_the_api_401(http: httpx.Client) -> None:
    with AnthropicServer([text_message("x")], api_key="sk-ant-right") as server:
        wrong = http.post(
            f"{server.base_url}/v1/messages", json=REQUEST, headers={"x-api-key": "sk-ant-no"}
        )
        right = http.post(
            f"{server.base_url}/v1/messages",
            json=REQUEST,
            headers={"authorization": "Bearer sk-ant-right"},
        )

    assert wrong.status_code == 401
    assert wrong.json()["error"]["type"] == "authentication_error"
    assert right.status_code == 200


def test_drop_cuts_a_json_answer_short(
    anthropic_server: AnthropicServer, http: httpx.Client
) -> None:
    anthropic_server.push(Drop(after_events=1), Drop())

    with pytest.raises(httpx.RemoteProtocolError):
        http.post(f"{anthropic_server.base_url}/v1/messages", json=REQUEST)
    with pytest.raises(httpx.RemoteProtocolError):
        http.post(f"{anthropic_server.base_url}/v1/messages", json=REQUEST)
    assert len(anthropic_server.message_requests()) == 2
