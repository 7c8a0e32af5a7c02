"""Fixtures for the sandbox tests: real git repositories in temp dirs, the real pytest in .venv."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from agent.sandbox import Sandbox
from agent.schema import IsolationLevel

from .helpers import BEST, PYTHON, make_git_repo, settings


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return make_git_repo(tmp_path / "shop")


@pytest.fixture
def sandbox_factory() -> Iterator[Callable[..., Sandbox]]:
    opened: list[Sandbox] = []

    def make(
        repo: Path, level: IsolationLevel = BEST, python: Path = PYTHON, **overrides: float
    ) -> Sandbox:
        box = Sandbox(repo, python, settings(level, **overrides))
        opened.append(box)
        return box

    yield make
    for box in opened:
        box.close()
