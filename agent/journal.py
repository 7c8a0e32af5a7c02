"""`.itarch/runs/<id>/events.jsonl`: every request, response, run and verdict, written before the
next step, so a crash or Ctrl-C loses nothing and `--resume` continues where the run stopped.
"""

from __future__ import annotations

import fcntl
import json
import os
import secrets
import time
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from agent.errors import UserError

RUNS_DIR = Path(".itarch") / "runs"


class JournalError(UserError):
    """A run to resume does not exist or its journal cannot be read."""


def _runs_root(repo: Path) -> Path:
    root = repo / RUNS_DIR
    root.mkdir(parents=True, exist_ok=True)
    # Keeps .itarch/ out of `git status` without touching the user's own .gitignore.
    ignore = repo / ".itarch" / ".gitignore"
    if not ignore.exists():
        ignore.write_text("*\n", encoding="utf-8")
    return root


def scratch_dir(repo: Path) -> Path:
    """`.itarch/tmp`: where files are prepared before they are moved into the tree."""
    _runs_root(repo)  # creates .itarch/ with its .gitignore
    scratch = repo / ".itarch" / "tmp"
    scratch.mkdir(exist_ok=True)
    return scratch


def _jsonable(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    return value


class Journal:
    """An append-only event log of one run; each line is flushed and fsynced before returning."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.run_id = path.parent.name
        self._lock: int | None = None

    @classmethod
    def create(cls, repo: Path) -> Journal:
        # Sortable to the nanosecond, so "the newest run" is never ambiguous; unique by the suffix.
        now = time.time_ns()
        stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime(now // 10**9))
        run_id = f"{stamp}-{now % 10**9:09d}-{secrets.token_hex(2)}"
        run_dir = _runs_root(repo) / run_id
        run_dir.mkdir()  # unique per run: two runs on one repo never share a journal
        return cls(run_dir / "events.jsonl")

    @classmethod
    def open(cls, repo: Path, run_id: str | None) -> Journal:
        """An existing run's journal: the given id, or the newest run when none is given."""
        root = repo / RUNS_DIR
        runs = sorted(p for p in root.glob("*/events.jsonl")) if root.is_dir() else []
        if run_id:
            runs = [p for p in runs if p.parent.name == run_id]
        if not runs:
            raise JournalError(
                f"no run {run_id!r} to resume in {root}"
                if run_id
                else f"no run to resume in {root}"
            )
        return cls(runs[-1])

    def claim(self) -> None:
        """Hold the run for this process: a second process cannot append to (or resume) it.

        The lock is the kernel's, so it goes with the process, even one killed with -9.
        A line torn by such a death is cut off, so the next event starts on a line of its own.
        """
        fd = os.open(self.path.parent / "lock", os.O_WRONLY | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise JournalError(
                f"run {self.run_id} is in progress in another itarch process; let it finish, "
                "or resume another run by its id"
            ) from None
        self._lock = fd
        self._cut_torn_tail()

    @property
    def claimed(self) -> bool:
        return self._lock is not None

    def release(self) -> None:
        if self._lock is not None:
            os.close(self._lock)  # closing the descriptor drops the lock
            self._lock = None

    def _cut_torn_tail(self) -> None:
        if not self.path.exists():
            return
        data = self.path.read_bytes()
        if data and not data.endswith(b"\n"):
            os.truncate(self.path, data.rfind(b"\n") + 1)

    def append(self, kind: str, **data: Any) -> None:
        line = json.dumps({"t": time.time(), "kind": kind, **_jsonable(data)}, default=str)
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, (line + "\n").encode("utf-8"))
            os.fsync(fd)
        finally:
            os.close(fd)

    def events(self, kind: str | None = None) -> list[dict[str, Any]]:
        if not self.path.exists():
            return []
        out = []
        for raw in self.path.read_text(encoding="utf-8").splitlines():
            try:
                event = json.loads(raw)
            except json.JSONDecodeError:
                continue  # a line torn by a crash mid-write: everything before it is intact
            if kind is None or event.get("kind") == kind:
                out.append(event)
        return out
