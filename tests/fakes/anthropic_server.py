"""An Anthropic-compatible Messages API server of our own, on 127.0.0.1, driven by a script.

It speaks the wire protocol closely enough for the official SDK and the Claude Code CLI:
`POST /v1/messages` as JSON or as a server-sent event stream (the same event sequence the API
sends), `POST /v1/messages/count_tokens`, `GET /v1/models` and `GET /v1/models/{id}`. Anything
else is a 404 in the API's error shape. Every request is recorded (headers and JSON body).

Replies to `POST /v1/messages` come from a queue — a message dict, a `Fault`, a `Drop`, a
`StreamError`, a `Delay` wrapping another reply, or a function of the request — and, once the
queue is empty, from the `respond` function if one was given. Requests may arrive concurrently;
each one runs on its own thread.

    with AnthropicServer([text_message("hi")]) as server:
        model = AnthropicModel(..., base_url=server.base_url)

As a fixture: `from tests.fakes.anthropic_server import anthropic_server` in a conftest.py.
"""

from __future__ import annotations

import contextlib
import json
import random
import socket
import string
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Self, TypeAlias
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.fakes.loopback import LoopbackServer, TrackingHandler

# ---------------------------------------------------------------- script entries


@dataclass(frozen=True)
class Fault:
    """An HTTP error reply, by default in the API's error shape for `status`."""

    status: int
    message: str = ""
    error_type: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes | str | dict[str, Any] | None = None  # replaces the default error JSON


@dataclass(frozen=True)
class Drop:
    """Close the connection: before any response (`after_events=0`), or part-way through.

    For a streaming request `after_events` counts SSE events of `message` sent before the
    connection goes; for a JSON request any positive value sends half the body first.
    """

    after_events: int = 0
    message: dict[str, Any] | None = None


@dataclass(frozen=True)
class StreamError:
    """An `error` event inside a 200 stream, as the API sends when it overloads mid-answer."""

    after_events: int = 1
    error_type: str = "overloaded_error"
    message: str = "Overloaded"
    reply: dict[str, Any] | None = None  # the message whose first events precede the error


@dataclass(frozen=True)
class Delay:
    """Wait, then answer with `then` (to exercise timeouts and concurrency)."""

    seconds: float
    then: ScriptItem


@dataclass
class RecordedRequest:
    method: str
    path: str  # without the query string
    query: dict[str, list[str]]
    headers: dict[str, str]  # names lower-cased
    body: Any  # the parsed JSON body, or None
    raw: bytes
    received_at: float  # time.monotonic()

    @property
    def stream(self) -> bool:
        return isinstance(self.body, dict) and bool(self.body.get("stream"))


Reply: TypeAlias = dict[str, Any] | Fault | Drop | StreamError
Responder: TypeAlias = Callable[[RecordedRequest], "ScriptItem"]
ScriptItem: TypeAlias = Reply | Delay | Responder


# ---------------------------------------------------------------- message builders


def message(
    content: Sequence[dict[str, Any]],
    *,
    stop_reason: str | None = None,
    usage: Mapping[str, int] | None = None,
    model: str | None = None,
) -> dict[str, Any]:
    """An assistant message; missing ids, model and usage are filled in per request."""
    msg: dict[str, Any] = {"type": "message", "role": "assistant", "content": list(content)}
    if stop_reason is not None:
        msg["stop_reason"] = stop_reason
    if usage is not None:
        msg["usage"] = dict(usage)
    if model is not None:
        msg["model"] = model
    return msg


def text_message(
    text: str, *, stop_reason: str = "end_turn", usage: Mapping[str, int] | None = None
) -> dict[str, Any]:
    return message([{"type": "text", "text": text}], stop_reason=stop_reason, usage=usage)


def tool_use_message(
    name: str,
    input: dict[str, Any],
    *,
    id: str | None = None,
    text: str | None = None,
    usage: Mapping[str, int] | None = None,
) -> dict[str, Any]:
    block: dict[str, Any] = {"type": "tool_use", "name": name, "input": input}
    if id is not None:
        block["id"] = id
    content = ([{"type": "text", "text": text}] if text else []) + [block]
    return message(content, stop_reason="tool_use", usage=usage)


# ---------------------------------------------------------------- wire format

