"""Which existing tests execute the change, from the test-impact index (`agent/index`): found by
what ran, so a test reaching the code through a re-export or `pkg.func` counts like any other."""

from __future__ import annotations

import ast
from pathlib import Path

from agent.context.tests_index import test_names
from agent.index import MODULE, function_spans, open_index
from agent.schema import ChangedFile, ExistingTest
from agent.source.files import is_test_path, read_text
from agent.tests_map import functions_run


def tests_running_change(root: Path, changed: list[ChangedFile]) -> dict[str, list[str]] | None:
    """test file -> the changed functions (`path: qualname`) its passing tests run; None when
    there is no index."""
    index = open_index(root, create=False, read_only=True)
    if index is None:
        return None
    if not index.has_entries():
        index.close()
        return None
    found: dict[str, set[str]] = {}
    try:
        for f in changed:
            lines = f.added_lines if f.behaviour_lines is None else f.behaviour_lines
            if not f.path.endswith(".py") or f.cosmetic or not lines or is_test_path(f.path):
                continue
            text = read_text(root / f.path)
            if text is None:
                continue
            functions = _functions(text, set(lines))
            for test_file, ran in functions_run(index, f.path).items():
                for name in functions & ran:
                    found.setdefault(test_file, set()).add(f"{f.path}: {name}")
    finally:
        index.close()
    return {test: sorted(names) for test, names in found.items()}


MAX_FAILING = 20


def failing_tests(root: Path) -> list[str]:
    """Existing tests that fail on the tree as it is, as the index's valid entries recorded them:
    behaviour the change broke, or tests the change means to update."""
    index = open_index(root, create=False, read_only=True)
    if index is None:
        return []
    try:
        found = [
            f"{nodeid} ({how[:160]})"
            for test_file in index.test_files()
            if index.valid(test_file)
            for nodeid, how in index.failing(test_file)
        ]
    finally:
        index.close()
    return found[:MAX_FAILING] + (
        [f"… and {len(found) - MAX_FAILING} more"] if len(found) > MAX_FAILING else []
    )


def with_execution(
    root: Path, existing: list[ExistingTest], ran: dict[str, list[str]]
) -> list[ExistingTest]:
    """The tests found by imports, marked with what of the change they run, plus the ones only
    execution found; those running the most changed functions first."""
    known = {t.path for t in existing}
    for t in existing:
        t.runs_change = ran.get(t.path, [])
    for path in sorted(set(ran) - known):
        text = read_text(root / path)
        tree = _parse(text) if text is not None else None
        names = test_names(tree) if tree is not None else []
        existing.append(ExistingTest(path=path, tests=names, runs_change=ran[path]))
    order = {t.path: i for i, t in enumerate(existing)}
    return sorted(existing, key=lambda t: (-len(t.runs_change), order[t.path]))


def _parse(text: str) -> ast.Module | None:
    try:
        return ast.parse(text)
    except (SyntaxError, ValueError):
        return None


def _functions(text: str, lines: set[int]) -> set[str]:
    spans = function_spans(text)
    names: set[str] = set()
    for line in lines:
        inner = [name for start, end, name in spans if start <= line <= end]
        names.add(inner[-1] if inner else MODULE)
    names.discard(MODULE)  # module-level lines run at import, which the index does not trace
    return names
