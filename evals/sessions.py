"""The sessions suite: recorded model sessions replayed through the real CLI on real changes.

A session (`evals/sessions/<name>/`) is what one `itarch generate` run was answered with:
`resp-NNN.json`, the content blocks of the Nth response (text and tool_use), and `session.json`:
how its target repository was set up (two releases of a PyPI project, see
`evals/sessions_target.py`), the command and environment of the run, the usage each response
reported, what each request looked like (its number of messages; its tool results: tool, error
flag and, for a judged proposal, the verdict line) and the run's outcome.

Replaying one: the target is rebuilt (once, cached), a loopback Anthropic-compatible server
answers request N with response N (streamed as the API streams; tool_use ids `toolu_NNN_K`
assigned as the recording's server assigned them, K counting every tool_use of the session),
and `itarch <args>` runs from inside the repository with every default setting: no `--python`,
no `$VIRTUAL_ENV`, no `ITARCH_*` variable. A request beyond the recording gets an error, so the
run ends. Each request is compared with the recording's; differences are listed as divergence.
Afterwards the files the run wrote are removed again (`git clean` of just those paths), so the
next replay starts from the same tree.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field

import agent
from agent.context.budget import estimate_tokens
from agent.log import get_logger
from evals.compat import _json_document, _run, _tail, itarch_command
from evals.compat_prepare import NOT_THE_USERS
from evals.sessions_target import TargetSpec, prepare
from tests.fakes.anthropic_server import (
    DEFAULT_MODELS,
    AnthropicServer,
    Fault,
    RecordedRequest,
    ScriptItem,
    message,
)

log = get_logger(__name__)

SESSIONS = Path(__file__).resolve().parent / "sessions"
RUN_TIMEOUT = 1200.0  # the default wall budget is 1800 s; a replay takes a few minutes at most
REPLAY_KEY = "sk-ant-replay"  # any non-empty key: the replay server takes every key
TRACEBACK = "Traceback (most recent call last)"
LEFTOVERS = (".itarch", ".pytest_cache")  # itarch's journal and index; pytest's cache
# One judged test of a proposal's verdict: `  - test_name: accepted (...)` or
# `  - test_name: rejected [reason] why`.
TEST_LINE = re.compile(r"^  - ([\w\[\]\-.:]+?): ([a-z_]+)(?: \[([a-z_]+)\])?")
FILE_LINE = re.compile(r"^(\S+\.py): [A-Z]")  # `tests/test_x.py: ACCEPTED, ...`
VERDICT_CHARS = 20_000  # of a proposal's verdict text kept in the results
DETAIL_CHARS = 240

Status = Literal["replayed", "failed"]


# ---------------------------------------------------------------- the recording


class ToolResultShape(BaseModel):
    tool_use_id: str
    tool: str
    is_error: bool = False
    verdict: str | None = None  # propose_tests only: the verdict's first line
    # propose_tests only: each judged test's verdict, `accepted` or `rejected [reason]`
    tests: dict[str, str] = Field(default_factory=dict)


class RequestShape(BaseModel):
    messages: int
    results: list[ToolResultShape] = Field(default_factory=list)


class Outcome(BaseModel):
    exit_code: int | None = None
    stopped_by: str = ""
    rounds: int = 0
    turns: int = 0
    kept: int = 0
    kept_tests: int = 0
    written: list[str] = Field(default_factory=list)
    files: dict[str, str] = Field(default_factory=dict)  # kept path -> sha256 of its content
    wall_seconds: float = 0.0
    isolation: str = ""
    model: str = ""
    note: str = ""


class Session(BaseModel):
    name: str
    source: str = ""  # who wrote the responses, and how they were recorded
    target: TargetSpec | None = None  # None: the caller gives the repository
    args: list[str]
    env: dict[str, str] = Field(default_factory=dict)
    # itarch commands the recording ran first, run again before the replay (e.g. ["index"])
    before: list[list[str]] = Field(default_factory=list)
    usage: list[dict[str, int]] = Field(default_factory=list)
    requests: list[RequestShape] = Field(default_factory=list)
    recorded: Outcome = Field(default_factory=Outcome)
    responses: list[list[dict[str, Any]]] = Field(default_factory=list, exclude=True)


def load(folder: Path) -> Session:
    """`session.json` and `resp-001.json`... of one recorded session."""
    session = Session.model_validate_json((folder / "session.json").read_text(encoding="utf-8"))
    files = sorted(folder.glob("resp-*.json"))
    numbers = [int(f.stem.removeprefix("resp-")) for f in files]
    if numbers != list(range(1, len(files) + 1)):
        raise ValueError(f"{folder}: responses are not numbered 1..{len(files)}: {numbers}")
    for path in files:
        blocks = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(blocks, list) or not all(isinstance(b, dict) for b in blocks):
            raise ValueError(f"{path}: not a list of content blocks")
        session.responses.append(blocks)
    if not session.responses:
        raise ValueError(f"{folder}: no responses")
    if session.requests and len(session.requests) != len(session.responses):
        raise ValueError(f"{folder}: {len(session.requests)} requests, {len(files)} responses")
    return session


def available() -> dict[str, Path]:
    return {p.parent.name: p.parent for p in sorted(SESSIONS.glob("*/session.json"))}


def select(names: list[str] | None) -> list[Session]:
    found = available()
    unknown = [n for n in names or [] if n not in found]
    if unknown:
        raise KeyError(f"unknown session {', '.join(unknown)} (known: {', '.join(found)})")
    return [load(found[n]) for n in (names or list(found))]


def with_ids(session: Session) -> list[list[dict[str, Any]]]:
    """The responses with tool_use ids as the recording's server gave them: `toolu_NNN_K`."""
    counter = 0
    answered: list[list[dict[str, Any]]] = []
    for number, blocks in enumerate(session.responses, start=1):
        turn = []
        for block in blocks:
            block = dict(block)
            if block.get("type") == "tool_use":
                block["id"] = f"toolu_{number:03d}_{counter}"
                counter += 1
            turn.append(block)
        answered.append(turn)
    return answered


