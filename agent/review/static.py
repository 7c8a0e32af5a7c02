"""What a review reads from a module's source: its functions, and the error paths inside them
(exception handlers, `raise`, 4xx/5xx responses, rollbacks)."""

from __future__ import annotations

import ast
from dataclasses import dataclass, field

FunctionNode = ast.FunctionDef | ast.AsyncFunctionDef


@dataclass
class Function:
    qualname: str  # "OrderService.create_order", "create_app.login"
    first: int  # its first decorator (or `def`) line
    body: int  # its first body statement (after a docstring)
    end: int
    node: FunctionNode
    public: bool  # a top-level function or a method of a top-level class, named without "_"
    lines: set[int] = field(default_factory=set)  # lines where its own statements start
    size: int = 1  # lines its own statements span: how much code sits behind it
    stub: bool = False  # `...`, `pass` or `raise NotImplementedError`: nothing to test


@dataclass(frozen=True)
class ErrorSite:
    kind: str  # "except" | "raise" | "status" | "rollback"
    line: int
    detail: str


def functions(source: str) -> list[Function]:
    """Every function and method of a module, nested ones included."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return []
    found: list[Function] = []

    def visit(nodes: list[ast.stmt], prefix: str, top: bool, in_class: bool) -> None:
        for node in nodes:
            if isinstance(node, FunctionNode):
                qualname = f"{prefix}{node.name}"
                first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
                body = node.body
                if (
                    len(body) > 1
                    and isinstance(body[0], ast.Expr)
                    and isinstance(body[0].value, ast.Constant)
                    and isinstance(body[0].value.value, str)
                ):
                    body = body[1:]
                public_name = not node.name.startswith("_") or node.name == "__init__"
                starts, size = _own_lines(body)
                found.append(
                    Function(
                        qualname=qualname,
                        first=first,
                        body=body[0].lineno,
                        end=node.end_lineno or node.lineno,
                        node=node,
                        public=top and public_name and not prefix.startswith("_"),
                        lines=starts,
                        size=max(1, size),
                        stub=_is_stub(body),
                    )
                )
                visit(node.body, qualname + ".", False, False)
            elif isinstance(node, ast.ClassDef):
                visit(node.body, f"{prefix}{node.name}.", top and not in_class, True)
            elif isinstance(node, ast.If | ast.Try | ast.With):
                # definitions under `if TYPE_CHECKING:` / `try:` at the same level
                for block in _blocks(node):
                    visit(block, prefix, top, in_class)

    visit(tree.body, "", True, False)
    return found


def _blocks(node: ast.If | ast.Try | ast.With) -> list[list[ast.stmt]]:
    if isinstance(node, ast.If):
        return [node.body, node.orelse]
    if isinstance(node, ast.With):
        return [node.body]
    return [node.body, *(h.body for h in node.handlers), node.orelse, node.finalbody]


def _own_lines(body: list[ast.stmt]) -> tuple[set[int], int]:
    """The first lines of the statements in `body`, and how many lines they span, not counting
    nested definitions."""
    starts: set[int] = set()
    spanned: set[int] = set()
    todo: list[ast.AST] = list(body)
    while todo:
        node = todo.pop()
        if isinstance(node, FunctionNode | ast.ClassDef):
            continue
        if isinstance(node, ast.stmt):
            starts.add(node.lineno)
            spanned.update(range(node.lineno, (node.end_lineno or node.lineno) + 1))
        todo.extend(ast.iter_child_nodes(node))
    return starts, len(spanned)


def _is_stub(body: list[ast.stmt]) -> bool:
    if len(body) != 1:
        return False
    only = body[0]
    if isinstance(only, ast.Pass):
        return True
    if isinstance(only, ast.Expr) and isinstance(only.value, ast.Constant):
        return only.value.value is Ellipsis or isinstance(only.value.value, str)
    if isinstance(only, ast.Raise) and only.exc is not None:
        exc = only.exc.func if isinstance(only.exc, ast.Call) else only.exc
        return isinstance(exc, ast.Name) and exc.id == "NotImplementedError"
    return False


def holder(found: list[Function], line: int) -> Function | None:
    """The innermost function whose decorators, `def` or body hold `line`."""
    best: Function | None = None
    for f in found:
        if f.first <= line <= f.end and (best is None or f.end - f.first < best.end - best.first):
            best = f
    return best


def error_sites(func: Function) -> list[ErrorSite]:
    """The error paths of one function's own code (nested definitions are theirs)."""
    sites: list[ErrorSite] = []

    def walk(node: ast.AST, in_handler: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, FunctionNode | ast.ClassDef | ast.Lambda):
                continue
            if isinstance(child, ast.ExceptHandler):
                if child.body:
                    caught = ast.unparse(child.type) if child.type is not None else ""
                    sites.append(
                        ErrorSite("except", child.body[0].lineno, f"except {caught}".strip())
                    )
                walk(child, True)
                continue
            if isinstance(child, ast.Raise) and not in_handler:
                sites.append(ErrorSite("raise", child.lineno, _short(f"raise {_raised(child)}")))
            elif isinstance(child, ast.Return) and child.value is not None and not in_handler:
                status = _status(child.value)
                if status is not None:
                    sites.append(ErrorSite("status", child.lineno, f"return {status}"))
            elif isinstance(child, ast.Expr) and isinstance(child.value, ast.Call):
                call = child.value
                name = _callee(call)
                if name == "abort" and (status := _status(call)) is not None:
                    sites.append(ErrorSite("status", child.lineno, f"abort({status})"))
                elif name == "rollback" and not in_handler:
                    sites.append(ErrorSite("rollback", child.lineno, _short(ast.unparse(call))))
            walk(child, in_handler)

    walk(func.node, False)
    return sorted(set(sites), key=lambda s: s.line)


def _raised(node: ast.Raise) -> str:
    if node.exc is None:
        return ""
    exc = node.exc.func if isinstance(node.exc, ast.Call) else node.exc
    return ast.unparse(exc)


def _callee(call: ast.Call) -> str:
    func = call.func
    if isinstance(func, ast.Attribute):
        return func.attr
    return func.id if isinstance(func, ast.Name) else ""


def _status(value: ast.expr) -> int | None:
    """A 4xx/5xx status a returned value (or a call) carries: `body, 404`, `_error(msg, 401)`,
    `Response(..., status=500)`, `abort(403)`."""
    parts: list[ast.expr] = []
    if isinstance(value, ast.Tuple):
        parts += value.elts
        parts += [a for e in value.elts if isinstance(e, ast.Call) for a in e.args]
    elif isinstance(value, ast.Call):
        parts += value.args
        parts += [k.value for k in value.keywords if k.arg in {"status", "status_code", "code"}]
    for part in parts:
        if (
            isinstance(part, ast.Constant)
            and isinstance(part.value, int)
            and not isinstance(part.value, bool)
            and 400 <= part.value <= 599
        ):
            return part.value
    return None


def _short(text: str, limit: int = 80) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
