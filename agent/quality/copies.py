"""Copies of existing tests: a new test whose function is an existing test's, once its name,
docstring, comments, formatting and local variable names are set aside, repeats that test.

This needs no trace: a file of copied tests is redundant whether or not there is a change to
measure coverage against. The test must also see the same helpers: the functions, classes and
values of its own module that it uses are compared too, and when it asks for fixtures its
module does not define, both files must sit under the same conftest.py files.
"""

from __future__ import annotations

import ast
import os
from pathlib import Path, PurePosixPath

from agent.quality.classify import Failure
from agent.quality.marks import iter_test_functions
from agent.quality.scope import Scope
from agent.quality.work import FileWork
from agent.schema import Reason

FunctionNode = ast.FunctionDef | ast.AsyncFunctionDef

_SKIPPED_DIRS = {"node_modules", "__pycache__", "site-packages", "build", "dist"}
_MAX_FILES = 2_000
_MAX_BYTES = 1_000_000
# (path, size, mtime_ns) -> key -> qualname: an existing file is read once per process
_CACHE: dict[tuple[str, int, int], dict[str, str]] = {}


def check_copies(works: list[FileWork], scope: Scope) -> None:
    wanted = [
        (work, test)
        for work in works
        for test in work.tests.values()
        if test.candidate and work.facts.tree is not None
    ]
    if not wanted:
        return
    keys_of: dict[str, dict[str, str]] = {}  # new file -> qualname -> key
    for work, _ in wanted:
        if work.path not in keys_of and work.facts.tree is not None:
            keys_of[work.path] = _keys(work.facts.tree, scope.workspace, work.path)
    # A file holds a copy only if its text has every name a candidate uses: most files are
    # only read, never parsed.
    candidates: dict[str, set[str]] = {}  # new file -> qualnames of its candidate tests
    for work, test in wanted:
        candidates.setdefault(work.path, set()).add(test.qualname)
    needs = [
        _global_names(func)
        for work in works
        if work.path in candidates and work.facts.tree is not None
        for qualname, func in iter_test_functions(work.facts.tree)
        if qualname in candidates[work.path]
    ]
    proposed = {w.path for w in works}
    existing: dict[str, str] = {}  # key -> nodeid of the existing test
    for path in _test_files(scope):
        if path in proposed:
            continue
        try:
            text = (scope.workspace / path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        if not any(all(name in text for name in names) for names in needs):
            continue
        for key, qualname in _existing_keys(scope.workspace, path).items():
            existing.setdefault(key, f"{path}::{qualname}")
    for work, test in wanted:
        found = keys_of[work.path].get(test.qualname)
        if found is not None and found in existing:
            test.fail(_copies(existing[found]))


def _copies(nodeid: str) -> Failure:
    return Failure(
        Reason.REDUNDANT,
        f"repeats the existing test {nodeid}: the same calls and assertions",
        "Cover behaviour the existing tests miss: another branch, an error path, or an "
        "integration between modules.",
    )


def _test_files(scope: Scope) -> list[str]:
    root = scope.workspace
    start = root if scope.tests_root == "." else root / scope.tests_root
    found: list[str] = []
    for dirpath, dirnames, filenames in os.walk(start):
        dirnames[:] = sorted(
            d
            for d in dirnames
            if not d.startswith(".") and d not in _SKIPPED_DIRS and not d.endswith(".egg-info")
        )
        for name in sorted(filenames):
            if name.endswith(".py") and (name.startswith("test") or name.endswith("_test.py")):
                found.append(Path(dirpath, name).relative_to(root).as_posix())
                if len(found) >= _MAX_FILES:
                    return found
    return found


def _existing_keys(root: Path, path: str) -> dict[str, str]:
    target = root / path
    try:
        st = target.stat()
        if st.st_size > _MAX_BYTES:
            return {}
        cache_key = (str(target), st.st_size, st.st_mtime_ns)
        if cache_key not in _CACHE:
            tree = ast.parse(target.read_text(encoding="utf-8"), filename=path)
            _CACHE[cache_key] = {k: q for q, k in _keys(tree, root, path).items()}
        return _CACHE[cache_key]
    except (OSError, SyntaxError, ValueError, UnicodeDecodeError):
        return {}


def _keys(tree: ast.Module, root: Path, path: str) -> dict[str, str]:
    """qualname -> what the test does, in a form two copies share."""
    defined = _module_definitions(tree)
    classes = {  # what a test method shares with its class: helpers, fixtures, set-up
        node.name: "\n".join(
            ast.dump(item)
            for item in node.body
            if not (isinstance(item, FunctionNode) and item.name.startswith("test"))
        )
        for node in tree.body
        if isinstance(node, ast.ClassDef)
    }
    conftests: str | None = None
    keys: dict[str, str] = {}
    for qualname, func in iter_test_functions(tree):
        body = _normalised(func)
        if body is None:
            continue
        used = _used_names(func)
        helpers = [defined[name] for name in sorted(used) if name in defined]
        outside = _fixture_names(func) - set(defined) - {"self", "cls"}
        if outside and conftests is None:
            conftests = "|".join(_conftest_chain(root, path))
        chain = conftests if outside else ""
        cls = qualname.split("::")[0] if "::" in qualname else ""
        keys[qualname] = "\n".join(
            [body, *helpers, f"class:{classes.get(cls, '')}", f"conftest:{chain}"]
        )
    return keys


def _module_definitions(tree: ast.Module) -> dict[str, str]:
    """The module's own functions, classes and assigned names, each as its source."""
    found: dict[str, str] = {}
    for node in tree.body:
        if isinstance(node, FunctionNode | ast.ClassDef):
            if not node.name.startswith("test"):
                found[node.name] = ast.dump(node)
        elif isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                for name in ast.walk(target):
                    if isinstance(name, ast.Name):
                        found[name.id] = ast.dump(node)
    return found


def _global_names(func: FunctionNode) -> set[str]:
    """The names a test uses that a copy keeps: all but its own name and its local names."""
    local = {
        n.id for n in ast.walk(func) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)
    }
    names = {n.id for n in ast.walk(func) if isinstance(n, ast.Name)} - local
    names |= {n.attr for n in ast.walk(func) if isinstance(n, ast.Attribute)}
    return names | _fixture_names(func)


