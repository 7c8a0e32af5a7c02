"""The replay suite: a recorded live run played back offline, which must score the same.

The recorded responses go to `ReplayModel` in order; everything else (context, sandbox, judge,
measurement) runs again for real. Usage and cost stay as recorded, so tokens and dollars match
by construction; acceptance, bugs, coverage and mutation must match because the judge is
deterministic. Timings are not compared.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from agent.config import Budget
from agent.models.replay import ReplayModel
from agent.schema import ModelResponse
from evals import measure, runs
from evals.live import score
from evals.prepare import prepare
from evals.results import LiveTarget, SuiteResult, TargetInfo, Timing
from evals.targets import TARGETS


def load(path: Path) -> SuiteResult:
    result = SuiteResult.model_validate_json(path.read_text(encoding="utf-8"))
    if not result.live:
        raise ValueError(f"{path} holds no live run to replay (suite: {result.suite})")
    return result


def run_replay(recorded: SuiteResult, source: Path, cache: Path) -> SuiteResult:
    started = time.monotonic()
    result = SuiteResult(suite="replay", replay_of=str(source))
    for original in recorded.live:
        if original.status != "scored":
            continue
        replayed = replay_target(original, cache)
        result.live.append(replayed)
        found = differences(original, replayed)
        result.differences += [f"{original.target.name}: {d}" for d in found]
        if found and original.reference_key != replayed.reference_key:
            result.differences.append(
                f"{original.target.name}: the full-suite measurement changed since the "
                "recording (the target or itarch's mutation code is not the same)"
            )
    result.identical = bool(result.live) and not result.differences
    result.wall_seconds = round(time.monotonic() - started, 2)
    return result


def replay_target(original: LiveTarget, cache: Path) -> LiveTarget:
    name = original.target.name
    spec = TARGETS.get(name)
    if spec is None or (spec.version, spec.project) != (
        original.target.version,
        original.target.project,
    ):
        info = original.target.model_copy()
        return LiveTarget(target=info, status="failed", message="the target changed since")
    prepared = prepare(spec, cache)
    settings = runs.eval_settings(prepared, model=original.model or None)
    settings.budget = _budget(original)
    responses = [
        ModelResponse.model_validate(e["response"])
        for e in original.journal
        if e.get("kind") == "response"
    ]
    model = ReplayModel(responses, name=original.model)
    ref = measure.reference(prepared, settings)
    record = runs.run(prepared, settings, model)
    timing = Timing(warm=prepared.warm)
    return score(prepared, settings, ref, record, TargetInfo.of(prepared), timing)


def _budget(original: LiveTarget) -> Budget:
    """The recorded budget; the wall clock is not replayed (a replay runs at its own speed)."""
    budget = Budget.model_validate(original.budget) if original.budget else Budget()
    if original.report is not None and original.report.stopped_by == "wall_time":
        # The recorded run was cut by its clock after this many turns: stop at the same turn.
        return budget.model_copy(
            update={"turns": original.report.iterations, "wall_seconds": 10**6}
        )
    return budget.model_copy(update={"wall_seconds": 10**6})


def differences(original: LiveTarget, replayed: LiveTarget) -> list[str]:
    a, b = original.scores(), replayed.scores()
    if original.report is not None and original.report.stopped_by == "wall_time":
        for side in (a, b):  # the clock's stop reads as the iteration limit in a replay
            if side.get("generation"):
                side["generation"]["stopped_by"] = "wall_time"
    return list(_diff(a, b, ""))


def _diff(a: Any, b: Any, where: str) -> list[str]:
    if isinstance(a, dict) and isinstance(b, dict):
        out: list[str] = []
        for key in sorted(set(a) | set(b)):
            out += _diff(a.get(key), b.get(key), f"{where}.{key}" if where else key)
        return out
    return [] if a == b else [f"{where}: recorded {a!r}, replayed {b!r}"]
