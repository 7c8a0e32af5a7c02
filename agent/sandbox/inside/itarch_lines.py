"""Executed lines of a few files, recorded by the files' own code (Python before 3.12).

`sys.settrace` calls a Python function on every frame entry of every file, which makes a
call-heavy suite two to three times slower even when one file is traced. Instead, an import hook
compiles each traced file with a record before every statement, `<hits>[k] = 1` on a bytearray
of its own (a constant of the code, so no name is added to the module), and code of every other
file runs untouched. Per test the arrays are cleared, and afterwards each set slot becomes the
lines a line tracer reports for its statement: the lines of the statement that hold code (for a
compound statement, those of its header: decorators, `def`/`class` line and signature, the
`if`/`while` test, the `for` target and iterable, the `with` items, `try`, `match` subject).
`elif` is a statement of its own in the `else` branch, so it counts when its test runs. A typed
`except` header counts when an exception is matched against it (the record is part of the type
expression, which runs only then); a bare `except:` when its body runs; the `case` patterns of
a `match` up to the one that matched. Parts of an expression that run only sometimes and have
lines of their own (a comprehension's element and conditions, the branches of `x if c else y`,
the operands of `and`/`or` after the first, a lambda's body) record their lines as they run,
with the lines CPython 3.11 gives the jumps among their instructions and the lines an empty
comprehension runs, which a line tracer also reports.

Differences from `sys.settrace`, accepted:
- a statement that starts counts with all its lines that hold code, even when it raises
  half-way (settrace reports the lines up to the one that raised);
- multi-line conditions that nest comprehensions, lambdas or conditional expressions in one
  another may still differ by a line that a jump carries;
- a `case` that was tried counts once a later case matches or none does, not when matching
  raises, and the guard of a case that did not match counts only on the case's own lines;
- code of a traced file compiled other than through import (`exec` of its text,
  `runpy.run_path`) is not recorded;
- lines run in any thread during the test count, not only in threads the test started, and a
  generator started by an earlier test counts for the test that resumes it (settrace credits
  neither);
- the hook stays first on `sys.meta_path`, where a test listing the import hooks sees it.

A traced file imported before the hook was installed, or loaded by another loader (pytest's
assertion rewriting, a custom import hook), is traced with `sys.settrace` instead, by the caller.
"""

from __future__ import annotations

import ast
import dis
import importlib.machinery
import os
import sys
import threading
import types
from typing import Any

_PLACEHOLDER = "__itarch_hits_7f3c2a9e__"  # a constant no real code holds, swapped for the array


class _Hits(bytearray):
    """One slot per recorded statement. Hashed by identity, as its code objects must be
    hashable, and pickled as a plain bytearray (a function pickled by value still runs)."""

    __hash__ = object.__hash__  # type: ignore[assignment]

    def __reduce__(self) -> Any:
        return (bytearray, (len(self),))


def _code_lines(code: types.CodeType) -> set[int]:
    """Lines that hold code in this code object and every one nested in it."""
    found = {line for _, line in dis.findlinestarts(code) if line is not None and line > 0}
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            found |= _code_lines(const)
    return found


_COMPREHENSION_NAMES = ("<listcomp>", "<setcomp>", "<dictcomp>", "<genexpr>")


def _empty_comprehensions(code: types.CodeType) -> dict[int, set[int]]:
    """{first line: lines run over an empty iterable} of each comprehension's code: the
    compiler may give its exit the line of its element or condition, which a line tracer then
    reports although neither ran."""
    found: dict[int, set[int]] = {}
    for const in code.co_consts:
        if not isinstance(const, types.CodeType):
            continue
        for line, lines in _empty_comprehensions(const).items():
            found.setdefault(line, set()).update(lines)
        if const.co_name in _COMPREHENSION_NAMES and hasattr(const, "co_lines"):
            found.setdefault(const.co_firstlineno, set()).update(_empty_path(const))
    return found