_ERROR_TYPES = {
    400: ("invalid_request_error", "Invalid request"),
    401: ("authentication_error", "invalid x-api-key"),
    402: ("billing_error", "Your credit balance is too low"),
    403: ("permission_error", "Your API key does not have permission to use this resource"),
    404: ("not_found_error", "Not found"),
    413: ("request_too_large", "Request exceeds the maximum allowed number of bytes"),
    429: ("rate_limit_error", "Number of request tokens has exceeded your rate limit"),
    500: ("api_error", "Internal server error"),
    504: ("timeout_error", "Request timed out"),
    529: ("overloaded_error", "Overloaded"),
}
_ID_CHARS = string.ascii_letters + string.digits
DEFAULT_MODELS = ("claude-sonnet-4-5", "claude-opus-4-1", "claude-haiku-4-5")
MAX_CACHE_BREAKPOINTS = 4


def new_id(prefix: str) -> str:
    """An id shaped like the API's (`msg_01…`, `toolu_01…`, `req_01…`)."""
    return f"{prefix}_01" + "".join(random.choices(_ID_CHARS, k=22))


def error_body(error_type: str, message: str, request_id: str) -> dict[str, Any]:
    return {
        "type": "error",
        "error": {"type": error_type, "message": message},
        "request_id": request_id,
    }


def estimate_tokens(value: Any) -> int:
    """Roughly four characters a token: enough to make usage numbers plausible."""
    return max(1, len(json.dumps(value, ensure_ascii=False)) // 4)


def count_cache_breakpoints(body: Mapping[str, Any]) -> int:
    """How many blocks of a Messages request carry `cache_control`, as the API counts them."""
    blocks: list[Any] = []
    if isinstance(body.get("system"), list):
        blocks += body["system"]
    blocks += body.get("tools") or []
    for msg in body.get("messages") or []:
        if isinstance(msg, dict) and isinstance(msg.get("content"), list):
            blocks += msg["content"]
    return sum(1 for b in blocks if isinstance(b, dict) and b.get("cache_control"))


def complete_message(reply: Mapping[str, Any], request: Mapping[str, Any]) -> dict[str, Any]:
    """Fill in what the API always sends: ids, model, stop fields and full usage."""
    content = [dict(b) for b in reply.get("content", [])]
    for block in content:
        if block.get("type") in {"tool_use", "server_tool_use"} and not block.get("id"):
            block["id"] = new_id("toolu" if block["type"] == "tool_use" else "srvtoolu")
    has_tool_use = any(b.get("type") == "tool_use" for b in content)
    prompt = {k: request.get(k) for k in ("system", "tools", "messages")}
    usage = {
        "input_tokens": estimate_tokens(prompt),
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 0,
        "output_tokens": estimate_tokens(content) if content else 1,
        **reply.get("usage", {}),
    }
    usage["cache_creation"] = {
        "ephemeral_5m_input_tokens": usage["cache_creation_input_tokens"],
        "ephemeral_1h_input_tokens": 0,
    }
    usage["service_tier"] = "standard"
    return {
        "id": reply.get("id") or new_id("msg"),
        "type": "message",
        "role": "assistant",
        "model": reply.get("model") or request.get("model", DEFAULT_MODELS[0]),
        "content": content,
        "stop_reason": reply.get("stop_reason") or ("tool_use" if has_tool_use else "end_turn"),
        "stop_sequence": reply.get("stop_sequence"),
        "usage": usage,
    }


def _chunks(text: str, size: int) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)] or [""]


def stream_events(msg: Mapping[str, Any], chunk_size: int = 16) -> list[tuple[str, dict[str, Any]]]:
    """The SSE events the API sends for a complete message, in order."""
    usage = msg["usage"]
    start_usage = {**usage, "output_tokens": 1}
    events: list[tuple[str, dict[str, Any]]] = [
        (
            "message_start",
            {
                "type": "message_start",
                "message": {
                    **msg,
                    "content": [],
                    "stop_reason": None,
                    "stop_sequence": None,
                    "usage": start_usage,
                },
            },
        )
    ]
    for index, block in enumerate(msg["content"]):
        events += _block_events(index, block, chunk_size)
        if index == 0:
            events.append(("ping", {"type": "ping"}))
    if not msg["content"]:
        events.append(("ping", {"type": "ping"}))
    delta_usage = {
        k: usage[k]
        for k in (
            "input_tokens",
            "cache_creation_input_tokens",
            "cache_read_input_tokens",
            "output_tokens",
        )
    }
    events.append(
        (
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": msg["stop_reason"], "stop_sequence": msg["stop_sequence"]},
                "usage": delta_usage,
            },
        )
    )
    events.append(("message_stop", {"type": "message_stop"}))
    return events