# ---------------------------------------------------------------- the replay server


class Seen(BaseModel):
    """One request as it reached the replay server, and how it differs from the recording's."""

    number: int
    messages: int
    results: list[ToolResultShape] = Field(default_factory=list)
    answered: bool = True  # False: beyond the recording, answered with an error
    context_tokens: int | None = None  # the first request's context block, estimated
    verdicts: dict[str, str] = Field(default_factory=dict)  # tool_use_id -> a proposal's verdict
    divergence: list[str] = Field(default_factory=list)


class ReplayServer:
    """An Anthropic-compatible server on loopback that answers request N with response N."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.replies = with_ids(session)
        self.seen: list[Seen] = []
        self._lock = threading.Lock()
        self._names: dict[str, str] = {
            b["id"]: b["name"] for turn in self.replies for b in turn if b.get("type") == "tool_use"
        }
        models = [session.recorded.model] if session.recorded.model else []
        self.server = AnthropicServer(respond=self.respond, models=[*models, *DEFAULT_MODELS])

    def __enter__(self) -> ReplayServer:
        self.server.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.stop()

    @property
    def base_url(self) -> str:
        return self.server.base_url

    @property
    def errors(self) -> list[Exception]:
        return self.server.errors

    def respond(self, request: RecordedRequest) -> ScriptItem:
        with self._lock:
            number = len(self.seen) + 1
            seen = self.observe(number, request.body)
            self.seen.append(seen)
        if not seen.answered:
            return Fault(400, f"the recorded session has no response {number}")
        usage = self.session.usage[number - 1] if number <= len(self.session.usage) else None
        return message(self.replies[number - 1], usage=usage)

    def observe(self, number: int, body: dict[str, Any]) -> Seen:
        messages = body.get("messages") or []
        seen = Seen(number=number, messages=len(messages), results=self.results_of(messages))
        if number == 1 and messages:
            seen.context_tokens = estimate_tokens(_text_of(messages[0].get("content")))
        seen.verdicts = {
            r.tool_use_id: _text_of(b.get("content"))[:VERDICT_CHARS]
            for r, b in zip(seen.results, _tool_results(messages), strict=True)
            if r.tool == "propose_tests"
        }
        if number > len(self.replies):
            seen.answered = False
            seen.divergence.append(
                f"request {number}: beyond the recording's {len(self.replies)}, answered with "
                "an error"
            )
            return seen
        if number > len(self.session.requests):
            return seen
        want = self.session.requests[number - 1]
        where = f"request {number}"
        if seen.messages != want.messages:
            seen.divergence.append(f"{where}: {seen.messages} messages, recorded {want.messages}")
        got_ids = [r.tool_use_id for r in seen.results]
        want_ids = [r.tool_use_id for r in want.results]
        if got_ids != want_ids:
            seen.divergence.append(f"{where}: results for {got_ids}, recorded {want_ids}")
        for got, expected in zip(seen.results, want.results, strict=False):
            if got.is_error != expected.is_error:
                seen.divergence.append(
                    f"{where}: {got.tool} result {got.tool_use_id} is_error={got.is_error}, "
                    f"recorded {expected.is_error}"
                )
            if expected.verdict is not None and got.verdict != expected.verdict:
                seen.divergence.append(
                    f"{where}: {got.tool} {got.tool_use_id}: {got.verdict!r}, "
                    f"recorded {expected.verdict!r}"
                )
            if expected.verdict is None:
                continue  # the recording keeps no verdict for this result
            text = seen.verdicts.get(got.tool_use_id, "")
            for key in sorted(set(got.tests) | set(expected.tests)):
                now = got.tests.get(key, "not judged")
                then = expected.tests.get(key, "not judged")
                if now != then:
                    detail = _detail_of(text, key.rsplit("::", 1)[-1])
                    seen.divergence.append(
                        f"{where}: {key}: {now}, recorded {then}"
                        + (f" ({detail})" if detail else "")
                    )
        return seen

    def results_of(self, messages: list[Any]) -> list[ToolResultShape]:
        """The tool results of the newest user message."""
        shapes = []
        for block in _tool_results(messages):
            tool_use_id = str(block.get("tool_use_id", ""))
            tool = self._names.get(tool_use_id, "?")
            text = _text_of(block.get("content"))
            proposal = tool == "propose_tests"
            shapes.append(
                ToolResultShape(
                    tool_use_id=tool_use_id,
                    tool=tool,
                    is_error=bool(block.get("is_error")),
                    verdict=(text.splitlines() or [""])[0] if proposal else None,
                    tests=test_verdicts(text) if proposal else {},
                )
            )
        return shapes


def _tool_results(messages: list[Any]) -> list[dict[str, Any]]:
    if not messages or not isinstance(messages[-1], dict):
        return []
    content = messages[-1].get("content")
    if not isinstance(content, list):
        return []
    return [b for b in content if isinstance(b, dict) and b.get("type") == "tool_result"]


def test_verdicts(text: str) -> dict[str, str]:
    """`file::test -> accepted | rejected [reason] | ...` from a proposal's verdict text."""
    found: dict[str, str] = {}
    path = ""
    for line in text.splitlines():
        if header := FILE_LINE.match(line):
            path = header.group(1)
        elif match := TEST_LINE.match(line):
            name, word, reason = match.groups()
            found[f"{path}::{name}"] = f"{word} [{reason}]" if reason else word
    return found