def _empty_path(code: types.CodeType) -> set[int]:
    """Lines of the instructions run from the start to the first FOR_ITER, and from where it
    jumps when the iterator is done to the next return."""
    line_at: dict[int, int] = {}
    for start, end, line in code.co_lines():
        if line is not None:
            for offset in range(start, end, 2):
                line_at[offset] = line
    lines: set[int] = set()
    instructions = list(dis.get_instructions(code))
    exit_at = None
    for ins in instructions:
        if ins.offset in line_at:
            lines.add(line_at[ins.offset])
        if ins.opname == "FOR_ITER":
            exit_at = ins.argval
            break
    if exit_at is None:
        return set()
    for ins in instructions:
        if ins.offset < exit_at:
            continue
        if ins.offset in line_at:
            lines.add(line_at[ins.offset])
        if ins.opname in ("RETURN_VALUE", "RETURN_CONST", "END_FOR"):
            break
    return lines


def _function_lines(code: types.CodeType) -> dict[tuple[str, int], set[int]]:
    """{(name, first line): lines of its own code} of every function compiled in `code`."""
    found: dict[tuple[str, int], set[int]] = {}
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            lines = {line for _, line in dis.findlinestarts(const) if line is not None}
            found.setdefault((const.co_name, const.co_firstlineno), set()).update(lines)
            found.update(_function_lines(const))
    return found


_JUMPS = frozenset(op for op, name in enumerate(dis.opname) if "JUMP" in name)


def _positions(code: types.CodeType) -> list[Any]:
    """({line: [first, last] index of its units}, [(line, (line, column), (end line, end
    column), is a jump)] per code unit) of this code object and every one nested in it (3.11+:
    older Pythons keep no columns)."""
    found: list[Any] = []
    if not hasattr(code, "co_positions"):
        return found
    ops = code.co_code[0::2]
    jumps = {i for i, op in enumerate(ops) if op in _JUMPS}
    units: list[Any] = []
    for i, (line, end_line, col, end_col) in enumerate(code.co_positions()):
        if line is None or col is None:
            units.append((None, (0, 0), (0, 0), False))
        else:
            units.append((line, (line, col), (end_line or line, end_col or 0), i in jumps))
    where: dict[int, list[int]] = {}  # line -> [first, last] index of its units
    for i, unit in enumerate(units):
        if unit[0] is not None:
            span = where.setdefault(unit[0], [i, i])
            span[1] = i
    if where:
        found.append((where, units))
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            found.extend(_positions(const))
    return found


def _is_docstring(node: ast.stmt) -> bool:
    return (
        isinstance(node, ast.Expr)
        and isinstance(node.value, ast.Constant)
        and isinstance(node.value.value, str)
    )


def _end(node: ast.AST) -> int:
    end = getattr(node, "end_lineno", None)
    return int(end if end is not None else getattr(node, "lineno", 0))


def _header_end(node: ast.stmt, body: list[ast.stmt]) -> int:
    """The last line of a compound statement's header: the line before its body, or its own
    line when the body starts there."""
    first = body[0].lineno if body else node.lineno
    return max(node.lineno, first - 1)


_MATCH = getattr(ast, "Match", None)


def _irrefutable(case: Any) -> bool:
    """`case _:` or `case name:` without a guard: it matches whatever the earlier ones did not."""
    pattern = case.pattern
    return case.guard is None and type(pattern).__name__ == "MatchAs" and pattern.pattern is None


_TRY_STAR = getattr(ast, "TryStar", None)


_BODIES = ("body", "orelse", "finalbody", "handlers", "cases")
_COMPREHENSIONS = (ast.ListComp, ast.SetComp, ast.GeneratorExp, ast.DictComp)


