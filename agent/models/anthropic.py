"""Claude through the Anthropic Messages API: streaming, prompt caching, retries, exact cost.

The only module in the project that imports `anthropic`. Requests are streamed so that long
generations never hit the non-streaming time limit; the SDK's own retries are off because the
retry policy lives here, where it can honour the server's `retry-after` and treat a dropped
stream like any other transient failure.
"""

from __future__ import annotations

import copy
import email.utils
import ipaddress
import math
import os
import random
import re
import time
from collections.abc import Mapping
from datetime import UTC
from decimal import Decimal
from typing import Any, get_args
from urllib.parse import urlsplit

import anthropic
from tenacity import RetryCallState, Retrying, retry_if_exception_type, stop_after_attempt

from agent.config import Price, Settings
from agent.log import get_logger
from agent.models.base import ContextTooLong, ModelError
from agent.schema import ModelResponse, Usage

try:  # the SDK's HTTP library: its errors surface unwrapped while a stream is being read
    import httpx2 as _http
except ImportError:  # SDK releases built on httpx
    import httpx as _http  # type: ignore[no-redef]

log = get_logger(__name__)

MAX_CACHE_BREAKPOINTS = 4  # the API rejects requests with more
FALLBACK_MODEL = "claude-sonnet-4-5"
_EPHEMERAL = {"type": "ephemeral"}
_RETRYABLE_STATUS = {408, 409, 429}  # plus every 5xx (529 is "overloaded")
_RETRYABLE_STREAM_ERRORS = {"overloaded_error", "api_error", "rate_limit_error", "timeout_error"}
_TOO_LONG = re.compile(r"prompt is too long|exceed context limit|context window", re.IGNORECASE)
_UNCACHEABLE = {"thinking", "redacted_thinking"}
_PER_MILLION = Decimal(1_000_000)


