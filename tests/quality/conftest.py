"""Fixtures for the gate tests: the ledger repository, its context, sandboxes and judges.

Repositories are built once per session (the gates never change them; one test checks that),
and each judge keeps its baseline cache across the tests that share it.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from agent.config import Settings, load_settings
from agent.context import build_context
from agent.quality import Judge
from agent.sandbox import Sandbox
from agent.schema import CheckResult, Context, ProposedFile, ProposedTest, TestVerdict

from .ledger import build_ledger

PYTHON = Path(sys.executable)


@dataclass(frozen=True)
class Ledger:
    path: Path
    base: str
    context: Context


@pytest.fixture(scope="session")
def ledger(tmp_path_factory: pytest.TempPathFactory) -> Ledger:
    repo = tmp_path_factory.mktemp("quality") / "ledger"
    base = build_ledger(repo)
    return Ledger(path=repo, base=base, context=build_context(repo, base=base))


def quiet_settings(repo: Path, **overrides: Any) -> Settings:
    overrides.setdefault("sandbox", {"test_timeout": 2.0})
    return load_settings(repo, **overrides)


@pytest.fixture(scope="session")
def judges(ledger: Ledger) -> Iterator[Callable[..., Judge]]:
    """Judges on the ledger, one sandbox each, cached by their settings."""
    made: dict[tuple[Any, ...], Judge] = {}
    boxes: list[Sandbox] = []

    def make(*, with_context: bool = True, mutation: bool = False, **extra: Any) -> Judge:
        key = (with_context, mutation, tuple(sorted(extra.items())))
        if key not in made:
            settings = quiet_settings(ledger.path, mutation=mutation)
            box = Sandbox(ledger.path, PYTHON, settings.sandbox)
            boxes.append(box)
            made[key] = Judge(
                box, settings, context=ledger.context if with_context else None, **extra
            )
        return made[key]

    yield make
    for box in boxes:
        box.close()


def proposed(path: str, content: str, bugs: dict[str, str] | None = None) -> ProposedFile:
    tests = [
        ProposedTest(name=name, expectation="bug", justification=why)
        for name, why in (bugs or {}).items()
    ]
    return ProposedFile(path=path, content=content, tests=tests)


def verdicts(result: CheckResult, path: str) -> dict[str, TestVerdict]:
    """The verdicts of one file, by test name (or by path for a whole-file rejection)."""
    (file,) = [f for f in result.files if f.path == path]
    return {t.nodeid.split("::", 1)[-1]: t for t in file.tests}
