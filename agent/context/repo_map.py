"""The repo map: every module's public classes, functions and methods with signatures, and the
repo's own modules each one imports. Each file is read and parsed exactly once."""

from __future__ import annotations

import ast
import gc
from collections.abc import Iterator, Set
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from agent.log import get_logger
from agent.schema import ModuleSummary, Symbol
from agent.source.files import ModuleNamer, discover_python_files
from agent.source.imports import absolute_from, iter_statements, known_prefix, package_of, targets

log = get_logger(__name__)

DOC_LIMIT = 120
# Dunder methods worth showing: they are how a class is built and called.
PUBLIC_DUNDERS = frozenset({"__init__", "__call__"})


@dataclass
class RepoMap:
    """The parsed view of a repository's source modules (tests are listed, not parsed)."""

    root: Path
    modules: dict[str, ModuleSummary] = field(default_factory=dict)  # module -> summary
    by_path: dict[str, str] = field(default_factory=dict)  # path -> module
    sources: dict[str, str] = field(default_factory=dict)  # path -> text
    test_files: list[str] = field(default_factory=list)

    def module_for(self, path: str) -> str | None:
        return self.by_path.get(path)


@contextmanager
def gc_paused() -> Iterator[None]:
    """Parsing allocates millions of acyclic AST nodes, freed by refcount; the cyclic collector
    would only rescan them again and again (about a quarter of the parse time on big repos)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def first_line(doc: str | None) -> str:
    for line in (doc or "").strip().splitlines():
        if line.strip():
            text = line.strip()
            return text if len(text) <= DOC_LIMIT else text[: DOC_LIMIT - 1] + "…"
    return ""


def signature(node: ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) -> str:
    """`def place(self, order: Order) -> Receipt`, `class Order(Base)`."""
    if isinstance(node, ast.ClassDef):
        bases = [ast.unparse(b) for b in node.bases] + [ast.unparse(k) for k in node.keywords]
        return f"class {node.name}({', '.join(bases)})" if bases else f"class {node.name}"
    prefix = "async def" if isinstance(node, ast.AsyncFunctionDef) else "def"
    returns = f" -> {ast.unparse(node.returns)}" if node.returns else ""
    return f"{prefix} {node.name}({ast.unparse(node.args)}){returns}"


def _is_public(name: str) -> bool:
    return not name.startswith("_") or name in PUBLIC_DUNDERS


def symbols(tree: ast.Module) -> list[Symbol]:
    """Public top-level functions and classes, and the public methods of those classes."""
    found: list[Symbol] = []
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and _is_public(node.name):
            found.append(
                Symbol(
                    name=node.name,
                    kind="function",
                    signature=signature(node),
                    doc=first_line(ast.get_docstring(node, clean=False)),
                    line=node.lineno,
                )
            )
        elif isinstance(node, ast.ClassDef) and not node.name.startswith("_"):
            found.append(
                Symbol(
                    name=node.name,
                    kind="class",
                    signature=signature(node),
                    doc=first_line(ast.get_docstring(node, clean=False)),
                    line=node.lineno,
                )
            )
            for item in node.body:
                if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef) and _is_public(
                    item.name
                ):
                    found.append(
                        Symbol(
                            name=f"{node.name}.{item.name}",
                            kind="method",
                            signature=signature(item),
                            doc=first_line(ast.get_docstring(item, clean=False)),
                            line=item.lineno,
                        )
                    )
    return found


def raw_imports(tree: ast.Module, package: str) -> list[str]:
    """Every absolute dotted name the module imports, nested imports included."""
    return [
        dotted
        for stmt in iter_statements(tree.body)
        if isinstance(stmt, ast.Import | ast.ImportFrom)
        for dotted, _ in targets(stmt, package)
    ]


def summarize(module: str, path: str, text: str) -> tuple[ModuleSummary, list[str]]:
    """A module's summary (its `imports` still empty) and the dotted names it imports."""
    summary = ModuleSummary(module=module, path=path)
    try:
        tree = ast.parse(text, filename=path)
    except (SyntaxError, ValueError) as exc:
        line = getattr(exc, "lineno", None)
        summary.doc = f"(does not parse: {type(exc).__name__} at line {line})"
        return summary, []
    summary.doc = first_line(ast.get_docstring(tree, clean=False))
    summary.symbols = symbols(tree)
    return summary, raw_imports(tree, package_of(module, path.endswith("__init__.py")))


def resolve_imports(summary: ModuleSummary, imports: list[str], known: Set[str]) -> None:
    """Fill `summary.imports` with the repo modules among the dotted names it imports."""
    hits = {known_prefix(dotted, known) for dotted in imports}
    summary.imports = sorted(h for h in hits if h is not None and h != summary.module)


def reexports(repo: RepoMap, module: str) -> dict[str, set[str]]:
    """package -> names it re-exports from `module`, for each package above it
    (`from .query import QuerySet` in django/db/models/__init__.py)."""
    summary = repo.modules.get(module)
    public = {s.name for s in summary.symbols if s.kind != "method"} if summary else set()
    parts = module.split(".")
    found: dict[str, set[str]] = {}
    for i in range(len(parts) - 1, 0, -1):
        package = ".".join(parts[:i])
        init = repo.modules.get(package)
        text = repo.sources.get(init.path, "") if init else ""
        if not text or parts[-1] not in text:
            continue
        try:
            tree = ast.parse(text)
        except (SyntaxError, ValueError):
            continue
        names: set[str] = set()
        for stmt in iter_statements(tree.body):
            if isinstance(stmt, ast.ImportFrom) and absolute_from(stmt, package) == module:
                for alias in stmt.names:
                    names |= public if alias.name == "*" else {alias.asname or alias.name}
        if names:
            found[package] = names
    return found


def build_repo_map(
    root: Path,
    sources: list[str] | None = None,
    tests: list[str] | None = None,
    namer: ModuleNamer | None = None,
) -> RepoMap:
    """Parse every source module of the repository (tests excluded) once."""
    if sources is None or tests is None:
        sources, tests = discover_python_files(root)
    namer = namer or ModuleNamer(root)
    repo = RepoMap(root=root, test_files=list(tests))
    pending: list[tuple[ModuleSummary, str, list[str]]] = []
    with gc_paused():
        for path in sources:
            module = namer(path)
            if module is None or module in repo.modules:
                continue
            try:
                text = (root / path).read_bytes().decode("utf-8", errors="replace")
            except OSError:
                continue
            summary, imports = summarize(module, path, text)
            repo.modules[module] = summary
            repo.by_path[path] = module
            repo.sources[path] = text
            pending.append((summary, module, imports))
    known = repo.modules.keys()
    for summary, _, imports in pending:
        resolve_imports(summary, imports, known)
    log.debug("repo map", modules=len(repo.modules), tests=len(repo.test_files))
    return repo
