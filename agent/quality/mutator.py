"""A small AST mutator: plausible one-token bugs on chosen lines of one module.

Each mutant is the module's source with one node rewritten in place (same line numbers, so traced
lines and tracebacks still match) plus the name of the function that encloses the change, so a
sandboxed process can swap that function's code without touching any file.
"""

from __future__ import annotations

import ast
import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

FunctionNode = ast.FunctionDef | ast.AsyncFunctionDef

_COMPARE_FLIP: dict[type[ast.cmpop], type[ast.cmpop]] = {
    ast.Lt: ast.GtE,
    ast.GtE: ast.Lt,
    ast.Gt: ast.LtE,
    ast.LtE: ast.Gt,
    ast.Eq: ast.NotEq,
    ast.NotEq: ast.Eq,
    ast.Is: ast.IsNot,
    ast.IsNot: ast.Is,
    ast.In: ast.NotIn,
    ast.NotIn: ast.In,
}
_ARITH_SWAP: dict[type[ast.operator], type[ast.operator]] = {
    ast.Add: ast.Sub,
    ast.Sub: ast.Add,
    ast.Mult: ast.Div,
    ast.Div: ast.Mult,
    ast.FloorDiv: ast.Mult,
    ast.Mod: ast.FloorDiv,
    ast.Pow: ast.Mult,
    ast.LShift: ast.RShift,
    ast.RShift: ast.LShift,
    ast.BitAnd: ast.BitOr,
    ast.BitOr: ast.BitAnd,
}
_LOG_METHODS = {"debug", "info", "warning", "warn", "error", "exception", "critical", "log"}


@dataclass(frozen=True)
class Mutant:
    id: str  # "shop/orders.py:42:comparison:1a2b3c"
    path: str  # repo-relative module file
    line: int
    # comparison | boolean | arithmetic | constant | assign_none | return_none | remove_call
    # | handler_pass
    kind: str
    description: str  # "`total < limit` -> `total >= limit`"
    source: str  # the whole mutated module
    function: str | None  # enclosing top-level function or `Class.method` whose code is swapped
    function_line: int = 0  # its first line (first decorator), to tell same-named defs apart
    statement: str | None = None  # or: the mutated module-level statement, re-run in the module


