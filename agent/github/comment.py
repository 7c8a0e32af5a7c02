"""What the PR bot says on a pull request: the sticky comment, and review suggestions.

The comment holds a summary table, every suspected bug with its failing assertion, each accepted
test file in a collapsed `<details>` block, the rejected tests, and how to apply the files. It
always fits GitHub's 65,536-character limit: blocks that do not fit become one-line stubs, and
the comment points at the run's artifact, which holds everything.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping
from difflib import SequenceMatcher
from pathlib import Path

from pydantic import BaseModel

from agent.github.api import ReviewSuggestion
from agent.report import detection_summary, mutants_cell, on_base_cell
from agent.schema import AcceptedFile, Report, TestVerdict

MARKER = "<!-- itarch:pr-bot -->"
SUGGESTION_MARKER = "<!-- itarch:suggestion -->"
MAX_COMMENT_CHARS = 65_536
MAX_ASSERTION_CHARS = 2_000  # per suspected bug; the full text is in the artifact's report.json
MAX_SUGGESTIONS = 20


class CommentLinks(BaseModel):
    """Where the change and its artifacts are, for the comment's "how to apply" section."""

    base: str  # the commit the change is measured from
    head: str | None = None
    run_url: str | None = None  # the workflow run whose artifacts hold the patch
    artifact: str = "itarch-tests"
    patch_name: str = "itarch.patch"


# ---------------------------------------------------------------- Markdown helpers


def fence(text: str, lang: str = "") -> str:
    """A code block whose fence is longer than any backtick run inside `text`."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    ticks = "`" * max(3, longest + 1)
    return f"{ticks}{lang}\n{text.rstrip()}\n{ticks}"


def code(text: str) -> str:
    """Inline code that survives backticks in `text`."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    ticks = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{ticks}{pad}{text}{pad}{ticks}"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ").strip()


def _short(sha: str | None) -> str:
    return (sha or "?")[:10]


# ---------------------------------------------------------------- the summary


def _seams(report: Report) -> list[str]:
    """Seams exercised by the suggested tests: those of the accepted files."""
    accepted = {a.path for a in report.accepted}
    kept = [t for f in report.verdicts if f.path in accepted for t in f.tests]
    return sorted({seam for t in kept for seam in t.seams})


def mutation_summary(report: Report) -> str:
    """Mutation score of the accepted files on the changed lines (per file: suites don't add up)."""
    accepted = {a.path for a in report.accepted}
    scores = sorted(
        f.mutation_score
        for f in report.verdicts
        if f.path in accepted and f.mutation_score is not None
    )
    if not scores:
        return "not measured"
    if len(scores) == 1 or scores[0] == scores[-1]:
        return f"{scores[0]:.0%}"
    return f"{scores[0]:.0%}–{scores[-1]:.0%} across {len(scores)} files"


def _summary(report: Report) -> list[str]:
    seams = _seams(report)
    shown = ", ".join(code(s) for s in seams[:5]) + (", …" if len(seams) > 5 else "")
    cost = (
        f"${report.cost_usd:.4f} · {report.usage.total:,} tokens · "
        f"{report.iterations} model turn(s) · {report.wall_seconds:.0f}s"
    )
    rows = [
        ("Accepted test files", str(len(report.accepted))),
        ("Suspected bugs", str(len(report.bugs))),
        ("Rejected tests", str(len(report.rejected))),
        ("Seams covered", f"{len(seams)}" + (f" ({shown})" if seams else "")),
        ("Mutation score on the change", mutation_summary(report)),
        ("Fails on the base", _base_summary(report)),
        ("Cost", cost),
        ("Stopped by", report.stopped_by),
    ]
    return ["| | |", "|---|---|", *(f"| {name} | {_cell(value)} |" for name, value in rows)]


def _base_summary(report: Report) -> str:
    """How many suggested tests would have failed before this change (the base run)."""
    accepted = {a.path for a in report.accepted}
    shown = [
        f for f in report.verdicts if f.path in accepted or any(t.breaks_on_change for t in f.tests)
    ]
    return detection_summary(shown) or "not measured (no base revision)"


def _evidence_block(report: Report) -> str:
    """Per suggested test: verdict, fails on the base, changed lines run, mutants killed."""
    accepted = {a.path for a in report.accepted}
    tests = [t for f in report.verdicts if f.path in accepted for t in f.tests]
    rows = [
        f"| {_cell(code(t.nodeid))} | {t.verdict} | {_cell(on_base_cell(t)) or 'not run'} | "
        f"{len(t.changed_lines_covered)} | {mutants_cell(t) or 'not measured'} |"
        for t in tests
    ]
    return "\n".join(
        [
            "| test | verdict | on the base | changed lines run | mutants of the change killed |",
            "|---|---|---|---|---|",
            *rows,
        ]
    )


