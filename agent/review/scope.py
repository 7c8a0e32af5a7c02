"""Which modules a review is about, their seams, and which existing test files may reach them."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from agent.context.builder import resolve_modules
from agent.context.repo_map import RepoMap, build_repo_map
from agent.context.seams import Target, find_seams, scan_module
from agent.schema import Seam
from agent.source.files import ModuleNamer, discover_python_files
from agent.source.imports import known_prefix
from agent.tests_map import TestMap

# Top-level files that are tooling, not the project's code.
_TOOLING = frozenset({"setup", "noxfile", "fabfile", "tasks", "manage", "conftest", "dodo"})
_NOT_PACKAGES = ("docs/", "doc/", "examples/", "example/", "benchmarks/", "scripts/", "tools/")


@dataclass
class ReviewScope:
    root: Path
    repo_map: RepoMap
    modules: dict[str, str]  # module -> path, in path order
    seams: dict[str, list[Seam]] = field(default_factory=dict)  # path -> its own seams
    test_files: list[str] = field(default_factory=list)  # test modules that may reach them
    # seam id -> (path, qualname) of the functions a module-level registration names
    # (`path("orders/", views.orders)`, `bus.subscribe("paid", on_paid)`): it runs when they do
    handlers: dict[str, list[tuple[str, str]]] = field(default_factory=dict)

    @property
    def trace(self) -> list[str]:
        """The files whose lines are recorded: the modules and the handlers they register."""
        extra = {p for found in self.handlers.values() for p, _ in found}
        return sorted(set(self.modules.values()) | extra)


def review_scope(root: Path, requested: list[str] | None) -> ReviewScope:
    sources, tests = discover_python_files(root)
    repo_map = build_repo_map(root, sources, tests, ModuleNamer(root))
    if requested:
        modules = resolve_modules(root, requested, repo_map)
    else:
        modules = {
            m: s.path for m, s in sorted(repo_map.modules.items(), key=lambda kv: kv[1].path)
        }
        modules = {m: p for m, p in modules.items() if _own_code(m, p)}
        # With packages, top-level single files are scripts around them (a project made of
        # one module has none).
        if any(_in_package(m, p) for m, p in modules.items()):
            modules = {m: p for m, p in modules.items() if _in_package(m, p)}
    scope = ReviewScope(root=root, repo_map=repo_map, modules=modules)
    targets = [Target(m, p, None) for m, p in modules.items()]
    by_path: dict[str, list[Seam]] = defaultdict(list)
    for seam in find_seams(repo_map, targets):
        # An import runs whenever the module is imported: it tells nothing about the tests.
        if seam.path in modules.values() and seam.kind != "import":
            by_path[seam.path].append(seam)
    scope.seams = {p: sorted(s, key=lambda s: s.line) for p, s in by_path.items()}
    scope.handlers = _handlers(repo_map, modules, scope.seams)
    scope.test_files = _test_files(root, repo_map, set(modules))
    return scope


def _handlers(
    repo_map: RepoMap, modules: dict[str, str], seams: dict[str, list[Seam]]
) -> dict[str, list[tuple[str, str]]]:
    known = set(repo_map.modules)
    found: dict[str, list[tuple[str, str]]] = {}
    for module, path in modules.items():
        module_level = {s.line: s for s in seams.get(path, []) if not s.symbol}
        text = repo_map.sources.get(path)
        if not module_level or text is None:
            continue
        scan = scan_module(module, path, text, known)
        if scan is None:
            continue
        for item in scan.found:
            seam = module_level.get(item.line)
            if seam is None or not item.handlers or seam.id != f"{item.kind}:{path}:{item.line}":
                continue
            for handler in item.handlers:
                dotted = _resolve(scan.resolve_alias, handler.replace("()", ""))
                owner = known_prefix(dotted, known)
                if owner is None and "." not in handler:
                    owner, dotted = module, f"{module}.{handler}"
                if owner is None or owner not in repo_map.modules or dotted == owner:
                    continue
                qualname = dotted[len(owner) + 1 :].removesuffix(".as_view")
                found.setdefault(seam.id, []).append((repo_map.modules[owner].path, qualname))
    return found


def _resolve(aliases: dict[str, str], dotted: str) -> str:
    head, _, rest = dotted.partition(".")
    if head in aliases:
        return f"{aliases[head]}.{rest}" if rest else aliases[head]
    return dotted


def _own_code(module: str, path: str) -> bool:
    if path.startswith(_NOT_PACKAGES):
        return False
    return _in_package(module, path) or module not in _TOOLING


def _in_package(module: str, path: str) -> bool:
    return "." in module or path.endswith("__init__.py")


def _test_files(root: Path, repo_map: RepoMap, modules: set[str]) -> list[str]:
    """Test modules that import a module under review, or a module that (transitively) imports
    one; a conftest.py that does brings in every test module below it. What each test really
    executes is measured afterwards; this only decides what runs."""
    importers: dict[str, set[str]] = defaultdict(set)
    for name, summary in repo_map.modules.items():
        for imported in summary.imports:
            importers[imported].add(name)
    reach = set(modules)
    todo = list(modules)
    while todo:
        for user in importers.get(todo.pop(), set()):
            if user not in reach:
                reach.add(user)
                todo.append(user)
    paths = {repo_map.modules[m].path for m in reach if m in repo_map.modules}
    tests = TestMap(root, repo_map.test_files)
    return sorted(t for t in repo_map.test_files if _is_test_module(t) and tests.files(t) & paths)


def _is_test_module(rel: str) -> bool:
    name = PurePosixPath(rel).name
    return name.endswith(".py") and (name.startswith("test_") or name.endswith("_test.py"))
