"""`review`: how well the existing tests cover a module's seams, from what they execute.

The existing test files that can reach the modules run once in the sandbox with line tracing;
a seam is tested by the tests that execute it (its own line, or for a route or an entry point
its function's body), never by names. The same runs, repeated, judge the existing tests by the
gates that are cheap and honest to apply to them.
"""

from __future__ import annotations

import ast
import time
from collections.abc import Callable
from pathlib import Path

from agent.config import Settings
from agent.log import get_logger
from agent.quality.existing_runs import ExistingRuns, index_for
from agent.quality.mutation import MAX_MUTANTS
from agent.quality.oracle import conftest_fixture_oracles, oracle_map, shapes_by_test
from agent.review import runs
from agent.review.model import (
    ErrorPath,
    ModuleReview,
    ReviewResult,
    SeamCoverage,
    UntestedFunction,
    WeakTest,
)
from agent.review.scope import ReviewScope, review_scope
from agent.review.static import Function, error_sites, functions, holder
from agent.sandbox import Sandbox, find_python
from agent.sandbox.probe import ensure_suite_collects
from agent.schema import Reason, Seam
from agent.source.files import discover_python_files
from agent.tests_map import imports_of, module_files

log = get_logger(__name__)
Progress = Callable[[str], None]


def review(
    repo: Path,
    *,
    settings: Settings,
    modules: list[str] | None = None,
    mutation: bool = False,
    on_progress: Progress | None = None,
) -> ReviewResult:
    started = time.monotonic()
    say = on_progress or (lambda _text: None)
    scope = review_scope(repo, modules)
    seams = sum(len(s) for s in scope.seams.values())
    say(
        f"{len(scope.modules)} module(s), {seams} seam(s); "
        f"{len(scope.test_files)} existing test file(s) can reach them"
    )
    result = ReviewResult(repo=str(repo), test_files=scope.test_files, mutation=mutation)
    sources = {p: _read(repo / p) for p in scope.modules.values()}
    defs = {p: functions(text) for p, text in sources.items()}
    seen = runs.Observed()
    if scope.test_files:
        python = find_python(repo, settings.python)
        with Sandbox(repo, python, settings.sandbox) as sandbox:
            result.isolation = sandbox.level
            index = index_for(sandbox, repo) if settings.index else None
            existing = ExistingRuns(sandbox, index, discover_python_files(sandbox.workspace)[0])
            say(f"running {len(scope.test_files)} test file(s) with line tracing")
            trace = scope.trace
            seen = runs.first_run(existing, scope.test_files, trace)
            if existing.reused:
                say(
                    f"{existing.reused} test file(s) unchanged since their last run: read from "
                    "the test-impact index, not run again"
                )
            if not seen.order:  # nothing ran: say why when it is the environment's fault
                ensure_suite_collects(sandbox, settings.tests_root or "tests")
            say(f"{len(seen.order)} test(s) ran; {len(seen.passed)} passed")
            if settings.reruns > 0:
                say(f"rerunning them {settings.reruns} time(s): reverse order, then shuffled")
                runs.stability(sandbox, seen, settings.reruns)
                result.reruns = settings.reruns
            else:
                result.skipped.append("flaky and order-dependent tests: reruns = 0")
            runs.side_effects(sandbox, seen, scope.test_files, repo)
            shapes = _static_checks(repo, seen)
            _redundancy(sandbox, seen, shapes, trace)
            if mutation:
                say("running mutants of the tested seams")
                about = owners(seen, repo)
                _mutation(sandbox, seen, scope, defs, about, settings.sandbox.test_timeout)
            else:
                result.skipped.append(
                    "tests that kill none of their seam's mutants: not measured (--mutation)"
                )
    else:
        result.skipped.append("no existing test file imports these modules: nothing ran")
    result.skipped += seen.notes
    result.tests_run = len(seen.order)
    about = owners(seen, repo)
    handlers = _handler_spans(repo, scope, defs)
    for module, path in scope.modules.items():
        entry = _module_review(
            module, path, scope.seams.get(path, []), defs[path], seen, about, handlers
        )
        if entry.seams or entry.untested_functions or entry.tests:
            result.modules.append(entry)
    result.seconds = round(time.monotonic() - started, 2)
    return result


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return ""


