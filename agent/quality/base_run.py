"""The base run: would a test have failed without the change?

Tests that pass every other gate run once more, in one pytest run, on the base revision's code:
the workspace copy with every file that differs from the base (committed or not) put back as it
was there (files the change added taken out, deleted ones restored; a rename is both), plus the
proposed test files. Tests that failed on the change run too, so a failure the change brought
(the test passes on the base) is told apart from one that was already there.

Per test: `on_base` (failed | passed | error | not_applicable) and `detects_change` (True when it
fails on the base and passes on the change, None without a base). Then the optional gates of
`[tool.itarch] gates` switched off by default: `detects_change` and `kills_mutants`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from agent.context.diff import GitRepo
from agent.context.errors import ContextError
from agent.log import get_logger
from agent.quality.classify import Failure, one_line, worst
from agent.quality.mutation import MutationResult
from agent.quality.sandbox_port import SandboxPort
from agent.quality.work import FileWork, TestWork, file_of
from agent.sandbox.errors import SandboxError
from agent.schema import CollectError, Context, OnBase, Reason, RunResult, TestOutcome

log = get_logger(__name__)

_IMPORT_ERRORS = ("ImportError", "ModuleNotFoundError")


@dataclass
class BaseTree:
    """How the workspace copy becomes the base revision for one run."""

    sha: str
    files: dict[str, str] = field(default_factory=dict)  # path -> content at the base
    remove: list[str] = field(default_factory=list)  # paths the base does not have
    modules: set[str] = field(default_factory=set)  # dotted names of the changed modules
    unreadable: list[str] = field(default_factory=list)  # binary at the base: left as they are


def base_tree(repo: Path, context: Context, keep: set[str]) -> BaseTree:
    """What differs between the working tree and the change's base, read with read-only git.

    The base is the merge base of `context.base` and the head, as the change's diff is.
    `keep` (the proposed test files) is never touched."""
    assert context.base is not None
    g = GitRepo(repo)
    head = g.commit(context.head or "HEAD")
    sha = g.merge_base(g.commit(context.base), head)
    scope = [f"--relative={g.prefix}"] if g.prefix else []
    listing = g.run("diff", "--no-renames", "--name-status", "-z", *scope, sha)
    tree = BaseTree(sha=sha)
    tokens = listing.split("\0")
    for status, path in zip(tokens[0::2], tokens[1::2], strict=False):
        if not path or path in keep:
            continue
        if status.startswith("A"):
            tree.remove.append(path)
            continue
        text = g.read_at(sha, path)
        if text is None:
            tree.unreadable.append(path)
        else:
            tree.files[path] = text
    untracked = g.run("ls-files", "--others", "--exclude-standard", "-z", "--", g.prefix or ".")
    for full in filter(None, untracked.split("\0")):
        rel = full[len(g.prefix) :]
        if rel not in keep:
            tree.remove.append(rel)
    for path in [*tree.files, *tree.remove]:
        if path.endswith(".py"):
            tree.modules.add(_module_name(path))
    tree.modules |= {c.module for c in context.changed if c.module}
    return tree


def _module_name(path: str) -> str:
    parts = path.removesuffix(".py").split("/")
    if parts[-1] == "__init__":
        parts = parts[:-1]
    if parts and parts[0] == "src" and len(parts) > 1:
        parts = parts[1:]
    return ".".join(parts)


# Rejections by coverage alone: a test that fails on the base and passes on the change pins
# the change whatever its trace says (module-level data runs at import, a C extension is never
# traced), so the base run has the last word on these.
_BY_COVERAGE = (Reason.REDUNDANT, Reason.MISSES_CHANGE)


def _selected(works: list[FileWork]) -> list[TestWork]:
    """Accepted and bug tests, tests that ran but failed on the change, and tests rejected by
    coverage alone."""
    chosen = []
    for work in works:
        if not work.runnable:
            continue
        for test in work.tests.values():
            reason = test.failure.reason if test.failure is not None else None
            failed_here = reason in (Reason.FAILS, Reason.ERROR)
            by_coverage = reason in _BY_COVERAGE and not test.skipped
            if (test.alive and not test.skipped) or (
                (failed_here or by_coverage) and test.first is not None
            ):
                chosen.append(test)
    return chosen


def check_base(
    sandbox: SandboxPort,
    works: list[FileWork],
    repo: Path,
    context: Context | None,
) -> float | None:
    """Run the chosen tests on the base and record how each ended; returns the run's seconds."""
    if context is None or not context.base:
        return None
    tests = _selected(works)
    if not tests:
        return None
    paths = {file_of(t.nodeid) for t in tests}
    try:
        tree = base_tree(repo, context, keep={w.path for w in works})
    except ContextError as exc:
        log.warning("no base run: the base revision cannot be read", error=str(exc))
        for test in tests:
            test.base_detail = one_line(f"not run on the base: {exc}")
        return None
    files = dict(tree.files)
    files.update({w.path: w.content for w in works if w.path in paths})
    remove = [p for p in tree.remove if p not in files]
    if tree.unreadable:
        log.warning("base run: binary files keep the change's content", paths=tree.unreadable)
    # Whole files, not node ids: a file that cannot import on the base has no node ids there,
    # and pytest would stop the whole run. Outcomes of the tests not chosen are not read.
    select = sorted(paths)
    try:
        if remove:
            result = sandbox.run(files, select=select, remove=remove)
        else:
            result = sandbox.run(files, select=select)
    except SandboxError as exc:  # e.g. a path the base has as a file is a folder here
        log.warning("no base run: the base revision cannot be laid out", error=str(exc))
        for test in tests:
            test.base_detail = one_line(f"not run on the base: {exc}")
        return None
    grouped = result.by_nodeid()
    for test in tests:
        records = [r for r in grouped.get(test.nodeid, []) if r.run == 0]
        error = next((e for e in result.collect_errors if _covers(e.path, test.nodeid)), None)
        _record(test, worst(records) if records else None, error, result, tree.modules)
    return result.duration