def _lazy_parts(node: ast.AST) -> list[tuple[Any, str, int | None, list[Any], list[Any]]]:
    """(owner, field, index in the field's list or None, the nodes whose lines the mark
    stands for, the nodes that run every time) of each part of `node` that may not run."""
    found: list[tuple[Any, str, int | None, list[Any], list[Any]]] = []
    if isinstance(node, _COMPREHENSIONS):
        fixed: list[Any] = []
        for gen in node.generators:
            fixed += [gen.target, gen.iter]
        if isinstance(node, ast.DictComp):
            found.append((node, "key", None, [node.key, node.value], fixed))
        else:
            found.append((node, "elt", None, [node.elt], fixed))
        for gen in node.generators:
            for i, cond in enumerate(gen.ifs):
                found.append((gen, "ifs", i, [cond], fixed))
    elif isinstance(node, ast.IfExp):
        found.append((node, "body", None, [node.body], [node.test]))
        found.append((node, "orelse", None, [node.orelse], [node.test]))
    elif isinstance(node, ast.BoolOp):
        for i in range(1, len(node.values)):
            found.append((node, "values", i, [node.values[i]], [node.values[0]]))
    elif isinstance(node, ast.Lambda):
        defaults = [d for d in node.args.defaults + node.args.kw_defaults if d is not None]
        found.append((node, "body", None, [node.body], defaults))
    return found