def _broken_block(report: Report) -> str:
    lines = [
        "> [!CAUTION]",
        "> These tests fail on the change but pass on the base: the change broke that behaviour "
        "(a regression, or a defect of the change).",
    ]
    for t in report.verdicts:
        for test in t.tests:
            if test.breaks_on_change:
                lines.append(f"> - {code(test.nodeid)}: {_cell(test.detail)}")
    return "\n".join(lines)


def _header(report: Report, links: CommentLinks) -> list[str]:
    model = f"Model {code(report.model)}"
    if report.model_source != "anthropic":
        model += f" (**{report.model_source}**: these turns were not written by Claude)"
    head = f" → {code(_short(links.head))}" if links.head else ""
    lines = [
        MARKER,
        "## itarch: suggested integration tests",
        "",
        f"{model} · sandbox {code(report.isolation.value)} · "
        f"change {code(_short(links.base))}{head} · run {code(report.run_id)}",
    ]
    if report.isolation.value == "process":
        lines += [
            "",
            "> [!WARNING]",
            "> The sandbox ran at process level: tests were NOT isolated.",
        ]
    if report.reused_from:
        lines += [
            "",
            f"Reused the tests of run {code(report.reused_from)}: the change, its context and "
            "the settings are the same as then, so nothing was paid again.",
        ]
    if report.stopped_by == "trivial_change":
        return [*lines, "", report.message.capitalize() + ": no model run."]
    return [*lines, "", *_summary(report)]


# ---------------------------------------------------------------- the blocks


def _bug_block(bug: TestVerdict) -> str:
    evidence = (bug.feedback or bug.detail).strip()
    if len(evidence) > MAX_ASSERTION_CHARS:
        evidence = evidence[:MAX_ASSERTION_CHARS] + "\n… (trimmed; full text in report.json)"
    lines = [f"- **{code(bug.nodeid)}**" + (f" — {bug.detail.strip()}" if bug.detail else "")]
    if evidence:
        lines += [
            "",
            "  Failing assertion:",
            "",
            *("  " + ln for ln in fence(evidence).split("\n")),
        ]
    return "\n".join(lines)


def _file_block(accepted: AcceptedFile, report: Report) -> str:
    tests = next((f.tests for f in report.verdicts if f.path == accepted.path), [])
    counts = f"{len(accepted.content.splitlines())} lines, {len(tests)} test(s)"
    purpose = f" — {html.escape(accepted.purpose)}" if accepted.purpose else ""
    return "\n".join(
        [
            "<details>",
            f"<summary><code>{html.escape(accepted.path)}</code>{purpose} ({counts})</summary>",
            "",
            fence(accepted.content, "python"),
            "",
            "</details>",
        ]
    )


def _file_stub(accepted: AcceptedFile) -> str:
    return f"- {code(accepted.path)} — not shown here (comment size limit); it is in the artifact"


def _rejected_block(report: Report) -> str:
    rows = [
        f"| {_cell(code(t.nodeid))} | {t.reason.value if t.reason else ''} | {_cell(t.detail)} |"
        for t in report.rejected
    ]
    return "\n".join(
        [
            f"<details><summary>Rejected tests ({len(rows)})</summary>",
            "",
            "| test | reason | detail |",
            "|---|---|---|",
            *rows,
            "",
            "</details>",
        ]
    )


def _apply_block(links: CommentLinks) -> str:
    lines = ["### How to apply", ""]
    if links.run_url:
        lines.append(
            f"- Download the {code(links.artifact)} artifact from [this workflow run]"
            f"({links.run_url}) and run `git apply {links.patch_name}` at the top of your checkout."
        )
    lines.append(
        f"- Or generate them locally: `itarch generate --base {links.base}` "
        "(writes the accepted files into your tree)."
    )
    return "\n".join(lines)


def _truncation_note(links: CommentLinks, omitted: int) -> str:
    where = (
        f"the {code(links.artifact)} artifact of [this run]({links.run_url})"
        if links.run_url
        else "the artifacts of this run"
    )
    return (
        f"> [!NOTE]\n> This comment was cut to fit GitHub's {MAX_COMMENT_CHARS:,}-character "
        f"limit: {omitted} block(s) are not shown. Everything is in {where}."
    )


