"""Which modules and seams a pushed range changes that no existing test exercises.

Cheap by design (it runs on every push): one `git diff -U0` of the range, the context's seam
rules on the changed modules only, `git grep` to find the test files that could be about them,
`git cat-file --batch` to read those at the pushed commit, then the static mapping
(`mapping`) plus any coverage evidence earlier runs left under `.itarch/`.
"""

from __future__ import annotations

import ast
import fnmatch
from dataclasses import dataclass, field
from pathlib import Path

from agent.context.seams import Found, Scanner, to_seam
from agent.git import git, lines, read_blobs
from agent.hook.evidence import load_evidence
from agent.hook.existing_tests import read_test
from agent.hook.impact import STATIC_HINT, ChangedFunction, IndexAnswers, changed_functions
from agent.hook.mapping import (
    CallGraphs,
    ChangedModule,
    Gap,
    TestReach,
    event_name,
    find_gaps,
    function_reached,
    reach_of,
    route_of,
)
from agent.hook.refs import PushRange
from agent.index import MODULE
from agent.patch import hunks, split_patch
from agent.schema import Seam
from agent.source.files import ModuleNamer, is_test_path

__all__ = ["ChangedModule", "Gap", "RangeScan", "changed_lines", "scan_range"]


@dataclass
class RangeScan:
    range: PushRange
    modules: list[ChangedModule]
    seams: list[Seam]  # the changed seams, tested or not
    gaps: list[Gap]
    evidence: list[str] = field(default_factory=list)  # what decided "tested", for the user
    functions: list[ChangedFunction] = field(default_factory=list)  # changed behaviour


def scan_range(
    repo: Path, rng: PushRange, watch: list[str], tests_root: str | None = None
) -> RangeScan | None:
    """None when the range changes no Python source module (only tests, docs, other files)."""
    base = rng.base or git(repo, "hash-object", "-t", "tree", "/dev/null")
    touched = {
        path: found
        for path, found in changed_lines(repo, base, rng.head).items()
        if _is_source(path, tests_root) and _watched(path, watch)
    }
    if not touched:
        return None
    namer = ModuleNamer(repo)
    tracked = [
        p for p in lines(git(repo, "ls-tree", "-r", "--name-only", rng.head)) if p.endswith(".py")
    ]
    known = {m for p in tracked if (m := namer(p))}
    test_paths = [p for p in tracked if _is_test(p, tests_root)]
    candidates = [
        ChangedModule(module=m, path=p, lines=frozenset(found))
        for p, found in sorted(touched.items())
        if (m := namer(p))
    ]
    blobs = read_blobs(repo, rng.head, [m.path for m in candidates])
    before = read_blobs(repo, rng.base, [m.path for m in candidates]) if rng.base else {}
    # Only changed behaviour counts: a reformat, a docstring or a version bump needs no test.
    modules: list[ChangedModule] = []
    functions: list[ChangedFunction] = []
    for changed in candidates:
        found = changed_functions(
            changed.path, before.get(changed.path), blobs.get(changed.path, ""), set(changed.lines)
        )
        if found is not None:
            modules.append(changed)
            functions += found
    if not modules:
        return None

    seams: list[Seam] = []
    graphs = CallGraphs()
    for changed in modules:
        try:
            tree = ast.parse(blobs.get(changed.path, ""), filename=changed.path)
        except (SyntaxError, ValueError):
            continue  # a module that does not parse has no seams to speak of
        is_init = changed.path.endswith("__init__.py")
        scan = Scanner(changed.module, changed.path, is_init, known).run(tree)
        seams += [to_seam(scan, f, True) for f in scan.found if _is_changed(f, changed.lines)]
        graphs.trees[changed.path] = tree

    relevant = _mentioning(repo, rng.head, _hints(modules, seams), set(test_paths))
    relevant |= {p for p in test_paths if p.endswith("conftest.py")}
    texts = read_blobs(repo, rng.head, sorted(relevant))
    tests = [facts for p, body in texts.items() if (facts := read_test(p, body)) is not None]
    reach = reach_of(tests)
    evidence = load_evidence(repo, set(test_paths))
    answers = IndexAnswers.open_for(repo)
    if answers is None:
        gaps = find_gaps(modules, seams, reach, graphs, evidence)
        # A new function no test names, nor any function of its module that tests call.
        fresh = [f for f in functions if f.new and f.qualname != MODULE]
        gaps += function_gaps(modules, fresh, None, reach, graphs)
        used = [f"static: imports, names, routes and events in {len(test_paths)} test file(s)"]
        if evidence.runs:
            used.append(f"coverage of {len(evidence.seams)} seam(s) from run {evidence.runs[-1]}")
        used.append(STATIC_HINT)
    else:
        # Execution decides; test files the index has not run yet are read statically.
        unindexed = [t for t in reach if t.facts.path not in answers.test_files]
        gaps = function_gaps(modules, functions, answers, unindexed, graphs)
        used = [answers.describe()]
        if unindexed:
            used.append(f"static for {len(unindexed)} test file(s) the index has not run")
        answers.close()
    return RangeScan(rng, modules, seams, gaps, evidence=used, functions=functions)