class _Instrumenter:
    """Rewrites one module's tree; `slots[k]` are the lines slot k stands for."""

    def __init__(
        self, code_lines: set[int], always: dict[int, set[int]], code: types.CodeType
    ) -> None:
        self.code_lines = code_lines
        self.always = always  # comprehension's first line -> lines it reports when empty
        self._code = code  # the original code, whose positions `_stray` reads when needed
        self.function_lines = _function_lines(code)
        self._positions: list[Any] | None = None
        self.slots: list[tuple[int, ...]] = []

    def _slot(
        self,
        first: int,
        last: int,
        more: tuple[tuple[int, int], ...] = (),
        lazy: set[int] | frozenset[int] = frozenset(),
    ) -> int | None:
        lines = {n for n in range(first, last + 1) if n in self.code_lines}
        for start, end in more:
            lines.update(n for n in range(start, end + 1) if n in self.code_lines)
        lines -= lazy
        if not lines:
            return None
        self.slots.append(tuple(sorted(lines)))
        return len(self.slots) - 1

    @staticmethod
    def _index(k: int) -> Any:
        index: Any = ast.Constant(value=k)
        if sys.version_info < (3, 9):
            index = ast.Index(value=index)  # type: ignore[call-arg,unused-ignore]
        return index

    def _record(self, k: int, at: Any) -> ast.stmt:
        where = {
            "lineno": at.lineno,
            "col_offset": at.col_offset,
            "end_lineno": at.end_lineno,
            "end_col_offset": at.end_col_offset,
        }
        index: Any = ast.Constant(value=k, **where)
        if sys.version_info < (3, 9):
            index = ast.Index(value=index)  # type: ignore[call-arg,unused-ignore]
        hits = ast.Constant(value=_PLACEHOLDER, **where)
        target = ast.Subscript(value=hits, slice=index, ctx=ast.Store(), **where)
        return ast.Assign(targets=[target], value=ast.Constant(value=1, **where), **where)

    def _marked(self, k: int, expr: ast.expr) -> ast.expr:
        """`(<hits>.__setitem__(k, 1), expr)[1]`: expr, recording slot k when evaluated."""
        call = ast.Call(
            func=ast.Attribute(
                value=ast.Constant(value=_PLACEHOLDER), attr="__setitem__", ctx=ast.Load()
            ),
            args=[ast.Constant(value=k), ast.Constant(value=1)],
            keywords=[],
        )
        node = ast.Subscript(
            value=ast.Tuple(elts=[call, expr], ctx=ast.Load()),
            slice=self._index(1),
            ctx=ast.Load(),
        )
        for sub in ast.walk(call):
            ast.copy_location(sub, expr)
        for sub in (node, node.value):
            ast.copy_location(sub, expr)
        ast.copy_location(node.slice, expr)
        if sys.version_info < (3, 9):
            ast.copy_location(node.slice.value, expr)  # type: ignore[attr-defined,unused-ignore]
        return node

    def module(self, tree: ast.Module) -> None:
        tree.body = self.body(tree.body, kind="module")

    def body(self, stmts: list[ast.stmt], kind: str = "") -> list[ast.stmt]:
        out: list[ast.stmt] = []
        after: list[ast.stmt] = []  # records of statements that must stay first
        rest = list(stmts)
        if kind and rest and _is_docstring(rest[0]):
            doc = rest.pop(0)
            out.append(doc)
            k = self._slot(doc.lineno, _end(doc))
            if k is not None:
                after.append(self._record(k, doc))
        if kind == "module":
            while rest and isinstance(rest[0], ast.ImportFrom) and rest[0].module == "__future__":
                future = rest.pop(0)
                out.append(future)
                k = self._slot(future.lineno, _end(future))
                if k is not None:
                    after.append(self._record(k, future))
        out.extend(after)
        for node in rest:
            k = self._header(node)
            if k is not None:
                out.append(self._record(k, node))
            self._inside(node)
            out.append(node)
        return out

    def _header(self, node: ast.stmt) -> int | None:
        lazy = self._lazy([value for field, value in ast.iter_fields(node) if field not in _BODIES])
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            decorators = tuple((d.lineno, _end(d)) for d in node.decorator_list)
            return self._slot(node.lineno, _header_end(node, node.body), decorators, lazy)
        if isinstance(node, (ast.If, ast.While)):
            return self._slot(node.lineno, _end(node.test), lazy=lazy)
        if isinstance(node, (ast.For, ast.AsyncFor)):
            return self._slot(node.lineno, max(_end(node.target), _end(node.iter)), lazy=lazy)
        if isinstance(node, (ast.With, ast.AsyncWith)):
            return self._slot(node.lineno, _header_end(node, node.body), lazy=lazy)
        if isinstance(node, ast.Try) or (_TRY_STAR is not None and isinstance(node, _TRY_STAR)):
            return self._slot(node.lineno, node.lineno)
        if _MATCH is not None and isinstance(node, _MATCH):
            return self._slot(node.lineno, _end(node.subject), lazy=lazy)
        return self._slot(node.lineno, _end(node), lazy=lazy)

    def _stray(self, group: list[Any]) -> set[int]:
        """Lines outside these nodes that instructions compiled among theirs carry: CPython
        3.11 gives a jump the line of the expression compiled before it, and a line tracer
        reports that line when the jump runs."""
        found: set[int] = set()
        for member in group:
            start = (member.lineno, member.col_offset)
            end = (_end(member), getattr(member, "end_col_offset", None) or 0)
            if self._positions is None:
                self._positions = _positions(self._code)  # per code object: lines, units
            for where, units in self._positions:
                spans = [where[n] for n in range(start[0], end[0] + 1) if n in where]
                if not spans:
                    continue
                gap: list[Any] = []  # units since the last one inside the member
                seen = False
                first = min(span[0] for span in spans)
                for unit in units[first : max(span[1] for span in spans) + 1]:
                    line, begin, finish, _jump = unit
                    if line is None:
                        continue
                    if start <= begin and finish <= end:
                        # one jump between two instructions of the member's
                        if seen and len(gap) == 1 and gap[0][3]:
                            found.add(gap[0][0])
                        seen, gap = True, []
                    elif seen:
                        gap.append(unit)
            found -= set(range(member.lineno, _end(member) + 1))
        return found

    def _lines(self, node: ast.AST) -> set[int]:
        return {n for n in range(node.lineno, _end(node) + 1) if n in self.code_lines}  # type: ignore[attr-defined]

    def _lazy(self, parts: list[Any]) -> set[int]:
        """Marks the parts of these expressions that run only sometimes, and only when they
        hold lines of their own (a comprehension's element and conditions, the branches of
        `x if c else y`, the operands after the first of `and`/`or`, a lambda's body): each
        records its lines when it runs. Returns those lines."""
        tops = [
            item
            for part in parts
            for item in (part if isinstance(part, list) else [part])
            if isinstance(item, ast.AST)
        ]
        reach = {line for n in tops for line in (getattr(n, "lineno", 0), _end(n))}
        if len(reach) < 2 and 0 not in reach:
            return set()  # all on one line: no part has a line of its own
        nodes: list[ast.AST] = []
        for item in tops:
            nodes.extend(ast.walk(item))
        parts_found = [(node, part) for node in nodes for part in _lazy_parts(node)]
        if not parts_found:
            return set()
        # lines where code that always runs starts are never a part's own
        sometimes = {id(sub) for _n, part in parts_found for m in part[3] for sub in ast.walk(m)}
        always = {
            line
            for n in nodes
            if id(n) not in sometimes and (line := getattr(n, "lineno", None)) is not None
        }
        own: list[set[int]] = []
        for node, (_owner, _field, _index, group, fixed) in parts_found:
            lines: set[int] = set()
            for member in group:
                lines |= self._lines(member)
            lines.discard(getattr(node, "lineno", 0))
            for other in fixed:
                lines -= self._lines(other)
            if isinstance(node, _COMPREHENSIONS):
                lines -= self.always.get(node.lineno, set())
            own.append(lines - always)
        # a line counts for the innermost part that holds it
        inner: list[set[int]] = [set() for _ in parts_found]
        by_node: dict[int, list[int]] = {}
        for j, (other, _part) in enumerate(parts_found):
            by_node.setdefault(id(other), []).append(j)
        for i, (_node, (_o, _f, _x, group, _fixed)) in enumerate(parts_found):
            for member in group:
                for sub in ast.walk(member):
                    for j in by_node.get(id(sub), ()):
                        inner[i] |= own[j]
        found: set[int] = set()
        for (_node, (owner, field, index, _group, _fixed)), lines, nested in zip(
            parts_found, own, inner
        ):
            found |= lines
            lines = lines - nested
            if not lines:
                continue
            lines |= self._stray(_group)
            self.slots.append(tuple(sorted(lines)))
            k = len(self.slots) - 1
            if index is None:
                setattr(owner, field, self._marked(k, getattr(owner, field)))
            else:
                values = getattr(owner, field)
                values[index] = self._marked(k, values[index])
        return found

    def _inside(self, node: ast.stmt) -> None:
        """Records in the bodies of a compound statement."""
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            node.body = self.body(node.body, kind="function")
            if (
                len(node.body) == 1
                and _is_docstring(node.body[0])
                and not isinstance(node, ast.ClassDef)
            ):
                # Only a docstring: its return runs with a line of its own (3.11: the `def`
                # line), which a line tracer reports for each call.
                first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
                lines = self.function_lines.get((node.name, first), set())
                if lines:
                    self.slots.append(tuple(sorted(lines)))
                    node.body.append(self._record(len(self.slots) - 1, node.body[0]))
            return
        for field in ("body", "orelse", "finalbody"):
            stmts = getattr(node, field, None)
            if isinstance(stmts, list) and stmts and isinstance(stmts[0], ast.stmt):
                setattr(node, field, self.body(stmts))
        for handler in getattr(node, "handlers", None) or []:
            k = self._slot(handler.lineno, _header_end(handler, handler.body))
            if k is not None and handler.type is not None:
                handler.type = self._marked(k, handler.type)
            handler.body = self.body(handler.body)
            if k is not None and handler.type is None:
                handler.body.insert(0, self._record(k, handler))
        cases = getattr(node, "cases", None) or []
        tried: list[tuple[int, int]] = []  # patterns tried before a case's body runs: its own
        for case in cases:  # and those of every case before it
            pattern = case.pattern
            last = _end(case.guard) if case.guard is not None else _end(pattern)
            k = self._slot(pattern.lineno, last, tuple(tried))
            tried.append((pattern.lineno, _end(pattern)))
            case.body = self.body(case.body)
            if k is not None:
                case.body.insert(0, self._record(k, pattern))
        if cases and not _irrefutable(cases[-1]):
            # none may match: a last case that matches anything records that all were tried
            k = self._slot(0, -1, tuple(tried))
            if k is not None:
                anything = ast.MatchAs(pattern=None, name=None)
                ast.copy_location(anything, cases[-1].pattern)
                body = [self._record(k, cases[-1].pattern)]
                node.cases.append(ast.match_case(pattern=anything, guard=None, body=body))  # type: ignore[attr-defined]


