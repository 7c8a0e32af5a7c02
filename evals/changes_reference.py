"""The reference tests of a release change: the upstream's own new and changed tests.

Release N+1's test files are compared with release N's. A file that N did not have is taken
whole, at its own path. A file both have is taken without the tests N+1 left as they were: its
module-level code (imports, helpers, fixtures) stays, and of its tests only those whose source
is new or differs from N's (decorators and parametrization included) are kept. Such a file is
proposed beside the original, as `<stem>_upstream.py`, because the original stays in the
repository as release N had it.
"""

from __future__ import annotations

import ast
import textwrap
from pathlib import PurePosixPath
from typing import TypeGuard

from pydantic import BaseModel, Field

UPSTREAM_SUFFIX = "_upstream"


class ReferenceFile(BaseModel):
    path: str  # where it is proposed, relative to the repository
    source: str  # the N+1 file it comes from
    content: str
    new_file: bool  # N had no such file: taken whole
    tests: list[str] = Field(default_factory=list)  # the tests kept: `name` or `Class::name`
    dropped: list[str] = Field(default_factory=list)  # tests left out: as they were in N


def is_test_file(path: str) -> bool:
    name = PurePosixPath(path).name
    return name.endswith(".py") and (name.startswith("test_") or name.endswith("_test.py"))


def proposed_path(path: str) -> str:
    pure = PurePosixPath(path)
    return str(pure.with_name(f"{pure.stem}{UPSTREAM_SUFFIX}{pure.suffix}"))


def reference_files(
    old: dict[str, str],
    new: dict[str, str],
    *,
    test_files: list[str] | None = None,
    proposed_as: dict[str, str] | None = None,
) -> list[ReferenceFile]:
    """The reference for each test file of `new` (path -> content) that is new or changed;
    `test_files` names the test files when they do not follow pytest's default names."""
    found: list[ReferenceFile] = []
    for path in sorted(new):
        if not (path in test_files if test_files else is_test_file(path)):
            continue
        content = new[path]
        if path not in old:
            found.append(
                ReferenceFile(
                    path=path,
                    source=path,
                    content=content,
                    new_file=True,
                    tests=sorted(_tests(ast.parse(content), content)),
                )
            )
            continue
        if old[path] == content:
            continue
        trimmed = changed_tests(old[path], content)
        if trimmed is not None:
            where = (proposed_as or {}).get(path) or proposed_path(path)
            found.append(trimmed.model_copy(update={"path": where, "source": path}))
    return found


def changed_tests(old: str, new: str) -> ReferenceFile | None:
    """`new` without the tests whose source `old` has unchanged; None when no test changed."""
    new_tree = ast.parse(new)
    before = _tests(ast.parse(old), old)
    after = _tests(new_tree, new)
    unchanged = {name for name, text in after.items() if before.get(name) == text}
    kept = sorted(set(after) - unchanged)
    if not kept:
        return None
    lines = new.splitlines(keepends=True)
    drop: list[tuple[int, int]] = []
    bases = {
        _name(b)
        for node in new_tree.body
        if isinstance(node, ast.ClassDef)
        for b in node.bases
        if any(k.startswith(f"{node.name}::") for k in kept)
    }
    for node in new_tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name in unchanged:
            drop.append(_span(node))
        elif isinstance(node, ast.ClassDef):
            methods = [m for m in node.body if _is_test(m)]
            names = {f"{node.name}::{m.name}" for m in methods}
            if not names:
                continue
            if names <= unchanged and node.name not in bases:
                drop.append(_span(node))
            elif node.name not in bases:
                drop += [_span(m) for m in methods if f"{node.name}::{m.name}" in unchanged]
    for start, end in sorted(drop, reverse=True):
        del lines[start:end]
    return ReferenceFile(
        path="",
        source="",
        content="".join(lines),
        new_file=False,
        tests=kept,
        dropped=sorted(unchanged),
    )


def _is_test(node: ast.stmt) -> TypeGuard[ast.FunctionDef | ast.AsyncFunctionDef]:
    return isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name.startswith("test")


def _tests(tree: ast.Module, source: str) -> dict[str, str]:
    """Each test function and test method (`Class::name`) with its source, decorators included."""
    found: dict[str, str] = {}
    for node in tree.body:
        if _is_test(node):
            found[node.name] = _text(node, source)
        elif isinstance(node, ast.ClassDef):
            for member in node.body:
                if _is_test(member):
                    found[f"{node.name}::{member.name}"] = _text(member, source)
    return found


def _span(node: ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) -> tuple[int, int]:
    """0-based [start, end) line range of a definition, its decorators included."""
    first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
    return first - 1, node.end_lineno or node.lineno


def _text(node: ast.FunctionDef | ast.AsyncFunctionDef, source: str) -> str:
    start, end = _span(node)
    return textwrap.dedent("".join(source.splitlines(keepends=True)[start:end]))


def _name(node: ast.expr) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return ""
