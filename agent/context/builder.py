"""Build the context for a change (or for named modules): diff, seams, repo map, existing tests
and conventions, fitted to a token budget."""

from __future__ import annotations

import ast
import tomllib
from pathlib import Path

from agent.context import behaviour as behave
from agent.context.budget import fit_to_budget, shared_prefix
from agent.context.conventions import find_conventions
from agent.context.diff import Change, GitRepo, change
from agent.context.errors import ContextError
from agent.context.executed import failing_tests, tests_running_change, with_execution
from agent.context.names import used_assignments
from agent.context.render import render_context
from agent.context.repo_map import (
    RepoMap,
    build_repo_map,
    reexports,
    resolve_imports,
    summarize,
)
from agent.context.seams import Target, find_seams
from agent.context.tests_index import TargetModules, find_existing_tests
from agent.log import get_logger
from agent.patch import split_patch
from agent.schema import BehaviourNote, ChangedFile, Context, ModuleName, ModuleSummary
from agent.source.files import ModuleNamer, discover_python_files, is_test_path, read_text

__all__ = ["build_context", "render_context"]

log = get_logger(__name__)

MAX_EXISTING_TESTS = 40
MAX_MODULE_NAMES = 60


def build_context(
    repo: Path,
    *,
    base: str | None = None,
    head: str = "HEAD",
    modules: list[str] | None = None,
    budget_tokens: int = 60_000,
    tests_root: str | None = None,
    python: str | None = None,
) -> Context:
    """What the model needs to know about a change.

    Without `modules`, the change is base..head (plus uncommitted work when head is "HEAD").
    With `modules` (dotted names or file paths) and no base, those modules are the focus and
    there is no diff; with both, the diff is narrowed to those modules."""
    root = Path(repo)
    if not root.is_dir():
        raise ContextError(f"{root} is not a directory")
    diff_text, changed, uncommitted = "", list[ChangedFile](), False
    notes: list[BehaviourNote] = []
    names: list[ModuleName] = []
    if base is not None or not modules:
        found = change(root, base, head)
        diff_text, changed, uncommitted = found.patch, found.files, found.uncommitted
        diff_text = code_first(diff_text)
        notes, names = _judge_behaviour(root, found)

    sources, tests = discover_python_files(root)
    namer = ModuleNamer(root)
    repo_map = build_repo_map(root, sources, tests, namer)

    if modules:
        focus = resolve_modules(root, modules, repo_map)
        changed = [f for f in changed if f.path in focus.values()]
        diff_text = "".join(c for path, c in split_patch(diff_text) if path in focus.values())
        by_path = {f.path: f for f in changed}
        targets = [
            Target(m, p, set(_lines(by_path[p])) if p in by_path else None)
            for m, p in focus.items()
        ]
        notes = [n for n in notes if n.path in focus.values()]
        names = [n for n in names if n.path in focus.values()]
    else:
        # A cosmetic change (formatting, comments, docstrings) is listed but is no target.
        targets = [
            Target(f.module, f.path, set(_lines(f)), deleted=f.status == "deleted")
            for f in changed
            if f.module and f.path.endswith(".py") and not is_test_path(f.path) and not f.cosmetic
        ]
    committed = _committed_sources(root, head, targets) if head != "HEAD" else {}
    _summarize_committed(repo_map, committed, targets)

    seams = find_seams(repo_map, targets, committed)
    target_modules = [t.module for t in targets]
    wanted = TargetModules(modules={t.module: t.path for t in targets})
    for module in target_modules:
        wanted.reexports[module] = reexports(repo_map, module)
    known = set(repo_map.modules) | set(wanted.modules)
    existing = find_existing_tests(root, tests, wanted, known, namer)
    ran = tests_running_change(root, changed) if base is not None else None
    if ran is not None:
        existing = with_execution(root, existing, ran)
    dropped = []
    if len(existing) > MAX_EXISTING_TESTS:
        more = len(existing) - MAX_EXISTING_TESTS
        dropped.append(f"existing tests: {more} more test files that import the changed modules")
        existing = existing[:MAX_EXISTING_TESTS]

    ctx = Context(
        repo=str(root.resolve()),
        base=base,
        head=head,
        uncommitted=uncommitted,
        diff=diff_text,
        changed=changed,
        behaviour=notes,
        module_names=names[:MAX_MODULE_NAMES],
        modules=target_modules,
        repo_map=_ordered_map(repo_map, set(target_modules)),
        seams=seams,
        existing_tests=existing,
        tests_by_execution=ran is not None,
        failing_tests=failing_tests(root) if ran is not None else [],
        conventions=find_conventions(
            root, tests, tests_root, [f.path for f in changed] + [t.path for t in targets]
        ),
        python=target_python(root, python),
        dropped=dropped,
    )
    fitted = fit_to_budget(ctx, budget_tokens)
    log.debug(
        "context built",
        files=len(changed),
        modules=len(target_modules),
        seams=len(fitted.seams),
        tokens=fitted.tokens,
        dropped=len(fitted.dropped),
    )
    return fitted


def target_python(root: Path, explicit: str | None = None) -> str:
    """The target's Python: the interpreter its tests run with (as the sandbox picks it) and the
    version range the project declares."""
    # Imported here: only a context of a real change needs the sandbox package.
    from agent.sandbox.errors import SandboxError
    from agent.sandbox.python import find_python, inspect_python

    parts = []
    try:
        info = inspect_python(find_python(root, explicit))
        where = Path(info.executable)
        try:
            shown = where.relative_to(root.resolve()).as_posix()
        except ValueError:
            shown = str(where)
        parts.append(f"Python {info.version} ({shown})")
    except SandboxError as exc:
        log.debug("target python unknown", reason=str(exc))
    requires = requires_python(root)
    if requires:
        parts.append(f"requires-python {requires}")
    return "; ".join(parts)