def _bind(code: types.CodeType, hits: _Hits) -> types.CodeType:
    consts = tuple(
        hits
        if type(c) is str and c == _PLACEHOLDER
        else _bind(c, hits)
        if isinstance(c, types.CodeType)
        else c
        for c in code.co_consts
    )
    return code.replace(co_consts=consts)


def instrument(
    source: bytes | str, filename: str, original: types.CodeType | None = None
) -> tuple[types.CodeType, _Hits, list[Any]]:
    """(the code of the file with its records, its array, the lines of each slot); `original`
    is the file's code as Python compiles it, when already at hand (from its .pyc)."""
    flags = ast.PyCF_ONLY_AST
    tree = compile(source, filename, "exec", flags, dont_inherit=True)
    if original is None:
        original = compile(tree, filename, "exec", dont_inherit=True)
    if _PLACEHOLDER in _constants(original):
        raise ValueError("the file holds the recorder's own placeholder")
    rewriter = _Instrumenter(_code_lines(original), _empty_comprehensions(original), original)
    rewriter.module(tree)
    hits = _Hits(len(rewriter.slots))
    code = compile(tree, filename, "exec", dont_inherit=True)
    return _bind(code, hits), hits, rewriter.slots


def _constants(code: types.CodeType) -> set[Any]:
    found: set[Any] = set()
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            found |= _constants(const)
        elif isinstance(const, str):
            found.add(const)
    return found


