"""What the AST says about one test file before anything runs."""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field

from agent.quality.marks import (
    iter_test_functions,
    module_level_marks,
    strict_xfail_tests,
    xfail_with_raises,
)
from agent.quality.oracle import oracle_map, shapes_by_test
from agent.tests_map import imports_in

_MODULE_NAME = re.compile(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)*")


@dataclass
class FileFacts:
    path: str
    content: str
    tree: ast.Module | None = None
    syntax_error: str = ""
    tests: list[str] = field(default_factory=list)  # "test_x" / "Class::test_x"
    has_oracle: dict[str, bool] = field(default_factory=dict)
    strict_xfail: dict[str, str] = field(default_factory=dict)  # qualname -> reason
    xfail_raises: set[str] = field(default_factory=set)  # xfail marks naming an exception
    shapes: dict[str, set[str]] = field(default_factory=dict)  # what each test checks
    module_marks: list[str] = field(default_factory=list)  # skip, skipif, xfail, ...
    # Dotted names imported anywhere in the file, and strings that look like module names
    # (`importlib.import_module("shop.cli")`, `python -m shop.cli`).
    imports: set[str] = field(default_factory=set)

    def qualname_of(self, nodeid: str) -> str:
        """`path::Class::test_x[param]` -> `Class::test_x`."""
        rest = nodeid.split("::", 1)[1] if "::" in nodeid else nodeid
        return rest.split("[", 1)[0]


def file_facts(path: str, content: str, fixtures: dict[str, bool] | None = None) -> FileFacts:
    """`fixtures`: conftest fixtures visible to the file, and whether each holds an oracle."""
    facts = FileFacts(path=path, content=content)
    try:
        tree = ast.parse(content, filename=path)
    except SyntaxError as exc:
        where = f"line {exc.lineno}" + (f", column {exc.offset}" if exc.offset else "")
        facts.syntax_error = f"{exc.msg} ({where})"
        return facts
    except ValueError as exc:  # null bytes and the like
        facts.syntax_error = str(exc)
        return facts
    facts.tree = tree
    facts.tests = [name for name, _ in iter_test_functions(tree)]
    facts.has_oracle = oracle_map(tree, fixtures)
    facts.shapes = shapes_by_test(tree)
    facts.strict_xfail = strict_xfail_tests(tree)
    facts.xfail_raises = xfail_with_raises(tree)
    facts.module_marks = module_level_marks(tree)
    facts.imports.update(imports_in(tree))
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and _MODULE_NAME.fullmatch(node.value)
        ):
            facts.imports.add(node.value)
    return facts
