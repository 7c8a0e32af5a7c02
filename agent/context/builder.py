"""Build the context for a change (or for named modules): diff, seams, repo map, existing tests
and conventions, fitted to a token budget."""

from __future__ import annotations

from pathlib import Path

from agent.context.budget import fit_to_budget, shared_prefix
from agent.context.conventions import find_conventions
from agent.context.diff import GitRepo, change, split_patch
from agent.context.errors import ContextError
from agent.context.files import ModuleNamer, discover_python_files, is_test_path
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
from agent.schema import ChangedFile, Context, ModuleSummary

__all__ = ["build_context", "render_context"]

log = get_logger(__name__)

MAX_EXISTING_TESTS = 40


def build_context(
    repo: Path,
    *,
    base: str | None = None,
    head: str = "HEAD",
    modules: list[str] | None = None,
    budget_tokens: int = 60_000,
    tests_root: str | None = None,
) -> Context:
    """What the model needs to know about a change.

    Without `modules`, the change is base..head (plus uncommitted work when head is "HEAD").
    With `modules` (dotted names or file paths) and no base, those modules are the focus and
    there is no diff; with both, the diff is narrowed to those modules."""
    root = Path(repo)
    if not root.is_dir():
        raise ContextError(f"{root} is not a directory")
    diff_text, changed, uncommitted = "", list[ChangedFile](), False
    if base is not None or not modules:
        found = change(root, base, head)
        diff_text, changed, uncommitted = found.patch, found.files, found.uncommitted

    sources, tests = discover_python_files(root)
    namer = ModuleNamer(root)
    repo_map = build_repo_map(root, sources, tests, namer)

    if modules:
        focus = resolve_modules(root, modules, repo_map)
        changed = [f for f in changed if f.path in focus.values()]
        diff_text = "".join(c for path, c in split_patch(diff_text) if path in focus.values())
        by_path = {f.path: f for f in changed}
        targets = [
            Target(m, p, set(by_path[p].added_lines) if p in by_path else None)
            for m, p in focus.items()
        ]
    else:
        targets = [
            Target(f.module, f.path, set(f.added_lines), deleted=f.status == "deleted")
            for f in changed
            if f.module and f.path.endswith(".py") and not is_test_path(f.path)
        ]
    committed = _committed_sources(root, head, targets) if head != "HEAD" else {}
    _summarize_committed(repo_map, committed, targets)

    seams = find_seams(repo_map, targets, committed)
    target_modules = [t.module for t in targets]
    wanted = TargetModules(modules={t.module: t.path for t in targets})
    for module in target_modules:
        for package, names in reexports(repo_map, module).items():
            wanted.reexports.setdefault(package, set()).update(names)
    known = set(repo_map.modules) | set(wanted.modules)
    existing = find_existing_tests(root, tests, wanted, known, namer)
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
        modules=target_modules,
        repo_map=_ordered_map(repo_map, set(target_modules)),
        seams=seams,
        existing_tests=existing,
        conventions=find_conventions(root, tests, tests_root),
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
