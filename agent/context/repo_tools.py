"""Context on demand: the read-only tools the model may call, confined to the repository.

Every tool answers with text. Problems (a path outside the repository, a bad regex, an unknown
symbol) come back as a clear "error: ..." string, never as an exception, so the model can
correct itself within the conversation.
"""

from __future__ import annotations

import ast
import fnmatch
import os
import re
from collections.abc import Callable
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Any

from pydantic import BaseModel, Field, ValidationError

from agent import git
from agent.context.names import used_assignments
from agent.fs import is_within
from agent.log import get_logger
from agent.source.files import SKIP_DIRS, ModuleNamer, read_text

log = get_logger(__name__)

MAX_LINES = 400  # lines per read_file answer
MAX_CHARS = 40_000  # characters per answer, any tool
MAX_FILE_BYTES = 2_000_000  # larger files are not searched or read whole
MAX_HITS = 100
MAX_LINE_CHARS = 240  # a search hit's line is shown up to this length
MAX_SYMBOLS = 5
MAX_SYMBOL_LINES = 300


class ToolError(Exception):
    """A tool call the model can fix: the message says how."""


class ReadFileInput(BaseModel):
    path: str = Field(description="File (or folder) path relative to the repository root.")
    start: int | None = Field(default=None, ge=1, description="First line to show (1-based).")
    end: int | None = Field(default=None, ge=1, description="Last line to show (inclusive).")
    at_base: bool = Field(
        default=False,
        description="Read the file as it was at the change's base revision (before the change).",
    )


class SearchCodeInput(BaseModel):
    pattern: str = Field(min_length=1, description="Python regular expression, matched per line.")
    glob: str | None = Field(
        default=None, description="Only search files matching this glob, e.g. '*.py', 'shop/*.py'."
    )


class GetSymbolInput(BaseModel):
    name: str = Field(
        min_length=1,
        description="A function, class or method: 'place_order', 'OrderService.place' or "
        "'shop.orders.OrderService.place'.",
    )


DESCRIPTIONS = {
    "read_file": "Read a file of the repository with numbered lines (at most "
    f"{MAX_LINES} lines per call; use start/end for more). A folder path lists its entries. "
    "With at_base, the file as it was before the change.",
    "search_code": "Search the repository's files (tracked and new, not ignored) with a regular "
    f"expression, line by line. Returns up to {MAX_HITS} hits as path:line: text.",
    "get_symbol": "Show the source of a function, class or method by name or dotted name, with "
    "its file and line numbers.",
}
INPUTS: dict[str, type[BaseModel]] = {
    "read_file": ReadFileInput,
    "search_code": SearchCodeInput,
    "get_symbol": GetSymbolInput,
}


def tool_specs() -> list[dict[str, Any]]:
    """Anthropic tool definitions of the context tools, schemas generated from their inputs."""
    return [
        {"name": name, "description": DESCRIPTIONS[name], "input_schema": model.model_json_schema()}
        for name, model in INPUTS.items()
    ]


def _numbered(lines: list[str], first: int) -> str:
    width = len(str(first + len(lines) - 1))
    return "\n".join(f"{n:>{width}} | {line}" for n, line in enumerate(lines, start=first))