# ---------------------------------------------------------------- seams and lines


def seam_span(seam: Seam, found: list[Function]) -> tuple[Function | None, set[int]]:
    """The function holding a seam, and the lines whose execution means the seam ran: the
    seam's own line for a call inside a function; for a route, a command or a handler declared
    by a decorator, the lines of the function it declares."""
    func = holder(found, seam.line)
    if func is None:
        return None, set()
    if seam.line < func.body:
        return func, set(func.lines) or set(range(func.body, func.end + 1))
    return func, {seam.line}


def _handler_spans(
    repo: Path, scope: ReviewScope, defs: dict[str, list[Function]]
) -> dict[str, list[tuple[str, Function]]]:
    """Per module-level registration, the functions it registers (a class: its methods)."""
    found: dict[str, list[tuple[str, Function]]] = {}
    for seam_id, targets in scope.handlers.items():
        for path, qualname in targets:
            if path not in defs:
                defs[path] = functions(_read(repo / path))
            hits = [f for f in defs[path] if f.qualname == qualname]
            hits = hits or [f for f in defs[path] if f.qualname.startswith(qualname + ".")]
            found.setdefault(seam_id, []).extend((path, f) for f in hits)
    return found


def _executes(lines: dict[str, set[int]], path: str, span: set[int]) -> bool:
    hit = lines.get(path)
    if not hit:
        return False
    return bool(hit & span) if span else True  # a module-level seam: any use of the module


def _module_review(
    module: str,
    path: str,
    seams: list[Seam],
    found: list[Function],
    seen: runs.Observed,
    about: dict[str, set[str]],
    handlers: dict[str, list[tuple[str, Function]]],
) -> ModuleReview:
    passed = seen.passed
    touching = [n for n in seen.order if seen.lines.get(n, {}).get(path)]
    executed: set[int] = set().union(*(seen.lines[n].get(path, set()) for n in seen.order))
    entry = ModuleReview(module=module, path=path, tests=touching)
    holders: dict[str, list[str]] = {}
    ranked: list[tuple[int, int, str]] = []
    for seam in seams:
        func, span = seam_span(seam, found)
        size = func.size if func else 1
        if func is None and seam.id in handlers:  # a registration: it runs when its handler does
            tests = [
                n
                for n in passed
                if any(seen.lines[n].get(p, set()) & f.lines for p, f in handlers[seam.id])
            ]
            size = sum(f.size for _, f in handlers[seam.id])
        else:
            tests = [n for n in passed if _executes(seen.lines[n], path, span)]
        entry.seams.append(
            SeamCoverage(
                id=seam.id,
                kind=seam.kind,
                detail=seam.detail,
                symbol=seam.symbol,
                line=seam.line,
                lines=size,
                tests=tests,
            )
        )
        if not tests:
            ranked.append((-size, seam.line, seam.id))
        if func is not None:
            holders.setdefault(func.qualname, []).append(seam.id)
    entry.untested_seams = [seam_id for _, _, seam_id in sorted(ranked)]
    entry.untested_functions = sorted(
        (
            UntestedFunction(name=f.qualname, line=f.first, lines=f.size)
            for f in found
            if f.public and not f.stub and not f.lines & executed
        ),
        key=lambda u: (-u.lines, u.line),
    )
    by_name = {f.qualname: f for f in found}
    for qualname, seam_ids in holders.items():
        for site in error_sites(by_name[qualname]):
            if site.line not in executed:
                entry.untested_error_paths.append(
                    ErrorPath(
                        id=f"{site.kind}:{path}:{site.line}",
                        kind=site.kind,
                        path=path,
                        line=site.line,
                        detail=site.detail,
                        function=qualname,
                        seams=seam_ids,
                    )
                )
    entry.untested_error_paths.sort(key=lambda e: e.line)
    entry.weak_tests = [
        WeakTest(nodeid=n, reason=reason, detail=detail)
        for n in seen.order
        if path in about.get(n, set())
        for reason, detail in seen.weak.get(n, {}).items()
    ]
    return entry