def _record(
    test: TestWork,
    outcome: TestOutcome | None,
    error: CollectError | None,
    run: RunResult,
    modules: set[str],
) -> None:
    accepted = test.alive and not test.bug
    if outcome is None:
        if error is not None:
            on_base: OnBase = "error"
            how = f"cannot run on the base: {_exception(error.exc_type, error.message)}"
            detects = _missing_change(error.exc_type, error.message, error.longrepr, modules)
        else:
            why = run.crashed or ("the run hit its wall clock" if run.timed_out else "no result")
            test.on_base = "not_applicable"
            test.base_detail = one_line(f"did not run on the base: {why}")
            return
    else:
        on_base, how = _ended(outcome, bug=test.bug)
        detects = False
        if on_base == "failed":
            detects = True
        elif on_base == "error":
            detects = _missing_change(outcome.exc_type, outcome.message, outcome.longrepr, modules)
        elif on_base == "not_applicable":
            test.on_base = on_base
            test.base_detail = one_line(how)
            return
    test.on_base = on_base
    if test.failure is not None and test.failure.reason in _BY_COVERAGE:
        judged = test.failure.reason.value
        if on_base == "failed":
            test.failure = None
            test.detects_change = True
            test.base_detail = one_line(
                f"{how}: detects the change (kept although its trace alone said {judged})"
            )
        else:
            test.base_detail = one_line(how)
        return
    if not accepted:
        # failed (or is a bug) on the change: did the change bring the failure?
        if on_base == "passed":
            said = "the change broke this behaviour (a regression, or a defect of the change)"
        elif detects:  # the base cannot even run it: what it tests is new with the change
            said = "what it tests is new with the change, so its failure is the change's too"
        else:
            said = "it fails on the base too, so the failure is not new with the change"
        test.base_detail = one_line(f"{how}: {said}")
        return
    test.detects_change = detects
    if on_base == "passed":
        test.base_detail = "passes on the base too: guards behaviour the change keeps"
    elif detects and on_base == "error":
        test.base_detail = one_line(
            f"{how}: detects the change (what it tests is missing on the base, not an assertion)"
        )
    elif detects:
        test.base_detail = one_line(f"{how}: detects the change")
    else:
        test.base_detail = one_line(
            f"{how}: not counted as detecting the change (neither an assertion nor a name the "
            "change adds)"
        )