def _fixture_names(func: FunctionNode) -> set[str]:
    args = [*func.args.posonlyargs, *func.args.args, *func.args.kwonlyargs]
    return {a.arg for a in args}


def _used_names(func: FunctionNode) -> set[str]:
    names = {n.id for n in ast.walk(func) if isinstance(n, ast.Name)}
    return names | _fixture_names(func)


def _normalised(func: FunctionNode) -> str | None:
    """The function without its name and docstring, local names numbered by first use."""
    try:
        copy = ast.parse(ast.unparse(func)).body[0]
    except (SyntaxError, ValueError):
        return None
    assert isinstance(copy, FunctionNode)
    copy.name = "_"
    body = copy.body
    if (
        body
        and isinstance(body[0], ast.Expr)
        and isinstance(body[0].value, ast.Constant)
        and isinstance(body[0].value.value, str)
    ):
        copy.body = body[1:] or [ast.Pass()]
    local = {
        n.id for n in ast.walk(copy) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)
    }
    renamed = _Renamer(local).visit(copy)
    return ast.dump(renamed, annotate_fields=False, include_attributes=False)


class _Renamer(ast.NodeTransformer):
    def __init__(self, local: set[str]) -> None:
        self.local = local
        self.names: dict[str, str] = {}

    def visit_Name(self, node: ast.Name) -> ast.AST:
        if node.id in self.local:
            node.id = self.names.setdefault(node.id, f"v{len(self.names)}")
        return node


def _conftest_chain(root: Path, path: str) -> list[str]:
    folder = PurePosixPath(path).parent
    chain = []
    for directory in [folder, *folder.parents]:
        if (root / directory / "conftest.py").is_file():
            chain.append((directory / "conftest.py").as_posix())
    return chain