def owners(seen: runs.Observed, repo: Path) -> dict[str, set[str]]:
    """Per test, the module files it is about: those it executes that its file imports itself;
    when its file imports none of them, every module it executes; when it executed none (it
    failed before reaching them), the ones its file imports."""
    imported: dict[str, set[str]] = {}
    found: dict[str, set[str]] = {}
    for nodeid in seen.order:
        path = nodeid.split("::", 1)[0]
        if path not in imported:
            imported[path] = module_files(repo, imports_of(repo / path))
        ran = {p for p, lines in seen.lines.get(nodeid, {}).items() if lines}
        found[nodeid] = (ran & imported[path]) or ran or imported[path]
    return found


# ---------------------------------------------------------------- static judgements


def _static_checks(repo: Path, seen: runs.Observed) -> dict[str, frozenset[str]]:
    """No assertions (read from the test's AST, helpers and fixtures included), and redundancy:
    two tests of different functions that execute the same lines and check the same things.
    A test collected again in another module (its class imported there, or a method inherited
    by a subclass) is the same code: it is judged where it is written."""
    by_file: dict[str, list[str]] = {}
    for nodeid in seen.order:
        by_file.setdefault(nodeid.split("::", 1)[0], []).append(nodeid)
    shapes: dict[str, frozenset[str]] = {}
    for path, nodeids in by_file.items():
        try:
            tree = ast.parse((repo / path).read_text(encoding="utf-8"))
        except (OSError, SyntaxError, ValueError, UnicodeDecodeError):
            continue
        oracles = oracle_map(tree, conftest_fixture_oracles(repo, path))
        file_shapes = shapes_by_test(tree)
        for nodeid in nodeids:
            qualname = nodeid.split("::", 1)[-1].split("[", 1)[0]
            if seen.first[nodeid].outcome == "skipped":
                continue
            if not oracles.get(qualname, True):
                seen.flag(
                    nodeid,
                    Reason.NO_ASSERTIONS,
                    "checks nothing: no assert, pytest.raises/warns or assert_* call in the test "
                    "or the helpers and fixtures it uses",
                )
            if qualname in file_shapes:  # not a class imported or a method inherited here
                shapes[nodeid] = frozenset(file_shapes[qualname])
    return shapes


Lines = frozenset[tuple[str, frozenset[int]]]
_MAX_WARM = 200  # tests rerun to compare warm executions


def _lines_key(lines: dict[str, set[int]]) -> Lines:
    return frozenset((p, frozenset(ls)) for p, ls in lines.items() if ls)


def _redundancy(
    sandbox: Sandbox, seen: runs.Observed, shapes: dict[str, frozenset[str]], trace: list[str]
) -> None:
    """A test is redundant when an earlier test of another function executes the same lines
    and checks the same things. The first test to run some code also runs its one-time set-up
    (a cache filled, an app's first request), so tests that check the same things and differ
    only a little in their lines are run once more, twice each, and compared warm."""
    by_shape: dict[frozenset[str], list[str]] = {}
    for nodeid in seen.passed:
        if nodeid in shapes and _lines_key(seen.lines.get(nodeid, {})):
            by_shape.setdefault(shapes[nodeid], []).append(nodeid)
    close: list[list[str]] = []
    for group in by_shape.values():
        if len({_function(n) for n in group}) > 1:
            _repeats(seen, group, {n: _lines_key(seen.lines[n]) for n in group}, "")
            close.append([n for n in group if not _near_none(n, group, seen)])
    warm = [n for group in close for n in group][:_MAX_WARM]
    if len(warm) < 2:
        return
    result = sandbox.run({}, select=warm, reruns=1, trace=trace or None)
    again: dict[str, Lines] = {}
    for outcome in result.outcomes:
        if outcome.run == 1 and outcome.outcome == "passed":
            again[outcome.nodeid] = _lines_key({p: set(ls) for p, ls in outcome.lines.items()})
    for group in close:
        ran = [n for n in group if n in again]
        _repeats(seen, ran, again, " (compared on a second run of each)")


