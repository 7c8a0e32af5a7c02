"""The sessions suite's Markdown scorecard: per session, the replay next to the recording."""

from __future__ import annotations

from evals.sessions import SessionResult, SessionsResult


def render(result: SessionsResult) -> str:
    lines = [
        f"# Sessions scorecard ({result.date})",
        "",
        f"itarch {result.itarch} ({result.revision}), Python {result.python}, {result.machine}; "
        f"{len(result.sessions)} session(s), {result.wall_seconds:.0f} s.",
        "Recorded model responses replayed through `itarch` (every default setting, no "
        "`--python`) on the upstream change they answered. A session ends well when it stops by "
        "`finish` with at least one file written, each written file is in the repository and "
        "nothing else in its git state changed.",
        "",
        "| session | ends well | exit | stopped by | rounds | turns | files kept | written "
        "| tests kept | requests | wall s | setup |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for s in result.sessions:
        lines += _rows(s)
    for s in result.sessions:
        lines += ["", *_details(s)]
    return "\n".join(lines) + "\n"


def _rows(s: SessionResult) -> list[str]:
    setup = "cached" if s.warm else f"{sum(s.setup_seconds.values()):.0f} s"
    if s.status == "failed" and not s.outcome.stopped_by:
        return [
            f"| {s.name} | **no** ({s.message[:100]}) | {s.exit_code} | – | – | – | – | – "
            f"| – | {s.requests} | {s.seconds:.0f} | {setup} |"
        ]
    o, r = s.outcome, s.recorded
    written = sum(1 for f in s.files if f.written)
    present = sum(1 for f in s.files if f.written and f.exists)
    timed_out = " (timed out)" if s.timed_out else ""
    return [
        f"| {s.name} | {'yes' if s.ends_well else '**no**'} | {s.exit_code} | {o.stopped_by} "
        f"| {o.rounds} | {o.turns} | {o.kept} | {written} ({present} present) | {o.kept_tests} "
        f"| {s.requests} | {s.seconds:.0f}{timed_out} | {setup} |",
        f"| *recorded* | | {r.exit_code} | {r.stopped_by} | {r.rounds} | {r.turns} | {r.kept} "
        f"| {len(r.written)} | {r.kept_tests} | {s.recorded_requests} | {r.wall_seconds:.0f} | |",
    ]


def _details(s: SessionResult) -> list[str]:
    lines = [f"## {s.name}", "", f"Target: {s.pins}. `{' '.join(s.command)}`.", ""]
    if s.context_tokens is not None:
        lines += [
            f"Context sent with the first request: about {s.context_tokens:,} tokens "
            "(the context and the task, estimated as itarch's budget does).",
            "",
        ]
    if s.source:
        lines += [f"Responses: {s.source}", ""]
    if s.message:
        lines += [f"Failed: {s.message}", ""]
    if s.files:
        lines += ["| file | written | present | same as recorded |", "|---|---|---|---|"]
        for f in s.files:
            same = "–" if f.same_as_recorded is None else ("yes" if f.same_as_recorded else "no")
            lines.append(
                f"| `{f.path}` | {'yes' if f.written else 'no'} | {'yes' if f.exists else 'no'} "
                f"| {same} |"
            )
        lines.append("")
    missing = sorted(set(s.recorded.written) - {f.path for f in s.files})
    if missing:
        lines += [f"Kept in the recording, not in the replay: {', '.join(missing)}.", ""]
    state = "untouched but for the new test files" if s.git_untouched else "**changed**"
    lines.append(f"Git state: {state}.")
    lines += [f"- {c}" for c in s.git_changes]
    cleaned = ", ".join(s.cleaned) if s.cleaned else "nothing"
    lines += ["", f"Removed afterwards: {cleaned}.", ""]
    if s.divergence:
        lines += ["Divergence from the recording:", "", *(f"- {d}" for d in s.divergence)]
    else:
        lines.append(
            "Divergence from the recording: none (every request had the recorded number of "
            "messages and tool results, error flags and verdict lines)."
        )
    if s.traceback:
        lines += ["", "**A traceback reached stderr.**"]
    if s.stderr_tail:
        lines += ["", "```", s.stderr_tail, "```"]
    return lines