def _block_events(
    index: int, block: Mapping[str, Any], chunk_size: int
) -> list[tuple[str, dict[str, Any]]]:
    kind = block.get("type")
    deltas: list[dict[str, Any]] = []
    if kind == "text":
        start: dict[str, Any] = {"type": "text", "text": ""}
        deltas = [{"type": "text_delta", "text": t} for t in _chunks(block["text"], chunk_size)]
    elif kind in {"tool_use", "server_tool_use"}:
        start = {**block, "input": {}}
        raw = json.dumps(block.get("input", {}), ensure_ascii=False)
        # The API opens every tool input with an empty fragment, then streams the JSON text.
        deltas = [{"type": "input_json_delta", "partial_json": ""}]
        deltas += [
            {"type": "input_json_delta", "partial_json": p} for p in _chunks(raw, chunk_size)
        ]
    elif kind == "thinking":
        start = {"type": "thinking", "thinking": "", "signature": ""}
        deltas = [
            {"type": "thinking_delta", "thinking": t}
            for t in _chunks(block.get("thinking", ""), chunk_size)
        ]
        deltas.append({"type": "signature_delta", "signature": block.get("signature", "")})
    else:  # redacted thinking, tool results of server tools: sent whole
        start = dict(block)
    return [
        (
            "content_block_start",
            {"type": "content_block_start", "index": index, "content_block": start},
        ),
        *(
            ("content_block_delta", {"type": "content_block_delta", "index": index, "delta": d})
            for d in deltas
        ),
        ("content_block_stop", {"type": "content_block_stop", "index": index}),
    ]


def sse(name: str, data: Mapping[str, Any]) -> bytes:
    return f"event: {name}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n".encode()


# ---------------------------------------------------------------- HTTP plumbing