def _ended(outcome: TestOutcome, *, bug: bool) -> tuple[OnBase, str]:
    """How one test ended on the base, and a few words on why."""
    if outcome.outcome == "passed" or outcome.outcome == "xpassed":
        return "passed", "passes on the base"
    if outcome.outcome == "xfailed":
        return "failed", f"fails on the base ({_exception(outcome.exc_type, outcome.message)})"
    if outcome.outcome == "skipped":
        return "not_applicable", f"skipped on the base: {outcome.message}"
    if bug and outcome.xfail_strict and not outcome.exc_type:
        return "passed", "passes on the base"  # a strict XPASS: the marked test passed there
    if outcome.outcome == "error":
        return "error", f"errors on the base at {outcome.when}: " + _exception(
            outcome.exc_type, outcome.message
        )
    if outcome.timed_out:
        return "failed", "times out on the base"
    if outcome.assertion:
        return "failed", f"fails on the base on an assertion: {outcome.message}".rstrip(": ")
    return "failed", "fails on the base with " + _exception(outcome.exc_type, outcome.message)


def _exception(exc_type: str | None, message: str) -> str:
    text = f"{exc_type or 'an error'}: {message}" if message else (exc_type or "an error")
    return text[:200]


_NAMED = (
    re.compile(r"No module named '([^']+)'"),
    re.compile(r"cannot import name '[^']+' from '([^']+)'"),
    re.compile(r"module '([^']+)' has no attribute"),
)


_SIGNATURE_ERRORS = (
    "unexpected keyword argument",
    "positional argument",
    "required keyword-only argument",
)


def _missing_change(exc_type: str | None, message: str, longrepr: str, modules: set[str]) -> bool:
    """An error on the base counts as detecting the change only when it is the change's own
    module or name missing there (an ImportError or AttributeError naming a changed module), or
    a call the change's signatures accept and the base's do not (a TypeError about arguments:
    the same call runs on the change, so the signature is what changed)."""
    if exc_type == "TypeError":
        return any(phrase in (message or "") for phrase in _SIGNATURE_ERRORS)
    if exc_type not in (*_IMPORT_ERRORS, "AttributeError"):
        return False
    for text in (message, longrepr):
        for pattern in _NAMED:
            for name in pattern.findall(text or ""):
                if any(m == name or m.startswith(name + ".") for m in modules):
                    return True
    return False


def _covers(error_path: str, nodeid: str) -> bool:
    """A collection error at `error_path` (the file, or a directory's conftest) hits the test."""
    path = file_of(nodeid)
    error_path = error_path.rstrip("/")
    if error_path.endswith("conftest.py"):
        error_path = error_path.rpartition("/")[0]
    return error_path in ("", ".", path) or path.startswith(error_path + "/")


# ---------------------------------------------------------------- mutants and the optional gates


def note_mutants(works: list[FileWork], mutation: MutationResult | None) -> None:
    """Per test: how many mutants of the change there are, and how many it kills."""
    if mutation is None:
        return
    counted = {m.id for m in mutation.counted()}
    if not counted:
        return
    for work in works:
        for test in work.tests.values():
            if test.candidate:
                test.change_mutants = len(counted)
                test.change_mutants_killed = len(set(test.mutants_killed) & counted)


def check_detects_change(works: list[FileWork], *, has_base: bool) -> None:
    """The detects_change gate: reject a test that passes on the base too and kills no mutant of
    the changed lines (it would not notice the change)."""
    if not has_base:
        return
    for test in _candidates(works):
        if test.on_base == "passed" and not test.change_mutants_killed:
            test.fail(
                Failure(
                    Reason.GUARDS_ONLY,
                    "guards only: passes on the base too and kills no mutant of the changed "
                    "lines, so it would not notice the change",
                    "Assert on what the change makes different: a result, state or error "
                    "that is different on the base. A guard is right for a refactor; then "
                    "switch the gate off: `[tool.itarch] gates = { detects_change = false }`.",
                )
            )


def check_kills_mutants(works: list[FileWork]) -> None:
    """The kills_mutants gate: reject a test that kills none of the changed lines' mutants
    (without mutants measured there is nothing to judge by)."""
    for test in _candidates(works):
        if test.change_mutants is not None and not test.change_mutants_killed:
            test.fail(
                Failure(
                    Reason.KILLS_NO_MUTANT,
                    f"kills none of the {test.change_mutants} mutant(s) of the changed lines",
                    "Assert on the exact values the changed lines produce, so that changing "
                    "an operator or a constant there makes the test fail.",
                )
            )


def _candidates(works: list[FileWork]) -> list[TestWork]:
    return [t for w in works for t in w.tests.values() if t.candidate]
