"""What a test exercises: changed lines it executes and seams it reaches (by trace or by name)."""

from __future__ import annotations

import ast
import functools
import re
from pathlib import Path

from agent.quality.marks import iter_test_functions
from agent.schema import Seam

Lines = dict[str, set[int]]
_QUOTED = re.compile(r"""['"]([^'"]{2,})['"]""")
_ROUTE = re.compile(r"(/[^\s'\"]*)")
_SUBPROCESS_HINTS = {"subprocess", "Popen", "check_output", "check_call", "system", "spawn"}


def added_lines(test: Lines, existing: Lines) -> Lines:
    """Lines the test executes that no existing test does."""
    out: Lines = {}
    for path, lines in test.items():
        extra = lines - existing.get(path, set())
        if extra:
            out[path] = extra
    return out


def count(lines: Lines) -> int:
    return sum(len(v) for v in lines.values())


def intersect(a: Lines, b: Lines) -> Lines:
    out: Lines = {}
    for path, lines in a.items():
        both = lines & b.get(path, set())
        if both:
            out[path] = both
    return out


def as_refs(lines: Lines) -> list[str]:
    return [f"{path}:{n}" for path in sorted(lines) for n in sorted(lines[path])]


def describe_lines(lines: Lines, workspace: Path, limit: int = 4) -> str:
    """`shop/orders.py lines 40-44 (place_order), 60 (refund)`: each span with its function,
    for telling a model what to reach."""
    parts = []
    for path in sorted(lines):
        groups: list[tuple[str | None, list[int]]] = []
        for n in sorted(lines[path]):
            function = function_at(workspace, path, n)
            if groups and groups[-1][0] == function:
                groups[-1][1].append(n)
            else:
                groups.append((function, [n]))
        shown = [
            ", ".join(_spans(numbers)) + (f" ({function})" if function else "")
            for function, numbers in groups[:limit]
        ]
        more = f", and {len(groups) - limit} more" if len(groups) > limit else ""
        parts.append(f"{path} lines {', '.join(shown)}{more}")
    return "; ".join(parts)


def _spans(numbers: list[int]) -> list[str]:
    runs: list[list[int]] = []
    for n in numbers:
        if runs and n == runs[-1][1] + 1:
            runs[-1][1] = n
        else:
            runs.append([n, n])
    return [f"{a}" if a == b else f"{a}-{b}" for a, b in runs]


# ---------------------------------------------------------------- functions in source files


@functools.lru_cache(maxsize=256)
def _function_spans(path: Path, identity: tuple[int, ...]) -> list[tuple[int, int, int, str]]:
    """(first line incl. decorators, body start, end, name) for every function in a file."""
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"))
    except (OSError, SyntaxError, ValueError):
        return []
    spans = []
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
            spans.append((first, node.body[0].lineno, node.end_lineno or node.lineno, node.name))
    return spans


@functools.lru_cache(maxsize=256)
def _import_time_facts(
    path: Path, identity: tuple[int, ...]
) -> tuple[dict[int, frozenset[str]], list[tuple[int, int, frozenset[str]]]]:
    """(line of a top-level statement or class-body statement -> the names it binds; per
    function, its body's span and the names it uses). Import-time lines run when the module is
    imported; functions aside."""
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"))
    except (OSError, SyntaxError, ValueError):
        return {}, []
    bound: dict[int, frozenset[str]] = {}
    todo: list[ast.stmt] = list(tree.body)
    while todo:
        node = todo.pop()
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        if isinstance(node, ast.ClassDef):
            todo.extend(node.body)
            continue
        names = frozenset(_bound_names(node))
        for line in range(node.lineno, (node.end_lineno or node.lineno) + 1):
            bound[line] = names
    uses = []
    for func in ast.walk(tree):
        if isinstance(func, ast.FunctionDef | ast.AsyncFunctionDef):
            used = {n.id for n in ast.walk(func) if isinstance(n, ast.Name)}
            used |= {n.attr for n in ast.walk(func) if isinstance(n, ast.Attribute)}
            uses.append((func.body[0].lineno, func.end_lineno or func.lineno, frozenset(used)))
    return bound, uses


def _bound_names(node: ast.stmt) -> set[str]:
    if isinstance(node, ast.Import | ast.ImportFrom):
        return {(a.asname or a.name).split(".")[0] for a in node.names}
    names: set[str] = set()
    for n in ast.walk(node):
        if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store):
            names.add(n.id)
        elif isinstance(n, ast.Attribute) and isinstance(n.ctx, ast.Store):
            names.add(n.attr)
    return names


def _import_time_lines_used(path: Path, identity: tuple[int, ...], hit: set[int]) -> set[int]:
    """The import-time lines whose effect the run's functions read: statements binding a name
    that a function which ran uses (a constant, a table), and statements binding nothing (a
    module-level call, which runs with every import)."""
    bound, uses = _import_time_facts(path, identity)
    used: set[str] = set()
    for start, end, names in uses:
        if any(start <= n <= end for n in hit):
            used |= names
    return {line for line, names in bound.items() if not names or names & used}