def _function(nodeid: str) -> str:
    return nodeid.split("[", 1)[0]


def _repeats(seen: runs.Observed, group: list[str], lines: dict[str, Lines], how: str) -> None:
    first_of: dict[Lines, str] = {}
    for nodeid in group:
        key = lines[nodeid]
        earlier = first_of.setdefault(key, nodeid)
        if earlier != nodeid and _function(earlier) != _function(nodeid):
            seen.flag(
                nodeid,
                Reason.REDUNDANT,
                f"repeats {earlier}: it executes the same lines and checks the same things{how}",
            )


def _near_none(nodeid: str, group: list[str], seen: runs.Observed) -> bool:
    """No test of another function in the group executes nearly the same lines (at most a
    tenth more or fewer, all within the larger set)."""
    mine = _lines_key(seen.lines[nodeid])
    flat = {(p, n) for p, ls in mine for n in ls}
    for other in group:
        if _function(other) == _function(nodeid) or other not in seen.lines:
            continue
        theirs = {(p, n) for p, ls in _lines_key(seen.lines[other]) for n in ls}
        small, big = sorted((flat, theirs), key=len)
        if small <= big and len(big) - len(small) <= max(3, len(big) // 10):
            return False
    return True


# ---------------------------------------------------------------- mutation


def _mutation(
    sandbox: Sandbox,
    seen: runs.Observed,
    scope: ReviewScope,
    defs: dict[str, list[Function]],
    about: dict[str, set[str]],
    per_test_limit: float,
) -> None:
    """Tests that execute seams of the modules they are about but kill none of the mutants of
    those seams' functions they were run against (a seam a test only passes through on its way,
    such as the app factory every HTTP test runs, does not count against it)."""
    spans: dict[str, tuple[str, set[int]]] = {}
    executes: dict[str, list[str]] = {}
    for path, seams in scope.seams.items():
        executed = set().union(*(seen.lines[n].get(path, set()) for n in seen.passed))
        for seam in seams:
            func, span = seam_span(seam, defs[path])
            if func is None:
                continue
            spans[seam.id] = (path, (set(func.lines) or span) & executed)
            executes[seam.id] = [
                n
                for n in seen.passed
                if path in about.get(n, set()) and _executes(seen.lines[n], path, span)
            ]
    found = runs.mutate_seams(sandbox, seen, spans, MAX_MUTANTS, per_test_limit)
    result = found.result
    if result is None or (result.attempted and not result.applied):
        seen.notes.append("mutation: no mutant could be run against the existing tests")
        return
    # Per test, over every seam it executes: the mutants it was run against and those it killed.
    ran: dict[str, set[str]] = {}
    killed: dict[str, set[str]] = {}
    for seam_id, tests in executes.items():
        mutants = [m for m in found.of_seam.get(seam_id, []) if m in result.applied]
        for nodeid in tests:
            function = nodeid.split("[", 1)[0]
            for m in mutants:
                if not any(t.split("[", 1)[0] == function for t in found.tests_for.get(m, [])):
                    continue
                ran.setdefault(nodeid, set()).add(m)
                if any(k.split("[", 1)[0] == function for k in result.killed_by.get(m, set())):
                    killed.setdefault(nodeid, set()).add(m)
    seams_of = {m: s for s, ms in found.of_seam.items() for m in ms}
    for nodeid, tried in ran.items():
        if killed.get(nodeid):
            continue
        names = sorted({seams_of[m] for m in tried if m in seams_of})
        more = f" and {len(names) - 2} more" if len(names) > 2 else ""
        seen.flag(
            nodeid,
            Reason.KILLS_NO_MUTANT,
            f"executes {', '.join(names[:2])}{more} but kills none of the {len(tried)} "
            "mutant(s) of that code it was run against",
        )
