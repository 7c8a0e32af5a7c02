"""The `changes` suite: real upstream release changes, judged through the real loop.

For each change (`evals/changes_targets.py`) the repository holds release N and, one commit
later, release N+1's code with N's tests. `agent.pipeline.generate` runs on it with `--base
HEAD~1` semantics and every gate as a user gets it (mutation on, no `require`):

- offline (default): a scripted stand-in proposes the upstream's own new and changed tests of
  N+1 ("reference tests replayed", never labelled as a model's output) in one round, then
  finishes. This validates the harness (a test known to pin the change must get
  `detects_change: true`; on a refactor no reference test may be rejected) and gives the human
  baseline.
- live (`--live`, needs ANTHROPIC_API_KEY): Claude writes the tests within the default budget;
  the reference is replayed too, so both stand side by side.

Scores per change and in total: accepted share, fail-to-pass share (`detects_change: true`
among the accepted), change coverage (changed behaviour lines run by kept tests, of all changed
behaviour lines), mutants of the change killed (of how many), and wall seconds; live adds
turns, tokens, cache share and dollars per accepted test.
"""

from __future__ import annotations

import fnmatch
import json
import platform
import shutil
import sys
import time
import traceback
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field

import agent
from agent.config import Settings, load_settings
from agent.context import build_context
from agent.journal import RUNS_DIR
from agent.log import get_logger
from agent.models.base import Model
from agent.models.scripted import ScriptedModel, tool_use
from agent.pipeline import generate
from agent.quality.scope import scope_of
from agent.schema import CheckResult, Report
from evals.changes_prepare import PreparedChange, prepare
from evals.changes_targets import ChangeSpec

log = get_logger(__name__)

REPLAYED = "reference tests replayed"
BASE = "HEAD~1"
Mode = Literal["offline", "live"]
ModelFactory = Callable[[Settings], Model]


class TestRecord(BaseModel):
    __test__ = False  # a record of a judged test, not a test

    nodeid: str
    verdict: str
    reason: str | None = None
    detail: str = ""
    on_base: str = "not_applicable"
    detects_change: bool | None = None
    base_detail: str = ""
    changed_lines: int = 0
    mutants: str = ""  # "killed/of" for the change's mutants
    expected: str | None = None  # detects | guards | a reason code; None: no expectation
    ok: bool | None = None  # as expected (None: not checked)


class Figures(BaseModel):
    """One set of tests (the reference, or the model's) judged on one change."""

    source: str  # "reference tests replayed" or the model's name
    files: int = 0
    files_kept: int = 0  # every test in it accepted: what `generate` would write
    tests: int = 0
    accepted: int = 0  # judged accepted, or kept as a documented bug
    detects: int = 0  # accepted and detects_change: true
    changed_lines: int = 0  # changed behaviour lines of the change
    changed_run: int = 0  # ... of which kept tests execute
    mutants: int = 0  # mutants of the changed lines
    killed: int = 0  # ... that kept tests kill
    wall_seconds: float = 0.0
    turns: int = 0
    rounds: int = 0
    tokens: int = 0
    cache_share: float = 0.0
    dollars: Decimal = Decimal(0)
    stopped_by: str = ""
    isolation: str = ""
    tests_seen: list[TestRecord] = Field(default_factory=list)

    @property
    def accepted_share(self) -> float | None:
        return round(self.accepted / self.tests, 3) if self.tests else None

    @property
    def f2p_share(self) -> float | None:
        return round(self.detects / self.accepted, 3) if self.accepted else None

    @property
    def coverage(self) -> float | None:
        return round(self.changed_run / self.changed_lines, 3) if self.changed_lines else None

    @property
    def mutation(self) -> float | None:
        return round(self.killed / self.mutants, 3) if self.mutants else None

    @property
    def dollars_per_accepted(self) -> Decimal | None:
        if not self.accepted or not self.dollars:
            return None
        return (self.dollars / self.accepted).quantize(Decimal("0.0001"))


class ChangeRun(BaseModel):
    name: str
    pins: str
    kind: str
    what: str
    status: Literal["scored", "failed"] = "scored"
    message: str = ""
    adapted: list[str] = Field(default_factory=list)
    reference_files: list[str] = Field(default_factory=list)  # "path (from source)"
    setup_seconds: dict[str, float] = Field(default_factory=dict)
    warm: bool = False
    reference: Figures | None = None
    live: Figures | None = None
    problems: list[str] = Field(default_factory=list)  # what --strict fails on
    known: list[str] = Field(default_factory=list)  # known misjudgments seen, not failed on

    @property
    def ok(self) -> bool:
        return self.status == "scored" and not self.problems


