"""What tests leave behind: files written in the repository, processes still running, and state
that breaks the existing tests run after them. Blame goes to single tests by re-running them
alone, and only when there is something to pin down."""

from __future__ import annotations

import ast
from pathlib import Path, PurePosixPath

from agent import git
from agent.log import get_logger
from agent.quality.baseline import FileBaseline
from agent.quality.classify import Failure, one_line
from agent.quality.sandbox_port import SandboxPort
from agent.quality.work import FileWork, TestWork, rank
from agent.schema import Reason, RunResult, TestOutcome

log = get_logger(__name__)

_ALLOWED_WRITE_DIRS = {"tmp", "temp", ".tmp", "fixtures"}
_MAX_ATTRIBUTION_RUNS = 8


def check_side_effects(
    sandbox: SandboxPort,
    works: list[FileWork],
    first: RunResult,
    reran: RunResult | None,
    baselines: dict[str, FileBaseline],
    repo: Path | None = None,
) -> None:
    known = set().union(*(b.changed_paths for b in baselines.values()))
    own = AppWrites(repo, sandbox.workspace, known, works)
    known_procs = max((b.leftover_processes for b in baselines.values()), default=0)
    writes = set(own.of(first))
    procs = max(0, first.leftover_processes - known_procs)
    # The rerun run holds only new tests: what it left behind is theirs for certain. The first
    # run also ran existing tests, whose own leftovers may come and go.
    certain = reran is not None and bool(own.of(reran) or reran.leftover_processes)
    if reran is not None:
        writes |= set(own.of(reran))
        procs = max(procs, reran.leftover_processes)
    if _left_running(works, [first, reran]):
        procs = 0  # the processes left behind are accounted for, test by test
    if not writes and not procs:
        return
    suspects = [
        (w, t)
        for w in works
        for t in w.tests.values()
        if t.first is not None
        and (t.failure is None or rank(t.failure.reason) > rank(Reason.SIDE_EFFECT))
    ]
    blamed: list[tuple[TestWork, list[str], int]] = []
    if len(suspects) == 1 and certain:
        blamed.append((suspects[0][1], sorted(writes), procs))
    elif suspects:
        blamed = _blame_alone(sandbox, suspects, own)
        if not blamed and certain:  # only together: every test that ran shares the blame
            blamed = [(t, sorted(writes), procs) for _, t in suspects]
        elif not blamed:
            log.info("side effect not reproduced by any new test alone", paths=sorted(writes))
    for test, paths, count in blamed:
        test.fail(_side_effect_failure(paths, count))


def _blame_alone(
    sandbox: SandboxPort, suspects: list[tuple[FileWork, TestWork]], own: AppWrites
) -> list[tuple[TestWork, list[str], int]]:
    """Run each test function alone (all its parametrized cases together), then, for one that
    leaves something behind, its first case alone: when that does it too, the function's body
    is the cause and every case gets the verdict; otherwise its cases are tried one by one."""
    families: dict[str, list[tuple[FileWork, TestWork]]] = {}
    for work, test in suspects:
        families.setdefault(test.nodeid.split("[", 1)[0], []).append((work, test))
    budget = _MAX_ATTRIBUTION_RUNS
    blamed: list[tuple[TestWork, list[str], int]] = []

    def alone(work: FileWork, tests: list[TestWork]) -> tuple[list[str], int] | None:
        nonlocal budget
        budget -= 1
        run = sandbox.run({work.path: work.content}, select=[t.nodeid for t in tests])
        mine = own.of(run)
        return (mine, run.leftover_processes) if mine or run.leftover_processes else None

    for cases in families.values():
        if budget <= 0:
            break
        work = cases[0][0]
        tests = [t for _, t in cases]
        found = alone(work, tests)
        if found is None:
            continue
        if len(tests) == 1 or budget <= 0:
            blamed += [(t, *found) for t in tests]
            continue
        first = alone(work, tests[:1])
        if first is not None:  # the body: every case does it
            blamed += [(t, *first) for t in tests]
            continue
        for test in tests[1:]:
            if budget <= 0:
                break
            if (one := alone(work, [test])) is not None:
                blamed.append((test, *one))
    return blamed


def _left_running(works: list[FileWork], runs: list[RunResult | None]) -> bool:
    """Blame the new tests whose own body started processes that outlived their teardown,
    whatever became of their parent. True when there was any."""
    left: dict[str, int] = {}
    for run in runs:
        for outcome in run.outcomes if run is not None else []:
            if outcome.leftover:
                left[outcome.nodeid] = max(left.get(outcome.nodeid, 0), outcome.leftover)
    found = False
    for work in works:
        for test in work.tests.values():
            if left.get(test.nodeid):
                test.fail(_side_effect_failure([], left[test.nodeid]))
                found = True
    return found


