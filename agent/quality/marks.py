"""Marking tests that document a defect as strict xfails, and reading such marks back.

A test that exposes a real bug must fail on the current code, so it is kept as
`@pytest.mark.xfail(strict=True, reason=...)`: the suite stays green today and turns red the day
the bug is fixed without the test being updated.
"""

from __future__ import annotations

import ast
import re

from agent.schema import Expectation, ProposedFile

_MAX_REASON = 200
_DEFAULT_REASON = "documents a defect in the current code"


def bug_marked(file: ProposedFile) -> str:
    """The file's content as it is judged and written: each test proposed as a bug marked strict
    xfail, its justification the reason. The one place proposals get their bug marks."""
    bugs = {t.name: t.justification for t in file.tests if t.expectation == Expectation.BUG}
    return mark_bugs(file.content, bugs)


def mark_bugs(content: str, bugs: dict[str, str]) -> str:
    """Add `@pytest.mark.xfail(strict=True, reason=...)` to the named test functions.

    `bugs` maps a test name (`test_x`, or `TestClass::test_x` / `TestClass.test_x`) to the
    justification. Tests already marked strict xfail are left alone, a non-strict xfail is replaced,
    `import pytest` is added when missing, and marking twice changes nothing. Content that does not
    parse is returned unchanged (the syntax gate reports it).
    """
    if not bugs:
        return content
    try:
        tree = ast.parse(content)
    except SyntaxError:
        return content
    wanted = {normalise_name(name): reason for name, reason in bugs.items()}
    lines = content.splitlines(keepends=True)
    newline = _newline_of(content)
    edits: list[tuple[int, int, list[str]]] = []  # (start index, end index, replacement lines)

    for qualname, func in iter_test_functions(tree):
        reason = wanted.get(qualname, wanted.get(func.name))
        if reason is None:
            continue
        existing = [d for d in func.decorator_list if _is_xfail(d)]
        if any(_is_strict(d) for d in existing):
            continue
        indent = _indent_of(lines[func.lineno - 1])
        decorator = (
            f"{indent}@pytest.mark.xfail(strict=True, reason={_reason_literal(reason)}){newline}"
        )
        if existing:
            # Replace the non-strict xfail so only one xfail mark decides the outcome.
            old = existing[0]
            end = old.end_lineno or old.lineno
            edits.append((old.lineno - 1, end, [decorator]))
        else:
            first = func.decorator_list[0].lineno if func.decorator_list else func.lineno
            edits.append((first - 1, first - 1, [decorator]))

    if not edits:
        return content
    for start, end, replacement in sorted(edits, key=lambda e: e[0], reverse=True):
        lines[start:end] = replacement
    if not _imports_pytest(tree):
        at = _import_insertion_line(tree)
        lines[at:at] = [f"import pytest{newline}"]
    return "".join(lines)


def iter_test_functions(
    tree: ast.Module,
) -> list[tuple[str, ast.FunctionDef | ast.AsyncFunctionDef]]:
    """Test functions pytest would collect by default: module-level `test*` functions and `test*`
    methods of `Test*` classes (or unittest-style classes), named `Class::method`."""
    found: list[tuple[str, ast.FunctionDef | ast.AsyncFunctionDef]] = []
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name[:4] == "test":
            found.append((node.name, node))
        elif isinstance(node, ast.ClassDef) and _is_test_class(node):
            found.extend(
                (f"{node.name}::{item.name}", item)
                for item in node.body
                if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef)
                and item.name.startswith("test")
            )
    return found


def strict_xfail_tests(tree: ast.Module) -> dict[str, str]:
    """Tests the author marked `xfail(strict=True, reason=...)`: qualname -> reason."""
    marked: dict[str, str] = {}
    class_marks: dict[str, ast.expr] = {}
    for node in tree.body:
        if isinstance(node, ast.ClassDef):
            for deco in node.decorator_list:
                if _is_xfail(deco) and _is_strict(deco):
                    class_marks[node.name] = deco
    for qualname, func in iter_test_functions(tree):
        decos = [d for d in func.decorator_list if _is_xfail(d) and _is_strict(d)]
        cls = qualname.split("::")[0] if "::" in qualname else None
        if not decos and cls in class_marks:
            decos = [class_marks[cls]]
        if decos:
            marked[qualname] = _reason_of(decos[0])
    return marked