class ChangesResult(BaseModel):
    suite: Literal["changes"] = "changes"
    mode: Mode = "offline"
    started: str = Field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))
    itarch: str = agent.__version__
    python: str = Field(default_factory=lambda: sys.version.split()[0])
    machine: str = Field(default_factory=lambda: f"{platform.system()} {platform.machine()}")
    wall_seconds: float = 0.0
    changes: list[ChangeRun] = Field(default_factory=list)

    @property
    def date(self) -> str:
        return self.started[:10]

    def total(self, which: Literal["reference", "live"]) -> Figures:
        total = Figures(source=which)
        for change in self.changes:
            got = change.reference if which == "reference" else change.live
            if got is None:
                continue
            for field in (
                "files",
                "files_kept",
                "tests",
                "accepted",
                "detects",
                "changed_lines",
                "changed_run",
                "mutants",
                "killed",
                "turns",
                "rounds",
                "tokens",
            ):
                setattr(total, field, getattr(total, field) + getattr(got, field))
            total.wall_seconds = round(total.wall_seconds + got.wall_seconds, 2)
            total.dollars += got.dollars
        return total

    def write(self, folder: Path, markdown: str) -> tuple[Path, Path]:
        folder.mkdir(parents=True, exist_ok=True)
        name = f"{self.date}-changes" + ("-live" if self.mode == "live" else "")
        json_path, md_path = folder / f"{name}.json", folder / f"{name}.md"
        json_path.write_text(self.model_dump_json(indent=1), encoding="utf-8")
        md_path.write_text(markdown, encoding="utf-8")
        return json_path, md_path


# ---------------------------------------------------------------- running


def run_changes(
    specs: list[ChangeSpec],
    cache: Path,
    *,
    model_factory: ModelFactory | None = None,
    budget: dict[str, object] | None = None,
) -> ChangesResult:
    """Every change in turn: the reference replayed, then (with a model factory) the model."""
    started = time.monotonic()
    result = ChangesResult(mode="live" if model_factory else "offline")
    for spec in specs:
        result.changes.append(run_one(spec, cache, model_factory=model_factory, budget=budget))
    result.wall_seconds = round(time.monotonic() - started, 2)
    return result


def run_one(
    spec: ChangeSpec,
    cache: Path,
    *,
    model_factory: ModelFactory | None = None,
    budget: dict[str, object] | None = None,
) -> ChangeRun:
    run = ChangeRun(
        name=spec.name, pins=spec.pins, kind=spec.kind, what=spec.what, adapted=spec.adapted
    )
    try:
        prepared = prepare(spec, cache)
    except Exception as exc:  # one change's set-up failing must not sink the others
        log.error("change not prepared", change=spec.name, error=str(exc))
        return run.model_copy(update={"status": "failed", "message": str(exc)})
    run.setup_seconds, run.warm = prepared.setup_seconds, prepared.warm
    run.reference_files = [
        f.path if f.new_file else f"{f.path} (from {f.source})" for f in prepared.reference
    ]
    try:
        settings = settings_for(spec, prepared)
        changed = changed_behaviour_lines(prepared, settings)
        run.reference = replay_reference(prepared, settings, changed)
        run.problems, run.known = check_expectations(spec, run.reference)
        if model_factory is not None:
            live_settings = settings.model_copy(
                update={"budget": settings.budget.model_copy(update=budget or {})}
            )
            model = model_factory(live_settings)
            run.live = figures(_generate(prepared, live_settings, model), model.name, changed)
    except Exception as exc:  # a harness error is a failed change, with where it happened
        log.error("change not scored", change=spec.name, error=str(exc))
        tail = traceback.format_exc().strip().splitlines()[-3:]
        run.status, run.message = "failed", f"{type(exc).__name__}: {exc}"
        run.problems.append("traceback: " + " | ".join(line.strip() for line in tail))
    return run


def settings_for(spec: ChangeSpec, prepared: PreparedChange) -> Settings:
    """What a user gets in that repository, the tests root said where the default would miss."""
    tests_root = spec.tests_root if spec.tests_root == "." else None
    return load_settings(prepared.repo, python=str(prepared.python), tests_root=tests_root)


def changed_behaviour_lines(prepared: PreparedChange, settings: Settings) -> dict[str, set[int]]:
    """The lines the judge measures against: changed behaviour lines outside the tests."""
    ctx = build_context(
        prepared.repo,
        base=BASE,
        budget_tokens=settings.context_tokens,
        tests_root=settings.tests_root,
        python=str(prepared.python),
    )
    return scope_of(ctx, prepared.repo, ctx.conventions.tests_root).changed


def replay_reference(
    prepared: PreparedChange, settings: Settings, changed: dict[str, set[int]]
) -> Figures:
    """The reference files proposed in one round by a scripted stand-in, which then finishes."""
    files = [
        {
            "path": f.path,
            "content": f.content,
            "purpose": f"upstream's tests of {f.source}" + ("" if f.new_file else " (new/changed)"),
        }
        for f in prepared.reference
    ]
    model = ScriptedModel(
        [tool_use("propose_tests", {"files": files}), tool_use("finish", {"summary": REPLAYED})],
        name=REPLAYED,
    )
    budget = settings.budget.model_copy(update={"rounds": 1, "turns": 2, "wall_seconds": 3600.0})
    judged = _generate(prepared, settings.model_copy(update={"budget": budget}), model)
    return figures(judged, REPLAYED, changed)


