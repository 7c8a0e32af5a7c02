"""The hook's `generate` mode: write proven tests for the push's gaps, within the hook's budget.

Accepted tests are left as new, uncommitted files; the push itself goes ahead without them (a
hook cannot add commits to the push it is running in). Without a model (no key) the hook falls
back to `check` and says so.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from decimal import Decimal
from pathlib import Path
from typing import TextIO

from agent.config import Settings
from agent.git import git
from agent.hook.model import hook_model
from agent.hook.report import fix_command, print_scans
from agent.hook.scan import RangeScan
from agent.models.base import ModelError
from agent.report import detection_summary
from agent.schema import Report

# Below this many seconds a run could not even start its sandbox; leave it to `itarch generate`.
MIN_SECONDS = 5.0


def generate_for_push(
    repo: Path,
    scans: list[RangeScan],
    settings: Settings,
    env: Mapping[str, str],
    out: TextIO,
    started: float,
) -> int:
    print_scans(out, scans, "generate", seconds=time.monotonic() - started)
    try:
        model, label = hook_model(settings, env)
    except ModelError as exc:
        _say(out, f"generate mode fell back to check: no model ({exc})")
        return 0
    from agent.pipeline import generate  # the sandbox and gates: only when generating

    checked_out = git(repo, "rev-parse", "HEAD")
    wall, dollars = settings.hook.wall_seconds, settings.hook.dollars
    spent = Decimal(0)
    written: list[str] = []
    for scan in (s for s in scans if s.gaps):
        rng = scan.range
        remaining = wall - (time.monotonic() - started)
        if remaining < MIN_SECONDS or spent >= dollars:
            _say(out, f"hook budget used up; for {rng.ref} run: {fix_command(scan)}")
            continue
        if rng.head != checked_out:
            # Tests are proven against the working tree; it must be the pushed commit.
            _say(out, f"{rng.ref} is not checked out; after checking it out: {fix_command(scan)}")
            continue
        budget = settings.model_copy(deep=True)
        budget.budget = budget.budget.model_copy(
            update={
                "wall_seconds": remaining,
                "dollars": min(budget.budget.dollars, dollars - spent),
            }
        )
        budget.sandbox = budget.sandbox.model_copy(
            update={"run_timeout": min(budget.sandbox.run_timeout, remaining)}
        )
        _say(
            out,
            f"generating tests for {rng.ref} with the {label}, within {remaining:.0f}s "
            f"and ${budget.budget.dollars}",
        )
        report = generate(
            repo,
            settings=budget,
            model=model,
            base=rng.base,
            head=rng.head,
            modules=None if rng.base else sorted({m.module for m in scan.modules}),
            write=True,
            on_progress=lambda text: _say(out, text),
            task=gap_task(scan),
        )
        spent += report.cost_usd
        written += [a.path for a in report.accepted if a.written]
        _say(out, _outcome(report))
    if written:
        _say(
            out,
            f"wrote {len(written)} new test file(s), NOT committed; this push goes ahead "
            "without them:",
        )
        for path in written:
            out.write(f"  {path}\n")
        _say(
            out,
            f"commit them: git add {' '.join(written)} && git commit -m 'Add integration "
            "tests' && git push",
        )
    out.flush()
    return 0


def gap_task(scan: RangeScan) -> str:
    """What the push leaves untested, as the model's task: tests for these, not for the rest."""
    lines = ["The pre-push check found these changes that no existing test exercises:"]
    for gap in scan.gaps:
        if gap.function is not None:
            what = f"function `{gap.function}` (line {gap.line})"
        elif gap.seam is not None:
            what = f"{gap.seam.kind} `{gap.seam.detail}` (line {gap.seam.line})"
        else:
            what = "the module"
        lines.append(f"- {gap.path}: {what}: {gap.why}")
    lines.append("Write tests for these; the rest of the change is already exercised.")
    return "\n".join(lines)


def _outcome(report: Report) -> str:
    model = report.model_source
    if report.model != report.model_source:
        model = f"{report.model} ({report.model_source})"
    detected = detection_summary(report.verdicts)
    return (
        f"run {report.run_id}: {len(report.accepted)} file(s) accepted, {len(report.bugs)} "
        f"bug(s) documented, {len(report.rejected)} test(s) rejected; stopped by "
        f"{report.stopped_by}; model {model}, ${report.cost_usd}, {report.wall_seconds:.1f}s"
        + (f"; {detected}" if detected else "")
        + (f"; reused run {report.reused_from}, nothing paid" if report.reused_from else "")
    )


def _say(out: TextIO, line: str) -> None:
    out.write(f"itarch: {line}\n")
    out.flush()
