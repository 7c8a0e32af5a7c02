"""The part of `agent.sandbox.Sandbox` the gates use (see agent/sandbox/api.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from agent.schema import IsolationLevel, RunResult


class SandboxPort(Protocol):
    level: IsolationLevel

    @property
    def workspace(self) -> Path: ...

    def run(
        self,
        files: dict[str, str] | None = None,
        *,
        select: list[str] | None = None,
        reruns: int = 0,
        shuffle_seed: int | None = None,
        trace: list[str] | None = None,
        timeout: float | None = None,
        remove: list[str] | None = None,
    ) -> RunResult: ...
