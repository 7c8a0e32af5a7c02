"""Fit a context into a token budget by dropping its lowest-value parts first, and saying so.

Order of sacrifice: the repo map of modules unrelated to the change, excerpts of existing tests,
seams outside the changed modules, diff hunks of non-Python files, the repo map of neighbouring
modules, existing tests themselves, the contributor guide, fixtures, unchanged seams of changed
modules, and finally the Python diff itself (longest files first). Everything dropped stays
reachable through the context tools, and `Context.dropped` lists it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar

from agent.context import render
from agent.log import get_logger
from agent.patch import split_patch
from agent.schema import Context

log = get_logger(__name__)

T = TypeVar("T")
CHARS_PER_TOKEN = 4
MIN_DIFF_LINES = 30  # a Python file's diff is never shortened below this


def estimate_tokens(text: str) -> int:
    return (len(text) + CHARS_PER_TOKEN - 1) // CHARS_PER_TOKEN


def _pick(
    items: Sequence[T], worst_first: list[int], size: Callable[[T], int], over: int
) -> set[int]:
    """Indices to drop, worst first, until `over` characters are saved."""
    dropped: set[int] = set()
    saved = 0
    for index in worst_first:
        if saved >= over:
            break
        dropped.add(index)
        saved += size(items[index]) + 2
    return dropped


def _target_paths(ctx: Context) -> set[str]:
    focus = set(ctx.modules)
    return {f.path for f in ctx.changed} | {m.path for m in ctx.repo_map if m.module in focus}


def _relatedness(ctx: Context) -> dict[str, tuple[int, int]]:
    """module -> (rank: 0 changed, 1 imports or imported by changed, 2 other; shared prefix)."""
    focus = set(ctx.modules)
    neighbours = {i for m in ctx.repo_map if m.module in focus for i in m.imports}
    neighbours |= {m.module for m in ctx.repo_map if focus.intersection(m.imports)}
    prefixes = [m.split(".") for m in focus]
    scores: dict[str, tuple[int, int]] = {}
    for m in ctx.repo_map:
        rank = 0 if m.module in focus else 1 if m.module in neighbours else 2
        parts = m.module.split(".")
        scores[m.module] = (rank, max((shared_prefix(p, parts) for p in prefixes), default=0))
    return scores


def shared_prefix(a: list[str], b: list[str]) -> int:
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n


class _Fitter:
    def __init__(self, ctx: Context, budget_tokens: int) -> None:
        # Copy only what the steps mutate in place: a deep copy of a big repo map is slow.
        self.ctx = ctx.model_copy(
            update={
                "existing_tests": [t.model_copy() for t in ctx.existing_tests],
                "conventions": ctx.conventions.model_copy(),
                "dropped": list(ctx.dropped),
            }
        )
        self.limit = budget_tokens * CHARS_PER_TOKEN
        self.total = len(render.render_context(self.ctx))

    @property
    def over(self) -> int:
        return self.total - self.limit

    def note(self, text: str) -> None:
        self.ctx.dropped.append(text)
        self.total = len(render.render_context(self.ctx))

    # each step trims one kind of content, worst items first, only as much as needed

    def repo_map(self, rank: int, label: str) -> None:
        scores = _relatedness(self.ctx)
        modules = self.ctx.repo_map
        candidates = [i for i, m in enumerate(modules) if scores[m.module][0] == rank]
        if not candidates:
            return
        # Modules sharing the least of their package path with the change go first.
        worst = sorted(candidates, key=lambda i: (scores[modules[i].module][1], modules[i].path))
        drop = _pick(modules, worst, lambda m: len(render.module(m)), self.over)
        self.ctx.repo_map = [m for i, m in enumerate(modules) if i not in drop]
        whole = "" if len(drop) == len(candidates) else f" of {len(candidates):,}"
        self.note(f"repo map: {len(drop):,}{whole} modules {label}")

    def test_excerpts(self) -> None:
        tests = self.ctx.existing_tests
        worst = [i for i in reversed(range(len(tests))) if tests[i].excerpt]
        if not worst:
            return
        drop = _pick(tests, worst, lambda t: len(render.fenced(t.excerpt)), self.over)
        for i in drop:
            tests[i].excerpt = ""
        self.note(f"existing tests: excerpts of {len(drop)} test files")

    def seams(self, changed_modules: bool, label: str) -> None:
        targets = _target_paths(self.ctx)
        seams = self.ctx.seams
        worst = [
            i
            for i in reversed(range(len(seams)))
            if not seams[i].changed and (seams[i].path in targets) == changed_modules
        ]
        if not worst:
            return
        drop = _pick(seams, worst, lambda s: len(render.seam(s)), self.over)
        self.ctx.seams = [s for i, s in enumerate(seams) if i not in drop]
        self.note(f"seams: {len(drop):,} {label}")

    def other_diffs(self) -> None:
        chunks = split_patch(self.ctx.diff)
        worst = sorted(
            (i for i, (path, _) in enumerate(chunks) if not path.endswith(".py")),
            key=lambda i: -len(chunks[i][1]),
        )
        if not worst:
            return
        drop = _pick(chunks, worst, lambda c: len(c[1]), self.over)
        self.ctx.diff = "".join(c for i, (_, c) in enumerate(chunks) if i not in drop)
        names = sorted(chunks[i][0] for i in drop)
        shown = ", ".join(names[:5]) + (", …" if len(names) > 5 else "")
        self.note(f"diff: hunks of {len(drop)} non-Python files ({shown})")

    def tests(self) -> None:
        tests = self.ctx.existing_tests
        if not tests:
            return
        worst = list(reversed(range(len(tests))))
        drop = _pick(tests, worst, lambda t: len(render.existing_test(t)), self.over)
        self.ctx.existing_tests = [t for i, t in enumerate(tests) if i not in drop]
        self.note(f"existing tests: {len(drop)} of {len(tests)} test files")

    def standards(self) -> None:
        conventions = self.ctx.conventions
        if conventions.standards:
            conventions.standards = ""
            self.note(f"conventions: coding standards text ({conventions.standards_path})")

    def fixtures(self) -> None:
        fixtures = self.ctx.conventions.fixtures
        if not fixtures:
            return
        drop = _pick(fixtures, list(reversed(range(len(fixtures)))), len, self.over)
        self.ctx.conventions.fixtures = [f for i, f in enumerate(fixtures) if i not in drop]
        self.note(f"conventions: {len(drop)} of {len(fixtures)} conftest fixtures")

    def python_diff(self) -> None:
        chunks = split_patch(self.ctx.diff)
        shortened: list[str] = []
        for index in sorted(range(len(chunks)), key=lambda i: -len(chunks[i][1])):
            if self.over <= 0:
                break
            path, text = chunks[index]
            lines = text.splitlines(keepends=True)
            if len(lines) <= MIN_DIFF_LINES:
                continue
            keep = MIN_DIFF_LINES
            saved = 0
            for n in range(len(lines) - 1, MIN_DIFF_LINES - 1, -1):
                saved += len(lines[n])
                if saved >= self.over:
                    keep = n
                    break
            marker = f"… ({len(lines) - keep} more diff lines; read_file {path} to see it)\n"
            chunks[index] = (path, "".join(lines[:keep]) + marker)
            self.ctx.diff = "".join(c for _, c in chunks)
            self.total = len(render.render_context(self.ctx))
            shortened.append(f"{path} (kept {keep} of {len(lines)} lines)")
        if shortened:
            self.note("diff: shortened " + ", ".join(shortened))

    def hard_cut(self) -> None:
        if self.over > 0 and self.ctx.diff:
            keep = max(0, len(self.ctx.diff) - self.over - 200)
            removed = len(self.ctx.diff) - keep
            self.ctx.diff = self.ctx.diff[:keep] + "\n… (diff cut to fit the budget)\n"
            self.note(f"diff: the last {removed:,} characters")


def fit_to_budget(ctx: Context, budget_tokens: int) -> Context:
    """A copy of `ctx` whose rendering fits `budget_tokens` (as far as trimming allows)."""
    fitter = _Fitter(ctx, budget_tokens)
    steps: list[Callable[[], None]] = [
        lambda: fitter.repo_map(2, "not touched by the change"),
        fitter.test_excerpts,
        lambda: fitter.seams(False, "seams outside the changed modules"),
        fitter.other_diffs,
        lambda: fitter.repo_map(1, "that import or are imported by the changed modules"),
        fitter.tests,
        fitter.standards,
        fitter.fixtures,
        lambda: fitter.seams(True, "unchanged seams in the changed modules"),
        fitter.python_diff,
        lambda: fitter.repo_map(0, "in focus (the changed modules themselves)"),
        fitter.hard_cut,
    ]
    for step in steps:
        if fitter.over <= 0:
            break
        step()
    if fitter.over > 0:
        over_tokens = estimate_tokens(" " * fitter.over)
        fitter.note(f"the context is still about {over_tokens:,} tokens over the budget")
    fitter.ctx.tokens = estimate_tokens(render.render_context(fitter.ctx))
    log.debug("budget", tokens=fitter.ctx.tokens, budget=budget_tokens, dropped=fitter.ctx.dropped)
    return fitter.ctx
