"""The Markdown the model reads. Each part renders on its own so the budget can weigh it."""

from __future__ import annotations

import re

from agent.schema import (
    BehaviourNote,
    ChangedFile,
    Context,
    Conventions,
    ExistingTest,
    ModuleSummary,
    Seam,
)


def line_ranges(lines: list[int]) -> str:
    """[1, 2, 3, 7] -> "1-3, 7"."""
    ranges: list[str] = []
    start = prev = None
    for line in sorted(set(lines)):
        if prev is not None and line == prev + 1:
            prev = line
            continue
        if start is not None:
            ranges.append(f"{start}-{prev}" if start != prev else str(start))
        start = prev = line
    if start is not None:
        ranges.append(f"{start}-{prev}" if start != prev else str(start))
    return ", ".join(ranges)


def fenced(text: str, lang: str = "") -> str:
    """A code block whose fence cannot be closed by the text inside it."""
    longest = max((len(m) for m in re.findall(r"`{3,}", text)), default=2)
    fence = "`" * (longest + 1)
    return f"{fence}{lang}\n{text.rstrip()}\n{fence}"


def changed_file(f: ChangedFile) -> str:
    parts = [f"- `{f.path}` ({f.status}"]
    if f.added_lines:
        parts.append(f", new/changed lines {line_ranges(f.added_lines)}")
    if f.cosmetic:
        parts.append("; cosmetic only: formatting, comments or docstrings")
    parts.append(")")
    if f.module:
        parts.append(f" — module `{f.module}`")
    return "".join(parts)


def seam(s: Seam) -> str:
    where = f" in `{s.symbol}`" if s.symbol else ""
    mark = " **changed**" if s.changed else ""
    weight = f" ({s.changed_lines} changed lines in or called from it)" if s.changed_lines else ""
    return f"- `{s.id}` {s.detail}{where}{mark}{weight}"


def behaviour(notes: list[BehaviourNote]) -> str:
    """Per file, what the change does: functions first, then branches, reads and I/O."""
    lines: list[str] = []
    for path in dict.fromkeys(n.path for n in notes):
        lines.append(f"- `{path}`")
        for n in notes:
            if n.path == path:
                where = f"L{n.line} " if n.line else ""
                lines.append(f"  - {where}{n.kind}: `{n.detail}`")
    return "\n".join(lines)


def module(m: ModuleSummary) -> str:
    lines = [f"### `{m.module}` ({m.path})"]
    if m.doc:
        lines.append(m.doc)
    if m.imports:
        lines.append("imports: " + ", ".join(m.imports))
    for sym in m.symbols:
        indent = "  " if sym.kind == "method" else ""
        doc = f" — {sym.doc}" if sym.doc else ""
        lines.append(f"{indent}- L{sym.line} `{sym.signature}`{doc}")
    return "\n".join(lines)


def existing_test(t: ExistingTest) -> str:
    lines = [f"### `{t.path}`"]
    if t.modules:
        lines.append("imports: " + ", ".join(t.modules))
    if t.tests:
        lines.append("tests: " + ", ".join(t.tests))
    if t.runs_change:
        lines.append("runs the changed code: " + ", ".join(t.runs_change))
    if t.excerpt:
        lines.append(fenced(t.excerpt, "python"))
    return "\n".join(lines)


def conventions(c: Conventions, python: str = "") -> str:
    lines = [f"Tests root: `{c.tests_root}`"]
    if python:
        lines.append(f"Target Python: {python}")
    if c.pytest_config:
        lines += ["", "pytest configuration:", fenced(c.pytest_config, "ini")]
    for folder, config in c.package_pytest_configs.items():
        lines += ["", f"pytest configuration of `{folder}/`:", fenced(config, "ini")]
    if c.fixtures:
        lines += ["", "conftest fixtures:", *(f"- {f}" for f in c.fixtures)]
    if c.standards:
        lines += ["", f"Coding standards ({c.standards_path}):", fenced(c.standards, "text")]
    return "\n".join(lines)


def summary(ctx: Context) -> str:
    if ctx.base is not None or ctx.changed:
        span = f"`{ctx.base or ctx.head or 'HEAD'}`..`{ctx.head or 'HEAD'}`"
        if ctx.base is None and (ctx.uncommitted or (ctx.head or "HEAD") == "HEAD"):
            span = f"uncommitted changes on `{ctx.head or 'HEAD'}`"
        elif ctx.base is None:
            span = f"the commit `{ctx.head}`"
        elif ctx.uncommitted:
            span += " and uncommitted work"
        lines = [f"Change: {span}; {len(ctx.changed)} file(s) changed."]
    else:
        lines = ["No diff: the context focuses on the requested modules."]
    if ctx.modules:
        lines.append("Modules in focus: " + ", ".join(f"`{m}`" for m in ctx.modules))
    lines += [changed_file(f) for f in ctx.changed]
    return "\n".join(lines)


def render_context(ctx: Context) -> str:
    """The context as Markdown: change, diff, seams, repo map, tests, conventions, trimmings."""
    out = [f"# Repository context: {ctx.repo}"]
    if ctx.behaviour:
        out += ["", "## What the change does", behaviour(ctx.behaviour)]
    elif any(f.cosmetic for f in ctx.changed) and not ctx.modules:
        out += [
            "",
            "## What the change does",
            "No behaviour change in Python code: its changes are cosmetic.",
        ]
    out += ["", "## Change summary", summary(ctx)]
    if ctx.diff:
        out += ["", "## Diff", fenced(ctx.diff, "diff")]
    if ctx.module_names:
        out += ["", "## Module-level names the changed code uses"]
        out += [f"- `{n.path}` L{n.line}: `{n.source}`" for n in ctx.module_names]
    out += ["", "## Seams touched"]
    out += [seam(s) for s in ctx.seams] or [_empty(ctx, "seams", "(none found)")]
    out += ["", "## Repo map"]
    out += ["\n\n".join(module(m) for m in ctx.repo_map) or _empty(ctx, "repo map", "(empty)")]
    out += ["", "## Existing tests"]
    if ctx.tests_by_execution:
        out += ['("runs the changed code": measured by running them; test-impact index)', ""]
    tests = "\n\n".join(existing_test(t) for t in ctx.existing_tests)
    out += [tests or _empty(ctx, "existing tests", "(none import or run these modules)")]
    if ctx.failing_tests:
        out += [
            "",
            "Existing tests that fail on the tree as it is (their last run, unchanged since):",
        ]
        out += [f"- `{t}`" if not t.startswith("…") else f"- {t}" for t in ctx.failing_tests]
    out += ["", "## Conventions", conventions(ctx.conventions, ctx.python)]
    if ctx.dropped:
        out += ["", "## What was trimmed to fit the token budget"]
        out += [f"- {d}" for d in ctx.dropped]
        out += ["Use read_file, search_code and get_symbol to see any of it."]
    return "\n".join(out) + "\n"


def _empty(ctx: Context, part: str, otherwise: str) -> str:
    trimmed = any(d.startswith(f"{part}:") for d in ctx.dropped)
    return "(trimmed to fit the token budget)" if trimmed else otherwise
