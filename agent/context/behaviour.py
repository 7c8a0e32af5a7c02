"""What a change does, as opposed to how it looks.

Two versions of a module are compared by their ASTs with formatting, comments and docstrings
normalised away: a file whose AST is the same is *cosmetic*; otherwise each function, class and
module-level statement is compared on its own, and only the changed lines inside the ones that
differ count as changed behaviour. Those lines are then read for what matters to a test: new and
changed functions, branches, environment and configuration reads, file and process I/O.
"""

from __future__ import annotations

import ast
from collections import Counter
from copy import deepcopy
from dataclasses import dataclass, field

from agent.schema import BehaviourNote

Defn = ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef
MAX_NOTES_PER_FILE = 40
_DETAIL_LIMIT = 80

ENV_CALLS = frozenset({"os.getenv", "os.environ.get", "os.getenvb", "os.environ.setdefault"})
CONFIG_CALLS = frozenset(
    {
        "tomllib.load",
        "tomllib.loads",
        "tomli.load",
        "tomli.loads",
        "json.load",
        "yaml.safe_load",
        "yaml.load",
        "configparser.ConfigParser",
        "dotenv.load_dotenv",
        "dotenv.dotenv_values",
    }
)
IO_CALLS = frozenset(
    {
        "open",
        "io.open",
        "os.open",
        "os.mkfifo",
        "os.remove",
        "os.unlink",
        "os.rename",
        "os.replace",
        "os.makedirs",
        "os.mkdir",
        "os.listdir",
        "os.scandir",
        "os.walk",
        "shutil.copy",
        "shutil.copyfile",
        "shutil.copytree",
        "shutil.move",
        "shutil.rmtree",
        "socket.socket",
        "socket.create_connection",
    }
)
IO_METHODS = frozenset(
    {
        "read_text",
        "write_text",
        "read_bytes",
        "write_bytes",
        "open",
        "mkdir",
        "unlink",
        "rmdir",
        "touch",
        "iterdir",
        "glob",
        "rglob",
    }
)


# Release metadata: a new value changes no behaviour a test could pin.
METADATA_NAMES = frozenset(
    {
        "__version__",
        "__version_info__",
        "__version_tuple__",
        "version",
        "version_info",
        "version_tuple",
        "VERSION",
        "__date__",
        "__author__",
        "__copyright__",
        "__license__",
        "__email__",
        "__status__",
    }
)


def is_metadata(stmt: ast.stmt) -> bool:
    """`__version__ = "1.2.3"`, `VERSION = (1, 2, 3)`: a constant assigned to a metadata name."""
    if isinstance(stmt, ast.Assign):
        targets, value = stmt.targets, stmt.value
    elif isinstance(stmt, ast.AnnAssign) and stmt.value is not None:
        targets, value = [stmt.target], stmt.value
    else:
        return False
    names = [t.id for t in targets if isinstance(t, ast.Name)]
    if len(names) != len(targets) or not set(names) <= METADATA_NAMES:
        return False
    parts = value.elts if isinstance(value, ast.Tuple | ast.List) else [value]
    return all(isinstance(p, ast.Constant) for p in parts)


@dataclass
class FileBehaviour:
    """How one changed file's behaviour changed."""

    cosmetic: bool = False  # same AST once formatting, comments and docstrings are normalised
    lines: set[int] = field(default_factory=set)  # changed lines inside changed behaviour
    new: list[str] = field(default_factory=list)  # qualnames of new functions/classes
    changed: list[str] = field(default_factory=list)  # qualnames whose behaviour changed
    removed: list[str] = field(default_factory=list)


def _strip_docstring(body: list[ast.stmt]) -> list[ast.stmt]:
    if (
        body
        and isinstance(body[0], ast.Expr)
        and isinstance(body[0].value, ast.Constant)
        and isinstance(body[0].value.value, str)
    ):
        return body[1:]
    return body


class _Normaliser(ast.NodeTransformer):
    """Drops docstrings; with `shallow`, nested definitions become their bare names."""

    def __init__(self, shallow_below: ast.AST | None = None) -> None:
        self.top = shallow_below

    def _body(self, node: ast.AST) -> ast.AST:
        body = getattr(node, "body", None)
        if isinstance(body, list):
            kept = _strip_docstring(body)
            if self.top is not None:
                kept = [
                    ast.Expr(ast.Name(s.name)) if isinstance(s, Defn) and node is self.top else s
                    for s in kept
                ]
            node.body = kept or [ast.Pass()]  # type: ignore[attr-defined]
        return node

    def generic_visit(self, node: ast.AST) -> ast.AST:
        super().generic_visit(node)
        if isinstance(node, Defn | ast.Module):
            return self._body(node)
        return node


def _dump(node: ast.AST, shallow: bool = False) -> str:
    """The node's AST without positions and docstrings (nested definitions as bare names)."""
    copy = deepcopy(node)
    return ast.dump(_Normaliser(copy if shallow else None).visit(copy), include_attributes=False)


def definitions(tree: ast.Module) -> dict[str, Defn]:
    found: dict[str, Defn] = {}

    def walk(body: list[ast.stmt], prefix: str) -> None:
        for node in body:
            if isinstance(node, Defn):
                qualname = prefix + node.name
                found.setdefault(qualname, node)
                walk(node.body, qualname + ".")

    walk(tree.body, "")
    return found


def _span(node: ast.AST) -> range:
    start = min([node.lineno, *(d.lineno for d in getattr(node, "decorator_list", []))])  # type: ignore[attr-defined]
    return range(start, (node.end_lineno or node.lineno) + 1)  # type: ignore[attr-defined]


