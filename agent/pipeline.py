"""The core's two operations, shared by every entry point (CLI, hook, PR bot, MCP server).

`generate`: context → loop (model, sandbox, gates) → report → accepted new files written.
`check`: given test files → sandbox → gates → verdicts, no model.
"""

from __future__ import annotations

import errno
import os
import secrets
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path, PurePosixPath
from typing import Any

from agent.config import Settings
from agent.context import RepoTools, build_context, render_context
from agent.context.conventions import detect_tests_root, pytest_config
from agent.errors import UserError
from agent.fs import real_within
from agent.index import index_path, open_index
from agent.journal import Journal, scratch_dir
from agent.log import get_logger
from agent.loop import Loop, LoopState
from agent.models.base import Model
from agent.prompts import system_prompt
from agent.quality import Judge
from agent.quality.index_build import IndexSummary, build_index
from agent.resume import run_settings, state_from_journal
from agent.reuse import earlier_run, remember, run_key
from agent.sandbox import Sandbox, find_python
from agent.sandbox.isolation import choose_level
from agent.sandbox.probe import ensure_suite_collects
from agent.schema import (
    AcceptedFile,
    CheckResult,
    Context,
    IsolationLevel,
    ProposedFile,
    Report,
    Usage,
)
from agent.source.files import discover_python_files, is_test_path
from agent.tools import ToolBox

log = get_logger(__name__)
Progress = Callable[[str], None]


class UsageError(UserError):
    """Something the user asked for cannot be done as asked; the message says what to change."""


class Interrupted(Exception):
    """Ctrl-C during a run: the journal has everything; the message says how to resume."""

    def __init__(self, run_id: str) -> None:
        super().__init__(f"interrupted; continue with: itarch generate --resume {run_id}")
        self.run_id = run_id


# Files whose change alone never needs a test.
_DOC_SUFFIXES = frozenset({".md", ".rst", ".txt", ".adoc"})
_DOC_NAMES = frozenset({"LICENSE", "LICENCE", "AUTHORS", "CHANGES", "CHANGELOG", "NEWS", "NOTICE"})


def trivial_change(ctx: Context) -> str:
    """Why the change needs no tests ("" when it may): only formatting, comments, docstrings,
    release metadata (`__version__ = ...`) or documentation changed."""
    kinds: set[str] = set()
    for c in ctx.changed:
        pure = PurePosixPath(c.path)
        if c.path.endswith(".py"):
            if c.status in ("deleted", "renamed") or is_test_path(c.path):
                return ""
            if c.cosmetic:
                kinds.add("formatting, comments or docstrings")
            elif c.behaviour_lines == []:
                kinds.add("release metadata, formatting, comments or docstrings")
            else:
                return ""
        elif pure.suffix.lower() in _DOC_SUFFIXES or pure.stem.upper() in _DOC_NAMES:
            kinds.add("documentation")
        else:
            return ""
    return f"the change is only {' and '.join(sorted(kinds))}" if kinds else ""


def task_message(ctx: Context) -> str:
    scope = f"the change from `{ctx.base}` to the working tree" if ctx.base else "these modules"
    return (
        f"Write integration tests for {scope}. New files go under `{ctx.conventions.tests_root}/` "
        "(never over an existing file). Read what you need, then call `propose_tests`; repair "
        "from the verdicts; call `finish` when the tests are accepted or documented as bugs."
    )


