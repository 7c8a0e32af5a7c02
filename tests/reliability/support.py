"""What the reliability tests share: fast settings, Claude on the test server, conversations
scripted as functions of the request, raw event streams, and the `itarch` process."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agent.config import Settings, load_settings, with_budget
from agent.journal import RUNS_DIR
from agent.models.anthropic import AnthropicModel, default_model
from tests.fakes.anthropic_server import (
    AnthropicServer,
    RecordedRequest,
    ScriptItem,
    complete_message,
    message,
    sse,
    stream_events,
)

MODEL = default_model()
ITARCH = Path(sys.executable).parent / "itarch"


def fast_settings(repo: Path, **budget: Any) -> Settings:
    """One rerun and no mutation: the gates still run in the real sandbox, in seconds."""
    settings = load_settings(repo, python=sys.executable, reruns=1, mutation=False)
    settings.budget = with_budget(settings.budget, budget)
    return settings


def claude(server: AnthropicServer, settings: Settings, **options: Any) -> AnthropicModel:
    """The real client on the test server, with waits short enough for a test."""
    options = {"backoff_base": 0.001, "max_wait": 1.0, **options}
    return AnthropicModel(
        MODEL,
        api_key="test-key",
        base_url=server.base_url,
        price=settings.price_for(MODEL),
        **options,
    )


def turn_of(request: RecordedRequest) -> int:
    """Which turn a request asks for: the assistant messages it already holds."""
    return sum(1 for m in request.body["messages"] if m["role"] == "assistant")


def by_turn(*replies: ScriptItem) -> Callable[[RecordedRequest], ScriptItem]:
    """Answer turn n with replies[n] (the last one ever after), however often it is asked."""
    return lambda request: replies[min(turn_of(request), len(replies) - 1)]


def tool_results(request: RecordedRequest) -> list[dict[str, Any]]:
    """The tool_result blocks of the newest user message of a request."""
    content = request.body["messages"][-1]["content"]
    return [b for b in content if isinstance(b, dict) and b.get("type") == "tool_result"]


def last_user_text(request: RecordedRequest) -> str:
    content = request.body["messages"][-1]["content"]
    return "\n".join(b.get("text", "") for b in content if b.get("type") == "text")


# ---------------------------------------------------------------- raw streams


@dataclass(frozen=True)
class RawToolStream:
    """A streamed tool_use whose input JSON text is sent exactly as given (valid or not).

    `raw` replaces the text RAW_MARK wherever it appears in the encoded events, so bytes that
    are not UTF-8 can be put on the wire.
    """

    name: str
    partial_json: str
    stop_reason: str = "tool_use"
    text: str = ""
    raw: bytes = b""


RAW_MARK = "@@RAW@@"


class RawServer(AnthropicServer):
    """The test server, plus replies whose tool input is not produced by `json.dumps`."""

    def _reply(self, ex: Any, reply: Any) -> None:
        if not isinstance(reply, RawToolStream):
            super()._reply(ex, reply)
            return
        blocks: list[dict[str, Any]] = [{"type": "text", "text": reply.text}] if reply.text else []
        blocks.append({"type": "tool_use", "name": reply.name, "input": {}})
        msg = complete_message(message(blocks, stop_reason=reply.stop_reason), ex.request.body)
        tool = len(blocks) - 1
        ex.start_stream()
        for name, data in stream_events(msg, self.chunk_size):
            if data.get("index") == tool and name == "content_block_delta":
                continue  # the `{}` of the placeholder input
            if data.get("index") == tool and name == "content_block_stop":
                delta = {"type": "input_json_delta", "partial_json": reply.partial_json}
                event = {"type": "content_block_delta", "index": tool, "delta": delta}
                ex.chunk(sse("content_block_delta", event).replace(RAW_MARK.encode(), reply.raw))
            ex.chunk(sse(name, data))
        ex.end_stream()


class Gate:
    """Holds the answer to one turn until released, and says when that turn was asked for."""

    def __init__(self, turn: int, then: Callable[[RecordedRequest], ScriptItem]) -> None:
        self.turn = turn
        self.then = then
        self.asked = threading.Event()
        self.release = threading.Event()

    def __call__(self, request: RecordedRequest) -> ScriptItem:
        if turn_of(request) == self.turn and not self.asked.is_set():
            self.asked.set()
            self.release.wait(60)
        return self.then(request)


# ---------------------------------------------------------------- the itarch process


def itarch_env(server: AnthropicServer, tmpdir: Path) -> dict[str, str]:
    """The environment of an `itarch` run against the test server; temp files go to `tmpdir`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ANTHROPIC_", "ITARCH_"))}
    tmpdir.mkdir(exist_ok=True)
    return env | {
        "ANTHROPIC_BASE_URL": server.base_url,
        "ANTHROPIC_API_KEY": "test-key",
        "ITARCH_MODEL": MODEL,
        "ITARCH_RERUNS": "1",
        "ITARCH_MUTATION": "false",
        "TMPDIR": str(tmpdir),
    }


def start_itarch(repo: Path, env: dict[str, str], *args: str) -> subprocess.Popen[str]:
    """`itarch --repo REPO ARGS` in a session of its own (as a terminal would run it)."""
    return subprocess.Popen(
        [str(ITARCH), "--repo", str(repo), "--python", sys.executable, *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        # a terminal's foreground job takes Ctrl-C; a test session started in the background
        # (`cmd &` in a script) passes SIGINT on ignored, and Python then keeps ignoring it
        preexec_fn=_sigint_default,
    )


def _sigint_default() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def run_itarch(repo: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    proc = start_itarch(repo, env, *args)
    out, err = proc.communicate(timeout=90)
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def wait_for(condition: Callable[[], Any], timeout: float = 30, what: str = "") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := condition():
            return value
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what or condition}")


def kill9(proc: subprocess.Popen[str]) -> None:
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=30)


def _stat(pid: int) -> tuple[int, str] | None:
    """(parent pid, start time) of a live process."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2 :].split()
    return (int(fields[1]), fields[19]) if fields[0] != "Z" else None


def _processes() -> Iterator[int]:
    return (int(name) for name in os.listdir("/proc") if name.isdigit())


def descendants(root: int) -> dict[int, str]:
    """Every live process under `root`: pid -> start time (so a reused pid is not mistaken)."""
    table = {pid: stat for pid in _processes() if (stat := _stat(pid)) is not None}
    tree, grew = {root}, True
    while grew:
        found = {pid for pid, (ppid, _) in table.items() if ppid in tree} - tree
        tree |= found
        grew = bool(found)
    return {pid: table[pid][1] for pid in tree - {root}}


def alive(processes: dict[int, str]) -> list[int]:
    return [pid for pid, start in processes.items() if (s := _stat(pid)) and s[1] == start]


def mentioning(text: str) -> list[int]:
    """Live processes whose command line contains `text`."""
    found = []
    for pid in _processes():
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        if text.encode() in cmdline and _stat(pid) is not None:
            found.append(pid)
    return found


# ---------------------------------------------------------------- journals


def journals(repo: Path) -> list[Path]:
    return sorted((repo / RUNS_DIR).glob("*/events.jsonl"))


def read_events(path: Path) -> list[dict[str, Any]]:
    """Every line of a journal, each of which must be one complete JSON object."""
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def kinds(path: Path) -> list[str]:
    return [e["kind"] for e in read_events(path)]
