"""The `changes` suite's Markdown scorecard."""

from __future__ import annotations

from evals.changes import REPLAYED, ChangeRun, ChangesResult, Figures
from evals.published import Figure

SWT_BENCH = (
    'Mündler et al., "SWT-Bench: Testing and Validating Real-World Bug-Fixes with Code Agents", '
    "NeurIPS 2024 (arXiv:2406.12952), and its public leaderboard"
)
# SWT-bench scores a task as solved when the generated tests include one that fails before the
# fix and passes after it: our "changes with a fail-to-pass test". Its systems see only the
# issue text; itarch sees the diff, so the figure is a floor to read against, not a target.
SWT_FIGURES: list[Figure] = [
    Figure(
        study="SWT-bench",
        metric="tasks with a fail-to-pass test, best published systems, Verified subset (about)",
        value=0.50,
        ours="changes_with_f2p",
        source=SWT_BENCH,
    ),
]


def _share(part: int, whole: int) -> str:
    return f"{part}/{whole} ({part / whole:.0%})" if whole else "–"


def _row(name: str, kind: str, got: Figures | None) -> str:
    if got is None:
        return f"| {name} | {kind} | – | – | – | – | – | – |"
    return (
        f"| {name} | {kind} | {_share(got.accepted, got.tests)} "
        f"| {_share(got.detects, got.accepted)} "
        f"| {_share(got.changed_run, got.changed_lines)} "
        f"| {_share(got.killed, got.mutants)} | {got.files_kept}/{got.files} "
        f"| {got.wall_seconds:.1f} |"
    )


def _live_row(name: str, got: Figures | None, ref: Figures | None) -> str:
    upstream = f"{_share(ref.detects, ref.accepted)}" if ref else "–"
    if got is None:
        return f"| {name} | – | – | {upstream} | – | – | – | – | – | – | – |"
    per_test = got.dollars_per_accepted
    return (
        f"| {name} | {_share(got.accepted, got.tests)} | {_share(got.detects, got.accepted)} "
        f"| {upstream} "
        f"| {_share(got.changed_run, got.changed_lines)} | {_share(got.killed, got.mutants)} "
        f"| {got.turns} | {got.tokens:,} | {got.cache_share:.0%} "
        f"| {'$' + str(per_test) if per_test is not None else '–'} | {got.wall_seconds:.1f} |"
    )


def with_f2p(result: ChangesResult, which: str) -> tuple[int, int]:
    """Changes of which at least one accepted test detects the change, of the changes scored
    that alter behaviour (behaviour and mixed: a refactor has nothing to detect)."""
    scored = [c for c in result.changes if c.status == "scored" and c.kind != "refactor"]
    hit = 0
    for change in scored:
        got = change.reference if which == "reference" else change.live
        hit += bool(got and got.detects)
    return hit, len(scored)