def _detail_of(text: str, name: str) -> str:
    """The rest of a test's verdict line (why it was rejected), shortened."""
    for line in text.splitlines():
        if line.startswith(f"  - {name}: "):
            rest = line.split(": ", 1)[1]
            rest = (
                rest.split("] ", 1)[1] if rest.startswith("rejected [") and "] " in rest else rest
            )
            return rest[:DETAIL_CHARS]
    return ""


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(str(b.get("text", "")) for b in content if isinstance(b, dict))
    return ""


# ---------------------------------------------------------------- one replay


class FileOutcome(BaseModel):
    path: str
    written: bool  # the report says so
    exists: bool  # in the repository after the run
    same_as_recorded: bool | None = None  # its content against the recording's (None: not kept)


class SessionResult(BaseModel):
    name: str
    pins: str = ""
    source: str = ""
    command: list[str] = Field(default_factory=list)
    status: Status = "replayed"
    message: str = ""
    exit_code: int | None = None
    timed_out: bool = False
    seconds: float = 0.0  # the itarch process, start to exit
    outcome: Outcome = Field(default_factory=Outcome)  # read from the run's JSON report
    recorded: Outcome = Field(default_factory=Outcome)
    files: list[FileOutcome] = Field(default_factory=list)
    git_untouched: bool = False  # HEAD, refs, index and tracked files as before
    git_changes: list[str] = Field(default_factory=list)  # anything else the run changed
    requests: int = 0
    recorded_requests: int = 0
    context_tokens: int | None = None  # what the first request told the model, estimated
    divergence: list[str] = Field(default_factory=list)
    seen: list[Seen] = Field(default_factory=list)  # every request, as the replay server saw it
    traceback: bool = False
    stderr_tail: str = ""
    setup_seconds: dict[str, float] = Field(default_factory=dict)
    warm: bool = False
    cleaned: list[str] = Field(default_factory=list)  # written files removed after the run

    @property
    def ends_well(self) -> bool:
        """Ended by `finish` with at least one file written, present, and nothing else changed."""
        written = [f for f in self.files if f.written]
        return (
            self.status == "replayed"
            and self.outcome.stopped_by == "finish"
            and bool(written)
            and all(f.exists for f in written)
            and self.git_untouched
            and not self.traceback
        )


