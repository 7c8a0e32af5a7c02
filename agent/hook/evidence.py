"""Coverage evidence left by earlier runs: which seams and lines their accepted tests exercise.

Every `itarch generate` journals its report under `.itarch/runs/<id>/events.jsonl`, and each
accepted test's verdict carries what the gates measured: the changed lines it covered and the
seams it exercised. A test that is still in the pushed commit still exercises them, so the hook
counts them as tested without running anything.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agent.journal import RUNS_DIR
from agent.schema import Seam

# Newest runs read; older ones rarely add tests the newer ones do not already list.
MAX_RUNS = 20
# The report is the journal's last event; a tail this long holds it even with large test files.
TAIL_BYTES = 4 * 1024 * 1024


@dataclass
class Evidence:
    runs: list[str] = field(default_factory=list)  # run ids that contributed, oldest first
    seams: set[str] = field(default_factory=set)  # seam ids
    lines: dict[str, set[int]] = field(default_factory=dict)  # path -> covered lines

    def covers(self, seam: Seam) -> bool:
        return seam.id in self.seams or seam.line in self.lines.get(seam.path, ())

    def covers_module(self, path: str) -> bool:
        return bool(self.lines.get(path))


def load_evidence(repo: Path, existing_tests: set[str]) -> Evidence:
    """Evidence from accepted tests of recent runs whose files exist among `existing_tests`."""
    evidence = Evidence()
    root = repo / RUNS_DIR
    if not root.is_dir():
        return evidence
    journals = sorted(root.glob("*/events.jsonl"))[-MAX_RUNS:]
    for journal in journals:
        report = _last_report(journal)
        if report is None:
            continue
        used = False
        for file in report.get("verdicts", []):
            if file.get("path") not in existing_tests:
                continue  # deleted or never committed: it no longer exercises anything
            for test in file.get("tests", []):
                if test.get("verdict") not in ("accepted", "bug"):
                    continue
                used = True
                evidence.seams.update(test.get("seams", []))
                for hit in test.get("changed_lines_covered", []):
                    path, _, line = str(hit).rpartition(":")
                    if line.isdigit():
                        evidence.lines.setdefault(path, set()).add(int(line))
        if used:
            evidence.runs.append(journal.parent.name)
    return evidence


def _last_report(journal: Path) -> dict[str, Any] | None:
    try:
        with journal.open("rb") as fh:
            fh.seek(0, os.SEEK_END)
            size = fh.tell()
            fh.seek(max(0, size - TAIL_BYTES))
            tail = fh.read()
    except OSError:
        return None
    for raw in reversed(tail.splitlines()):
        if b'"report"' not in raw:
            continue
        try:
            event = json.loads(raw)
        except ValueError:
            continue  # a line torn by a crash, or cut by the tail
        if event.get("kind") == "report" and isinstance(event.get("report"), dict):
            return dict(event["report"])
    return None