class _Exchange:
    """One request and the ways to answer it."""

    def __init__(self, handler: _Handler, request: RecordedRequest, request_id: str) -> None:
        self.handler = handler
        self.request = request
        self.request_id = request_id

    def _head(self, status: int, headers: Mapping[str, str]) -> None:
        h = self.handler
        h.send_response(status)
        h.send_header("request-id", self.request_id)
        for name, value in headers.items():
            h.send_header(name, value)
        h.end_headers()

    def send(
        self,
        status: int,
        body: bytes,
        content_type: str,
        headers: Mapping[str, str],
        *,
        cut_short: bool = False,
    ) -> None:
        """Answer with `body`; `cut_short` announces all of it but writes only half."""
        self._head(
            status, {"content-type": content_type, "content-length": str(len(body)), **headers}
        )
        if self.request.method != "HEAD":
            self.handler.wfile.write(body[: len(body) // 2] if cut_short else body)
        self.handler.wfile.flush()

    def json(
        self,
        status: int,
        obj: Any,
        headers: Mapping[str, str] | None = None,
        *,
        cut_short: bool = False,
    ) -> None:
        body = json.dumps(obj, ensure_ascii=False).encode()
        self.send(status, body, "application/json", headers or {}, cut_short=cut_short)

    def error(self, status: int, message: str, error_type: str | None = None) -> None:
        default_type, _ = _ERROR_TYPES.get(status, ("api_error", ""))
        self.json(status, error_body(error_type or default_type, message, self.request_id))

    def start_stream(self) -> None:
        self._head(
            200,
            {
                "content-type": "text/event-stream; charset=utf-8",
                "cache-control": "no-cache",
                "transfer-encoding": "chunked",
            },
        )

    def chunk(self, data: bytes) -> None:
        self.handler.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        self.handler.wfile.flush()

    def end_stream(self) -> None:
        self.handler.wfile.write(b"0\r\n\r\n")
        self.handler.wfile.flush()

    def drop(self) -> None:
        """Cut the connection with no further bytes, as a failing proxy or network would."""
        self.handler.wfile.flush()
        self.handler.close_connection = True
        with contextlib.suppress(OSError):
            self.handler.connection.shutdown(socket.SHUT_RDWR)


class _Handler(TrackingHandler):
    server_version = "anthropic-test-server"

    def _dispatch(self) -> None:
        try:
            self.server.app.handle(self)
        except ConnectionError:  # the client went away; nothing left to answer
            self.close_connection = True
        except Exception as exc:  # a bug in a responder: keep it for the test to see
            self.server.app.errors.append(exc)
            self.close_connection = True

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = do_HEAD = _dispatch

    def read_body(self) -> bytes:
        if self.headers.get("transfer-encoding", "").lower() == "chunked":
            parts: list[bytes] = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    return b"".join(parts)
                parts.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("content-length") or 0)
        return self.rfile.read(length) if length else b""


# ---------------------------------------------------------------- the server


class AnthropicServer(LoopbackServer):
    """The API on a random loopback port; a context manager, or `start()`/`stop()`."""

    def __init__(
        self,
        script: Iterable[ScriptItem] = (),
        *,
        respond: Responder | None = None,
        api_key: str | None = None,
        models: Sequence[str] = DEFAULT_MODELS,
        chunk_size: int = 16,
        event_delay: float = 0.0,
    ) -> None:
        self.respond = respond
        self.api_key = api_key  # when set, other keys get the API's 401
        self.models = list(models)
        self.chunk_size = chunk_size
        self.event_delay = event_delay  # seconds between SSE events
        self._script: list[ScriptItem] = list(script)
        self._requests: list[RecordedRequest] = []
        self.errors: list[Exception] = []  # exceptions raised while answering
        self._lock = threading.Lock()
        self._stopping = threading.Event()

    # -- lifecycle

    handler = _Handler
    thread_name = "anthropic-test-server"

    def start(self) -> Self:
        self._stopping.clear()
        return super().start()

    def _on_stop(self) -> None:
        self._stopping.set()  # wakes handlers sleeping in a Delay

    # -- script and records

    def push(self, *items: ScriptItem) -> None:
        with self._lock:
            self._script.extend(items)

    @property
    def pending(self) -> int:
        with self._lock:
            return len(self._script)

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._requests)

    def message_requests(self) -> list[RecordedRequest]:
        """The `POST /v1/messages` requests, in arrival order."""
        return [r for r in self.requests if r.method == "POST" and r.path == "/v1/messages"]

    def _next_item(self) -> ScriptItem | None:
        with self._lock:
            if self._script:
                return self._script.pop(0)
        return self.respond

    # -- request handling

    def handle(self, handler: _Handler) -> None:
        raw = handler.read_body()
        url = urlsplit(handler.path)
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        request = RecordedRequest(
            method=handler.command,
            path=url.path,
            query=parse_qs(url.query),
            headers={k.lower(): v for k, v in handler.headers.items()},
            body=body,
            raw=raw,
            received_at=time.monotonic(),
        )
        with self._lock:
            self._requests.append(request)
        ex = _Exchange(handler, request, new_id("req"))

        if not self._authorised(request):
            ex.error(401, "invalid x-api-key")
        elif request.method == "POST" and request.path == "/v1/messages":
            self._messages(ex)
        elif request.method == "POST" and request.path == "/v1/messages/count_tokens":
            self._count_tokens(ex)
        elif request.method == "GET" and request.path == "/v1/models":
            self._list_models(ex)
        elif request.method == "GET" and request.path.startswith("/v1/models/"):
            self._get_model(ex, request.path.removeprefix("/v1/models/"))
        else:
            ex.error(404, f"Not found: {request.method} {request.path}")

    def _authorised(self, request: RecordedRequest) -> bool:
        if self.api_key is None:
            return True
        bearer = request.headers.get("authorization", "").removeprefix("Bearer ")
        return self.api_key in (request.headers.get("x-api-key"), bearer)

    def _invalid(self, body: Any, *, needs_max_tokens: bool) -> str | None:
        """The API's complaint about a malformed Messages request, if any."""
        if not isinstance(body, dict):
            return "request body must be a JSON object"
        required = ["model", "messages"] + (["max_tokens"] if needs_max_tokens else [])
        for name in required:
            if name not in body:
                return f"{name}: Field required"
        if not isinstance(body["messages"], list):
            return "messages: Input should be a valid list"
        found = count_cache_breakpoints(body)
        if found > MAX_CACHE_BREAKPOINTS:
            return (
                f"A maximum of {MAX_CACHE_BREAKPOINTS} blocks with cache_control may be "
                f"provided. Found {found}."
            )
        return None

    def _count_tokens(self, ex: _Exchange) -> None:
        body = ex.request.body
        if problem := self._invalid(body, needs_max_tokens=False):
            ex.error(400, problem)
            return
        prompt = {k: body.get(k) for k in ("system", "tools", "messages")}
        ex.json(200, {"input_tokens": estimate_tokens(prompt)})

    def _model_info(self, model_id: str) -> dict[str, Any]:
        return {
            "type": "model",
            "id": model_id,
            "display_name": model_id.replace("-", " ").title(),
            "created_at": "2025-01-01T00:00:00Z",
        }

    def _list_models(self, ex: _Exchange) -> None:
        data = [self._model_info(m) for m in self.models]
        ex.json(
            200,
            {
                "data": data,
                "has_more": False,
                "first_id": data[0]["id"] if data else None,
                "last_id": data[-1]["id"] if data else None,
            },
        )

    def _get_model(self, ex: _Exchange, model_id: str) -> None:
        if model_id in self.models:
            ex.json(200, self._model_info(model_id))
        else:
            ex.error(404, f"model: {model_id}")

    def _messages(self, ex: _Exchange) -> None:
        if problem := self._invalid(ex.request.body, needs_max_tokens=True):
            ex.error(400, problem)
            return
        item = self._next_item()
        while isinstance(item, Delay) or callable(item):
            if isinstance(item, Delay):
                self._stopping.wait(item.seconds)
                item = item.then
            else:
                item = item(ex.request)
        if item is None:
            # A 400, not a 5xx, so that clients fail at once instead of retrying.
            ex.error(400, "the test server's script has no reply left for this request")
        else:
            self._reply(ex, item)

    def _reply(self, ex: _Exchange, reply: Reply) -> None:
        request = ex.request
        if isinstance(reply, Fault):
            self._fault(ex, reply)
        elif isinstance(reply, Drop):
            if reply.after_events <= 0:
                ex.drop()
            elif request.stream:
                msg = complete_message(reply.message or text_message("partial"), request.body)
                self._stream(ex, stream_events(msg, self.chunk_size)[: reply.after_events])
                ex.drop()
            else:
                msg = complete_message(reply.message or text_message("partial"), request.body)
                ex.json(200, msg, cut_short=True)
                ex.drop()
        elif isinstance(reply, StreamError):
            msg = complete_message(reply.reply or text_message("partial"), request.body)
            events = stream_events(msg, self.chunk_size)[: reply.after_events]
            events.append(("error", error_body(reply.error_type, reply.message, ex.request_id)))
            self._stream(ex, events)
            ex.end_stream()
        else:
            msg = complete_message(reply, request.body)
            if request.stream:
                self._stream(ex, stream_events(msg, self.chunk_size))
                ex.end_stream()
            else:
                ex.json(200, msg)

    def _stream(self, ex: _Exchange, events: list[tuple[str, dict[str, Any]]]) -> None:
        ex.start_stream()
        for name, data in events:
            ex.chunk(sse(name, data))
            if self.event_delay:
                self._stopping.wait(self.event_delay)

    def _fault(self, ex: _Exchange, fault: Fault) -> None:
        error_type, default_message = _ERROR_TYPES.get(fault.status, ("api_error", "Error"))
        if fault.body is None:
            payload: bytes = json.dumps(
                error_body(
                    fault.error_type or error_type,
                    fault.message or default_message,
                    ex.request_id,
                )
            ).encode()
            content_type = "application/json"
        elif isinstance(fault.body, dict):
            payload, content_type = json.dumps(fault.body).encode(), "application/json"
        else:
            raw = fault.body.encode() if isinstance(fault.body, str) else fault.body
            payload, content_type = raw, "text/plain"
        ex.send(fault.status, payload, content_type, fault.headers)


@pytest.fixture
def anthropic_server() -> Iterator[AnthropicServer]:
    """A running server with an empty script; tests `push()` replies onto it."""
    with AnthropicServer() as server:
        yield server
    assert not server.errors, f"the test server failed while answering: {server.errors!r}"
