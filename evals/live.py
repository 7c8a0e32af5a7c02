"""The live suite: Claude writes tests for the modules the held-out files covered.

Per target: the held-out files are gone from the repository, `generate` runs with the model
within a budget, and the accepted files are measured against the held-out human tests (coverage
and mutants of the same lines). The run's whole journal is kept in the results so that the replay
suite can play the same responses back and must arrive at the same scores.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from agent.config import Settings
from agent.log import get_logger
from agent.models.base import Model, ModelError
from evals import measure, runs, scores
from evals.prepare import PreparedTarget, prepare
from evals.results import LiveTarget, SuiteResult, TargetInfo, Timing
from evals.targets import TargetSpec

log = get_logger(__name__)

ModelFactory = Callable[[Settings], Model]


def run_live(
    specs: list[TargetSpec],
    cache: Path,
    model_factory: ModelFactory,
    *,
    model: str | None = None,
    budget: dict[str, Any] | None = None,
) -> SuiteResult:
    started = time.monotonic()
    result = SuiteResult(suite="live")
    for spec in specs:
        result.live.append(evaluate(spec, cache, model_factory, model=model, budget=budget or {}))
    result.wall_seconds = round(time.monotonic() - started, 2)
    return result


def evaluate(
    spec: TargetSpec,
    cache: Path,
    model_factory: ModelFactory,
    *,
    model: str | None,
    budget: dict[str, Any],
) -> LiveTarget:
    try:
        prepared = prepare(spec, cache)
    except Exception as exc:  # one target's set-up failing must not sink the others
        log.error("target not prepared", target=spec.name, error=str(exc))
        info = TargetInfo(name=spec.name, kind=spec.kind, project=spec.project)
        return LiveTarget(target=info, status="failed", message=str(exc))
    info = TargetInfo.of(prepared)
    if not prepared.baseline.green:
        why = (prepared.baseline.collect_errors + prepared.baseline.problems + ["?"])[0]
        return LiveTarget(target=info, status="not_green", message=f"suite not green: {why}")
    settings = settings_for(prepared, model=model, budget=budget)
    timing = Timing(setup=prepared.setup_seconds, warm=prepared.warm)
    started = time.monotonic()
    ref = measure.reference(prepared, settings)
    if not prepared.warm:
        timing.reference = round(time.monotonic() - started, 2)
    try:
        llm = model_factory(settings)
    except ModelError as exc:
        return LiveTarget(target=info, status="failed", message=str(exc))
    try:
        record = runs.run(prepared, settings, llm)
        return score(prepared, settings, ref, record, info, timing)
    except Exception as exc:  # a broken target must not sink the others' scores
        log.error("target not scored", target=spec.name, error=str(exc))
        return LiveTarget(target=info, status="failed", message=str(exc))


def settings_for(
    prepared: PreparedTarget, *, model: str | None, budget: dict[str, Any]
) -> Settings:
    settings = runs.eval_settings(prepared, model=model)
    if budget:
        settings.budget = settings.budget.model_copy(update=budget)
    return settings


def score(
    prepared: PreparedTarget,
    settings: Settings,
    ref: measure.Reference,
    record: runs.RunRecord,
    info: TargetInfo,
    timing: Timing,
) -> LiveTarget:
    report = record.report
    files = {a.path: a.content for a in report.accepted}
    started = time.monotonic()
    measured = measure.measure_files(prepared, settings, ref, files)
    timing.measure = round(time.monotonic() - started, 2)
    timing.add(record)
    verdicts = record.verdicts()
    log.info(
        "target generated",
        target=prepared.spec.name,
        accepted=len(report.accepted),
        stopped_by=report.stopped_by,
        cost_usd=str(report.cost_usd),
    )
    return LiveTarget(
        target=info,
        model=report.model,
        model_source=report.model_source,
        budget=settings.budget.model_dump(mode="json"),
        reference_key=ref.key,
        generation=scores.generation(report, verdicts),
        recovery=scores.recovery(ref, measured),
        timing=timing,
        report=report,
        journal=record.events,
    )