# ---------------------------------------------------------------- the import hook


class _Module:
    __slots__ = ("hits", "rel", "slots")

    def __init__(self, rel: str, hits: _Hits, slots: list[Any]) -> None:
        self.rel = rel
        self.hits = hits
        self.slots = slots


class _Loader(importlib.machinery.SourceFileLoader):
    """The ordinary source loader, compiling with records; only the original code is cached
    in a .pyc, never the code with records."""

    hook: Any = None

    def get_code(self, fullname: str) -> Any:
        hook = type(self).hook
        path = self.get_filename(fullname)
        original = super().get_code(fullname)  # from the .pyc when it is up to date
        try:
            code, hits, slots = instrument(self.get_data(path), path, original)
        except Exception:  # whatever it is, the file still imports as it would without us
            hook.uninstrumented(path)
            return original
        hook.add(path, _Module(hook.targets[path], hits, slots))
        return code


class ImportHook:
    """First on `sys.meta_path`: asks the finders after it, and gives a traced file's spec
    our loader when theirs is the ordinary source loader."""

    def __init__(self, targets: dict[str, str]) -> None:
        self.targets = dict(targets)
        self.modules: list[_Module] = []
        self.instrumented: set[str] = set()
        self.fallback: dict[str, str] = {}  # traced files loaded without records
        self._lock = threading.Lock()
        self._seen = -1
        self.loader = type("_TracedLoader", (_Loader,), {"hook": self})

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> Any:
        finders = sys.meta_path
        try:
            after = finders[finders.index(self) + 1 :]
        except ValueError:
            return None
        for finder in after:
            find = getattr(finder, "find_spec", None)
            if find is None:
                return None  # a legacy finder: let the import system keep its order
            spec = find(fullname, path, target)
            if spec is None:
                continue
            origin = spec.origin
            if origin in self.targets:
                if type(spec.loader) is importlib.machinery.SourceFileLoader:
                    spec.loader = self.loader(fullname, origin)
                else:
                    self.uninstrumented(origin)
            return spec
        return None

    def add(self, path: str, module: _Module) -> None:
        with self._lock:
            self.modules.append(module)
            self.instrumented.add(path)

    def uninstrumented(self, path: str) -> None:
        rel = self.targets.get(path)
        if rel is not None:
            with self._lock:
                self.fallback[path] = rel

    def refresh(self) -> None:
        """Traced files that some module was loaded from without records (imported before the
        hook, or by another loader): they go to the fallback tracer."""
        if len(sys.modules) == self._seen:
            return
        self._seen = len(sys.modules)
        for module in list(sys.modules.values()):
            path = getattr(module, "__file__", None)
            if isinstance(path, str) and path in self.targets:
                loader = getattr(getattr(module, "__spec__", None), "loader", None)
                if not isinstance(loader, _Loader):
                    self.uninstrumented(path)

    def clear(self) -> None:
        for module in list(self.modules):
            hits = module.hits
            if hits.find(1) != -1:
                hits[:] = bytes(len(hits))

    def collect(self) -> dict[str, set[int]]:
        found: dict[str, set[int]] = {}
        for module in list(self.modules):
            hits = module.hits
            at = hits.find(1)
            if at == -1:
                continue
            lines = found.setdefault(module.rel, set())
            slots = module.slots
            while at != -1:
                lines.update(slots[at])
                at = hits.find(1, at + 1)
        return found