def _generate(
    prepared: PreparedChange, settings: Settings, model: Model
) -> tuple[Report, CheckResult | None]:
    """`generate` on the change since HEAD~1, writing nothing; returns the report and the last
    verdict from the run's journal, which is removed after."""
    started = time.monotonic()
    try:
        report = generate(prepared.repo, settings=settings, model=model, base=BASE, write=False)
    finally:
        shutil.rmtree(prepared.repo / ".pytest_cache", ignore_errors=True)
    last: CheckResult | None = None
    events = prepared.repo / RUNS_DIR / report.run_id / "events.jsonl"
    if events.is_file():
        for line in events.read_text(encoding="utf-8").splitlines():
            event = json.loads(line)
            if event.get("kind") == "verdict":
                last = CheckResult.model_validate(event["result"])
    shutil.rmtree(prepared.repo / RUNS_DIR, ignore_errors=True)
    report.wall_seconds = round(time.monotonic() - started, 2)
    return report, last


def figures(
    run: tuple[Report, CheckResult | None], source: str, changed: dict[str, set[int]]
) -> Figures:
    report, last = run
    kept = {a.path for a in report.accepted}
    got = Figures(
        source=source,
        files=len(report.verdicts),
        files_kept=len(kept),
        wall_seconds=report.wall_seconds,
        turns=report.iterations,
        rounds=report.rounds,
        tokens=report.usage.total,
        cache_share=report.cache_share,
        dollars=report.cost_usd,
        stopped_by=report.stopped_by,
        isolation=report.isolation.value,
        changed_lines=sum(len(v) for v in changed.values()),
    )
    executed: set[tuple[str, int]] = set()
    for file in report.verdicts:
        for test in file.tests:
            got.tests += 1
            accepted = test.verdict != "rejected"
            got.accepted += accepted
            got.detects += bool(accepted and test.detects_change)
            lines = {_ref(r) for r in test.changed_lines_covered}
            lines = {(p, n) for p, n in lines if n in changed.get(p, set())}
            if accepted:
                executed |= lines
            mutants = (
                f"{test.change_mutants_killed}/{test.change_mutants}"
                if test.change_mutants is not None
                else ""
            )
            got.tests_seen.append(
                TestRecord(
                    nodeid=test.nodeid,
                    verdict=test.verdict,
                    reason=test.reason.value if test.reason else None,
                    detail=test.detail,
                    on_base=test.on_base,
                    detects_change=test.detects_change,
                    base_detail=test.base_detail,
                    changed_lines=len(lines),
                    mutants=mutants,
                )
            )
    got.changed_run = len(executed)
    if last is not None and report.rounds == 1:  # the accepted tests' kills, of the change's
        got.killed, got.mutants = last.mutants_killed, last.mutants_total
    elif last is not None:  # over rounds: what the kept tests kill, of the mutants seen
        got.killed, got.mutants = last.kept_kill
    return got


def _ref(ref: str) -> tuple[str, int]:
    path, _, line = ref.rpartition(":")
    return path, int(line) if line.isdigit() else -1


# ---------------------------------------------------------------- expectations (--strict)


def expectation(spec: ChangeSpec, nodeid: str) -> str | None:
    """What the spec expects of a reference test: the first pattern matching the part of the
    node id after the file."""
    tail = nodeid.split("::", 1)[1] if "::" in nodeid else nodeid
    for pattern, outcome in spec.expect:
        if fnmatch.fnmatchcase(tail, pattern):
            return outcome
    return None


def check_expectations(spec: ChangeSpec, got: Figures) -> tuple[list[str], list[str]]:
    """What --strict fails on: a reference test not judged as expected, a test known to pin the
    change not detecting it, a refactor's reference test rejected without an expected reason.
    Second: the mismatches the spec lists as known misjudgments of the judge."""
    problems: list[str] = []
    known: list[str] = []
    for test in got.tests_seen:
        want = expectation(spec, test.nodeid)
        test.expected = want
        if test.verdict == "rejected":
            actual = test.reason or "rejected"
        elif test.detects_change:
            actual = "detects"
        else:
            actual = "guards"
        test.ok = want is None or want == actual
        if want is None:
            if spec.expect:
                problems.append(f"{test.nodeid}: no expectation (got {actual})")
            if spec.kind == "refactor" and test.verdict == "rejected":
                problems.append(f"{test.nodeid}: refactor test rejected ({actual})")
        elif not test.ok:
            line = f"{test.nodeid}: expected {want}, got {actual} {test.detail}".strip()
            note = next(
                (n for p, n in spec.known.items() if fnmatch.fnmatchcase(tail(test), p)), None
            )
            if note is None:
                problems.append(line)
            else:
                known.append(f"{test.nodeid}: {note}")
    if not got.tests:
        problems.append("no reference test was judged")
    return problems, known


def tail(test: TestRecord) -> str:
    return test.nodeid.split("::", 1)[1] if "::" in test.nodeid else test.nodeid