def function_gaps(
    modules: list[ChangedModule],
    functions: list[ChangedFunction],
    answers: IndexAnswers | None,
    unindexed: list[TestReach],
    graphs: CallGraphs,
) -> list[Gap]:
    """The changed functions (and module-level statements) no existing test executes: by the
    index, and for the test files it has not run (all of them without one), by reading them."""
    by_path = {m.path: m for m in modules}
    gaps: list[Gap] = []
    for f in functions:
        module = by_path[f.path]
        qualname = None if f.qualname == MODULE else f.qualname
        if (answers is not None and answers.runs(f)) or function_reached(
            module.module, f.path, qualname, unindexed, graphs
        ):
            continue
        why = (
            "changed module-level code; no passing test imports the module"
            if qualname is None
            else f"{'new' if f.new else 'changed'}; no existing test runs it"
        )
        gaps.append(Gap(module.module, f.path, None, why, function=f.qualname, line=f.line))
    return gaps


def changed_lines(repo: Path, base: str, head: str) -> dict[str, set[int]]:
    """path -> lines of `head` that are new, or border a deletion, for files `head` still has."""
    out = git(
        repo,
        "-c",
        "core.quotepath=false",
        "diff",
        "--no-color",
        "--no-ext-diff",
        "--no-textconv",
        "-U0",
        "-M",
        "--diff-filter=d",  # a deleted file has no code left to test
        base,
        head,
    )
    result: dict[str, set[int]] = {}
    for path, chunk in split_patch(out):
        lines: set[int] = set()
        for hunk in hunks(chunk):
            if hunk.new_count:
                lines.update(range(hunk.new_start, hunk.new_start + hunk.new_count))
            else:  # a pure deletion after line `new_start`: the code around it changed
                lines.update({max(hunk.new_start, 1), hunk.new_start + 1})
        if lines:
            result[path] = lines
    return result


def _mentioning(repo: Path, head: str, words: set[str], among: set[str]) -> set[str]:
    """The files of `among` that contain one of `words` at `head`: `git grep` reads the tests so
    that Python parses only the few that could be about this change."""
    if not words or not among:
        return set()
    patterns = [arg for word in sorted(words) for arg in ("-e", word)]
    out = git(repo, "grep", "-l", "-F", "--no-color", *patterns, head, "--", "*.py", check=False)
    prefix = f"{head}:"
    return {p for line in out.splitlines() if (p := line.removeprefix(prefix)) in among}


def _is_source(path: str, tests_root: str | None) -> bool:
    return path.endswith(".py") and not _is_test(path, tests_root)


def _is_test(path: str, tests_root: str | None) -> bool:
    if not path.endswith(".py"):
        return False
    root = (tests_root or "").strip("/")
    return is_test_path(path) or bool(root and path.startswith(root + "/"))


def _watched(path: str, watch: list[str]) -> bool:
    """[tool.itarch.hook] paths: globs or folders; none means every Python file."""
    if not watch:
        return True
    return any(fnmatch.fnmatch(path, p) or path.startswith(p.rstrip("/") + "/") for p in watch)


def _is_changed(found: Found, changed: frozenset[int]) -> bool:
    if found.line in changed:
        return True
    return found.scope is not None and any(found.scope[0] <= n <= found.scope[1] for n in changed)


def _hints(modules: list[ChangedModule], seams: list[Seam]) -> set[str]:
    """Words a test must contain to be about this change; files without any are not parsed."""
    words = {m.module.rpartition(".")[2] for m in modules}
    for seam in seams:
        if seam.symbol:
            words.add(seam.symbol.rpartition(".")[2])
        if (route := route_of(seam)) is not None:
            words.add(route.fixed_prefix)
        if (name := event_name(seam)) is not None:
            words.add(name)
    return {w for w in words if w and w != "/"}
