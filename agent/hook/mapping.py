"""The static mapping from existing tests to changed code: which changed seams a test reaches.

A test (or a conftest.py, whose fixtures run for the tests below it) exercises a module it
imports, a seam whose function it names (or a function of the module that calls it), a route
whose method and path it requests, an event whose name it uses. Which modules a test imports,
and so reaches, is `agent.tests_map`'s reading, the one mapping from tests to code; names,
routes and events are the hook's own. Cheap and generous on purpose: it runs on every push and
must not cry wolf; coverage evidence from earlier runs adds what a static reading cannot see.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field

from agent.hook.evidence import Evidence
from agent.hook.existing_tests import TestFacts
from agent.hook.routes import Route
from agent.schema import Seam
from agent.tests_map import reaches, with_conftests

_LITERAL = re.compile(r"""\(\s*['"]([^'"]+)['"]""")


@dataclass(frozen=True)
class ChangedModule:
    module: str
    path: str
    lines: frozenset[int]  # lines of the pushed version that are new or border a deletion


@dataclass(frozen=True)
class Gap:
    """Changed code no test exercises: a whole module (`seam` None) or one of its seams."""

    module: str
    path: str
    seam: Seam | None
    why: str
    function: str | None = None  # a changed function no test executes (test-impact index)
    line: int = 0


@dataclass(frozen=True)
class TestReach:
    """One test file (or conftest.py) as the mapping sees it: its names, strings and requests,
    and every module it gets from an import of its own or of a conftest.py above it (fixtures
    hand those objects over)."""

    facts: TestFacts
    imports: frozenset[str]  # its own and its conftest.py files' imports

    def imports_module(self, module: str) -> bool:
        """It imports the module, a name of it, or a package above it (which may re-export it:
        `from .core import *`, then `pkg.func`)."""
        return reaches(self.imports, module)


def reach_of(tests: list[TestFacts]) -> list[TestReach]:
    # conftest.py files too: their fixtures run the code they call
    imports = with_conftests({t.path: t.imports for t in tests})
    return [TestReach(t, imports[t.path]) for t in tests]


def find_gaps(
    modules: list[ChangedModule],
    seams: list[Seam],
    tests: list[TestReach],
    graphs: CallGraphs,
    evidence: Evidence,
) -> list[Gap]:
    gaps: list[Gap] = []
    for changed in modules:
        importing = [t for t in tests if t.imports_module(changed.module)]
        if not importing and not evidence.covers_module(changed.path):
            gaps.append(Gap(changed.module, changed.path, None, "no test imports it"))
        for seam in (s for s in seams if s.path == changed.path):
            if not evidence.covers(seam) and not _reached(seam, tests, importing, graphs):
                gaps.append(Gap(changed.module, changed.path, seam, _why(seam)))
    return gaps


def _reached(
    seam: Seam, tests: list[TestReach], importing: list[TestReach], graphs: CallGraphs
) -> bool:
    route = route_of(seam)
    if route is not None:
        return any(t.facts.requests.reach(route) for t in tests)
    name = event_name(seam)
    if name is not None and any(name in t.facts.strings for t in tests):
        return True
    if seam.kind == "import" or not seam.symbol:
        return bool(importing)  # module-level code runs whenever the module is imported
    return _named(seam.symbol, seam.path, importing, graphs)


def function_reached(
    module: str, path: str, qualname: str | None, tests: list[TestReach], graphs: CallGraphs
) -> bool:
    """The static answer for one changed function (None: module-level code)."""
    importing = [t for t in tests if t.imports_module(module)]
    if qualname is None:
        return bool(importing)
    return _named(qualname, path, importing, graphs)


def _named(symbol: str, path: str, importing: list[TestReach], graphs: CallGraphs) -> bool:
    leaf = symbol.rpartition(".")[2]
    if any(leaf in t.facts.names for t in importing):
        return True
    # Not named by a test: is a function of the module that (indirectly) calls it?
    names = _closure(leaf, graphs.of(path))
    return any(not names.isdisjoint(t.facts.names) for t in importing)


def _closure(name: str, callers: dict[str, set[str]]) -> set[str]:
    found, todo = {name}, [name]
    while todo:
        for caller in callers.get(todo.pop(), ()):
            if caller not in found:
                found.add(caller)
                todo.append(caller)
    return found


@dataclass
class CallGraphs:
    """Per changed module, name -> the functions and methods whose own bodies mention it: a call
    graph that is cheap and generous (`self.helper()` and `helper()` both count; nested defs are
    their own). Built only for the modules that need it."""

    trees: dict[str, ast.Module] = field(default_factory=dict)
    _built: dict[str, dict[str, set[str]]] = field(default_factory=dict)

    def of(self, path: str) -> dict[str, set[str]]:
        if path not in self._built:
            graph: dict[str, set[str]] = {}
            for node in ast.walk(self.trees.get(path, ast.Module(body=[], type_ignores=[]))):
                if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                    for name in _mentions(node):
                        if name != node.name:
                            graph.setdefault(name, set()).add(node.name)
            self._built[path] = graph
        return self._built[path]


def _mentions(func: ast.FunctionDef | ast.AsyncFunctionDef) -> set[str]:
    names: set[str] = set()
    todo: list[ast.AST] = list(func.body)
    while todo:
        node = todo.pop()
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            continue
        if isinstance(node, ast.Name):
            names.add(node.id)
        elif isinstance(node, ast.Attribute):
            names.add(node.attr)
        todo.extend(ast.iter_child_nodes(node))
    return names


def _why(seam: Seam) -> str:
    route = route_of(seam)
    if route is not None:
        verbs = "/".join(sorted(route.methods)) or "any method"
        return f"no test requests {verbs} {route.path}"
    if seam.kind == "import" or not seam.symbol:
        return "no test imports its module"
    return f"no test that imports its module calls {seam.symbol.rpartition('.')[2]}"


def route_of(seam: Seam) -> Route | None:
    return Route.of(seam.detail) if seam.kind == "http_route" else None


def event_name(seam: Seam) -> str | None:
    if seam.kind != "event":
        return None
    m = _LITERAL.search(seam.detail)
    return m.group(1) if m else None
