"""Broken variants of a real test file: one planted defect per reason the judge can give.

Each variant keeps the file's module-level code (imports, fixtures, helpers) and only the test(s)
it breaks, so a rejection can be traced to the defect and not to a sibling test. The defects are
the ones proposed tests really have: a typo, a wrong import, a fixture that does not exist, a
flipped expectation, a forgotten `sleep`, a call to a remote host, a write into the package, a
random draw in an assertion, state shared between tests, assertions that were never written, a
copy of a test the suite already has, a module-level skip, a file outside the tests root.

Everything here is text in, text out: nothing runs.
"""

from __future__ import annotations

import ast
import random
import re
from dataclasses import dataclass
from pathlib import PurePosixPath

from agent.schema import Reason

# An address reserved for documentation (RFC 5737): nothing answers there, and the sandbox's
# network namespace stops the packet before it leaves the machine.
UNREACHABLE_HOST = "192.0.2.1"
MISSING_FIXTURE = "tmp_dir"  # a common slip for pytest's `tmp_path`
UNDEFINED_HELPER = "reset_state"

FunctionNode = ast.FunctionDef | ast.AsyncFunctionDef
_ORACLE_CALLS = {"raises", "warns", "deprecated_call"}
_FLIP: dict[type[ast.cmpop], type[ast.cmpop]] = {
    ast.Eq: ast.NotEq,
    ast.NotEq: ast.Eq,
    ast.Is: ast.IsNot,
    ast.IsNot: ast.Is,
    ast.In: ast.NotIn,
    ast.NotIn: ast.In,
    ast.Lt: ast.GtE,
    ast.GtE: ast.Lt,
    ast.Gt: ast.LtE,
    ast.LtE: ast.Gt,
}


class VariantError(Exception):
    """The file has nothing this variant can break (say, no second test to depend on)."""


@dataclass(frozen=True)
class TestFunction:
    qualname: str  # "test_x" or "TestClass::test_x"
    node: FunctionNode
    owner: ast.ClassDef | None


@dataclass(frozen=True)
class Variant:
    name: str
    expected: Reason
    path: str
    content: str
    targets: tuple[str, ...]  # qualnames of the broken tests; empty = the whole file
    description: str


# ---------------------------------------------------------------- reading a test file


def is_test_class(node: ast.stmt) -> bool:
    """A class pytest collects: `Test*`, or a unittest case (a base named `...TestCase`)."""
    if not isinstance(node, ast.ClassDef):
        return False
    bases = [b.attr if isinstance(b, ast.Attribute) else getattr(b, "id", "") for b in node.bases]
    return node.name.startswith("Test") or any(b.endswith("TestCase") for b in bases)


def test_functions(tree: ast.Module) -> list[TestFunction]:
    """Tests pytest collects by default, in file order."""
    found: list[TestFunction] = []
    for node in tree.body:
        if isinstance(node, FunctionNode) and node.name.startswith("test"):
            found.append(TestFunction(node.name, node, None))
        elif isinstance(node, ast.ClassDef) and is_test_class(node):
            for item in node.body:
                if isinstance(item, FunctionNode) and item.name.startswith("test"):
                    found.append(TestFunction(f"{node.name}::{item.name}", item, node))
    return found


def qualname_of(nodeid: str) -> str:
    """`tests/x.py::Class::test_y[param]` -> `Class::test_y`."""
    rest = nodeid.split("::", 1)[1] if "::" in nodeid else nodeid
    return rest.split("[", 1)[0]


def _start(node: ast.stmt) -> int:
    decorators = getattr(node, "decorator_list", [])
    return min([d.lineno for d in decorators] + [node.lineno])


def _body_start(func: FunctionNode) -> tuple[int, str]:
    """(0-based line index where the body's first real statement starts, its indentation)."""
    body = func.body
    first = body[0]
    is_docstring = (
        isinstance(first, ast.Expr)
        and isinstance(first.value, ast.Constant)
        and isinstance(first.value.value, str)
    )
    if is_docstring and len(body) > 1:
        first = body[1]
    elif is_docstring:
        return first.end_lineno or first.lineno, " " * first.col_offset
    return first.lineno - 1, " " * first.col_offset


def _after_imports(tree: ast.Module) -> int:
    """0-based line index after the last top-level import (or after the docstring)."""
    at = 0
    for node in tree.body:
        is_import = isinstance(node, ast.Import | ast.ImportFrom)
        is_docstring = (
            at == 0 and isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)
        )
        if is_import or is_docstring:
            at = node.end_lineno or node.lineno
    return at


def _imports(tree: ast.Module, module: str) -> bool:
    return any(
        isinstance(n, ast.Import) and any(a.name == module and a.asname is None for a in n.names)
        for n in tree.body
    )