def requires_python(root: Path) -> str:
    try:
        data = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError):
        return ""
    value = data.get("project", {}).get("requires-python", "")
    return value if isinstance(value, str) else ""


def _lines(f: ChangedFile) -> list[int]:
    return f.added_lines if f.behaviour_lines is None else f.behaviour_lines


def _judge_behaviour(root: Path, found: Change) -> tuple[list[BehaviourNote], list[ModuleName]]:
    """Mark each changed Python source file cosmetic or not, narrow its changed lines to changed
    behaviour, note what the behaviour change is, and which module-level names the changed code
    uses (tests are left as they are)."""
    git_repo: GitRepo | None = None
    notes: list[BehaviourNote] = []
    names: list[ModuleName] = []
    for f in found.files:
        # A renamed file's old text is under another path: it is not compared.
        if not f.path.endswith(".py") or f.status in ("deleted", "renamed") or is_test_path(f.path):
            continue
        if git_repo is None:
            git_repo = GitRepo(root)
        text = git_repo.read_at(found.new, f.path) if found.new else read_text(root / f.path)
        if text is None:
            continue
        old = git_repo.read_at(found.old, f.path) if f.status == "modified" else None
        judged = behave.compare(old, text, set(f.added_lines))
        f.cosmetic = judged.cosmetic
        f.behaviour_lines = sorted(judged.lines)
        notes += behave.notes(f.path, text, judged)
        names += _names_used(f, text, judged)
    return notes, names


def _names_used(f: ChangedFile, text: str, judged: behave.FileBehaviour) -> list[ModuleName]:
    if judged.cosmetic or not (judged.new or judged.changed):
        return []
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError):
        return []
    defs = behave.definitions(tree)
    nodes = [defs[q] for q in judged.new + judged.changed if q in defs]
    return [
        ModuleName(path=f.path, line=line, source=source)
        for line, source in used_assignments(text, tree, nodes, set(f.added_lines))
    ]


def code_first(patch: str) -> str:
    """The diff with the project's source first, then its tests, then everything else (docs,
    changelogs, configuration): what the model reads first, and what a budget cut keeps."""

    def rank(path: str) -> int:
        if not path.endswith(".py"):
            return 2
        return 1 if is_test_path(path) else 0

    chunks = split_patch(patch)
    if "".join(c for _, c in chunks) != patch:
        return patch  # something beside per-file sections: keep the patch as git wrote it
    ordered = sorted(range(len(chunks)), key=lambda i: (rank(chunks[i][0]), i))
    return "".join(chunks[i][1] for i in ordered)


def resolve_modules(root: Path, requested: list[str], repo_map: RepoMap) -> dict[str, str]:
    """module -> path for each requested dotted name, file or folder (a package means all of
    its modules)."""
    found: dict[str, str] = {}
    resolved_root = root.resolve()
    for item in requested:
        name = item.strip()
        if name.endswith(".py") or "/" in name or "\\" in name:
            path = Path(name)
            full = path if path.is_absolute() else root / path
            try:
                rel = full.resolve().relative_to(resolved_root).as_posix()
            except ValueError:
                raise ContextError(f"{item} is outside the repository {root}") from None
            if not full.exists():
                raise ContextError(f"no such file or folder in the repository: {item}")
            hits = {
                m: p
                for p, m in repo_map.by_path.items()
                if p == rel or (full.is_dir() and (rel == "." or p.startswith(rel + "/")))
            }
            if not hits:
                raise ContextError(
                    f"{item} is not a source module (tests and non-Python files "
                    "cannot be the focus)"
                )
        else:
            hits = {
                m: s.path
                for m, s in repo_map.modules.items()
                if m == name or m.startswith(name + ".")
            }
            if not hits:
                raise ContextError(f"no module named {name!r} in {root}")
        found.update(hits)
    return dict(sorted(found.items(), key=lambda kv: kv[1]))


def _committed_sources(root: Path, head: str, targets: list[Target]) -> dict[str, str]:
    """The changed files as committed in head, when head is not the working tree."""
    git_repo = GitRepo(root)
    sha = git_repo.commit(head)
    texts = {}
    for target in targets:
        if not target.deleted and (text := git_repo.read_at(sha, target.path)) is not None:
            texts[target.path] = text
    return texts


def _summarize_committed(repo_map: RepoMap, texts: dict[str, str], targets: list[Target]) -> None:
    """Show the targets in the repo map as they are in head (new ones included)."""
    known = set(repo_map.modules) | {t.module for t in targets}
    for target in targets:
        text = texts.get(target.path)
        if text is None:
            continue
        summary, imports = summarize(target.module, target.path, text)
        resolve_imports(summary, imports, known)
        repo_map.modules[target.module] = summary
        repo_map.by_path[target.path] = target.module


def _ordered_map(repo_map: RepoMap, focus: set[str]) -> list[ModuleSummary]:
    """Modules in focus first, then their neighbours, then by how much package path they share."""
    neighbours = {i for m in focus if m in repo_map.modules for i in repo_map.modules[m].imports}
    neighbours |= {m for m, s in repo_map.modules.items() if focus.intersection(s.imports)}
    prefixes = [m.split(".") for m in focus]

    def key(summary: ModuleSummary) -> tuple[int, int, str]:
        rank = 0 if summary.module in focus else 1 if summary.module in neighbours else 2
        parts = summary.module.split(".")
        shared = max((shared_prefix(p, parts) for p in prefixes), default=0)
        return rank, -shared, summary.path

    return sorted(repo_map.modules.values(), key=key)