def _identity(full: Path) -> tuple[int, ...] | None:
    try:
        st = full.stat()
    except OSError:
        return None
    # Not the mtime alone: a restored copy keeps the original's mtime, and a mutant written
    # and put back within one tick would share it; a rewrite always makes a new inode.
    return (st.st_ino, st.st_mtime_ns, st.st_size)


def _spans_of(workspace: Path, path: str) -> list[tuple[int, int, int, str]]:
    full = workspace / path
    identity = _identity(full)
    return [] if identity is None else _function_spans(full, identity)


def function_at(workspace: Path, path: str, line: int) -> str | None:
    """The innermost function holding `line` (or decorated at it)."""
    best: tuple[int, str] | None = None
    for first, _body, end, name in _spans_of(workspace, path):
        if first <= line <= end and (best is None or end - first < best[0]):
            best = (end - first, name)
    return best[1] if best else None


def with_headers(lines: Lines, workspace: Path) -> Lines:
    """Add what a run exercised that a per-test trace never reports: the `def` (and decorator)
    lines of every function whose body ran, and the import-time lines (top-level statements,
    class bodies) that the functions which ran read.

    A changed signature or decorator is covered by any test that runs the function; a changed
    constant or table entry by any test that runs a function of its module that reads it.
    """
    out: Lines = {}
    for path, hit in lines.items():
        extra = set(hit)
        for first, body, end, _name in _spans_of(workspace, path):
            if any(body <= n <= end for n in hit):
                extra.update(range(first, body))
        if hit and (identity := _identity(workspace / path)) is not None:
            extra |= _import_time_lines_used(workspace / path, identity, hit)
        out[path] = extra
    return out


def body_lines(workspace: Path, path: str, line: int) -> set[int]:
    """The body lines of the function declared (or decorated) at, or holding, `line`."""
    candidates = [
        (end - first, body, end)
        for first, body, end, _name in _spans_of(workspace, path)
        if first <= line <= end
    ]
    if not candidates:
        return {line}
    _, body, end = min(candidates)
    return set(range(body, end + 1))


# ---------------------------------------------------------------- static references


def test_references(tree: ast.Module) -> dict[str, tuple[set[str], set[str]]]:
    """Per test: (names and attributes, string constants) it can reach in this file — its body,
    the helpers and fixtures it uses from the file, and module-level code."""
    functions: dict[str, ast.AST] = {}
    module_level: list[ast.AST] = []
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            functions[node.name] = node
        elif isinstance(node, ast.ClassDef):
            for item in node.body:
                if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef):
                    functions.setdefault(item.name, item)
        else:
            module_level.append(node)
    base_names, base_strings = _collect(module_level)
    out: dict[str, tuple[set[str], set[str]]] = {}
    for qualname, func in iter_test_functions(tree):
        names, strings = set(base_names), set(base_strings)
        seen: set[str] = set()
        todo: list[ast.AST] = [func]
        while todo:
            current = todo.pop()
            found_names, found_strings = _collect([current])
            names |= found_names
            strings |= found_strings
            for name in found_names | _params(current):
                if name in functions and name not in seen:
                    seen.add(name)
                    todo.append(functions[name])
        out[qualname] = (names, strings)
    return out


def _params(node: ast.AST) -> set[str]:
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
        args = node.args
        return {a.arg for a in [*args.posonlyargs, *args.args, *args.kwonlyargs]}
    return set()


def _collect(nodes: list[ast.AST]) -> tuple[set[str], set[str]]:
    names: set[str] = set()
    strings: set[str] = set()
    for root in nodes:
        for node in ast.walk(root):
            if isinstance(node, ast.Name):
                names.add(node.id)
            elif isinstance(node, ast.Attribute):
                names.add(node.attr)
            elif isinstance(node, ast.alias):
                names.update(node.name.split("."))
                if node.asname:
                    names.add(node.asname)
            elif isinstance(node, ast.ImportFrom) and node.module:
                names.update(node.module.split("."))
            elif (
                isinstance(node, ast.Constant)
                and isinstance(node.value, str)
                and len(node.value) <= 300
            ):
                strings.add(node.value)
    return names, strings


def runs_subprocess(names: set[str]) -> bool:
    """Whether the test runs code in another process, where line tracing cannot follow."""
    return bool(names & _SUBPROCESS_HINTS) or ("executable" in names and "sys" in names)


def references_seam(seam: Seam, names: set[str], strings: set[str]) -> bool:
    """A test names a seam when it calls its symbol, requests its route, or uses its event/module
    names — evidence for seams a trace cannot see (other processes, servers)."""
    symbol = seam.symbol.rsplit(".", 1)[-1] if seam.symbol else ""
    if symbol and symbol in names and seam.kind != "http_route":
        return True
    if seam.kind == "http_route":
        for route in _ROUTE.findall(seam.detail):
            prefix = re.split(r"[<{]", route, maxsplit=1)[0]
            templated = prefix != route
            for s in strings:
                if (templated and s.startswith(prefix) and len(s) > len(prefix) - 1) or (
                    not templated and s.split("?", 1)[0].rstrip("/") == route.rstrip("/")
                ):
                    return True
        return bool(symbol and symbol in names)
    quoted = set(_QUOTED.findall(seam.detail))
    if quoted & strings:
        return True
    module = seam.detail.strip()
    return bool(module) and "." in module and " " not in module and module in strings | names