class SessionsResult(BaseModel):
    suite: Literal["sessions"] = "sessions"
    started: str = Field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))
    itarch: str = agent.__version__
    # the source replayed: `git describe --always --dirty` of the checkout `agent` is imported from
    revision: str = Field(default_factory=lambda: source_revision())
    python: str = Field(default_factory=lambda: sys.version.split()[0])
    machine: str = Field(default_factory=lambda: f"{platform.system()} {platform.machine()}")
    wall_seconds: float = 0.0
    sessions: list[SessionResult] = Field(default_factory=list)

    @property
    def date(self) -> str:
        return self.started[:10]

    def write(self, folder: Path, markdown: str) -> tuple[Path, Path]:
        folder.mkdir(parents=True, exist_ok=True)
        stem = folder / f"{self.date}-{self.suite}"
        json_path, md_path = stem.with_suffix(".json"), stem.with_suffix(".md")
        json_path.write_text(self.model_dump_json(indent=1), encoding="utf-8")
        md_path.write_text(markdown, encoding="utf-8")
        return json_path, md_path


def source_revision() -> str:
    """Which itarch a replay ran: its checkout's commit, `-dirty` with uncommitted changes."""
    done = subprocess.run(
        ["git", "describe", "--always", "--dirty", "--abbrev=12"],
        cwd=Path(agent.__file__).resolve().parent,
        capture_output=True,
        text=True,
        check=False,
    )
    return done.stdout.strip() or "unknown"


def run_sessions(
    sessions: list[Session],
    cache: Path,
    *,
    itarch: list[str] | None = None,
    timeout: float = RUN_TIMEOUT,
) -> SessionsResult:
    """Prepare (or reuse) each session's target and replay it, one at a time."""
    started = time.monotonic()
    result = SessionsResult()
    command = itarch or itarch_command()
    for session in sessions:
        result.sessions.append(run_session(session, cache, command, timeout=timeout))
    result.wall_seconds = round(time.monotonic() - started, 2)
    return result


def run_session(
    session: Session, cache: Path, itarch: list[str], *, timeout: float = RUN_TIMEOUT
) -> SessionResult:
    if session.target is None:
        raise ValueError(f"session {session.name} names no target to build")
    try:
        prepared = prepare(session.target, cache / "sessions" / session.name, cache)
    except Exception as exc:  # any failure to set the target up is reported, not raised
        log.warning("session target not prepared", session=session.name, error=str(exc))
        return SessionResult(
            name=session.name,
            pins=session.target.pins,
            source=session.source,
            status="failed",
            message=str(exc),
            recorded=session.recorded,
        )
    reset_tree(prepared.repo)
    result = replay(session, prepared.repo, itarch, timeout=timeout)
    result.setup_seconds, result.warm = prepared.setup_seconds, prepared.warm
    return result