class RepoTools:
    """read_file / search_code / get_symbol over one repository, never outside it."""

    def __init__(self, repo: Path, base: str | None = None) -> None:
        self.root = Path(repo).resolve()
        self.base = base  # the change's base revision, for read_file(at_base=True)
        self._namer = ModuleNamer(self.root)

    tool_specs = staticmethod(tool_specs)

    # ------------------------------------------------------------------ public, never raise

    def read_file(
        self, path: str, start: int | None = None, end: int | None = None, at_base: bool = False
    ) -> str:
        return self._safely(lambda: self._read_file(path, start, end, at_base))

    def search_code(self, pattern: str, glob: str | None = None) -> str:
        return self._safely(lambda: self._search_code(pattern, glob))

    def get_symbol(self, name: str) -> str:
        return self._safely(lambda: self._get_symbol(name))

    def dispatch(self, name: str, input: object) -> tuple[str, bool]:
        """Run the tool `name` on the model's `input`: (text, is_error). Never raises."""
        model = INPUTS.get(name)
        if model is None:
            return f"error: unknown tool {name!r}; the tools are {', '.join(INPUTS)}", True
        if not isinstance(input, dict):
            return f"error: {name} takes a JSON object, got {type(input).__name__}", True
        try:
            args = model.model_validate(input)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e['loc']) or 'input'}: {e['msg']}" for e in exc.errors()
            )
            return f"error: invalid input for {name}: {problems}", True
        try:
            if isinstance(args, ReadFileInput):
                return self._read_file(args.path, args.start, args.end, args.at_base), False
            if isinstance(args, SearchCodeInput):
                return self._search_code(args.pattern, args.glob), False
            assert isinstance(args, GetSymbolInput)
            return self._get_symbol(args.name), False
        except ToolError as exc:
            return f"error: {exc}", True
        except Exception as exc:  # a tool bug must not end the conversation
            log.warning("tool failed", tool=name, error=repr(exc))
            return f"error: {name} failed: {type(exc).__name__}: {exc}", True

    def _safely(self, call: Callable[[], str]) -> str:
        try:
            return call()
        except ToolError as exc:
            return f"error: {exc}"

    # ------------------------------------------------------------------ confinement

    def resolve(self, path: str) -> Path:
        """The real path of a repository path, refusing anything that leaves the repository."""
        if not path.strip():
            raise ToolError("empty path; give a path relative to the repository root")
        if "\0" in path:
            raise ToolError("path contains a NUL character")
        if PurePosixPath(path).is_absolute() or PureWindowsPath(path).is_absolute():
            raise ToolError(f"{path!r} is absolute; give a path relative to the repository root")
        if ".git" in PurePosixPath(path.replace("\\", "/")).parts:
            raise ToolError(f"{path!r} is inside .git, which is off limits")
        real = (self.root / path).resolve()
        if not is_within(real, self.root):
            raise ToolError(f"{path!r} is outside the repository")
        if ".git" in real.relative_to(self.root).parts:
            raise ToolError(f"{path!r} leads into .git, which is off limits")
        return real

    def _files(self) -> list[str]:
        """Tracked and untracked-but-not-ignored files (every file, outside git)."""
        try:
            listed = git.ls_files(
                self.root,
                "--cached",
                "--others",
                "--exclude-standard",
                timeout=60,
                errors="replace",
            )
        except git.GitError:
            return self._walk()
        return sorted(set(listed))

    def _walk(self) -> list[str]:
        found: list[str] = []
        for parent, dirs, names in os.walk(self.root):
            dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d not in SKIP_DIRS)
            rel = Path(parent).relative_to(self.root)
            found += [(rel / n).as_posix() for n in sorted(names)]
        return found

    def _inside(self, rel: str) -> Path | None:
        try:
            real = self.resolve(rel)
        except ToolError:
            return None
        return real if real.is_file() else None

    # ------------------------------------------------------------------ read_file

    def _read_file(
        self, path: str, start: int | None, end: int | None, at_base: bool = False
    ) -> str:
        real = self.resolve(path)
        if at_base:
            text = self._at_base(real)
            path = f"{path} at the base revision {self.base}"
        else:
            if not real.exists():
                return self._missing(path)
            if real.is_dir():
                return self._listing(real, path)
            if not real.is_file():
                raise ToolError(f"{path!r} is not a regular file")
            if real.stat().st_size > MAX_FILE_BYTES and start is None:
                raise ToolError(f"{path!r} is large; ask for a line range with start and end")
            text = read_text(real)
        if text is None:
            raise ToolError(f"{path!r} is a binary file")
        lines = text.splitlines()
        if not lines:
            return f"{path} is empty"
        first = start or 1
        if first > len(lines):
            raise ToolError(f"{path!r} has only {len(lines)} lines")
        last = min(end or len(lines), len(lines), first + MAX_LINES - 1)
        if last < first:
            raise ToolError(f"end ({end}) is before start ({first})")
        body = _numbered(lines[first - 1 : last], first)
        if len(body) > MAX_CHARS:
            body = body[:MAX_CHARS].rsplit("\n", 1)[0]
            last = first + body.count("\n")
        header = f"{path} (lines {first}-{last} of {len(lines)})"
        more = f"\n… more: start={last + 1}" if last < len(lines) else ""
        return f"{header}\n{body}{more}"

    def _at_base(self, real: Path) -> str | None:
        """The file's text at the base revision (via `git show`, read-only)."""
        if not self.base:
            raise ToolError("this run has no base revision: the change is given by modules")
        rel = real.relative_to(self.root).as_posix()
        try:
            data = git.show(self.root, self.base, rel, timeout=60)
        except git.GitError as exc:
            raise ToolError(f"cannot read {rel!r} at {self.base}: {exc}") from None
        if data is None:
            raise ToolError(f"{rel!r} did not exist at the base revision {self.base}")
        if b"\0" in data[:8192]:
            return None
        return data.decode("utf-8", errors="replace")

    def _missing(self, path: str) -> str:
        name = PurePosixPath(path).name
        similar = [f for f in self._files() if PurePosixPath(f).name == name][:5]
        hint = f"; files with that name: {', '.join(similar)}" if similar else ""
        raise ToolError(f"no such file: {path!r}{hint}")

    def _listing(self, real: Path, path: str) -> str:
        entries = sorted(
            p.name + ("/" if p.is_dir() else "") for p in real.iterdir() if p.name != ".git"
        )
        shown = entries[:200]
        more = f"\n… and {len(entries) - len(shown)} more" if len(entries) > len(shown) else ""
        return f"{path} is a folder:\n" + "\n".join(shown) + more

    # ------------------------------------------------------------------ search_code

    def _search_code(self, pattern: str, glob: str | None) -> str:
        try:
            regex = re.compile(pattern)
        except re.error as exc:
            raise ToolError(f"invalid regular expression {pattern!r}: {exc}") from None
        hits: list[str] = []
        searched = 0
        size = 0
        for rel in self._files():
            if glob and not (
                fnmatch.fnmatch(rel, glob)
                or ("/" not in glob and fnmatch.fnmatch(PurePosixPath(rel).name, glob))
            ):
                continue
            real = self._inside(rel)
            if real is None or real.stat().st_size > MAX_FILE_BYTES:
                continue
            text = read_text(real)
            if text is None:
                continue
            searched += 1
            for number, line in enumerate(text.splitlines(), start=1):
                if regex.search(line[:2000]):
                    hit = f"{rel}:{number}: {line.strip()[:MAX_LINE_CHARS]}"
                    hits.append(hit)
                    size += len(hit) + 1
                    if len(hits) >= MAX_HITS or size >= MAX_CHARS:
                        return "\n".join(hits) + "\n… (more matches; narrow the pattern or glob)"
        if not hits:
            where = f" matching {glob!r}" if glob else ""
            return f"no matches for {pattern!r} in {searched} files{where}"
        return "\n".join(hits)

    # ------------------------------------------------------------------ get_symbol

    def _get_symbol(self, name: str) -> str:
        name = name.strip()
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*", name):
            raise ToolError(f"{name!r} is not a name; use e.g. 'place_order' or 'shop.orders.Cart'")
        python = [f for f in self._files() if f.endswith(".py")]
        modules = {m: f for f in python if (m := self._namer(f)) is not None}
        if name in modules:
            return f"{name} is a module ({modules[name]}); use read_file to read it"
        parts = name.split(".")
        matches: list[tuple[str, ast.AST, str]] = []
        # Longest module prefix first: shop.orders.Cart.add -> module shop.orders, Cart.add.
        for i in range(len(parts) - 1, 0, -1):
            module = ".".join(parts[:i])
            if module in modules:
                matches = self._definitions([modules[module]], parts[i:], exact=True)
                if matches:
                    break
        if not matches:
            last = parts[-1]
            needles = (f"def {last}", f"class {last}", f"{last} =", f"{last}:")
            candidates = [
                f
                for f in python
                if (real := self._inside(f)) is not None
                and any(n in (read_text(real) or "") for n in needles)
            ]
            matches = self._definitions(candidates, parts, exact=False)
        if not matches:
            raise ToolError(
                f"no function, class or method named {name!r}; try search_code to find it"
            )
        shown = [self._show(path, node, qual) for path, node, qual in matches[:MAX_SYMBOLS]]
        if len(matches) > MAX_SYMBOLS:
            rest = ", ".join(f"{p}:{getattr(n, 'lineno', 0)}" for p, n, _ in matches[MAX_SYMBOLS:])
            shown.append(f"… also defined at {rest}")
        text = "\n\n".join(shown)
        return text if len(text) <= MAX_CHARS else text[:MAX_CHARS] + "\n… (cut)"

    def _definitions(
        self, paths: list[str], qual: list[str], exact: bool
    ) -> list[tuple[str, ast.AST, str]]:
        """(path, node, qualname) of definitions whose qualname is `qual` (exact) or ends with
        it (anywhere in the file, methods and nested classes included)."""
        found: list[tuple[str, ast.AST, str]] = []
        for path in paths:
            real = self._inside(path)
            text = read_text(real) if real else None
            try:
                tree = ast.parse(text or "", filename=path)
            except (SyntaxError, ValueError):
                continue
            for qualname, node in _named_nodes(tree):
                names = qualname.split(".")
                if names == qual or (not exact and names[-len(qual) :] == qual):
                    found.append((path, node, qualname))
        return found

    def _show(self, path: str, node: ast.AST, qualname: str) -> str:
        real = self.resolve(path)
        text = read_text(real) or ""
        lines = text.splitlines()
        decorators = getattr(node, "decorator_list", [])
        start = min([getattr(node, "lineno", 1), *(d.lineno for d in decorators)])
        end = getattr(node, "end_lineno", None) or start
        cut = min(end, start + MAX_SYMBOL_LINES - 1)
        kind = {ast.ClassDef: "class", ast.Assign: "variable", ast.AnnAssign: "variable"}.get(
            type(node), "def"
        )
        module = self._namer(path)
        where = f"{module}.{qualname}" if module else qualname
        body = _numbered(lines[start - 1 : cut], start)
        more = (
            f"\n… ({end - cut} more lines; read_file {path} start={cut + 1})" if cut < end else ""
        )
        return f"# {kind} {where} — {path}:{start}-{end}\n{body}{more}{_names_of(text, node)}"


def _names_of(text: str, node: ast.AST) -> str:
    """The module-level assignments a definition uses, so its excerpt reads on its own."""
    if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
        return ""
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError):
        return ""
    used = used_assignments(text, tree, [node])
    if not used:
        return ""
    return "\n# module-level names it uses:\n" + "\n".join(f"{n:>5}  {src}" for n, src in used)


def _named_nodes(tree: ast.Module) -> list[tuple[str, ast.AST]]:
    """(qualname, node) of every class and function, and of module/class-level variables."""
    found: list[tuple[str, ast.AST]] = []

    def walk(body: list[ast.stmt], prefix: str, in_function: bool) -> None:
        for node in body:
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                qualname = f"{prefix}{node.name}"
                found.append((qualname, node))
                walk(node.body, qualname + ".", not isinstance(node, ast.ClassDef))
            elif isinstance(node, ast.Assign | ast.AnnAssign) and not in_function:
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                found.extend((f"{prefix}{t.id}", node) for t in targets if isinstance(t, ast.Name))
            elif isinstance(node, ast.If | ast.Try):
                walk(node.body, prefix, in_function)

    walk(tree.body, "", False)
    return found