def generate(
    repo: Path,
    *,
    settings: Settings,
    model: Model,
    base: str | None = None,
    head: str = "HEAD",
    modules: list[str] | None = None,
    write: bool = True,
    patch: Path | None = None,
    on_progress: Progress | None = None,
    resume: str | None = None,
    task: str | None = None,
) -> Report:
    """Run the loop and write what it accepted. `resume` ("" = the newest run) continues a run;
    `task` adds to the first message what to write tests for (e.g. the gaps a review found)."""
    started = time.monotonic()
    journal: Journal | None = None
    state: LoopState | None = None
    try:
        if resume is not None:
            journal = Journal.open(repo, resume or None)
            journal.claim()  # one process per run: a second `--resume` of it is refused
            recorded = run_settings(journal)
            base, head = recorded["base"], recorded.get("head", "HEAD")
            modules = recorded["modules"]
            state = state_from_journal(journal)
        ctx = _context(repo, settings, base=base, head=head, modules=modules)
        if base and not ctx.changed:
            raise UsageError(f"nothing changed between {base} and the working tree")
        if base and state is None and (why := trivial_change(ctx)):
            log.info("trivial change: no model run", why=why)
            return Report(
                run_id="",
                repo=str(repo),
                base=base,
                model=model.name,
                model_source=_source_of(model),
                isolation=choose_level(settings.sandbox.isolation),
                stopped_by="trivial_change",
                wall_seconds=round(time.monotonic() - started, 2),
                message=f"nothing to test: {why}",
            )
        python = find_python(repo, settings.python)
        key = run_key(render_context(_unmeasured(ctx)), task or "", model.name, settings)
        if journal is None:
            if settings.reuse and (earlier := earlier_run(repo, key)) is not None:
                return _reused(repo, earlier, started, write=write, patch=patch)
            journal = Journal.create(repo)
            journal.claim()
            journal.append("run_started", base=base, head=head, modules=modules, model=model.name)
            remember(journal, key)
        with Sandbox(repo, python, settings.sandbox) as sandbox:
            ensure_suite_collects(sandbox, ctx.conventions.tests_root)  # before any model turn
            judge = Judge(sandbox, settings, context=ctx, tests_root=ctx.conventions.tests_root)
            sent = min(settings.context_tokens, ctx.tokens or settings.context_tokens)
            smaller = max(1, sent // 2)  # a prompt too long is asked again with half the context
            loop = Loop(
                model=model,
                judge=judge,
                tools=ToolBox(RepoTools(repo, base)),
                journal=journal,
                system=system_prompt(),
                budget=settings.budget,
                max_tokens=settings.max_tokens,
                on_progress=on_progress,
                shrink_context=lambda: _context_block(
                    _context(repo, settings, base=base, head=head, modules=modules, tokens=smaller)
                ),
            )
            if state is None:
                state = LoopState()
                ask = task_message(ctx) + (f"\n\n{task}" if task else "")
                first = [_context_block(ctx), {"type": "text", "text": ask}]
                loop.add(state, "user", first)
            state = loop.run(state)
            level = sandbox.level
        report = _report(journal.run_id, repo, base, model, level, state, started)
        if write:
            for accepted in report.accepted:
                accepted.written = write_new_file(repo, accepted)
        if patch is not None:
            patch.write_text(new_files_patch(report.accepted), encoding="utf-8")
        journal.append("report", report=report)
        return report
    except KeyboardInterrupt:
        if journal is None or not journal.claimed:
            raise
        journal.append("interrupted")
        raise Interrupted(journal.run_id) from None
    finally:
        if journal is not None:
            journal.release()


def _unmeasured(ctx: Context) -> Context:
    """The context without what the test-impact index measured (which existing tests run the
    change, which fail) and what the budget trimmed because of it: a run fills the index, so the
    next run of the same change would otherwise never find the same context again."""
    measured = {"existing_tests": [], "tests_by_execution": False, "failing_tests": []}
    return ctx.model_copy(update={**measured, "dropped": []})


def _reused(
    repo: Path, earlier: Report, started: float, *, write: bool, patch: Path | None
) -> Report:
    """The earlier run's kept tests, written again where they are missing; nothing is paid."""
    log.info("reusing an earlier run", run=earlier.run_id)
    report = earlier.model_copy(
        update={
            "reused_from": earlier.run_id,
            "iterations": 0,
            "usage": Usage(),
            "cost_usd": Decimal(0),
            "wall_seconds": round(time.monotonic() - started, 2),
            "message": f"reused the tests kept by run {earlier.run_id} (same change, context "
            "and settings): no model run",
            "accepted": [a.model_copy(update={"written": False}) for a in earlier.accepted],
        }
    )
    if write:
        for accepted in report.accepted:
            accepted.written = write_new_file(repo, accepted)
    if patch is not None:
        patch.write_text(new_files_patch(report.accepted), encoding="utf-8")
    return report


def _report(
    run_id: str,
    repo: Path,
    base: str | None,
    model: Model,
    level: IsolationLevel,
    state: LoopState,
    started: float,
) -> Report:
    return Report(
        run_id=run_id,
        repo=str(repo),
        base=base,
        model=model.name,
        model_source=_source_of(model),
        isolation=level,
        iterations=state.iterations,
        rounds=state.rounds,
        stopped_by=state.stopped_by or "finish",
        accepted=list(state.accepted.values()),
        verdicts=list(state.verdicts.values()),
        usage=state.usage,
        cost_usd=state.cost,
        wall_seconds=round(time.monotonic() - started, 2),
        message=state.message,
    )


def _context(
    repo: Path,
    settings: Settings,
    *,
    base: str | None,
    head: str = "HEAD",
    modules: list[str] | None = None,
    tokens: int | None = None,
) -> Context:
    return build_context(
        repo,
        base=base,
        head=head,
        modules=modules,
        budget_tokens=tokens or settings.context_tokens,
        tests_root=settings.tests_root,
        python=settings.python,
    )


def _context_block(ctx: Context) -> dict[str, Any]:
    return {"type": "text", "text": render_context(ctx)}


def check(
    repo: Path,
    paths: list[str],
    *,
    settings: Settings,
    base: str | None = None,
) -> CheckResult:
    """Judge test files already in the user's tree (written by a person or by Claude Code)."""
    files = []
    for raw in paths:
        path = Path(raw)
        full = path if path.is_absolute() else (Path.cwd() / path)
        if not full.is_file():
            raise UsageError(f"no such test file: {raw}")
        try:
            rel = full.resolve().relative_to(repo.resolve()).as_posix()
        except ValueError:
            raise UsageError(f"{raw} is not inside the repository {repo}") from None
        try:
            content = full.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            raise UsageError(f"{raw} is not UTF-8 text") from None
        files.append(ProposedFile(path=rel, content=content))
    ctx = _context(repo, settings, base=base)
    python = find_python(repo, settings.python)
    with Sandbox(repo, python, settings.sandbox) as sandbox:
        judged = [f.path for f in files]
        ensure_suite_collects(sandbox, ctx.conventions.tests_root, judged=judged)
        judge = Judge(
            sandbox,
            settings,
            context=ctx if base else None,
            tests_root=ctx.conventions.tests_root,
            existing_ok=True,
        )
        return judge.check(files)


def index(
    repo: Path, *, settings: Settings, on_progress: Callable[[str], None] = lambda _: None
) -> IndexSummary:
    """Run the existing suite once and record what each test executes (`.itarch/index.db`)."""
    python = find_python(repo, settings.python)
    with Sandbox(repo, python, settings.sandbox) as sandbox:
        store = open_index(repo, sandbox.workspace)
        if store is None:
            raise UsageError(f"cannot write the test-impact index {index_path(repo)}")
        ensure_suite_collects(sandbox, _tests_root(repo, settings), judged=[])
        return build_index(
            sandbox, store, path=str(index_path(repo).relative_to(repo)), on_progress=on_progress
        )


def _tests_root(repo: Path, settings: Settings) -> str:
    if settings.tests_root:
        return settings.tests_root
    _, testpaths = pytest_config(repo)
    return detect_tests_root(repo, discover_python_files(repo)[1], testpaths)


def write_new_file(repo: Path, accepted: AcceptedFile) -> bool:
    """Write a new file whole or not at all, never over an existing file nor outside `repo`.

    The content is written to a scratch file under `.itarch/` (ignored by git) and linked into
    place, so even a kill -9 leaves the complete file or none, and no stray file in the tree.
    """
    target = repo / accepted.path
    pure = PurePosixPath(accepted.path)
    real_repo = Path(os.path.realpath(repo))
    if pure.is_absolute() or ".." in pure.parts or not real_within(target.parent, real_repo):
        log.warning("not writing outside the repository", path=accepted.path)
        return False
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            _link_new(accepted.content, target, scratch_dir(repo))
        except OSError as exc:
            if exc.errno != errno.EXDEV:
                raise
            _link_new(accepted.content, target, target.parent)  # .itarch/ is on another device
    except FileExistsError:
        log.warning("not overwriting an existing file", path=accepted.path)
        return False
    except OSError as exc:
        log.warning("could not write an accepted file", path=accepted.path, error=str(exc))
        return False
    return True


def _link_new(content: str, target: Path, scratch: Path) -> None:
    tmp = scratch / f".itarch-{secrets.token_hex(8)}.tmp"
    # 0o666 less the umask: the file gets the permissions any new file of the user's would.
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(content)
            out.flush()
            os.fsync(out.fileno())
        os.link(tmp, target)  # fails if the file exists: never overwrites
    finally:
        os.unlink(tmp)


def new_files_patch(files: list[AcceptedFile]) -> str:
    """A `git apply`-able patch that adds the accepted files."""
    out = []
    for f in files:
        lines = f.content.splitlines()
        out += [
            f"diff --git a/{f.path} b/{f.path}",
            "new file mode 100644",
            "--- /dev/null",
            f"+++ b/{f.path}",
            f"@@ -0,0 +1,{len(lines)} @@",
            *(f"+{line}" for line in lines),
        ]
    return "\n".join(out) + ("\n" if out else "")


def _source_of(model: Model) -> str:
    kind = type(model).__name__
    return {"ScriptedModel": "scripted", "FunctionModel": "function", "ReplayModel": "replay"}.get(
        kind, "anthropic"
    )
