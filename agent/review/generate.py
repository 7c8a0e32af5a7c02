"""`itarch review --generate`: the gaps a review found become the task of a `generate` run."""

from __future__ import annotations

from pathlib import Path

from agent.config import Settings
from agent.models.base import Model
from agent.pipeline import Progress, generate
from agent.review.model import ReviewResult
from agent.review.render import gap_modules, gap_task
from agent.schema import Report


def generate_for_gaps(
    repo: Path,
    result: ReviewResult,
    *,
    settings: Settings,
    model: Model,
    write: bool = True,
    on_progress: Progress | None = None,
) -> Report | None:
    """Tests for the untested seams and error paths, with everything `generate` guarantees
    (sandbox, gates, new files only). None when the review found no gap."""
    modules = gap_modules(result)
    if not modules:
        return None
    return generate(
        repo,
        settings=settings,
        model=model,
        modules=modules,
        write=write,
        on_progress=on_progress,
        task=gap_task(result),
    )
