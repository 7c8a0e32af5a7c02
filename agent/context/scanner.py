"""One walk over a module's AST: its seams, its definitions, and what each definition uses.

Call names are resolved through the module's imports, and variables remember what built them
(`conn = sqlite3.connect(...)`), so `seam_rules` can judge each call by name.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from collections.abc import Set
from dataclasses import dataclass, field

from agent.context import seam_rules as rules
from agent.schema import SeamKind
from agent.source.imports import bindings, iter_statements, known_prefix, package_of, targets

Span = tuple[int, int]
MODULE_SCOPE = ""


@dataclass
class Found:
    """A seam plus what is needed to decide whether it is changed or relevant."""

    kind: SeamKind
    line: int
    symbol: str  # enclosing function/class qualname ("" at module level)
    detail: str
    scope: Span | None  # the enclosing function (or __main__ block) lines
    handlers: list[str] = field(default_factory=list)  # view/callback references it registers
    imports: list[str] = field(default_factory=list)  # import seams: the dotted names imported


@dataclass
class ModuleScan:
    module: str
    path: str
    found: list[Found] = field(default_factory=list)
    # qualname -> names it references that came from imports (resolved), and ".method" calls
    refs: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    defs: dict[str, Span] = field(default_factory=dict)  # functions, classes, methods
    classes: set[str] = field(default_factory=set)
    top_level_names: dict[str, Span] = field(default_factory=dict)  # module-level assignments
    resolve_alias: dict[str, str] = field(default_factory=dict)
    # qualname -> bare names it reads (calls of the module's own functions among them)
    names: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))


def _chain(node: ast.expr) -> list[str] | None:
    """`a.b().c` -> ["a", "b()", "c"]; None when the callee is not a plain chain."""
    parts: list[str] = []
    while True:
        if isinstance(node, ast.Attribute):
            parts.append(node.attr)
            node = node.value
        elif isinstance(node, ast.Name):
            parts.append(node.id)
            return parts[::-1]
        elif isinstance(node, ast.Call):
            inner = _chain(node.func)
            if inner is None:
                return None
            inner[-1] += "()"
            return inner + parts[::-1]
        elif isinstance(node, ast.Subscript):
            inner = _chain(node.value)
            if inner is None:
                return None
            inner[-1] += "[]"
            return inner + parts[::-1]
        else:
            return None


class Scanner(ast.NodeVisitor):
    """One walk over a module: seams, definitions, and what each definition references."""

    def __init__(self, module: str, path: str, is_init: bool, known: Set[str]) -> None:
        self.scan = ModuleScan(module=module, path=path)
        self.package = package_of(module, is_init)
        self.known = known
        self.aliases: dict[str, str] = {}
        self.handles: dict[str, rules.HandleKind] = {}  # "conn", "self.conn" -> what it holds
        self.stack: list[tuple[str, Span, bool]] = []  # (qualname, span, is_function)
        self.decorators: set[int] = set()

    # ------------------------------------------------------------------ helpers

    def run(self, tree: ast.Module) -> ModuleScan:
        for stmt in iter_statements(tree.body):
            if isinstance(stmt, ast.Import | ast.ImportFrom):
                self.aliases.update(bindings(stmt, self.package))
        self.scan.resolve_alias = self.aliases
        for stmt in tree.body:
            if isinstance(stmt, ast.Assign | ast.AnnAssign):
                span = (stmt.lineno, stmt.end_lineno or stmt.lineno)
                names = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
                for name in names:
                    if isinstance(name, ast.Name):
                        self.scan.top_level_names[name.id] = span
        self.visit(tree)
        return self.scan

    def resolve(self, parts: list[str]) -> str:
        head = parts[0]
        if head in self.aliases:
            return ".".join([self.aliases[head], *parts[1:]])
        return ".".join(parts)

    def qualname(self) -> str:
        return self.stack[-1][0] if self.stack else MODULE_SCOPE

    def function_scope(self) -> tuple[str, Span | None]:
        for name, span, is_function in reversed(self.stack):
            if is_function:
                return name, span
        return self.qualname(), None

    def add(self, kind: SeamKind, line: int, detail: str, **extra: list[str]) -> None:
        name, span = self.function_scope()
        self.scan.found.append(Found(kind, line, name, detail, span, **extra))

    def view(self, node: ast.expr) -> rules.CallView | None:
        call = node if isinstance(node, ast.Call) else None
        func = call.func if call else node
        parts = _chain(func)
        if parts is None:
            return None
        receiver = ".".join(parts[:-1])
        return rules.CallView(
            node=node,
            args=call.args if call else [],
            keywords=call.keywords if call else [],
            name=self.resolve(parts),
            text=".".join(parts),
            attr=parts[-1] if len(parts) > 1 else "",
            receiver=receiver,
            receiver_kind=self.handles.get(receiver),
        )

    def handler_refs(self, view: rules.CallView) -> list[str]:
        refs = []
        for arg in [*view.args, *(kw.value for kw in view.keywords)]:
            if (parts := _chain(arg)) is not None and "()" not in parts[-1]:
                refs.append(".".join(parts))
        return refs

    # ------------------------------------------------------------------ definitions

    def _visit_def(self, node: ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) -> None:
        start = min([node.lineno, *(d.lineno for d in node.decorator_list)])
        span = (start, node.end_lineno or node.lineno)
        qualname = f"{self.qualname()}.{node.name}" if self.stack else node.name
        is_function = not isinstance(node, ast.ClassDef)
        if len(self.stack) < 2:
            self.scan.defs[qualname] = span
        if not is_function:
            self.scan.classes.add(qualname)
        self.stack.append((qualname, span, is_function))
        for decorator in node.decorator_list:
            self._decorator(decorator, node.name)
        if isinstance(node, ast.ClassDef):
            self._management_command(node, span)
        else:
            self._typed_parameters(node)
        self.generic_visit(node)
        self.stack.pop()

    visit_FunctionDef = _visit_def
    visit_AsyncFunctionDef = _visit_def
    visit_ClassDef = _visit_def

    def _decorator(self, node: ast.expr, target: str) -> None:
        view = self.view(node)
        if view is None:
            return
        self.decorators.add(id(node))
        found = rules.classify_decorator(view, target)
        if found is None and isinstance(node, ast.Call):
            found = rules.classify_call(view)
        if found:
            self.add(found[0], node.lineno, found[1])
        if rules.callee_root(view.name) == "click.group" or (
            view.attr == "group" and view.receiver_kind == "cli"
        ):
            self.handles[target] = "cli"

    def _management_command(self, node: ast.ClassDef, span: Span) -> None:
        """Django management commands: `class Command(BaseCommand)` in management/commands/."""
        bases = {ast.unparse(b).rsplit(".", 1)[-1] for b in node.bases}
        if node.name == "Command" and any(b.endswith("Command") for b in bases):
            command = self.scan.module.rsplit(".", 1)[-1]
            self.scan.found.append(
                Found("cli_entry", node.lineno, node.name, f"manage.py {command}", span)
            )

    def _typed_parameters(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        for arg in [*node.args.posonlyargs, *node.args.args, *node.args.kwonlyargs]:
            parts = _chain(arg.annotation) if arg.annotation is not None else None
            kind = rules.annotation_kind(self.resolve(parts)) if parts else None
            if kind:
                self.handles[arg.arg] = kind

    # ------------------------------------------------------------------ statements

    def visit_Import(self, node: ast.Import | ast.ImportFrom) -> None:
        modules: dict[str, list[str]] = {}
        imported: list[str] = []
        for dotted, name in targets(node, self.package):
            hit = known_prefix(dotted, self.known)
            if hit is not None and hit != self.scan.module:
                imported.append(dotted)
                names = modules.setdefault(hit, [])
                if name and dotted != hit:
                    names.append(name)
        if modules:
            detail = "; ".join(
                f"{m} ({', '.join(names)})" if names else m for m, names in modules.items()
            )
            self.add("import", node.lineno, detail, imports=imported)

    visit_ImportFrom = visit_Import

    def visit_If(self, node: ast.If) -> None:
        test = node.test
        if (
            isinstance(test, ast.Compare)
            and len(test.comparators) == 1
            and {ast.unparse(test.left), ast.unparse(test.comparators[0])}
            == {"__name__", "'__main__'"}
        ):
            span = (node.lineno, node.end_lineno or node.lineno)
            self.stack.append(("__main__", span, True))
            self.add("cli_entry", node.lineno, "if __name__ == '__main__'")
            self.generic_visit(node)
            self.stack.pop()
            return
        self.generic_visit(node)

    def _bind(self, target: ast.expr, value: ast.expr | None) -> None:
        if not isinstance(value, ast.Call | ast.Await):
            return
        call = value.value if isinstance(value, ast.Await) else value
        if not isinstance(call, ast.Call) or (view := self.view(call)) is None:
            return
        kind = rules.handle_kind(view)
        if kind and (parts := _chain(target)) is not None:
            self.handles[".".join(parts)] = kind

    def visit_Assign(self, node: ast.Assign) -> None:
        for target in node.targets:
            self._bind(target, node.value)
        self.generic_visit(node)

    def visit_AnnAssign(self, node: ast.AnnAssign) -> None:
        self._bind(node.target, node.value)
        self.generic_visit(node)

    def visit_With(self, node: ast.With | ast.AsyncWith) -> None:
        for item in node.items:
            if item.optional_vars is not None:
                self._bind(item.optional_vars, item.context_expr)
        self.generic_visit(node)

    visit_AsyncWith = visit_With

    # ------------------------------------------------------------------ expressions

    def visit_Call(self, node: ast.Call) -> None:
        view = self.view(node)
        if view is not None:
            if view.attr:
                self.scan.refs[self.qualname()].add("." + view.attr)
            if id(node) not in self.decorators and (found := rules.classify_call(view)):
                handlers = self.handler_refs(view) if found[0] == "http_route" else []
                self.add(found[0], node.lineno, found[1], handlers=handlers)
        self.generic_visit(node)

    def _reference(self, node: ast.Name | ast.Attribute) -> None:
        parts = _chain(node)
        if parts and parts[0] in self.aliases:
            self.scan.refs[self.qualname()].add(self.resolve(parts))

    def visit_Name(self, node: ast.Name) -> None:
        self.scan.names[self.qualname()].add(node.id)
        if node.id in self.aliases:
            self._reference(node)

    def visit_Attribute(self, node: ast.Attribute) -> None:
        parts = _chain(node)
        if parts is None or any(p.endswith(("()", "[]")) for p in parts):
            self.generic_visit(node)  # the chain holds calls/subscripts with their own refs
            return
        self._reference(node)


def scan_module(module: str, path: str, text: str, known: Set[str]) -> ModuleScan | None:
    try:
        tree = ast.parse(text, filename=path)
    except (SyntaxError, ValueError):
        return None
    return Scanner(module, path, path.endswith("__init__.py"), known).run(tree)
