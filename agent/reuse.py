"""Runs that need not be paid for twice: a run whose change, context and settings match an earlier
run's (the same words sent to the same model, judged by the same gates) reuses that run's kept
tests. The key is a hash of the three; each run's key sits beside its journal
(`.itarch/runs/<id>/key`), and only runs that ended with a report and kept tests are reused.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from agent.config import Settings
from agent.journal import RUNS_DIR, Journal
from agent.schema import Report

KEY_FILE = "key"


def run_key(context_text: str, task: str, model: str, settings: Settings) -> str:
    judged_by = {
        "model": model,
        "require": sorted(settings.require),
        "reruns": settings.reruns,
        "mutation": settings.mutation,
        "gates": settings.gate_switches(),
        "isolation": settings.sandbox.isolation,
        "max_tokens": settings.max_tokens,
    }
    digest = hashlib.sha256()
    for part in (context_text, task, json.dumps(judged_by, sort_keys=True)):
        digest.update(part.encode("utf-8"))
        digest.update(b"\0")
    return digest.hexdigest()


def remember(journal: Journal, key: str) -> None:
    (journal.path.parent / KEY_FILE).write_text(key, encoding="utf-8")


def earlier_run(repo: Path, key: str) -> Report | None:
    """The newest finished run with this key that kept tests, as it reported."""
    root = repo / RUNS_DIR
    if not root.is_dir():
        return None
    for key_file in sorted(root.glob(f"*/{KEY_FILE}"), reverse=True):
        try:
            if key_file.read_text(encoding="utf-8").strip() != key:
                continue
        except OSError:
            continue
        reports = Journal(key_file.parent / "events.jsonl").events("report")
        if not reports:
            continue
        try:
            report = Report.model_validate(reports[-1]["report"])
        except (ValueError, KeyError):
            continue
        if report.accepted:
            return report
    return None
