"""Which existing tests are about which code: the one mapping from test files to source files.

Two readings, one answer. Read statically, a test file is about the modules it imports: a name of
a module counts for the module, and a package above it counts too, since it may re-export the
module's names (`from .core import *`, then `pkg.func`); a conftest.py's imports count for every
test below it, whose fixtures hand those objects over. Measured, a test file is about the source
files its recorded tests executed (the test-impact index, `agent/index`), which also sees a module
reached only through a helper or a fixture. Where the index has an entry that traced the files in
question, for the test file as it is now, execution answers; elsewhere (no index, a test file it
never ran or that changed since) the imports do.

The pre-push hook, the context, `review` and the judge all ask here; what each does with the
answer (seams by name and route, excerpts, what to run) stays with them.
"""

from __future__ import annotations

import ast
import os
from collections.abc import Iterable, Mapping, Set
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from agent.index import Hasher, ImpactIndex
from agent.source.files import module_path, read_text
from agent.source.imports import absolute_from, iter_statements

__all__ = [
    "MAX_RELATED_FILES",
    "Imported",
    "Related",
    "TestMap",
    "functions_run",
    "imports_in",
    "imports_of",
    "module_files",
    "reaches",
    "read_imports",
    "related_test_files",
    "test_files",
    "with_conftests",
]

MAX_RELATED_FILES = 6
_SKIP_DIRS = {".git", ".venv", "venv", "node_modules", "__pycache__", ".tox", ".nox", "build"}


# ---------------------------------------------------------------------- reading one file


@dataclass(frozen=True)
class Imported:
    """One thing an import statement imports."""

    dotted: str  # `shop.orders` (`import shop.orders`, `from shop.orders import *`) or
    # `shop.orders.place` (`from shop.orders import place`)
    name: str | None  # the name a from-import takes (`place`), else None
    node: ast.Import | ast.ImportFrom

    @property
    def names(self) -> tuple[str, ...]:
        """The dotted names it stands for: a from-import's module as well as the name."""
        module = self.dotted.rpartition(".")[0]
        return (module, self.dotted) if self.name is not None and module else (self.dotted,)


def read_imports(tree: ast.Module, package: str | None = None) -> list[Imported]:
    """Everything the module imports, imports nested in functions and branches included, in file
    order. Relative imports are resolved against `package` (where the file's relative imports
    start from); without one they are left out."""
    found: list[Imported] = []
    for node in iter_statements(tree.body):
        if isinstance(node, ast.Import):
            found += [Imported(alias.name, None, node) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and (package is not None or not node.level):
            module = absolute_from(node, package or "")
            for alias in node.names:
                if alias.name != "*":
                    dotted = f"{module}.{alias.name}" if module else alias.name
                    found.append(Imported(dotted, alias.name, node))
                elif module:
                    found.append(Imported(module, None, node))
    return found


def imports_in(tree: ast.Module, package: str | None = None) -> frozenset[str]:
    """The dotted names a module imports: `shop.orders`, and `shop.orders` and
    `shop.orders.OrderService` for `from shop.orders import OrderService`."""
    return frozenset(name for found in read_imports(tree, package) for name in found.names)


def imports_of(path: Path, package: str | None = None) -> frozenset[str]:
    """`imports_in` of a file; nothing when it cannot be read or does not parse."""
    text = read_text(path)
    if text is None:
        return frozenset()
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError):
        return frozenset()
    return imports_in(tree, package)


def reaches(
    imported: Iterable[str], module: str, reexports: Mapping[str, Set[str]] | None = None
) -> bool:
    """Whether importing these dotted names reaches `module`: it or a name of it is imported, or
    a package above it. Any import of such a package counts when `reexports` is None (it may
    re-export the module's names); otherwise only the names it is known to re-export from the
    module (package -> names)."""
    for name in imported:
        if name == module or name.startswith(module + "."):
            return True
        if reexports is None:
            if module.startswith(name + "."):
                return True
            continue
        package, _, leaf = name.rpartition(".")
        if leaf in reexports.get(package, ()):
            return True
    return False


def with_conftests(imports: Mapping[str, frozenset[str]]) -> dict[str, frozenset[str]]:
    """Each file's imports together with those of every conftest.py among them in its folder or
    one above it (a conftest.py's fixtures run for the tests below it)."""
    conftests = {
        path.rpartition("/")[0]: names
        for path, names in imports.items()
        if PurePosixPath(path).name == "conftest.py"
    }
    merged: dict[str, frozenset[str]] = {}
    for path, names in imports.items():
        found = set(names)
        for folder, more in conftests.items():
            if not folder or path.startswith(folder + "/"):
                found |= more
        merged[path] = frozenset(found)
    return merged


# ---------------------------------------------------------------------- names to files


def module_files(root: Path, names: Iterable[str]) -> set[str]:
    """The repository source files behind imported names (`shop.orders.place` -> shop/orders.py).

    Package `__init__.py` files only count when nothing more specific was imported, so that
    `from shop import orders` relates to `shop/orders.py`, not to every test of `shop`.
    """
    files: set[str] = set()
    for name in names:
        parts = name.split(".")
        for end in range(len(parts), 0, -1):
            path = module_path(root, ".".join(parts[:end]))
            if path is not None:
                files.add(path)
                break
    specific = {f for f in files if not f.endswith("__init__.py")}
    return specific or files