class Editor:
    """Line edits on one source text, applied bottom-up so earlier positions stay valid."""

    def __init__(self, content: str) -> None:
        self.lines = content.splitlines(keepends=True)
        if self.lines and not self.lines[-1].endswith("\n"):
            self.lines[-1] += "\n"
        self._edits: list[tuple[int, int, list[str]]] = []

    def replace(self, start: int, end: int, new: list[str]) -> None:
        """Replace 0-based lines [start, end) with `new` (each without its newline)."""
        self._edits.append((start, end, [line + "\n" for line in new]))

    def insert(self, at: int, new: list[str]) -> None:
        self.replace(at, at, new)

    def text(self) -> str:
        lines = list(self.lines)
        for start, end, new in sorted(self._edits, key=lambda e: (e[0], e[1]), reverse=True):
            lines[start:end] = new
        return "".join(lines)


def reduce_to(content: str, keep: set[str]) -> str:
    """The file with every test not in `keep` removed (module-level code stays)."""
    tree = ast.parse(content)
    editor = Editor(content)
    for node in tree.body:
        if isinstance(node, FunctionNode) and node.name.startswith("test"):
            if node.name not in keep:
                editor.replace(_start(node) - 1, node.end_lineno or node.lineno, [])
        elif isinstance(node, ast.ClassDef) and is_test_class(node):
            methods = [
                m for m in node.body if isinstance(m, FunctionNode) and m.name.startswith("test")
            ]
            kept = [m for m in methods if f"{node.name}::{m.name}" in keep]
            if not kept:
                editor.replace(_start(node) - 1, node.end_lineno or node.lineno, [])
                continue
            for m in methods:
                if m not in kept:
                    editor.replace(_start(m) - 1, m.end_lineno or m.lineno, [])
    return re.sub(r"\n{4,}", "\n\n\n", editor.text())


# ---------------------------------------------------------------- the planted defects


def _with_import(tree: ast.Module, editor: Editor, module: str) -> None:
    if not _imports(tree, module):
        editor.insert(_after_imports(tree), [f"import {module}"])


def _find(tree: ast.Module, qualname: str) -> FunctionNode:
    for test in test_functions(tree):
        if test.qualname == qualname:
            return test.node
    raise VariantError(f"no test {qualname}")


def prepend(content: str, qualname: str, lines: list[str], imports: tuple[str, ...] = ()) -> str:
    tree = ast.parse(content)
    func = _find(tree, qualname)
    at, indent = _body_start(func)
    editor = Editor(content)
    editor.insert(at, [indent + line for line in lines])
    for module in imports:
        _with_import(tree, editor, module)
    return editor.text()


def missing_colon(content: str, qualname: str) -> str:
    """`def test_x(client)` without its colon."""
    tree = ast.parse(content)
    func = _find(tree, qualname)
    at, _ = _body_start(func)
    editor = Editor(content)
    for index in range(at - 1, func.lineno - 2, -1):
        line = editor.lines[index].rstrip("\n")
        code = line.split("#", 1)[0].rstrip()
        if code.endswith(":"):
            cut = len(code) - 1
            editor.replace(index, index + 1, [line[:cut] + line[cut + 1 :]])
            return editor.text()
    raise VariantError(f"no colon after the signature of {qualname}")


def misspelled_import(content: str, package: str) -> str:
    """The first name imported from the project, misspelled (a trailing `s`)."""
    tree = ast.parse(content)
    for node in tree.body:
        if not (
            isinstance(node, ast.ImportFrom)
            and node.level == 0
            and node.module
            and node.module.split(".")[0] == package
        ):
            continue
        name = node.names[0].name
        word = re.compile(rf"\b{re.escape(name)}\b")
        editor = Editor(content)
        for index in range(node.lineno - 1, node.end_lineno or node.lineno):
            line = editor.lines[index].rstrip("\n")
            # On the first line, only the names after `import` (not the module path).
            skip = line.index(" import ") + len(" import ") if index == node.lineno - 1 else 0
            match = word.search(line, skip)
            if match:
                editor.replace(index, index + 1, [line[: match.end()] + "s" + line[match.end() :]])
                return editor.text()
    editor = Editor(content)
    editor.insert(_after_imports(tree), [f"from {package} import testing_helpers"])
    return editor.text()


def with_missing_fixture(content: str, qualname: str) -> str:
    """The test asks for a fixture nobody defines."""
    tree = ast.parse(content)
    func = _find(tree, qualname)
    editor = Editor(content)
    args = func.args.args
    if args:
        last = args[-1]
        index = (last.end_lineno or last.lineno) - 1
        line = editor.lines[index].rstrip("\n")
        col = last.end_col_offset or len(line)
        editor.replace(index, index + 1, [f"{line[:col]}, {MISSING_FIXTURE}{line[col:]}"])
    else:
        index = func.lineno - 1
        line = editor.lines[index].rstrip("\n")
        opening = line.index(f"{func.name}(") + len(func.name) + 1
        editor.replace(index, index + 1, [f"{line[:opening]}{MISSING_FIXTURE}{line[opening:]}"])
    return editor.text()