def replay(
    session: Session, repo: Path, itarch: list[str], *, timeout: float = RUN_TIMEOUT
) -> SessionResult:
    """`itarch <args>` in `repo` against the replay server; scored, then its files removed."""
    result = SessionResult(
        name=session.name,
        pins=session.target.pins if session.target else repo.name,
        source=session.source,
        command=["itarch", *session.args],
        recorded=session.recorded,
        recorded_requests=len(session.responses),
    )
    start_clean(repo)
    before = git_state(repo)
    if before["status"]:
        result.status, result.message = "failed", f"the tree is not clean: {before['status']}"
        return result
    for command in session.before:  # no model: an address that answers nothing
        _, code, _, _ = _run(
            [*itarch, *command], repo, replay_env(session, "http://127.0.0.1:9"), timeout
        )
        if code != 0:
            result.status, result.message = "failed", f"`itarch {' '.join(command)}` exited {code}"
            return result
    with ReplayServer(session) as server:
        env = replay_env(session, server.base_url)
        (stdout, stderr), code, seconds, timed_out = _run(
            [*itarch, *session.args], repo, env, timeout
        )
    result.exit_code, result.seconds, result.timed_out = code, seconds, timed_out
    result.requests, result.seen = len(server.seen), server.seen
    result.context_tokens = server.seen[0].context_tokens if server.seen else None
    result.divergence = [d for s in server.seen for d in s.divergence]
    if result.requests < len(session.responses):
        result.divergence.append(
            f"{result.requests} requests, the recording answered {len(session.responses)}"
        )
    result.divergence += [f"replay server: {e!r}" for e in server.errors]
    result.traceback = TRACEBACK in stderr
    document = _json_document(stdout)
    if document is None:
        result.status, result.message = "failed", "no JSON report on stdout"
    else:
        result.outcome, written = read_report(document)
        result.files = [
            FileOutcome(
                path=path,
                written=path in written,
                exists=(repo / path).is_file(),
                same_as_recorded=_same(repo / path, session.recorded.files.get(path)),
            )
            for path in sorted(document_paths(document))
        ]
    result.outcome.exit_code = code
    after = git_state(repo)
    expected = sorted(f"?? {f.path}" for f in result.files if f.written)
    result.git_changes = [
        f"{key} changed" for key in ("head", "refs", "stash") if before[key] != after[key]
    ]
    result.git_changes += [line for line in after["status"] if line not in expected]
    result.git_changes += [
        f"{line} (written, but not in git status)"
        for line in expected
        if line not in after["status"]
    ]
    result.git_untouched = not result.git_changes
    if timed_out or result.traceback or result.status == "failed" or (code or 0) >= 2:
        result.stderr_tail = _tail(stderr or stdout, 30)
    result.cleaned = clean_written(repo, [f.path for f in result.files if f.written])
    log.info(
        "session replayed",
        session=session.name,
        exit_code=code,
        stopped_by=result.outcome.stopped_by,
        seconds=seconds,
        divergence=len(result.divergence),
    )
    return result


def replay_env(session: Session, base_url: str) -> dict[str, str]:
    """The user's shell in the repository: no venv activated, no itarch settings, our server."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in NOT_THE_USERS and not k.startswith(("ANTHROPIC_", "ITARCH_"))
    }
    return env | session.env | {"ANTHROPIC_API_KEY": REPLAY_KEY, "ANTHROPIC_BASE_URL": base_url}


def read_report(document: dict[str, Any]) -> tuple[Outcome, set[str]]:
    accepted = [a for a in document.get("accepted") or [] if isinstance(a, dict)]
    written = {str(a.get("path")) for a in accepted if a.get("written")}
    outcome = Outcome(
        stopped_by=str(document.get("stopped_by") or ""),
        rounds=int(document.get("rounds") or 0),
        turns=int(document.get("iterations") or 0),
        kept=int(document.get("kept") or 0),
        kept_tests=int(document.get("kept_tests") or 0),
        written=sorted(written),
        wall_seconds=float(document.get("wall_seconds") or 0.0),
        isolation=str(document.get("isolation") or ""),
        model=str(document.get("model") or ""),
    )
    return outcome, written


def document_paths(document: dict[str, Any]) -> set[str]:
    return {str(a.get("path")) for a in document.get("accepted") or [] if isinstance(a, dict)}


def _same(path: Path, sha256: str | None) -> bool | None:
    if sha256 is None or not path.is_file():
        return None
    return hashlib.sha256(path.read_bytes()).hexdigest() == sha256


def reset_tree(repo: Path) -> None:
    """The cached target back to its last commit, should an interrupted replay have left files
    (untracked ones only: the venv and everything else git ignores stay)."""
    for args in (["checkout", "--quiet", "--", "."], ["clean", "-d", "--force", "--quiet"]):
        subprocess.run(["git", *args], cwd=repo, capture_output=True, check=False)


def start_clean(repo: Path) -> None:
    """Remove what an earlier run left: itarch's journal and index, pytest's cache."""
    for name in LEFTOVERS:
        path = repo / name
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)


def git_state(repo: Path) -> dict[str, Any]:
    def git(*args: str) -> str:
        done = subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True)
        return done.stdout.strip()

    return {
        "head": git("rev-parse", "HEAD"),
        "refs": git("show-ref"),
        "stash": git("stash", "list"),
        "status": git("status", "--porcelain", "--untracked-files=all").splitlines(),
    }


def clean_written(repo: Path, paths: list[str]) -> list[str]:
    """`git clean` of exactly the files the run wrote (untracked ones only; nothing else)."""
    if not paths:
        return []
    done = subprocess.run(
        ["git", "clean", "--force", "--quiet", "--", *paths],
        cwd=repo,
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        log.warning("could not clean the written files", repo=str(repo), error=done.stderr)
    return [p for p in paths if not (repo / p).exists()]
