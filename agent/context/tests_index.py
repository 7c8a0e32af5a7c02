"""Existing tests that touch the changed modules (found by what they import, as
`agent.tests_map` reads and matches imports), with their test names and a short excerpt to show
how this repository writes tests."""

from __future__ import annotations

import ast
from collections.abc import Set
from dataclasses import dataclass, field
from pathlib import Path

from agent.context.repo_map import gc_paused
from agent.schema import ExistingTest
from agent.source.files import ModuleNamer, read_text
from agent.source.imports import known_prefix, package_of
from agent.tests_map import reaches, read_imports

EXCERPT_LINES = 25
MAX_TEST_NAMES = 25


@dataclass
class TargetModules:
    """The modules tests are matched against, and their public top-level names (re-exports)."""

    modules: dict[str, str]  # module -> path
    # module -> package above it -> the names the package re-exports from the module
    reexports: dict[str, dict[str, set[str]]] = field(default_factory=dict)


class TextFilter:
    """A cheap test run before parsing: could this file import a target at all? Looks for the
    import statements' own words: `shop.orders`, `from shop import` + `orders`, relative
    imports next to the target, `from shop import` + a re-exported name."""

    def __init__(self, wanted: TargetModules) -> None:
        self.full = list(wanted.modules)
        self.pairs: dict[str, set[str]] = {}  # "from shop import" -> names that may follow
        self.relative: list[tuple[str, str]] = []  # (folder prefix, module's last part)
        for module, path in wanted.modules.items():
            parent, _, last = module.rpartition(".")
            if parent:
                self.pairs.setdefault(f"from {parent} import", set()).add(last)
            top = path.split("/", 1)[0]
            self.relative.append((top + "/", last))
        for exported in wanted.reexports.values():
            for package, names in exported.items():
                self.pairs.setdefault(f"from {package} import", set()).update(names)

    def __call__(self, path: str, text: str) -> bool:
        if any(module in text for module in self.full):
            return True
        if any(a in text and any(b in text for b in bs) for a, bs in self.pairs.items()):
            return True
        return "from ." in text and any(
            path.startswith(top) and last in text for top, last in self.relative
        )


def test_names(tree: ast.Module) -> list[str]:
    names: list[str] = []
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name.startswith(
            "test"
        ):
            names.append(node.name)
        elif isinstance(node, ast.ClassDef):
            names += [
                f"{node.name}::{item.name}"
                for item in node.body
                if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef)
                and item.name.startswith("test")
            ]
    if len(names) > MAX_TEST_NAMES:
        names = [*names[:MAX_TEST_NAMES], f"… ({len(names) - MAX_TEST_NAMES} more)"]
    return names


TestNode = ast.FunctionDef | ast.AsyncFunctionDef


def _test_nodes(tree: ast.Module) -> list[tuple[TestNode, ast.ClassDef | None]]:
    """(test function, its class or None) in file order."""
    nodes: list[tuple[TestNode, ast.ClassDef | None]] = []
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            nodes.append((node, None))
        elif isinstance(node, ast.ClassDef):
            nodes += [
                (item, node)
                for item in node.body
                if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef)
            ]
    return [(n, c) for n, c in nodes if n.name.startswith("test")]


def _excerpt(text: str, tree: ast.Module, imports: list[ast.stmt], bound: set[str]) -> str:
    """The imports of the target plus the first test that mentions what they bind."""
    lines = text.splitlines()
    tests = _test_nodes(tree)

    def mentions(test: TestNode) -> bool:
        body = "\n".join(lines[test.lineno - 1 : test.end_lineno])
        return any(name in body for name in bound)

    chosen = next((t for t in tests if mentions(t[0])), tests[0] if tests else None)
    parts: list[str] = []
    for node in sorted(set(imports), key=lambda n: n.lineno):
        last = node.end_lineno or node.lineno
        end = min(last, node.lineno + EXCERPT_LINES // 3)
        parts += lines[node.lineno - 1 : end]
        if end < last:
            parts.append("    # …")
    if chosen is not None:
        test, cls = chosen
        start = min([test.lineno, *(d.lineno for d in test.decorator_list)])
        end = test.end_lineno or test.lineno
        body = lines[start - 1 : min(end, start - 1 + EXCERPT_LINES)]
        if end - start + 1 > EXCERPT_LINES:
            body.append(" " * test.col_offset + "# …")
        if cls is not None:
            body = [lines[cls.lineno - 1], *(["    # …"] if cls.body[0] is not test else []), *body]
        parts += ["", "", *body] if parts else body
    return "\n".join(parts)


def find_existing_tests(
    root: Path,
    test_files: list[str],
    wanted: TargetModules,
    known: Set[str],
    namer: ModuleNamer,
) -> list[ExistingTest]:
    """Test files importing a target module (or a target's name re-exported by a package),
    most connected first."""
    reexports = wanted.reexports
    could_import = TextFilter(wanted)
    scored: list[tuple[bool, int, ExistingTest]] = []
    with gc_paused():
        for path in test_files:
            text = read_text(root / path)
            if text is None or not could_import(path, text):
                continue
            try:
                tree = ast.parse(text, filename=path)
            except (SyntaxError, ValueError):
                continue
            module = namer(path) or ""
            package = package_of(module, path.endswith("__init__.py"))
            imported: set[str] = set()
            hits: set[str] = set()
            import_nodes: list[ast.stmt] = []
            bound: set[str] = set()
            for found in read_imports(tree, package):
                repo_module = known_prefix(found.dotted, known)
                if repo_module is None:
                    continue
                imported.add(repo_module)
                reached = {
                    target
                    for target in wanted.modules
                    if reaches(found.names, target, reexports.get(target, {}))
                }
                if reached:
                    hits |= reached
                    import_nodes.append(found.node)
                    bound.add(found.name or found.dotted.split(".")[0])
            if not hits:
                continue
            test = ExistingTest(
                path=path,
                modules=sorted(imported),
                tests=test_names(tree),
                excerpt=_excerpt(text, tree, import_nodes, bound),
            )
            scored.append((not test.tests, -len(hits), test))
    # Files with tests first, then those importing the most targets.
    scored.sort(key=lambda item: (item[0], item[1], item[2].path))
    return [test for _, _, test in scored]