def skipped_module(content: str) -> str:
    tree = ast.parse(content)
    editor = Editor(content)
    at = _after_imports(tree)
    lines = [] if _imports(tree, "pytest") else ["import pytest"]
    editor.insert(at, [*lines, "", 'pytestmark = pytest.mark.skip(reason="flaky on CI")'])
    return editor.text()


def flipped_expectation(content: str, qualname: str) -> str:
    """The first assertion in the test's own body says the opposite."""
    tree = ast.parse(content)
    func = _find(tree, qualname)
    for stmt in func.body:
        if isinstance(stmt, ast.Assert):
            flipped = _flip(stmt.test)
            message = f", {ast.unparse(stmt.msg)}" if stmt.msg else ""
            editor = Editor(content)
            indent = " " * stmt.col_offset
            new = f"{indent}assert {ast.unparse(flipped)}{message}"
            editor.replace(stmt.lineno - 1, stmt.end_lineno or stmt.lineno, [new])
            return editor.text()
    raise VariantError(f"{qualname} has no assertion of its own")


def _flip(test: ast.expr) -> ast.expr:
    if isinstance(test, ast.Compare) and len(test.ops) == 1 and type(test.ops[0]) in _FLIP:
        return ast.Compare(test.left, [_FLIP[type(test.ops[0])]()], test.comparators)
    if isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not):
        return test.operand
    return ast.UnaryOp(ast.Not(), test)


def stripped_assertions(content: str) -> str:
    """Every `assert` statement turned into the bare expression it checked."""
    tree = ast.parse(content)
    editor = Editor(content)
    for node in ast.walk(tree):
        if isinstance(node, ast.Assert):
            indent = " " * node.col_offset
            editor.replace(
                node.lineno - 1, node.end_lineno or node.lineno, [indent + ast.unparse(node.test)]
            )
    return editor.text()


def flaky_draw(content: str, qualname: str, instances: int, rounds: int) -> str:
    """An assertion on a random draw from a generator seeded once per process.

    The seed is chosen so the draws of the first execution pass (so the defect is not visible
    on one run) and a repeat in the same process fails: a flake, the kind only reruns show.
    """
    seed = flaky_seed(instances, rounds)
    tree = ast.parse(content)
    func = _find(tree, qualname)
    at, indent = _body_start(func)
    editor = Editor(content)
    editor.insert(at, [f"{indent}assert _draws.random() < 0.5"])
    imports = [] if _imports(tree, "random") else ["import random"]
    editor.insert(_after_imports(tree), [*imports, "", f"_draws = random.Random({seed})"])
    return editor.text()


def flaky_seed(instances: int, rounds: int) -> int:
    """A seed whose first `instances` draws pass and some later draw within `rounds` fails."""
    for seed in range(100_000):
        rng = random.Random(seed)
        draws = [rng.random() for _ in range(instances * max(rounds, 2))]
        if all(d < 0.5 for d in draws[:instances]) and any(d >= 0.5 for d in draws[instances:]):
            return seed
    raise VariantError(f"no seed makes {instances} instance(s) flake within {rounds} rounds")


def shared_state(content: str, first: str, later: str) -> str:
    """The later test only passes after the first one ran: state kept in a module global."""
    tree = ast.parse(content)
    editor = Editor(content)
    at_first, indent_first = _body_start(_find(tree, first))
    at_later, indent_later = _body_start(_find(tree, later))
    editor.insert(at_first, [f'{indent_first}_prepared.append("{first}")'])
    editor.insert(at_later, [f'{indent_later}assert _prepared, "runs after {first}"'])
    editor.insert(_after_imports(tree), ["", "_prepared: list[str] = []"])
    return editor.text()


# ---------------------------------------------------------------- choosing what to break


def assertion_only(func: FunctionNode, helpers: set[str]) -> bool:
    """The test's only oracles are `assert` statements, and it calls no helper of the file."""
    has_assert = False
    for node in ast.walk(func):
        if isinstance(node, ast.Assert):
            has_assert = True
        elif isinstance(node, ast.Call):
            name = _call_name(node.func)
            if name in _ORACLE_CALLS or name.startswith("assert") or name in helpers:
                return False
    return has_assert


def _call_name(func: ast.expr) -> str:
    if isinstance(func, ast.Attribute):
        return func.attr
    if isinstance(func, ast.Name):
        return func.id
    return ""


def module_helpers(tree: ast.Module) -> set[str]:
    return {
        n.name for n in tree.body if isinstance(n, FunctionNode) and not n.name.startswith("test")
    }


def own_assertion(func: FunctionNode) -> bool:
    return any(isinstance(stmt, ast.Assert) for stmt in func.body)


def heldout_variant_path(path: str, name: str) -> str:
    pure = PurePosixPath(path)
    return str(pure.with_name(f"{pure.stem}_{name}{pure.suffix}"))