def test_files(root: Path, tests_root: str) -> list[str]:
    """Test modules under the tests root, repo-relative, in a stable order."""
    base = root / tests_root if tests_root not in ("", ".") else root
    found: list[str] = []
    for dirpath, dirnames, filenames in os.walk(base):
        dirnames[:] = sorted(d for d in dirnames if d not in _SKIP_DIRS and not d.startswith("."))
        for name in sorted(filenames):
            if name.endswith(".py") and (name.startswith("test_") or name.endswith("_test.py")):
                found.append((Path(dirpath) / name).relative_to(root).as_posix())
    return found


# ---------------------------------------------------------------------- test files to code


@dataclass(frozen=True)
class Related:
    """A test file about some of the source files asked about."""

    path: str
    files: frozenset[str]  # which of them
    lines: int = 0  # how many of their lines its tests executed (0: found by imports)
    by: str = "imports"  # or "execution"


@dataclass
class TestMap:
    """The existing test files under `root` and the source files each is about, every file read
    at most once. With an `index`, execution answers for the test files it has entries for."""

    __test__ = False  # not a test class, whatever pytest makes of the name

    root: Path
    tests: list[str]
    index: ImpactIndex | None = None
    _files: dict[str, set[str]] = field(default_factory=dict, repr=False)

    def conftests(self, path: str) -> list[str]:
        """The conftest.py files whose fixtures run for `path`: in its folder and above."""
        parts = PurePosixPath(path).parts[:-1]
        found = []
        for depth in range(len(parts) + 1):
            candidate = "/".join([*parts[:depth], "conftest.py"])
            if candidate != path and (self.root / candidate).is_file():
                found.append(candidate)
        return found

    def files(self, path: str, *, conftests: bool = True) -> set[str]:
        """The repository files a test file imports, and with `conftests` those its conftest.py
        files import (each file's own `module_files`)."""
        found = set(self._own_files(path))
        for conftest in self.conftests(path) if conftests else ():
            found |= self._own_files(conftest)
        return found

    def _own_files(self, path: str) -> set[str]:
        if path not in self._files:
            self._files[path] = module_files(self.root, imports_of(self.root / path))
        return self._files[path]

    def executed(self, sources: Set[str]) -> dict[str, dict[str, int]]:
        """test file -> source -> lines of it the file's tests executed, for the test files whose
        index entries traced `sources` and were recorded for the file (and its conftest.py files)
        as they are now; the others are missing."""
        if self.index is None or not sources:
            return {}
        hashes = Hasher(self.root)
        answering = [
            t
            for t in sorted(self.index.answering(set(sources)) & set(self.tests))
            if all(self.index.recorded_sha(t, f) == hashes(f) for f in [t, *self.conftests(t)])
        ]
        lines = self.index.lines_run(sources)
        return {
            t: {path: len(ran) for path, ran in lines.get(t, {}).items() if ran} for t in answering
        }

    def related(self, sources: Set[str], *, conftests: bool = True) -> list[Related]:
        """The test files about any of `sources`, most of them first, then the most of their
        lines executed: by execution where the index answers, else by imports (and, with
        `conftests`, their conftest.py files' imports)."""
        if not sources:
            return []
        executed = self.executed(sources)
        found: list[Related] = []
        for path in self.tests:
            if path in executed:
                ran = executed[path]
                if ran:
                    found.append(Related(path, frozenset(ran), sum(ran.values()), "execution"))
            elif shared := self.files(path, conftests=conftests) & sources:
                found.append(Related(path, frozenset(shared)))
        return sorted(found, key=lambda r: (-len(r.files), -r.lines, r.path))


def related_test_files(
    root: Path,
    tests_root: str,
    sources: set[str],
    *,
    exclude: set[str],
    near: list[str],
    limit: int = MAX_RELATED_FILES,
    index: ImpactIndex | None = None,
) -> list[str]:
    """Existing test files about any of the `sources` files (most shared first, then the most of
    their lines executed, then the ones nearest to `near`), at most `limit` of them. Without an
    index entry for a test file, its own imports decide, as they always did here."""
    if not sources:
        return []
    tests = [t for t in test_files(root, tests_root) if t not in exclude]
    found = TestMap(root, tests, index).related(sources, conftests=False)

    def rank(r: Related) -> tuple[int, int, int, str]:
        distance = min((_distance(r.path, other) for other in near), default=0)
        return (-len(r.files), -r.lines, distance, r.path)

    return [r.path for r in sorted(found, key=rank)[:limit]]


def functions_run(index: ImpactIndex, path: str) -> dict[str, set[str]]:
    """test file -> the functions of `path` (qualified names) its passing recorded tests ran."""
    found: dict[str, set[str]] = {}
    for _, test_file, _, functions in index.executions(path):
        found.setdefault(test_file, set()).update(functions)
    return found


def _distance(a: str, b: str) -> int:
    pa, pb = PurePosixPath(a).parent.parts, PurePosixPath(b).parent.parts
    common = 0
    for x, y in zip(pa, pb, strict=False):
        if x != y:
            break
        common += 1
    return len(pa) + len(pb) - 2 * common
