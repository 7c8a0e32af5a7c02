"""The results file of one evaluation run (`evals/results/<date>-<suite>.json`)."""

from __future__ import annotations

import platform
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field

import agent
from agent.schema import Report
from evals.corpus import Skipped
from evals.prepare import BaselineCheck, PreparedTarget
from evals.runs import RunRecord
from evals.scores import Accuracy, CaseResult, Generation, Recovery
from evals.targets import KnownRejection

Status = Literal["scored", "not_green", "failed"]


class Timing(BaseModel):
    wall: float = 0.0  # the pipeline runs, end to end
    pytest: float = 0.0  # inside pytest processes in the sandbox
    tests: float = 0.0  # ... of which the tests themselves (setup, call, teardown)
    model: float = 0.0  # waiting for the model
    sandbox_runs: int = 0
    gates: dict[str, float] = Field(default_factory=dict)  # the judge's own split of its time
    setup: dict[str, float] = Field(default_factory=dict)  # preparing the target (cold only)
    reference: float = 0.0  # measuring the full suite (cold only)
    measure: float = 0.0  # measuring accepted files (live)
    warm: bool = False

    @property
    def overhead(self) -> float:
        """The harness's own time: everything in the runs that is not the model or the tests."""
        return round(max(0.0, self.wall - self.tests - self.model), 2)

    @property
    def in_process(self) -> float:
        """The part of the overhead spent in itarch's own process (context, judging, journal)."""
        return round(max(0.0, self.wall - self.pytest - self.model), 2)

    def add(self, record: RunRecord) -> None:
        self.wall = round(self.wall + record.wall_seconds, 2)
        self.pytest = round(self.pytest + record.pytest_seconds, 2)
        self.tests = round(self.tests + record.test_seconds, 2)
        self.model = round(self.model + record.model_seconds, 2)
        self.sandbox_runs += record.sandbox_runs
        for verdict in record.verdicts():
            for gate, seconds in verdict.gate_seconds.items():
                self.gates[gate] = round(self.gates.get(gate, 0.0) + seconds, 2)


class TargetInfo(BaseModel):
    name: str
    kind: str
    project: str = ""
    version: str = ""
    seams: str = ""
    heldout: list[str] = Field(default_factory=list)
    modules: list[str] = Field(default_factory=list)
    isolation: str = ""
    notes: list[str] = Field(default_factory=list)
    baseline: BaselineCheck | None = None
    known_rejections: list[KnownRejection] = Field(default_factory=list)

    @classmethod
    def of(cls, prepared: PreparedTarget) -> TargetInfo:
        spec = prepared.spec
        return cls(
            name=spec.name,
            kind=spec.kind,
            project=spec.project,
            version=spec.version,
            seams=spec.seams,
            heldout=list(spec.heldout),
            modules=list(spec.modules),
            isolation=prepared.isolation_level.value,
            notes=prepared.notes,
            baseline=prepared.baseline.model_copy(update={"nodeids": []}),
            known_rejections=list(spec.known_rejections),
        )


class OfflineTarget(BaseModel):
    target: TargetInfo
    status: Status = "scored"
    message: str = ""
    cases: list[CaseResult] = Field(default_factory=list)
    skipped: list[Skipped] = Field(default_factory=list)
    accuracy: Accuracy = Field(default_factory=Accuracy)
    recovery: Recovery | None = None
    timing: Timing = Field(default_factory=Timing)


class LiveTarget(BaseModel):
    target: TargetInfo
    status: Status = "scored"
    message: str = ""
    model: str = ""
    model_source: str = ""
    budget: dict[str, Any] = Field(default_factory=dict)
    reference_key: str = ""  # which full-suite measurement the recovery was scored against
    generation: Generation | None = None
    recovery: Recovery | None = None
    timing: Timing = Field(default_factory=Timing)
    report: Report | None = None
    journal: list[dict[str, Any]] = Field(default_factory=list)  # what a replay plays back

    def scores(self) -> dict[str, Any]:
        """Everything a replay must reproduce exactly (not timings, not the model's label)."""
        return {
            "status": self.status,
            "generation": self.generation.model_dump(mode="json") if self.generation else None,
            "recovery": self.recovery.model_dump(mode="json") if self.recovery else None,
        }


class SuiteResult(BaseModel):
    suite: Literal["offline", "live", "replay"]
    started: str = Field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))
    itarch: str = agent.__version__
    python: str = Field(default_factory=lambda: sys.version.split()[0])
    machine: str = Field(default_factory=lambda: f"{platform.system()} {platform.machine()}")
    wall_seconds: float = 0.0
    offline: list[OfflineTarget] = Field(default_factory=list)
    live: list[LiveTarget] = Field(default_factory=list)
    replay_of: str | None = None
    identical: bool | None = None
    differences: list[str] = Field(default_factory=list)

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