def xfail_with_raises(tree: ast.Module) -> set[str]:
    """Tests whose xfail mark names the exception they fail with (`raises=...`)."""
    return {
        qualname
        for qualname, func in iter_test_functions(tree)
        for deco in func.decorator_list
        if _is_xfail(deco)
        and isinstance(deco, ast.Call)
        and any(kw.arg == "raises" for kw in deco.keywords)
    }


def module_level_marks(tree: ast.Module) -> list[str]:
    """Names of marks applied to the whole module (`pytestmark = ...`): skip, skipif, xfail..."""
    names: list[str] = []
    for node in tree.body:
        if not isinstance(node, ast.Assign | ast.AnnAssign):
            continue
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        if not any(isinstance(t, ast.Name) and t.id == "pytestmark" for t in targets):
            continue
        value = node.value
        if value is None:
            continue
        items = value.elts if isinstance(value, ast.List | ast.Tuple) else [value]
        names.extend(name for item in items if (name := _mark_name(item)))
    return names


# ---------------------------------------------------------------- helpers


def normalise_name(name: str) -> str:
    """`path.py::Cls::test_x[1]`, `Cls.test_x` or `test_x` -> `Cls::test_x` / `test_x`."""
    parts = [p for p in name.strip().split("::") if p]
    if parts and parts[0].endswith(".py"):
        parts = parts[1:]
    if len(parts) == 1 and "." in parts[0]:
        parts = parts[0].split(".")
    return "::".join(parts).split("[", 1)[0]


def _is_test_class(node: ast.ClassDef) -> bool:
    if node.name.startswith("Test"):
        return True
    return any(
        (isinstance(b, ast.Attribute) and b.attr == "TestCase")
        or (isinstance(b, ast.Name) and b.id == "TestCase")
        for b in node.bases
    )


def _mark_name(expr: ast.expr) -> str | None:
    """`pytest.mark.xfail(...)` / `mark.skip` / `xfail` -> the mark's name."""
    target = expr.func if isinstance(expr, ast.Call) else expr
    if isinstance(target, ast.Attribute):
        owner = target.value
        if (isinstance(owner, ast.Attribute) and owner.attr == "mark") or (
            isinstance(owner, ast.Name) and owner.id == "mark"
        ):
            return target.attr
        return None
    if isinstance(target, ast.Name) and target.id in {"xfail", "skip", "skipif"}:
        return target.id
    return None


def _is_xfail(expr: ast.expr) -> bool:
    return _mark_name(expr) == "xfail"


def _is_strict(expr: ast.expr) -> bool:
    if not isinstance(expr, ast.Call):
        return False
    for kw in expr.keywords:
        if kw.arg == "strict" and isinstance(kw.value, ast.Constant):
            return kw.value.value is True
    return False


def _reason_of(expr: ast.expr) -> str:
    if isinstance(expr, ast.Call):
        for kw in expr.keywords:
            if kw.arg == "reason" and isinstance(kw.value, ast.Constant):
                return str(kw.value.value)
        if len(expr.args) >= 2 and isinstance(expr.args[1], ast.Constant):
            return str(expr.args[1].value)
    return ""


def _reason_literal(reason: str) -> str:
    one_line = re.sub(r"\s+", " ", reason).strip() or _DEFAULT_REASON
    if len(one_line) > _MAX_REASON:
        one_line = one_line[: _MAX_REASON - 3].rstrip() + "..."
    return repr(one_line)


def _indent_of(line: str) -> str:
    return line[: len(line) - len(line.lstrip())]


def _newline_of(content: str) -> str:
    return "\r\n" if "\r\n" in content else "\n"


def _imports_pytest(tree: ast.Module) -> bool:
    return any(
        isinstance(node, ast.Import)
        and any(alias.name == "pytest" and alias.asname is None for alias in node.names)
        for node in tree.body
    )


def _import_insertion_line(tree: ast.Module) -> int:
    """After the module docstring and any `from __future__` imports (0-based line index)."""
    at = 0
    for node in tree.body:
        is_docstring = (
            node is tree.body[0]
            and isinstance(node, ast.Expr)
            and isinstance(node.value, ast.Constant)
            and isinstance(node.value.value, str)
        )
        is_future = isinstance(node, ast.ImportFrom) and node.module == "__future__"
        if is_docstring or is_future:
            at = node.end_lineno or node.lineno
        else:
            break
    return at
