"""Does a test check anything? An AST search for an oracle, following helpers in the same file.

An oracle is something that can make the test fail on wrong behaviour: `assert`, `raise
AssertionError`, `pytest.raises` / `pytest.warns` / `pytest.fail`, unittest's `self.assert*` /
`self.fail`, a mock's `assert_*` call, or any `assert*` / `expect*` / `verify*` helper from a
library. Helpers, fixtures and decorators defined in the same file count when they themselves hold
an oracle.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path, PurePosixPath

FunctionNode = ast.FunctionDef | ast.AsyncFunctionDef

_PYTEST_ORACLES = {"raises", "warns", "deprecated_call", "fail"}
# A call made only for what it raises (its value thrown away) is an oracle when its name says it
# checks: `validate_csrf(token)`, `verify(result)`, `expect(page).to_have_title(...)`.
_CHECKING_VERBS = ("expect", "verify", "check_", "validate_", "ensure", "require")


def oracle_map(tree: ast.Module, fixtures: dict[str, bool] | None = None) -> dict[str, bool]:
    """Whether each test (`test_x` or `Class::test_x`) holds an oracle.

    `fixtures`: fixtures from the conftest.py files around the test file, and whether each
    holds an oracle (a fixture that checks something in its teardown counts).
    """
    from agent.quality.marks import iter_test_functions

    index = _FunctionIndex(tree, fixtures or {})
    return {
        qualname: index.has_oracle(func, _class_of(qualname))
        for qualname, func in iter_test_functions(tree)
    }


def _class_of(qualname: str) -> str | None:
    return qualname.split("::", 1)[0] if "::" in qualname else None


class _FunctionIndex:
    """Module-level functions and class methods by name, with memoised oracle answers."""

    def __init__(self, tree: ast.Module, external: dict[str, bool] | None = None) -> None:
        self.external = external or {}
        self.functions: dict[str, FunctionNode] = {}
        self.methods: dict[str, dict[str, FunctionNode]] = {}
        for node in tree.body:
            if isinstance(node, FunctionNode):
                self.functions[node.name] = node
            elif isinstance(node, ast.ClassDef):
                self.methods[node.name] = {
                    item.name: item for item in node.body if isinstance(item, FunctionNode)
                }
        self._memo: dict[tuple[int, bool], bool] = {}

    def has_oracle(self, func: FunctionNode, cls: str | None, *, helper: bool = False) -> bool:
        """`helper`: `func` is called by a test (a helper or fixture), where raising any
        exception is a check: `def check(x): if not ok(x): raise ValueError(x)`."""
        key = (id(func), helper)
        if key in self._memo:
            return self._memo[key]
        self._memo[key] = False  # recursion guard: a cycle adds no oracle
        found = (
            self._direct_oracle(func)
            or (helper and _raises(func))
            or self._oracle_via_helpers(func, cls)
            or (not helper and _says_it_does_not_raise(func))
        )
        self._memo[key] = found
        return found

    def _direct_oracle(self, func: FunctionNode) -> bool:
        for node in _checked_nodes(func):
            if isinstance(node, ast.Assert) and not _vacuous(node.test):
                return True
            if isinstance(node, ast.Raise) and _raises_assertion(node):
                return True
            if isinstance(node, ast.Call) and _is_oracle_call(node):
                return True
            if isinstance(node, ast.Expr) and _checking_statement(node.value):
                return True
        return False

    def _oracle_via_helpers(self, func: FunctionNode, cls: str | None) -> bool:
        # Fixtures defined in this file that the test requests (by parameter name).
        for arg in [*func.args.posonlyargs, *func.args.args, *func.args.kwonlyargs]:
            fixture = self.functions.get(arg.arg)
            if fixture is None and cls is not None:
                fixture = self.methods.get(cls, {}).get(arg.arg)
            if fixture is not None and fixture is not func and self.has_oracle(fixture, cls):
                return True
            if fixture is None and self.external.get(arg.arg):
                return True
        # Decorators that wrap it (`@checks_output`, `@with_app(...)`): the wrapper runs the
        # test's body and may check what it did.
        for decorator in func.decorator_list:
            target = decorator.func if isinstance(decorator, ast.Call) else decorator
            wrapper = self._resolve(target, cls)
            if wrapper is not None:
                if wrapper is not func and self.has_oracle(wrapper, cls, helper=True):
                    return True
            elif self.external.get(_called_key(target)):
                return True
        # Helpers it calls: `helper(...)`, `self.helper(...)`, `cls.helper(...)`, and ones
        # from the conftest.py files and helper modules of the tests' folders.
        for node in ast.walk(func):
            if not isinstance(node, ast.Call):
                continue
            helper = self._resolve(node.func, cls)
            if helper is not None:
                if helper is not func and self.has_oracle(helper, cls, helper=True):
                    return True
            elif self.external.get(_called_key(node.func)):
                return True
        return False

    def _resolve(self, target: ast.expr, cls: str | None) -> FunctionNode | None:
        if isinstance(target, ast.Name):
            return self.functions.get(target.id)
        if (
            isinstance(target, ast.Attribute)
            and isinstance(target.value, ast.Name)
            and target.value.id in {"self", "cls"}
            and cls is not None
        ):
            return self.methods.get(cls, {}).get(target.attr)
        return None


def conftest_fixture_oracles(root: Path, test_path: str) -> dict[str, bool]:
    """Fixtures defined in the conftest.py files from `test_path`'s folder up to `root`, nearest
    definition winning, each with whether it holds an oracle. Also the helper functions a test
    may import and call from those conftest.py files and the other non-test modules of the
    tests' folders (`from .helpers import check_row`), keyed `name()`: whether each checks
    (asserts, or raises on what it finds)."""
    found: dict[str, bool] = {}
    folder = PurePosixPath(test_path).parent
    chain = [folder, *folder.parents]
    for directory in reversed(chain):  # farthest first, so nearer ones override
        conftest = root / directory / "conftest.py"
        tree = _parsed(conftest)
        if tree is None:
            continue
        index = _FunctionIndex(tree)
        for name, func in index.functions.items():
            found[name] = index.has_oracle(func, None)
            found[name + "()"] = index.has_oracle(func, None, helper=True)
    for directory in chain:
        if directory == PurePosixPath(".") and chain != [directory]:
            break  # the repository's top level holds the project, not test helpers
        for module in _helper_modules(root / directory):
            tree = _parsed(module)
            if tree is None:
                continue
            index = _FunctionIndex(tree)
            for name, func in index.functions.items():
                if not name.startswith("test") and name + "()" not in found:
                    found[name + "()"] = index.has_oracle(func, None, helper=True)
    return found


_MAX_HELPER_MODULES = 20


def _helper_modules(folder: Path) -> list[Path]:
    try:
        names = sorted(p.name for p in folder.iterdir() if p.suffix == ".py")
    except OSError:
        return []
    return [
        folder / name
        for name in names
        if not name.startswith("test") and not name.endswith("_test.py") and name != "conftest.py"
    ][:_MAX_HELPER_MODULES]


def _parsed(path: Path) -> ast.Module | None:
    try:
        return ast.parse(path.read_text(encoding="utf-8"))
    except (OSError, SyntaxError, ValueError):
        return None


def _called_key(target: ast.expr) -> str:
    """`check(...)` or `helpers.check(...)` -> `check()`; calls on `self` resolve locally."""
    if isinstance(target, ast.Name):
        return target.id + "()"
    if (
        isinstance(target, ast.Attribute)
        and isinstance(target.value, ast.Name)
        and target.value.id not in {"self", "cls"}
    ):
        return target.attr + "()"
    return ""


def _raises(func: FunctionNode) -> bool:
    """A helper that raises an exception of its own (not a bare re-raise) checks something."""
    return any(
        isinstance(node, ast.Raise) and node.exc is not None
        for node in _checked_nodes(func)
        if not isinstance(node, ast.ExceptHandler)
    )


_NO_RAISE = re.compile(
    r"(does|do|should|must|will)(_| )?n[o']?t(_| )(raise|fail|error|throw|crash)"
    r"|(no|without)(_| )(an(_| ))?(error|exception|raise|crash)s?(?![a-z])"
    r"|(^|_)no(_)?raises?($|_)"
)


def _says_it_does_not_raise(func: FunctionNode) -> bool:
    """An explicit "does not raise" test: its name or docstring says so, and its body calls
    something (whose raising would fail it), or it uses a `does_not_raise()` context."""
    for node in ast.walk(func):
        if isinstance(node, ast.With | ast.AsyncWith) and any(
            _name(item.context_expr.func if isinstance(item.context_expr, ast.Call) else None)
            in {"does_not_raise", "not_raises"}
            for item in node.items
        ):
            return True
    doc = ast.get_docstring(func) or ""
    if not (_NO_RAISE.search(func.name.lower()) or _NO_RAISE.search(doc.lower())):
        return False
    return any(isinstance(node, ast.Call) for node in ast.walk(func))


def shapes_by_test(tree: ast.Module) -> dict[str, set[str]]:
    """`oracle_shapes` of every test in a file, by qualname (`test_x`, `Class::test_x`)."""
    from agent.quality.marks import iter_test_functions

    return {qualname: oracle_shapes(func) for qualname, func in iter_test_functions(tree)}


def oracle_shapes(func: FunctionNode) -> set[str]:
    """What a test checks, with its literals and local variable names blanked out:
    `assert total([(1, 10.0)]) == 12.0` -> `assert total([(C, C)]) == C`. Two tests with the same
    shapes check the same things, whatever values they pick."""
    local = {
        n.id for n in ast.walk(func) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)
    } | {a.arg for a in [*func.args.posonlyargs, *func.args.args, *func.args.kwonlyargs]}
    shapes: set[str] = set()
    for node in _checked_nodes(func):
        if isinstance(node, ast.Assert) or (isinstance(node, ast.Call) and _is_oracle_call(node)):
            try:
                shapes.add(ast.unparse(_Blank(local).visit(_copy(node))))
            except (ValueError, SyntaxError):  # a construct unparse cannot round-trip
                shapes.add(ast.dump(node))
    return shapes


class _Blank(ast.NodeTransformer):
    def __init__(self, local: set[str]) -> None:
        self.local = local

    def visit_Constant(self, node: ast.Constant) -> ast.AST:
        return ast.copy_location(ast.Name(id="C", ctx=ast.Load()), node)

    def visit_JoinedStr(self, node: ast.JoinedStr) -> ast.AST:
        return ast.copy_location(ast.Name(id="C", ctx=ast.Load()), node)  # an f-string is a value

    def visit_Name(self, node: ast.Name) -> ast.AST:
        if node.id in self.local:
            return ast.copy_location(ast.Name(id="V", ctx=node.ctx), node)
        return node


def _copy(node: ast.AST) -> ast.AST:
    """A fresh tree of `node`, so blanking it leaves the original alone."""
    text = ast.unparse(node)
    return ast.parse(text).body[0] if isinstance(node, ast.stmt) else ast.parse(text, "", "eval")


_SWALLOWING = {"AssertionError", "Exception", "BaseException"}


def _checked_nodes(func: FunctionNode) -> list[ast.AST]:
    """The nodes of `func` whose failure would reach pytest: not the body of a `try` whose
    handler swallows AssertionError, nor of `with suppress(AssertionError)`."""
    found: list[ast.AST] = []
    todo: list[ast.AST] = [func]
    while todo:
        node = todo.pop()
        found.append(node)
        if isinstance(node, ast.Try | ast.TryStar) and any(_swallows(h) for h in node.handlers):
            todo.extend([*node.handlers, *node.orelse, *node.finalbody])
        elif isinstance(node, ast.With | ast.AsyncWith) and any(
            _suppresses(item.context_expr) for item in node.items
        ):
            todo.extend(item.context_expr for item in node.items)
        else:
            todo.extend(ast.iter_child_nodes(node))
    return found


def _swallows(handler: ast.ExceptHandler) -> bool:
    if any(isinstance(n, ast.Raise) for n in ast.walk(handler)):
        return False
    caught = handler.type
    names = caught.elts if isinstance(caught, ast.Tuple) else [caught]
    return caught is None or any(_name(n) in _SWALLOWING for n in names if n is not None)


def _suppresses(expr: ast.expr) -> bool:
    return (
        isinstance(expr, ast.Call)
        and _name(expr.func) == "suppress"
        and any(_name(arg) in _SWALLOWING for arg in expr.args)
    )


def _name(expr: ast.expr | None) -> str:
    if isinstance(expr, ast.Name):
        return expr.id
    if isinstance(expr, ast.Attribute):
        return expr.attr
    return ""


def _vacuous(test: ast.expr) -> bool:
    """`assert True`, `assert "msg"`, `assert x == x`: an assert that cannot fail."""
    if isinstance(test, ast.Constant):
        return bool(test.value)
    if isinstance(test, ast.Compare) and len(test.ops) == 1:
        # `f() == f()` can fail (f might not be pure); `x == x` cannot.
        same = ast.dump(test.left) == ast.dump(test.comparators[0])
        pure = not any(isinstance(n, ast.Call | ast.Await) for n in ast.walk(test.left))
        return same and pure and isinstance(test.ops[0], ast.Eq | ast.Is | ast.GtE | ast.LtE)
    return False


def _raises_assertion(node: ast.Raise) -> bool:
    exc = node.exc.func if isinstance(node.exc, ast.Call) else node.exc
    if isinstance(exc, ast.Name):
        return exc.id in {"AssertionError", "Failed"}
    return isinstance(exc, ast.Attribute) and exc.attr in {"AssertionError", "Failed"}


def _is_oracle_call(call: ast.Call) -> bool:
    target = call.func
    if isinstance(target, ast.Attribute):
        name = target.attr
        owner = target.value
        if isinstance(owner, ast.Name) and owner.id == "pytest" and name in _PYTEST_ORACLES:
            return True
        if name == "fail" and isinstance(owner, ast.Name) and owner.id == "self":
            return True
    elif isinstance(target, ast.Name):
        name = target.id
        if name in {"raises", "warns", "fail"}:  # `from pytest import raises`
            return True
    else:
        return False
    return "assert" in name.lower()


def _checking_statement(expr: ast.expr) -> bool:
    """`validate_csrf(token)` or `expect(x).to_equal(y)` as a statement of its own."""
    node: ast.expr | None = expr
    while isinstance(node, ast.Call | ast.Attribute | ast.Await):
        if isinstance(node, ast.Call):
            name = _name(node.func).lower()
            if name.startswith(_CHECKING_VERBS):
                return True
            node = node.func
        else:
            node = node.value
    return False