def generate_mutants(
    path: str, source: str, lines: set[int] | None = None, *, limit: int | None = None
) -> list[Mutant]:
    """Mutants of `source` on `lines` (all lines when None), in line order, at most `limit`."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []
    skip = _docstring_nodes(tree) | _annotation_nodes(tree)
    enclosing = _enclosing_functions(tree)
    offsets = _line_offsets(source)
    mutants: list[Mutant] = []
    seen: set[str] = set()
    for node, kind, new in _candidates(tree, skip):
        if lines is not None and not node.touches(lines):
            continue
        start = _offset(source, offsets, node.lineno, node.col_offset)
        end = _offset(source, offsets, node.end_lineno, node.end_col_offset)
        old = source[start:end]
        # Keep every later line where it was: pad a one-line replacement of a multi-line node.
        mutated = source[:start] + new + "\n" * (old.count("\n") - new.count("\n")) + source[end:]
        if mutated == source or not _parses(mutated):
            continue
        digest = hashlib.sha1(mutated.encode()).hexdigest()[:8]
        if digest in seen:
            continue
        seen.add(digest)
        owner = enclosing.get(node.lineno)
        mutants.append(
            Mutant(
                id=f"{path}:{node.lineno}:{kind}:{digest}",
                path=path,
                line=node.lineno,
                kind=kind,
                description=f"`{_short(old)}` -> `{_short(new)}`",
                source=mutated,
                function=owner[0] if owner else None,
                function_line=owner[1] if owner else 0,
                statement=None if owner else _module_statement(tree, node, mutated),
            )
        )
        if mutants[-1].function is None and mutants[-1].statement is None:
            mutants.pop()  # class-body code: no safe way to apply it in place
    mutants.sort(key=lambda m: m.line)
    if limit is not None and len(mutants) > limit:
        mutants = _spread(mutants, limit)
    return mutants


# ---------------------------------------------------------------- candidate rewrites


@dataclass(frozen=True)
class _Span:
    """The source range a mutant replaces, and the lines that count as touching it."""

    lineno: int
    col_offset: int
    end_lineno: int
    end_col_offset: int
    first_line: int  # an except handler is touched from its `except` line on

    @classmethod
    def of(cls, node: ast.expr | ast.stmt) -> _Span:
        end = node.end_lineno or node.lineno
        return cls(node.lineno, node.col_offset, end, node.end_col_offset or 0, node.lineno)

    def touches(self, lines: set[int]) -> bool:
        return any(n in lines for n in range(self.first_line, self.end_lineno + 1))


def _candidates(tree: ast.Module, skip: set[int]) -> Iterator[tuple[_Span, str, str]]:
    """(source range to replace, kind, the replacement text)."""
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.Compare):
            for i, op in enumerate(node.ops):
                flipped = _COMPARE_FLIP.get(type(op))
                if flipped is not None:
                    ops = [*node.ops[:i], flipped(), *node.ops[i + 1 :]]
                    new = ast.Compare(node.left, ops, node.comparators)
                    yield _Span.of(node), "comparison", _text(new)
        elif isinstance(node, ast.BoolOp):
            swapped: ast.boolop = ast.Or() if isinstance(node.op, ast.And) else ast.And()
            yield _Span.of(node), "boolean", _text(ast.BoolOp(swapped, node.values))
        elif isinstance(node, ast.BinOp):
            arith = _ARITH_SWAP.get(type(node.op))
            if arith is not None and not _is_string_format(node):
                yield _Span.of(node), "arithmetic", _text(ast.BinOp(node.left, arith(), node.right))
        elif isinstance(node, ast.AugAssign):
            arith = _ARITH_SWAP.get(type(node.op))
            if arith is not None:
                new_aug = ast.AugAssign(node.target, arith(), node.value)
                yield _Span.of(node), "arithmetic", _text(new_aug)
        elif isinstance(node, ast.Constant):
            changed, value = _changed_constant(node.value)
            if changed:
                yield _Span.of(node), "constant", _text(ast.Constant(value))
        elif isinstance(node, ast.Assign | ast.AnnAssign):
            value = node.value
            if value is not None and id(value) not in skip and not _is_none(value):
                yield _Span.of(value), "assign_none", "None"
        elif isinstance(node, ast.Return):
            if node.value is not None and not _is_none(node.value):
                yield _Span.of(node), "return_none", "return None"
        elif isinstance(node, ast.Expr) and isinstance(node.value, ast.Call | ast.Await):
            if not _is_logging_call(node.value):
                yield _Span.of(node), "remove_call", "pass"
        elif isinstance(node, ast.ExceptHandler) and not (
            len(node.body) == 1 and isinstance(node.body[0], ast.Pass)
        ):
            first, last = node.body[0], node.body[-1]
            end = last.end_lineno or last.lineno
            span = _Span(first.lineno, first.col_offset, end, last.end_col_offset or 0, node.lineno)
            yield span, "handler_pass", "pass"


_TYPING_NAMES = frozenset(
    {"Union", "Optional", "Callable", "Literal", "Annotated", "TypeVar", "NewType", "TypeAlias"}
    | {"Dict", "List", "Tuple", "Set", "FrozenSet", "Type", "Mapping", "Sequence", "Iterable"}
)


def _is_type_alias(node: ast.Assign | ast.AnnAssign, value: ast.expr) -> bool:
    """`StrPath = Union[str, "os.PathLike[str]"]`, `T = TypeVar("T")`: only type checkers read
    them, so a mutant there survives every test and says nothing about the tests."""
    if isinstance(node, ast.AnnAssign) and "TypeAlias" in ast.unparse(node.annotation):
        return True
    target = value.func if isinstance(value, ast.Call) else value
    while isinstance(target, ast.Subscript | ast.Attribute):
        if isinstance(target, ast.Attribute) and target.attr in _TYPING_NAMES:
            return True
        target = target.value
    return isinstance(target, ast.Name) and target.id in _TYPING_NAMES


def _changed_constant(value: object) -> tuple[bool, Any]:
    if isinstance(value, bool):
        return True, not value
    if isinstance(value, int):
        return True, value + 1
    if isinstance(value, float):
        return True, value + 1.0
    if isinstance(value, str):
        return True, "" if value else "itarch"
    return False, None


def _is_none(node: ast.expr) -> bool:
    return isinstance(node, ast.Constant) and node.value is None


def _text(new: ast.AST) -> str:
    # Parenthesised so the replacement binds the same way wherever the old node sat.
    text = ast.unparse(new)
    return text if isinstance(new, ast.Constant | ast.stmt) else f"({text})"


def _is_logging_call(node: ast.expr) -> bool:
    call = node.value if isinstance(node, ast.Await) else node
    if not isinstance(call, ast.Call):
        return False
    func = call.func
    if isinstance(func, ast.Name):
        return func.id == "print"
    return isinstance(func, ast.Attribute) and func.attr in _LOG_METHODS


def _is_string_format(node: ast.BinOp) -> bool:
    return isinstance(node.op, ast.Mod) and isinstance(node.left, ast.Constant | ast.JoinedStr)


# ---------------------------------------------------------------- source positions


def _line_offsets(source: str) -> list[int]:
    offsets, total = [], 0
    for line in source.splitlines(keepends=True):
        offsets.append(total)
        total += len(line)
    offsets.append(total)
    return offsets


def _offset(source: str, offsets: list[int], lineno: int, col: int) -> int:
    """AST columns count UTF-8 bytes; turn (line, column) into an index into `source`."""
    line = source[offsets[lineno - 1] : offsets[lineno]]
    return offsets[lineno - 1] + len(line.encode("utf-8")[:col].decode("utf-8", errors="ignore"))


def _module_statement(tree: ast.Module, node: _Span, mutated: str) -> str | None:
    """The mutated text of the module-level assignment holding `node`, if that is where it is."""
    for stmt in tree.body:
        if not isinstance(stmt, ast.Assign | ast.AnnAssign | ast.AugAssign):
            continue
        if stmt.lineno <= node.lineno <= (stmt.end_lineno or stmt.lineno):
            lines = mutated.splitlines(keepends=True)
            return "".join(lines[stmt.lineno - 1 : stmt.end_lineno or stmt.lineno])
    return None


def _parses(source: str) -> bool:
    try:
        ast.parse(source)
    except SyntaxError:
        return False
    return True


def _short(text: str, limit: int = 60) -> str:
    one = " ".join(text.split())
    return one if len(one) <= limit else one[: limit - 3] + "..."


def _spread(mutants: list[Mutant], limit: int) -> list[Mutant]:
    """Keep `limit` mutants spread evenly over the lines rather than the first few lines."""
    step = len(mutants) / limit
    return [mutants[int(i * step)] for i in range(limit)]


# ---------------------------------------------------------------- what not to mutate


def _docstring_nodes(tree: ast.Module) -> set[int]:
    skip: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | FunctionNode) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                skip.update({id(first), id(first.value)})
        if isinstance(node, ast.JoinedStr):
            skip.update(id(n) for n in ast.walk(node) if isinstance(n, ast.Constant))
        if isinstance(node, ast.Call) and _is_logging_call(node):
            # A log message's text is not behaviour: mutating it only makes equivalent mutants.
            skip.update(id(n) for n in ast.walk(node) if n is not node)
    return skip


def _annotation_nodes(tree: ast.Module) -> set[int]:
    skip: set[int] = set()
    annotations: list[ast.expr | None] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.arg):
            annotations.append(node.annotation)
        elif isinstance(node, FunctionNode | ast.Lambda):
            # Defaults and decorators run when the def runs, not inside the function's code.
            annotations.extend(node.args.defaults)
            annotations.extend(node.args.kw_defaults)
        if isinstance(node, FunctionNode):
            annotations.append(node.returns)
            annotations.extend(node.decorator_list)
        elif isinstance(node, ast.AnnAssign):
            annotations.append(node.annotation)
        if isinstance(node, ast.Assign | ast.AnnAssign):
            value = node.value
            if value is not None and _is_type_alias(node, value):
                annotations.append(value)
        if isinstance(node, ast.ClassDef):
            annotations.extend(node.decorator_list)
        elif isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id in {"__all__", "__version__"} for t in node.targets
        ):
            annotations.append(node.value)
    for ann in annotations:
        if ann is not None:
            skip.update(id(n) for n in ast.walk(ann))
    return skip


def _enclosing_functions(tree: ast.Module) -> dict[int, tuple[str, int]]:
    """Line -> the outermost function holding it (`name` or `Class.name`) and its first line."""
    owner: dict[int, tuple[str, int]] = {}

    def claim(node: FunctionNode, name: str) -> None:
        start = min([node.lineno, *(d.lineno for d in node.decorator_list)])
        for line in range(node.lineno, (node.end_lineno or node.lineno) + 1):
            owner.setdefault(line, (name, start))

    for node in tree.body:
        if isinstance(node, FunctionNode):
            claim(node, node.name)
        elif isinstance(node, ast.ClassDef):
            for item in node.body:
                if isinstance(item, FunctionNode):
                    claim(item, f"{node.name}.{item.name}")
    return owner