# ---------------------------------------------------------------- the comment


def render_comment(report: Report, links: CommentLinks, *, limit: int = MAX_COMMENT_CHARS) -> str:
    """The sticky comment's Markdown, never longer than `limit` characters."""
    head = "\n".join(_header(report, links))
    tail = _apply_block(links) if report.accepted else ""
    # Sections in reading order; each block goes in whole or as its stub (None: left out).
    sections: list[tuple[str, list[tuple[str, str | None]]]] = []
    if any(t.breaks_on_change for f in report.verdicts for t in f.tests):
        sections.append(("", [(_broken_block(report), None)]))
    if report.bugs:
        bugs: list[tuple[str, str | None]] = [(_bug_block(b), None) for b in report.bugs]
        sections.append(("### Suspected bugs", bugs))
    if report.accepted:
        blocks: list[tuple[str, str | None]] = [
            (_file_block(a, report), _file_stub(a)) for a in report.accepted
        ]
        sections.append(("### Evidence per test", [(_evidence_block(report), None)]))
        sections.append(("### Accepted tests", blocks))
    elif report.stopped_by != "trivial_change":  # the header already says why
        sections.append(("", [(f"No test was accepted. {report.message}".strip(), None)]))
    if report.rejected:
        sections.append(("", [(_rejected_block(report), None)]))

    reserve = len(_truncation_note(links, 10**6)) + 4
    budget = limit - len(head) - len(tail) - reserve
    body: list[str] = []
    omitted = 0
    for title, blocks in sections:
        if title and len(title) + 2 <= budget:
            body.append(title)
            budget -= len(title) + 2
        for block, stub in blocks:
            if len(block) + 2 <= budget:
                body.append(block)
                budget -= len(block) + 2
                continue
            omitted += 1
            if stub is not None and len(stub) + 2 <= budget:
                body.append(stub)
                budget -= len(stub) + 2
    parts = [head, *body]
    if omitted:
        parts.append(_truncation_note(links, omitted))
    text = "\n\n".join([*parts, tail] if tail else parts) + "\n"
    if len(text) > limit:  # only when the header alone is huge: cut, and still say where to look
        note = "\n\n" + _truncation_note(links, omitted + 1) + "\n"
        text = text[: limit - len(note)] + note
    return text


# ---------------------------------------------------------------- review suggestions


def suggestion_body(path: str, replacement: list[str]) -> str:
    block = "\n".join(replacement)
    longest = max((len(run) for run in re.findall(r"`+", block)), default=0)
    ticks = "`" * max(3, longest + 1)
    return (
        f"{SUGGESTION_MARKER}\nitarch suggests this change to {code(path)}; the whole file "
        f"passed the sandbox and every gate.\n\n{ticks}suggestion\n"
        + (block + "\n" if replacement else "")
        + ticks
    )


def plan_suggestions(
    accepted: list[AcceptedFile], repo: Path, diff: Mapping[str, set[int]]
) -> list[ReviewSuggestion]:
    """Suggestions for accepted files the pull request already changes, on diff lines only.

    Each differing region between the checked-out file (the PR's head) and the accepted version
    becomes one suggestion; a region touching any line outside the diff is left to the comment.
    """
    out: list[ReviewSuggestion] = []
    for f in accepted:
        lines = diff.get(f.path)
        current_file = repo / f.path
        if not lines or not current_file.is_file():
            continue
        current = current_file.read_text(encoding="utf-8").splitlines()
        proposed = f.content.splitlines()
        matcher = SequenceMatcher(None, current, proposed, autojunk=False)
        for tag, i1, i2, j1, j2 in matcher.get_opcodes():
            if tag == "equal":
                continue
            if i1 < i2:  # replace or delete lines i1+1..i2
                start, end, replacement = i1 + 1, i2, proposed[j1:j2]
            elif i1 > 0:  # insert after line i1: suggest that line plus the new ones
                start = end = i1
                replacement = [current[i1 - 1], *proposed[j1:j2]]
            elif current:  # insert before the first line
                start = end = 1
                replacement = [*proposed[j1:j2], current[0]]
            else:
                continue
            if not all(n in lines for n in range(start, end + 1)):
                continue
            out.append(
                ReviewSuggestion(
                    path=f.path,
                    line=end,
                    start_line=start if start < end else None,
                    body=suggestion_body(f.path, replacement),
                )
            )
    return out[:MAX_SUGGESTIONS]
