"""One pass of the real pipeline (`agent.pipeline.generate`) over a prepared target.

Every suite goes through here: the offline suite with a scripted model that proposes the corpus,
the live suite with Claude, the replay suite with a recording. The run's journal is read back
whole (it is what a replay needs) and removed from the target's cache.
"""

from __future__ import annotations

import itertools
import json
import shutil
import threading
import time
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from agent.config import Settings, load_settings
from agent.journal import RUNS_DIR
from agent.models.base import Model
from agent.models.scripted import ScriptedModel, tool_use
from agent.pipeline import generate
from agent.schema import CheckResult, Report
from evals.corpus import Case
from evals.prepare import PreparedTarget
from evals.timing import sandbox_time

# Per test item. The targets' own tests take well under a second each; the `timeout` variant
# would otherwise hold the evaluation for the default minute per item.
TEST_TIMEOUT = 5.0
# `load_settings` points a module-level source at one pyproject.toml while it reads it.
_SETTINGS_LOCK = threading.Lock()


class RunRecord(BaseModel):
    report: Report
    events: list[dict[str, Any]] = Field(default_factory=list)  # the whole journal
    wall_seconds: float = 0.0
    pytest_seconds: float = 0.0
    test_seconds: float = 0.0
    sandbox_runs: int = 0
    model_seconds: float = 0.0

    def verdicts(self) -> list[CheckResult]:
        """The judge's result for each `propose_tests` call, in order."""
        return [
            CheckResult.model_validate(e["result"]) for e in self.events if e["kind"] == "verdict"
        ]


def eval_settings(prepared: PreparedTarget, **overrides: Any) -> Settings:
    """The target's settings with the sandbox level that runs its suite and a short hang limit."""
    with _SETTINGS_LOCK:
        settings = load_settings(prepared.repo, python=str(prepared.python), **overrides)
    settings.sandbox = settings.sandbox.model_copy(
        update={"isolation": prepared.isolation, "test_timeout": TEST_TIMEOUT}
    )
    return settings


def run(
    prepared: PreparedTarget, settings: Settings, model: Model, *, base: str | None = None
) -> RunRecord:
    """`generate` for the held-out modules (or for the change since `base`), writing nothing
    into the target's tree."""
    started = time.monotonic()
    with sandbox_time() as tally:
        report = generate(
            prepared.repo,
            settings=settings,
            model=model,
            base=base,
            modules=None if base else list(prepared.spec.modules),
            write=False,
        )
    wall = time.monotonic() - started
    events = _take_journal(prepared.repo, report.run_id)
    return RunRecord(
        report=report,
        events=events,
        wall_seconds=round(wall, 2),
        pytest_seconds=round(tally.seconds, 2),
        test_seconds=round(tally.test_seconds, 2),
        sandbox_runs=tally.runs,
        model_seconds=round(model_seconds(events), 2),
    )


def model_seconds(events: list[dict[str, Any]]) -> float:
    """Time spent waiting for the model: from the event before each response to the response."""
    total = 0.0
    for before, event in itertools.pairwise(events):
        if event["kind"] == "response":
            total += event["t"] - before["t"]
    return total


def _take_journal(repo: Path, run_id: str) -> list[dict[str, Any]]:
    folder = repo / RUNS_DIR / run_id
    path = folder / "events.jsonl"
    events = []
    if path.is_file():
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                events.append(json.loads(line))
            except json.JSONDecodeError:
                continue
    shutil.rmtree(folder, ignore_errors=True)
    return events


# ---------------------------------------------------------------- the corpus, proposed by script


def propose_turn(turn: list[Case]) -> dict[str, Any]:
    files = [{"path": c.path, "content": c.content, "purpose": c.description} for c in turn]
    return tool_use("propose_tests", {"files": files})


def propose_corpus(
    prepared: PreparedTarget,
    settings: Settings,
    turns: list[list[Case]],
    *,
    base: str | None = None,
) -> tuple[list[CheckResult], list[RunRecord]]:
    """Propose each turn's cases through the loop; one verdict per turn.

    A run that ends before every turn was judged (a budget, an error) is continued by a new
    run with the remaining turns.
    """
    verdicts: list[CheckResult] = []
    records: list[RunRecord] = []
    remaining = list(turns)
    while remaining:
        script = [propose_turn(t) for t in remaining]
        model = ScriptedModel([*script, tool_use("finish", {"summary": "corpus proposed"})])
        budget = settings.budget.model_copy(
            update={"turns": len(script) + 1, "rounds": len(script), "wall_seconds": 3600.0}
        )
        record = run(prepared, settings.model_copy(update={"budget": budget}), model, base=base)
        records.append(record)
        got = record.verdicts()
        if not got:  # nothing was judged: the run failed before the first turn
            raise RuntimeError(f"{prepared.spec.name}: the run ended with {record.report.message}")
        verdicts += got
        remaining = remaining[len(got) :]
    return verdicts, records
