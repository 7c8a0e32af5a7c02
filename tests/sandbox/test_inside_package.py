"""The code that runs inside the sandbox stays a package apart: it runs under the target's
interpreter, so it imports only the standard library, pytest and its own modules, and every file
parses as the oldest Python a target may have."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

from agent.sandbox.isolation import INSIDE_DIR

# sys.addaudithook (the network guard) and pytest 8 both need 3.8.
OLDEST = (3, 8)
ALLOWED_THIRD_PARTY = {"pytest", "_pytest", "pluggy"}
MODULES = sorted(INSIDE_DIR.rglob("*.py"))
SIBLINGS = {path.stem for path in MODULES}


def _ids(paths: list[Path]) -> list[str]:
    return [str(path.relative_to(INSIDE_DIR)) for path in paths]


def _imported(tree: ast.AST) -> list[tuple[int, str]]:
    """(line, top-level module) of every absolute import, at any depth of the file."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name.split(".")[0]) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.lineno, node.module.split(".")[0]))
    return found


def test_the_package_holds_every_in_sandbox_module() -> None:
    assert set(_ids(MODULES)) >= {
        "itarch_boot.py",
        "itarch_options.py",
        "itarch_pytest.py",
        "mutation_driver.py",
        "children/sitecustomize.py",
    }


@pytest.mark.parametrize("path", MODULES, ids=_ids(MODULES))
def test_imports_only_stdlib_pytest_and_siblings(path: Path) -> None:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    allowed = set(sys.stdlib_module_names) | ALLOWED_THIRD_PARTY | SIBLINGS | {"__future__"}
    foreign = [f"line {line}: {name}" for line, name in _imported(tree) if name not in allowed]
    assert foreign == [], f"{path.name} imports what a target may not have"


@pytest.mark.parametrize("path", MODULES, ids=_ids(MODULES))
def test_parses_as_the_oldest_supported_python(path: Path) -> None:
    ast.parse(path.read_text(encoding="utf-8"), filename=str(path), feature_version=OLDEST)


def test_the_rule_catches_a_host_import() -> None:
    tree = ast.parse("import os\nfrom agent.schema import RunResult\nimport pydantic.v1\n")
    names = [name for _, name in _imported(tree)]
    assert names == ["os", "agent", "pydantic"]