class _Transient(Exception):
    """A failure another attempt may fix; `retry_after` is the wait the server asked for."""

    def __init__(self, reason: str, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after


# Set to 0 (the test suite does, as pydantic-ai's ALLOW_MODEL_REQUESTS) and a client for a remote
# API is refused when it is built; a fake server on the loopback interface is still allowed.
ALLOW_REQUESTS_ENV = "ITARCH_ALLOW_MODEL_REQUESTS"


class ModelRequestsBlocked(RuntimeError):
    """A client for a remote model API was built while model requests are blocked."""


def is_loopback(url: str) -> bool:
    """Whether `url` names this machine (localhost, 127.0.0.0/8, ::1)."""
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _refuse_blocked(url: str) -> None:
    allowed = os.environ.get(ALLOW_REQUESTS_ENV, "1").strip().lower() not in ("0", "false", "no")
    if not allowed and not is_loopback(url):
        raise ModelRequestsBlocked(
            f"model requests to {url} are blocked ({ALLOW_REQUESTS_ENV}=0): "
            "use a scripted model or a fake server on 127.0.0.1"
        )


class AnthropicModel:
    """`Model` backed by the Anthropic Messages API."""

    def __init__(
        self,
        model: str,
        *,
        api_key: str,
        base_url: str | None = None,
        price: Price,
        max_attempts: int = 5,
        timeout: float = 600,
        backoff_base: float = 1.0,
        max_wait: float = 60.0,
    ) -> None:
        self.name = model
        self.price = price
        self._max_attempts = max(1, max_attempts)
        self._backoff_base = backoff_base
        self._max_wait = max_wait
        self._client = anthropic.Anthropic(
            api_key=api_key,
            base_url=base_url,
            max_retries=0,
            timeout=anthropic.Timeout(timeout, connect=min(timeout, 10.0)),
        )
        _refuse_blocked(str(self._client.base_url))  # where the SDK will send its requests

    def complete(
        self,
        *,
        system: str,
        messages: list[dict[str, Any]],
        tools: list[dict[str, Any]],
        max_tokens: int,
    ) -> ModelResponse:
        request = self._request(system, messages, tools, max_tokens)
        retrying = Retrying(
            stop=stop_after_attempt(self._max_attempts),
            wait=self._wait,
            retry=retry_if_exception_type(_Transient),
            before_sleep=self._log_retry,
            reraise=True,
        )
        try:
            message = retrying(self._attempt, request)
        except _Transient as exc:
            raise ModelError(
                f"no answer from {self.name} after {self._max_attempts} attempts; "
                f"last failure: {exc.reason}"
            ) from exc
        response = self._response(message)
        log.debug(
            "model.response",
            model=response.model,
            stop_reason=response.stop_reason,
            usage=response.usage.model_dump(),
            cost_usd=str(response.cost_usd),
        )
        return response

    def close(self) -> None:
        """Release the HTTP connections."""
        self._client.close()

    # -- one request

    def _request(
        self,
        system: str,
        messages: list[dict[str, Any]],
        tools: list[dict[str, Any]],
        max_tokens: int,
    ) -> dict[str, Any]:
        system_blocks, tools, messages = with_cache_breakpoints(system, tools, messages)
        request: dict[str, Any] = {"model": self.name, "max_tokens": max_tokens}
        if system_blocks:
            request["system"] = system_blocks
        if tools:
            request["tools"] = tools
        request["messages"] = messages
        return request

    def _attempt(self, request: dict[str, Any]) -> anthropic.types.Message:
        try:
            with self._client.messages.stream(**request) as stream:
                finished = False
                for event in stream:
                    finished = finished or event.type == "message_stop"
                if not finished:
                    raise _Transient("the stream ended before message_stop")
                return stream.get_final_message()
        except anthropic.APIStatusError as exc:
            raise self._classify(exc) from exc
        except anthropic.APITimeoutError as exc:
            raise _Transient("the request timed out") from exc
        except anthropic.APIConnectionError as exc:
            raise _Transient(f"connection failed ({exc.__cause__ or exc})") from exc
        except _http.TransportError as exc:
            raise _Transient(f"the stream was dropped ({type(exc).__name__}: {exc})") from exc
        except ValueError as exc:  # the SDK could not parse a streamed tool input as JSON
            raise _Transient(f"unparseable tool input ({str(exc)[:200]})") from exc

    def _classify(self, exc: anthropic.APIStatusError) -> Exception:
        """Turn an API error into a retry (`_Transient`) or a one-line `ModelError`."""
        status = exc.status_code
        error_type, detail = _error_fields(exc)
        if status in (401, 403):
            suffix = f" ({detail})" if detail else ""
            return ModelError(
                f"the API key was rejected ({status}): check ANTHROPIC_API_KEY{suffix}"
            )
        if status == 413 or (status == 400 and _TOO_LONG.search(detail)):
            return ContextTooLong(f"the prompt is too long for {self.name}: {detail}")
        if status in _RETRYABLE_STATUS or status >= 500:
            wait = retry_after_seconds(exc.response.headers)
            return _Transient(f"{status} {error_type}: {detail}", retry_after=wait)
        if status < 300:  # an `error` event inside a stream that started fine
            if error_type in _RETRYABLE_STREAM_ERRORS:
                return _Transient(f"{error_type} in the stream: {detail}")
            return ModelError(f"the stream failed ({error_type}): {detail}")
        return ModelError(f"the API refused the request ({status} {error_type}): {detail}")

    def _response(self, message: anthropic.types.Message) -> ModelResponse:
        u = message.usage
        usage = Usage(
            input_tokens=u.input_tokens or 0,
            output_tokens=u.output_tokens or 0,
            cache_creation_input_tokens=u.cache_creation_input_tokens or 0,
            cache_read_input_tokens=u.cache_read_input_tokens or 0,
        )
        return ModelResponse(
            content=[
                # warnings off: a tool input that is not an object is judged by the loop
                b.model_dump(mode="json", exclude_none=True, warnings=False)
                for b in message.content
            ],
            stop_reason=message.stop_reason or "end_turn",
            usage=usage,
            model=message.model or self.name,
            cost_usd=cost_usd(usage, self.price),
            source="anthropic",
        )

    # -- retry policy

    def _wait(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, _Transient) and exc.retry_after is not None:
            return min(exc.retry_after, self._max_wait)
        # Exponential with "equal jitter": never less than half the step, so waits still grow.
        step = min(self._max_wait, self._backoff_base * 2 ** (state.attempt_number - 1))
        return step / 2 + random.uniform(0, step / 2)

    def _log_retry(self, state: RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        log.warning(
            "model.retry",
            model=self.name,
            attempt=state.attempt_number,
            of=self._max_attempts,
            reason=getattr(exc, "reason", str(exc)),
            wait_s=round(state.upcoming_sleep, 3),
        )


def _error_fields(exc: anthropic.APIStatusError) -> tuple[str, str]:
    """The API's error type and message, squeezed onto one line."""
    body: dict[str, Any] = exc.body if isinstance(exc.body, dict) else {}
    nested = body.get("error")
    error: dict[str, Any] = nested if isinstance(nested, dict) else body
    error_type = str(error.get("type") or "error")
    message = str(error.get("message") or exc.message or "")
    return error_type, " ".join(message.split())


def retry_after_seconds(headers: Mapping[str, str], now: float | None = None) -> float | None:
    """The wait a response asks for: `retry-after-ms`, else `retry-after` (seconds or HTTP date)."""
    millis = headers.get("retry-after-ms")
    if millis:
        try:
            value = float(millis) / 1000
            if math.isfinite(value):
                return max(0.0, value)
        except ValueError:
            pass
    after = headers.get("retry-after")
    if not after:
        return None
    try:
        value = float(after)
        return max(0.0, value) if math.isfinite(value) else None
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(after)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def with_cache_breakpoints(
    system: str, tools: list[dict[str, Any]], messages: list[dict[str, Any]]
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
    """Copies of the prompt parts with cache breakpoints on the stable prefix.

    Marked: the system prompt, the last tool (which caches all tools), and the first block of
    the first user message (the repository context). The caller's own markers are kept while
    they fit within the API's limit, latest first (a later breakpoint covers more of the
    prefix). A slot still free goes to the newest block, so each turn reads the conversation
    so far from the cache instead of paying for it again.
    """
    system_blocks = [{"type": "text", "text": system, "cache_control": dict(_EPHEMERAL)}]
    if not system:
        system_blocks = []
    tools = [dict(tool) for tool in tools]
    messages = copy.deepcopy(messages)
    ours: list[dict[str, Any]] = [*system_blocks]
    if tools:
        tools[-1]["cache_control"] = dict(_EPHEMERAL)
        ours.append(tools[-1])
    context = _first_user_block(messages)
    if context is not None:
        context["cache_control"] = dict(_EPHEMERAL)
        ours.append(context)

    theirs = [b for b in [*tools, *_blocks(messages)] if b.get("cache_control")]
    theirs = [b for b in theirs if not any(b is o for o in ours)]
    room = MAX_CACHE_BREAKPOINTS - len(ours)
    keep = theirs[-room:] if room > 0 else []
    for block in theirs:
        if not any(block is k for k in keep):
            block.pop("cache_control")

    newest = _last_block(messages)
    if room - len(keep) > 0 and newest is not None and not newest.get("cache_control"):
        newest["cache_control"] = dict(_EPHEMERAL)
    return system_blocks, tools, messages


def _as_blocks(message: dict[str, Any]) -> list[dict[str, Any]]:
    """The message's content as a list of blocks (a plain string becomes one text block)."""
    content = message.get("content")
    if isinstance(content, str):
        message["content"] = [{"type": "text", "text": content}] if content else []
    return [b for b in message.get("content") or [] if isinstance(b, dict)]


def _cacheable(block: dict[str, Any]) -> bool:
    if block.get("type") in _UNCACHEABLE:
        return False
    return block.get("type") != "text" or bool(block.get("text"))


def _first_user_block(messages: list[dict[str, Any]]) -> dict[str, Any] | None:
    for message in messages:
        if message.get("role") == "user":
            blocks = _as_blocks(message)
            return blocks[0] if blocks and _cacheable(blocks[0]) else None
    return None


def _last_block(messages: list[dict[str, Any]]) -> dict[str, Any] | None:
    if not messages:
        return None
    blocks = _as_blocks(messages[-1])
    return blocks[-1] if blocks and _cacheable(blocks[-1]) else None


def _blocks(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [b for m in messages for b in _as_blocks(m)]


def cost_usd(usage: Usage, price: Price) -> Decimal:
    """Exact dollars for a turn's usage at `price` (dollars per million tokens)."""
    total = (
        usage.input_tokens * price.input
        + usage.output_tokens * price.output
        + usage.cache_creation_input_tokens * price.cache_write
        + usage.cache_read_input_tokens * price.cache_read
    )
    return total / _PER_MILLION


def sdk_model_ids() -> list[str]:
    """The model ids the installed SDK knows, in its own order."""
    ids: list[str] = []
    for arg in get_args(anthropic.types.ModelParam):
        ids += [value for value in get_args(arg) if isinstance(value, str)]
    return ids


def model_version(model_id: str, family: str = "sonnet") -> tuple[int, ...] | None:
    """(major, minor, …) of an undated `claude-<family>-*` id; None for other ids and snapshots."""
    match = re.fullmatch(rf"claude-{family}-(\d+(?:-\d+)*)", model_id)
    if match is None:
        return None
    parts = match.group(1).split("-")
    if any(len(p) >= 8 for p in parts):  # a dated snapshot such as -20250929
        return None
    return tuple(int(p) for p in parts)


def default_model() -> str:
    """The newest undated Sonnet id the installed SDK lists."""
    versions = {m: v for m in sdk_model_ids() if (v := model_version(m)) is not None}
    return max(versions, key=lambda m: versions[m]) if versions else FALLBACK_MODEL


def create_model(settings: Settings) -> AnthropicModel:
    """The configured Claude model; a missing key is the user's to fix, said in one line."""
    key = settings.api_key.get_secret_value().strip() if settings.api_key else ""
    if not key:
        raise ModelError("no API key: set ANTHROPIC_API_KEY to use Claude")
    model = settings.model or default_model()
    return AnthropicModel(
        model, api_key=key, base_url=settings.base_url, price=settings.price_for(model)
    )
