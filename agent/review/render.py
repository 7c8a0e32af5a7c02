"""A review for a terminal, as Markdown, and as the task a `generate` run gets."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from agent.report import styled
from agent.review.model import ModuleReview, ReviewResult

_MAX_SHOWN = 10


def summary(result: ReviewResult) -> str:
    seams = sum(len(m.seams) for m in result.modules)
    untested = sum(len(m.untested_seams) for m in result.modules)
    weak = len({w.nodeid for m in result.modules for w in m.weak_tests})
    errors = sum(len(m.untested_error_paths) for m in result.modules)
    return (
        f"{len(result.modules)} module(s): {untested} of {seams} seam(s) untested, "
        f"{errors} error path(s) no test executes, {weak} weak test(s); "
        f"{result.tests_run} existing test(s) in {len(result.test_files)} file(s) ran "
        f"({result.isolation.value}), {result.seconds:.1f}s"
    )


def print_review(console: Console, result: ReviewResult) -> None:
    for module in result.modules:
        _print_module(console, module)
    for note in result.skipped:
        console.print(styled(("not done: ", "yellow"), note))
    console.print(styled(summary(result)))


def _print_module(console: Console, module: ModuleReview) -> None:
    console.print(styled((module.module, "bold"), f"  {module.path}, {len(module.tests)} test(s)"))
    if module.seams:
        table = Table(show_header=True, box=None, pad_edge=False)
        for column in ("seam", "kind", "detail", "tests"):
            table.add_column(column, overflow="fold")
        for seam in module.seams:
            count = len(seam.tests)
            table.add_row(
                styled(seam.id),
                styled(seam.kind),
                styled(seam.detail),
                styled((str(count), "green") if count else ("untested", "red")),
            )
        console.print(table)
    if module.untested_functions:
        names = ", ".join(f"{f.name} ({f.lines} lines)" for f in module.untested_functions)
        console.print(styled(("  untested functions: ", "red"), names))
    for path in module.untested_error_paths[:_MAX_SHOWN]:
        console.print(
            styled(
                ("  untested error path ", "red"), f"{path.id}: {path.detail} in {path.function}"
            )
        )
    if len(module.untested_error_paths) > _MAX_SHOWN:
        console.print(styled(f"  ... {len(module.untested_error_paths) - _MAX_SHOWN} more"))
    for weak in module.weak_tests:
        console.print(
            styled(("  weak ", "yellow"), (weak.reason.value, "yellow"), f" {weak.nodeid}")
        )
        console.print(styled(f"    {weak.detail}"))
    console.print()


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def to_markdown(result: ReviewResult) -> str:
    out = ["## Integration test review", "", summary(result), ""]
    for module in result.modules:
        out += [f"### `{module.module}` ({module.path})", ""]
        if module.seams:
            out += ["| seam | kind | detail | tests |", "|---|---|---|---|"]
            for seam in module.seams:
                tests = str(len(seam.tests)) if seam.tests else "**untested**"
                out.append(f"| `{_cell(seam.id)}` | {seam.kind} | {_cell(seam.detail)} | {tests} |")
            out.append("")
        if module.untested_functions:
            names = ", ".join(f"`{f.name}` ({f.lines} lines)" for f in module.untested_functions)
            out += [f"Untested public functions: {names}", ""]
        if module.untested_error_paths:
            out.append("Error paths no test executes:")
            out += [
                f"- `{e.id}` {_cell(e.detail)} in `{e.function}`"
                for e in module.untested_error_paths
            ]
            out.append("")
        if module.weak_tests:
            out += ["| weak test | reason | detail |", "|---|---|---|"]
            out += [
                f"| `{_cell(w.nodeid)}` | {w.reason.value} | {_cell(w.detail)} |"
                for w in module.weak_tests
            ]
            out.append("")
    if result.skipped:
        out += ["Not done:", *(f"- {note}" for note in result.skipped), ""]
    return "\n".join(out)


def gap_task(result: ReviewResult) -> str:
    """What `review --generate` asks the loop for: tests of what the existing ones leave open."""
    lines = [
        "The existing tests of these modules were reviewed (by what they execute). Write "
        "integration tests for what they leave untested, most code first; do not repeat what "
        "they already cover."
    ]
    for module in result.modules:
        seams = {s.id: s for s in module.seams}
        gaps = [f"- seam `{i}`: {seams[i].kind} {seams[i].detail}" for i in module.untested_seams]
        gaps += [
            f"- error path `{e.id}`: {e.detail} in `{e.function}`"
            for e in module.untested_error_paths
        ]
        if gaps:
            lines += ["", f"`{module.module}` ({module.path}):", *gaps]
    return "\n".join(lines)


def gap_modules(result: ReviewResult) -> list[str]:
    return [m.module for m in result.modules if m.untested_seams or m.untested_error_paths]
