"""The compat suite's Markdown scorecard: one row per project, a total, then what went wrong."""

from __future__ import annotations

from evals.compat import PASS_SHARE, CompatResult, ProjectResult, reason_totals


def render(result: CompatResult) -> str:
    lines = [
        f"# Compat scorecard ({result.date})",
        "",
        f"itarch {result.itarch}, Python {result.python}, {result.machine}; "
        f"{len(result.projects)} projects, {result.jobs} at a time, {result.wall_seconds:.0f} s.",
        "`itarch check <files> --json` from inside each repository, no `--python`; share = "
        f"accepted / passing under plain pytest (pass mark {PASS_SHARE:.0%}); a test the spec "
        "knows itarch is right to reject is left out of the share and checked to be rejected.",
        "",
        "| project | shapes | tests | pytest passed | itarch accepted | share | reasons "
        "| traceback | exit | seconds | setup |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    lines += [_row(p) for p in result.projects]
    lines.append(_total(result))
    lines += ["", *_shape_lines(result)]
    details = [x for p in result.projects for x in _details(p)]
    if details:
        lines += ["", "## What went wrong (and rejections of passing projects)", "", *details]
    return "\n".join(lines) + "\n"


def _row(p: ProjectResult) -> str:
    shapes = ", ".join(p.shapes)
    setup = "cached" if p.warm else f"{sum(p.setup_seconds.values()):.0f} s"
    if p.status == "failed" or p.plain is None or p.check is None:
        message = p.message[:120]
        return f"| {p.name} | {shapes} | – | – | – | **not set up** | {message} | – | – | – | – |"
    tests = sum(p.plain.counts.values()) or len(p.check.verdicts)
    share = "–" if p.share is None else f"{p.share:.0%}"
    mark = "" if p.passes else " ✗"
    reasons = ", ".join(f"{k} {v.count}" for k, v in sorted(p.check.reasons.items())) or "–"
    if p.known:
        reasons += f" ({p.known_confirmed} of {p.known} known)"
    timed_out = " (timed out)" if p.check.timed_out else ""
    return (
        f"| {p.name} | {shapes} | {tests} | {p.baseline} | {p.accepted} | {share}{mark} "
        f"| {reasons} | {'**yes**' if p.check.traceback else 'no'} | {p.check.exit_code} "
        f"| {p.check.seconds:.1f}{timed_out} | {setup} |"
    )


def _total(result: CompatResult) -> str:
    ran = [p for p in result.projects if p.plain is not None and p.check is not None]
    baseline = sum(p.baseline for p in ran)
    accepted = sum(p.accepted for p in ran)
    tests = sum(sum(p.plain.counts.values()) for p in ran if p.plain is not None)
    share = f"{accepted / baseline:.0%}" if baseline else "–"
    passing = sum(p.passes for p in result.projects)
    tracebacks = sum(1 for p in ran if p.check is not None and p.check.traceback)
    reasons = ", ".join(f"{k} {n}" for k, n in sorted(reason_totals(result).items())) or "–"
    seconds = sum(p.check.seconds for p in ran if p.check is not None)
    return (
        f"| **total** | {passing} of {len(result.projects)} projects pass | {tests} | {baseline} "
        f"| {accepted} | {share} | {reasons} | {tracebacks} | | {seconds:.0f} | |"
    )


def _shape_lines(result: CompatResult) -> list[str]:
    by_shape: dict[str, list[str]] = {}
    for p in result.projects:
        for shape in p.shapes:
            by_shape.setdefault(shape, []).append(p.name + ("" if p.passes else " ✗"))
    lines = [
        "| shape | projects (✗ = below the pass mark, a traceback, or not set up) |",
        "|---|---|",
    ]
    lines += [f"| {shape} | {', '.join(names)} |" for shape, names in sorted(by_shape.items())]
    return lines


def _details(p: ProjectResult) -> list[str]:
    unexpected = p.check is not None and any(
        p.check.reasons_of.get(n) != p.known_rejections_of(n) for n in p.check.reasons_of
    )
    if p.passes and not unexpected:
        return []
    out = [f"### {p.name} ({p.pins})", ""]
    if p.env:
        exported = ", ".join(f"{k}={v}" for k, v in p.env.items())
        out.append(f"- environment its users export: {exported}")
    if p.known != p.known_confirmed:
        out.append(f"- known rejections confirmed: {p.known_confirmed} of {p.known} ({p.notes})")
    if p.status != "scored":
        out.append(f"- {p.status.replace('_', ' ')}: {p.message}")
    if p.check is not None:
        out.append(f"- `{' '.join(p.check.command)}` exited {p.check.exit_code}")
        for reason, seen in sorted(p.check.reasons.items()):
            out.append(f"- rejected `{reason}` ×{seen.count}, e.g. {seen.example}")
        if p.check.tree_changed:
            out.append(f"- changed the working tree: {'; '.join(p.check.tree_changed)}")
        if p.missing:
            out.append(f"- passing under pytest but not in itarch's output: {', '.join(p.missing)}")
        if p.check.stderr_tail:
            out += ["", "```", p.check.stderr_tail, "```"]
    if p.plain is not None and p.plain.tail:
        out += ["", "plain pytest:", "", "```", p.plain.tail, "```"]
    return [*out, ""]