def compare(old_text: str | None, new_text: str, changed_lines: set[int]) -> FileBehaviour:
    """How `new_text` behaves differently from `old_text` (None: a new file)."""
    try:
        new_tree = ast.parse(new_text)
    except (SyntaxError, ValueError):
        return FileBehaviour(lines=set(changed_lines))
    try:
        old_tree = ast.parse(old_text) if old_text is not None else None
    except (SyntaxError, ValueError):
        old_tree = None
    new_defs = definitions(new_tree)
    if old_tree is None:
        return FileBehaviour(lines=set(changed_lines), new=list(new_defs))
    if _dump(old_tree) == _dump(new_tree):
        return FileBehaviour(cosmetic=True)
    old_defs = definitions(old_tree)
    result = FileBehaviour()
    behavioural: set[int] = set()
    nested: set[int] = set()
    for qualname, node in new_defs.items():
        span = set(_span(node))
        inner = {line for child in node.body if isinstance(child, Defn) for line in _span(child)}
        own = span - inner
        before = old_defs.get(qualname)
        if before is None:
            result.new.append(qualname)
            behavioural |= own
        elif _dump(before, shallow=True) != _dump(node, shallow=True):
            result.changed.append(qualname)
            behavioural |= own
        nested |= span
    result.removed = [q for q in old_defs if q not in new_defs]
    old_statements = Counter(_dump(s) for s in old_tree.body if not isinstance(s, Defn))
    for stmt in new_tree.body:
        if isinstance(stmt, Defn):
            continue
        key = _dump(stmt)
        if old_statements[key] > 0:
            old_statements[key] -= 1
        elif not is_metadata(stmt):
            behavioural |= set(_span(stmt))
    result.lines = changed_lines & behavioural
    # A changed definition whose changed lines all sit in docstrings still counts through its
    # AST; make sure it brings at least its first changed line.
    for qualname in result.new + result.changed:
        if not set(_span(new_defs[qualname])) & result.lines:
            first = min(set(_span(new_defs[qualname])) & changed_lines, default=None)
            if first is not None:
                result.lines.add(first)
    return result


def notes(path: str, text: str, behaviour: FileBehaviour) -> list[BehaviourNote]:
    """The behavioural changes of one file worth leading a context with."""
    found: list[BehaviourNote] = []
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError):
        return found
    defs = definitions(tree)
    for qualname in behaviour.new:
        node = defs[qualname]
        kind = "new class" if isinstance(node, ast.ClassDef) else "new function"
        found.append(BehaviourNote(path=path, line=node.lineno, kind=kind, detail=qualname))
    for qualname in behaviour.changed:
        node = defs[qualname]
        kind = "changed class" if isinstance(node, ast.ClassDef) else "changed function"
        found.append(BehaviourNote(path=path, line=node.lineno, kind=kind, detail=qualname))
    for qualname in behaviour.removed:
        found.append(BehaviourNote(path=path, line=0, kind="removed", detail=qualname))
    aliases = _aliases(tree)
    seen: set[tuple[str, str]] = set()
    for item in ast.walk(tree):
        line = getattr(item, "lineno", None)
        if line is None or line not in behaviour.lines:
            continue
        note = _classify(item, aliases)
        if note is not None and (note[0], note[1]) not in seen:
            seen.add(note)
            found.append(BehaviourNote(path=path, line=line, kind=note[0], detail=note[1]))
    found.sort(key=lambda n: (n.line, n.kind))
    return found[:MAX_NOTES_PER_FILE]


def _aliases(tree: ast.Module) -> dict[str, str]:
    names: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                names[alias.asname or alias.name.split(".")[0]] = (
                    alias.name if alias.asname else alias.name.split(".")[0]
                )
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            for alias in node.names:
                names[alias.asname or alias.name] = f"{node.module}.{alias.name}"
    return names


def _resolved(node: ast.expr, aliases: dict[str, str]) -> str:
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return ""
    head = aliases.get(node.id, node.id)
    return ".".join([head, *reversed(parts)])


def _short(node: ast.AST) -> str:
    text = " ".join(ast.unparse(node).split())
    return text if len(text) <= _DETAIL_LIMIT else text[: _DETAIL_LIMIT - 1] + "…"


def _classify(node: ast.AST, aliases: dict[str, str]) -> tuple[str, str] | None:
    if isinstance(node, ast.If | ast.While):
        word = "if" if isinstance(node, ast.If) else "while"
        return "branch", f"{word} {_short(node.test)}"
    if isinstance(node, ast.Match):
        return "branch", f"match {_short(node.subject)}"
    if isinstance(node, ast.Try):
        caught = [_short(h.type) if h.type else "everything" for h in node.handlers]
        return "branch", "try/except " + ", ".join(caught) if caught else "try/finally"
    if isinstance(node, ast.Raise) and node.exc is not None:
        return "branch", f"raise {_short(node.exc)}"
    if isinstance(node, ast.Subscript) and _resolved(node.value, aliases) == "os.environ":
        return "environment", _short(node)
    if not isinstance(node, ast.Call):
        return None
    name = _resolved(node.func, aliases)
    if name in ENV_CALLS:
        return "environment", _short(node)
    if name in CONFIG_CALLS or name.startswith(("configparser.", "dotenv.")):
        return "config", _short(node)
    if name in IO_CALLS or name.startswith("shutil."):
        return "I/O", _short(node)
    attr = node.func.attr if isinstance(node.func, ast.Attribute) else ""
    if attr in IO_METHODS:
        return "I/O", _short(node)
    if name.startswith(("subprocess.", "requests.", "httpx.", "urllib.", "sqlite3.")):
        return "I/O", _short(node)
    return None