def check_pollution(sandbox: SandboxPort, works: list[FileWork], broken: list[TestOutcome]) -> None:
    """Existing tests that passed alone but failed after the new files: find who broke them."""
    if not broken:
        return
    broken_ids = [o.nodeid for o in broken]
    suspects = [(w, t) for w in works for t in w.tests.values() if t.first is not None and t.alive]
    blamed: list[tuple[TestWork, TestOutcome]] = []
    if len(suspects) == 1:
        blamed.append((suspects[0][1], broken[0]))
    else:
        for work, test in suspects[:_MAX_ATTRIBUTION_RUNS]:
            pair = sandbox.run({work.path: work.content}, select=[test.nodeid, *broken_ids])
            hit = [
                o
                for o in pair.outcomes
                if o.nodeid in broken_ids and o.outcome in ("failed", "error")
            ]
            if hit:
                blamed.append((test, hit[0]))
        if not blamed:  # no new test breaks it on its own: the existing test may be flaky
            log.info("existing test failure not reproduced", tests=broken_ids)
    for test, victim in blamed:
        test.fail(
            Failure(
                Reason.ORDER_DEPENDENT,
                one_line(
                    f"breaks the existing test {victim.nodeid} when run before it "
                    f"(leaves state behind): {victim.message}"
                ),
                "Undo every change to shared state (module globals, singletons, env, cwd, "
                "registries) in teardown, or use fixtures such as monkeypatch.\n"
                + victim.longrepr[-1000:],
            )
        )


class AppWrites:
    """Which writes in a run are the tests' side effects, and which the project's own.

    Not a test's side effect: a path the existing suite's run writes too (or one inside a
    directory that run creates), and a path git ignores in the user's repository that the
    code under test makes as it runs (Flask's `instance/`, a cache or log directory), when the
    new test files never name it and it is not in a package's sources. Writes to tracked
    files, into packages, or to ignored paths the new tests name themselves still count.
    """

    def __init__(
        self, repo: Path | None, workspace: Path, known: set[str], works: list[FileWork]
    ) -> None:
        self.repo = repo
        self.workspace = workspace
        self.known = {p.rstrip("/") for p in known}
        self.known_dirs = {p.rstrip("/") for p in known if p.endswith("/")}
        self.named = set().union(*(_named_parts(w) for w in works)) if works else set()
        self._ignored: dict[str, bool] = {}

    def of(self, run: RunResult) -> list[str]:
        """The writes of `run` that are side effects."""
        writes = _writes(run)
        self._learn_ignored([p for p in writes if p not in self._ignored])
        return [p for p in writes if not self.excused(p)]

    def excused(self, path: str) -> bool:
        bare = path.rstrip("/")
        parents = [p.as_posix() for p in PurePosixPath(bare).parents][:-1]  # without "."
        if bare in self.known or any(p in self.known_dirs for p in parents):
            return True
        if any(k.startswith(bare + "/") for k in self.known) and path.endswith("/"):
            return True  # a directory the existing suite writes into
        if not self._ignored.get(path, False) or bare.endswith((".py", ".pyi")):
            return False
        if any((self.workspace / p / "__init__.py").is_file() for p in parents):
            return False  # inside a package: its sources
        return not (set(PurePosixPath(bare).parts) & self.named)

    def _learn_ignored(self, paths: list[str]) -> None:
        if not paths:
            return
        ignored = _git_ignored(self.repo, paths) if self.repo is not None else set()
        for path in paths:
            self._ignored[path] = path in ignored


def _git_ignored(repo: Path, paths: list[str]) -> set[str]:
    """Of `paths`, the ones git ignores in `repo` (read-only: `git check-ignore`)."""
    try:
        return git.check_ignore(repo, paths, config=git.TRUST_ANY_OWNER, timeout=60)
    except git.GitError:
        return set()


def _named_parts(work: FileWork) -> set[str]:
    """The path components named in the string literals of a new test file: the paths it
    writes itself."""
    if work.facts.tree is None:
        return set()
    parts: set[str] = set()
    for node in ast.walk(work.facts.tree):
        if (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and 0 < len(node.value) <= 200
            and "\n" not in node.value
        ):
            parts.update(p for p in PurePosixPath(node.value).parts if p not in ("/", "."))
    return parts


def _writes(run: RunResult) -> list[str]:
    return [p for p in run.changed_paths if not _allowed_write(p)]


def _allowed_write(path: str) -> bool:
    """Scratch and fixture areas may be written; a path ending in / is a directory made there."""
    parts = PurePosixPath(path.rstrip("/")).parts
    dirs = parts if path.endswith("/") else parts[:-1]
    return any(part in _ALLOWED_WRITE_DIRS for part in dirs)


def _side_effect_failure(paths: list[str], processes: int) -> Failure:
    parts = []
    if paths:
        more = " ..." if len(paths) > 3 else ""
        parts.append(f"writes {', '.join(paths[:3])}{more} inside the repository")
    if processes:
        parts.append(f"leaves {processes} process(es) running after it ends")
    return Failure(
        Reason.SIDE_EFFECT,
        " and ".join(parts) or "changes the repository",
        "Write files only under tmp_path (or tmp_path_factory); never into the repository or "
        "its source files. Stop every process and server you start (use a fixture with "
        "teardown, or a context manager).",
    )