def render(result: ChangesResult) -> str:
    out: list[str] = []
    live = result.mode == "live"
    title = "live: the model's tests beside the reference" if live else REPLAYED
    out.append(f"# Changes suite, {result.date} ({title})")
    out.append("")
    isolation = sorted({c.reference.isolation for c in result.changes if c.reference})
    warm = all(c.warm for c in result.changes)
    out.append(
        f"itarch {result.itarch}, Python {result.python}, {result.machine}, isolation "
        f"{', '.join(isolation) or '?'}; {len(result.changes)} changes in "
        f"{result.wall_seconds:.0f} s ({'warm cache' if warm else 'cold: repositories built'})."
    )
    out.append("")
    out.append(
        "Each change is release N -> N+1 of a PyPI project: the repository holds N, then N+1's "
        "code with N's tests; `itarch generate --base HEAD~1` runs on it with every default "
        "gate (mutation on, no `require`). The reference is the upstream's own new and changed "
        f"tests of N+1, proposed in one round by a scripted stand-in ({REPLAYED}, not a model)."
    )
    out.append("")
    out.append("## Reference tests replayed")
    out.append("")
    out.append(
        "| change | kind | accepted | fail-to-pass (of accepted) | change coverage "
        "| mutants of the change killed | files written | seconds |"
    )
    out.append("|---|---|---|---|---|---|---|---|")
    for change in result.changes:
        out.append(_row(f"{change.pins}", change.kind, change.reference))
    out.append(_row("**total**", "", result.total("reference")))
    hit, scored = with_f2p(result, "reference")
    out.append("")
    out.append(
        "Changes that alter behaviour (behaviour, mixed) with at least one fail-to-pass "
        f"reference test: {_share(hit, scored)}. "
        "Change coverage counts changed behaviour lines (not reformatting, comments or "
        "docstrings) that accepted tests execute; mutants are the judge's mutants of those "
        "lines that the accepted tests kill, of all it made. Shares are per test; `generate` "
        "writes a file only when every test in it is accepted (files written)."
    )
    if live:
        out.append("")
        out.append("## The model's tests")
        out.append("")
        out.append(
            "| change | accepted | fail-to-pass | upstream's fail-to-pass | change coverage "
            "| mutants killed | turns | tokens | cache share | $ per accepted test | seconds |"
        )
        out.append("|---|---|---|---|---|---|---|---|---|---|---|")
        for change in result.changes:
            out.append(_live_row(change.pins, change.live, change.reference))
        total = result.total("live")
        out.append(_live_row("**total**", total, result.total("reference")))
        live_hit, _ = with_f2p(result, "live")
        out.append("")
        out.append(
            f"Changes that alter behaviour with a fail-to-pass test: model "
            f"{_share(live_hit, scored)}, "
            f"reference {_share(hit, scored)}."
        )
    out.append("")
    out.append("## Published figures")
    out.append("")
    out.append("| study | metric | value | ours |")
    out.append("|---|---|---|---|")
    for figure in SWT_FIGURES:
        which = "live" if live else "reference"
        ours = _share(*with_f2p(result, which))
        out.append(f"| {figure.study} | {figure.metric} | {figure.value:.0%} | {ours} ({which}) |")
    out.append("")
    out.append(
        f"Source: {SWT_BENCH}. SWT-bench's systems get only the issue text; here the diff is "
        "given, so the comparison says what the harness measures, not who is better."
    )
    out.append("")
    out.append("## Per change")
    for change in result.changes:
        out += _change(change)
    failing = [c for c in result.changes if not c.ok]
    out.append("")
    out.append("## Strict checks")
    out.append("")
    if not failing:
        out.append(
            "Every reference test was judged as the targets file expects (detectors detect, "
            "guards are accepted, rejections have the expected reason), with no traceback."
        )
    for change in failing:
        out.append(f"- {change.pins}: {change.message or ''}")
        out += [f"  - {p}" for p in change.problems]
    known = [(c.pins, k) for c in result.changes for k in c.known]
    if known:
        out.append("")
        out.append(
            "Known misjudgments of the judge (each test checked by hand to fail on the base; "
            "listed, not failed on):"
        )
        out.append("")
        out += [f"- {pins}: {k}" for pins, k in known]
    return "\n".join(out) + "\n"


def _change(change: ChangeRun) -> list[str]:
    out = ["", f"### {change.pins} ({change.kind})", "", f"{change.what}."]
    if change.status != "scored":
        return [*out, "", f"Not scored: {change.message}"]
    out.append("")
    out.append("Reference files: " + ", ".join(f"`{f}`" for f in change.reference_files) + ".")
    for note in change.adapted:
        out.append(f"Adapted: {note}.")
    got = change.reference
    if got is None:
        return out
    out.append("")
    out.append(
        "| test | verdict | on base | detects change | changed lines run | mutants | expected |"
    )
    out.append("|---|---|---|---|---|---|---|")
    for test in got.tests_seen:
        verdict = test.verdict + (f" [{test.reason}]" if test.reason else "")
        mark = "" if test.ok is None else (" ok" if test.ok else " **mismatch**")
        detects = {True: "yes", False: "no", None: "–"}[test.detects_change]
        out.append(
            f"| `{test.nodeid.split('::', 1)[-1]}` | {verdict} | {test.on_base} | {detects} "
            f"| {test.changed_lines} | {test.mutants or '–'} | {test.expected or '–'}{mark} |"
        )
    return out