_HOOK: ImportHook | None = None


def wanted() -> bool:
    """Records rather than `sys.settrace`: before 3.12 (3.12 has `sys.monitoring`), unless
    ITARCH_LINE_TRACER=settrace asks for the old tracer."""
    return sys.version_info < (3, 12) and os.environ.get("ITARCH_LINE_TRACER") != "settrace"


def install(targets: dict[str, str]) -> ImportHook:
    """The hook for these files, first on `sys.meta_path` (once per process)."""
    global _HOOK
    if _HOOK is None:
        _HOOK = ImportHook(targets)
        sys.meta_path.insert(0, _HOOK)
        _HOOK.refresh()
    else:
        _HOOK.targets.update(targets)
    return _HOOK


def installed() -> ImportHook | None:
    return _HOOK


def targets_from_args(args: list[str], root: str) -> dict[str, str]:
    """{absolute path: repo path} of every `--itarch-trace` among pytest's arguments."""
    found: dict[str, str] = {}
    rels: list[str] = []
    for i, arg in enumerate(args):
        if arg == "--":
            break
        if arg.startswith("--itarch-trace="):
            rels.append(arg.split("=", 1)[1])
        elif arg == "--itarch-trace" and i + 1 < len(args):
            rels.append(args[i + 1])
    for rel in rels:
        absolute = os.path.join(root, rel)
        found[absolute] = rel
        found[os.path.realpath(absolute)] = rel
    return found


class RecordingTracer:
    """The line tracer over the hook: per test, the slots set in the traced files' arrays, and
    `fallback` (a settrace tracer over a dict this fills) for the files loaded without records.
    """

    def __init__(self, hook: ImportHook, fallback: Any) -> None:
        self.hook = hook
        self.fallback = fallback
        self._tracing = False

    def start(self) -> None:
        self.hook.refresh()
        self.hook.clear()
        self._tracing = bool(self.hook.fallback)
        if self._tracing:
            self.fallback.targets.update(self.hook.fallback)
            self.fallback.start()

    def stop(self) -> dict[str, list[int]]:
        lines = self.fallback.stop() if self._tracing else {}
        self._tracing = False
        merged = {rel: set(numbers) for rel, numbers in lines.items()}
        for rel, numbers in self.hook.collect().items():
            merged.setdefault(rel, set()).update(numbers)
        return {rel: sorted(numbers) for rel, numbers in merged.items()}
