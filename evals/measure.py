"""Coverage and mutation evidence for recovery scores, measured in the sandbox.

The reference (the target's suite: baseline plus the held-out files the variants are made from;
files held out only as positive cases are left out) is measured once per
target and cached; a live run then measures only its accepted files against the same mutants.
Lines come from the sandbox plugin's per-test trace of the held-out modules; mutants are the
judge's own (`agent.quality.mutation`) on the lines the held-out tests execute, run in one
sandboxed session where each mutant runs only the tests that reach its line.
"""

from __future__ import annotations

import ast
import hashlib
from pathlib import Path

from pydantic import BaseModel, Field

import agent
from agent.config import Settings
from agent.log import get_logger
from agent.quality import mutation as mutation_module
from agent.quality import mutator as mutator_module
from agent.quality.mutation import MAX_MUTANTS, make_mutants, run_mutants
from agent.sandbox import Sandbox
from agent.schema import RunResult
from agent.source.files import module_path
from evals.prepare import PreparedTarget

log = get_logger(__name__)

Lines = dict[str, list[int]]


class MutantInfo(BaseModel):
    id: str
    path: str
    line: int
    description: str


class Reference(BaseModel):
    key: str
    trace: list[str]  # repo-relative source files of the held-out modules
    statements: dict[str, list[int]]  # executable lines inside functions, per traced file
    baseline: Lines  # lines the baseline tests execute
    heldout: dict[str, Lines]  # per held-out file, the lines its tests execute
    mutants: list[MutantInfo] = Field(default_factory=list)
    killed_by_baseline: list[str] = Field(default_factory=list)
    # per held-out file, the mutants it kills that the baseline misses
    killed_by_heldout: dict[str, list[str]] = Field(default_factory=dict)
    seconds: float = 0.0


class Measured(BaseModel):
    """What a set of test files adds: lines executed by its passing tests, mutants it kills."""

    lines: Lines = Field(default_factory=dict)
    killed: list[str] = Field(default_factory=list)
    seconds: float = 0.0


def trace_files(prepared: PreparedTarget) -> list[str]:
    found = [module_path(prepared.repo, m) for m in prepared.spec.modules]
    return sorted({p for p in found if p})


def statements(repo: Path, path: str) -> list[int]:
    """Lines of statements inside function bodies: what a test can execute (import-time code,
    signatures and docstrings are not)."""
    tree = ast.parse((repo / path).read_text(encoding="utf-8"))
    lines: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            for stmt in ast.walk(node):
                if stmt is node or not isinstance(stmt, ast.stmt):
                    continue
                is_docstring = isinstance(stmt, ast.Expr) and isinstance(
                    getattr(stmt, "value", None), ast.Constant
                )
                if not is_docstring:
                    lines.add(stmt.lineno)
    return sorted(lines)


def _key(prepared: PreparedTarget) -> str:
    """The reference is valid while the target and the mutation machinery are unchanged."""
    digest = hashlib.sha256(prepared.digest.encode())
    digest.update(agent.__version__.encode())
    for module in (mutator_module, mutation_module):
        digest.update(Path(module.__file__ or "").read_bytes())
    digest.update(Path(__file__).read_bytes())  # how it is measured
    return digest.hexdigest()[:16]


def reference(prepared: PreparedTarget, settings: Settings) -> Reference:
    """The full suite's coverage and mutant kills, from the cache when still valid."""
    cached = prepared.repo.parent / "reference.json"
    key = _key(prepared)
    if cached.is_file():
        try:
            found = Reference.model_validate_json(cached.read_text(encoding="utf-8"))
        except ValueError:
            found = None
        if found is not None and found.key == key:
            return found
    measured = _measure_reference(prepared, settings, key)
    cached.write_text(measured.model_dump_json(indent=1), encoding="utf-8")
    return measured


def reference_files(prepared: PreparedTarget) -> dict[str, str]:
    """The held-out files recovery is measured for: those the variants are made from. Files held
    out only as positive cases are not run (measuring each would cost a mutation run per file)."""
    return {p: prepared.heldout[p] for p in prepared.spec.broken_files()}


def _measure_reference(prepared: PreparedTarget, settings: Settings, key: str) -> Reference:
    trace = trace_files(prepared)
    spec = prepared.spec
    files = reference_files(prepared)
    with Sandbox(prepared.repo, prepared.python, settings.sandbox) as sandbox:
        run = sandbox.run(files, select=[spec.tests_root], trace=trace)
        per_test = _passing_lines(run)
        baseline: dict[str, set[int]] = {}
        heldout: dict[str, dict[str, set[int]]] = {p: {} for p in files}
        for nodeid, lines in per_test.items():
            group = heldout.get(nodeid.split("::")[0], baseline)
            for path, hit in lines.items():
                group.setdefault(path, set()).update(hit)
        mutants = make_mutants(prepared.repo, mutated_lines(heldout), limit=MAX_MUTANTS)
        heldout_ids = {n for n in per_test if n.split("::")[0] in heldout}
        # The baseline's tests first: a kill of theirs settles the mutant (the scores need the
        # baseline's kills and the held-out files' kills of the mutants it misses, no more). With
        # one held-out file, so does its first kill.
        tests_for = {
            m.id: _covering(per_test, m.path, m.line, set(per_test) - heldout_ids)
            + _covering(per_test, m.path, m.line, heldout_ids)
            for m in mutants
        }
        settles = set(per_test) if len(files) == 1 else set(per_test) - heldout_ids
        result = run_mutants(
            sandbox,
            files=files,
            mutants=mutants,
            tests_for=tests_for,
            stop_on_kill=settles,
            durations={},
            per_test_limit=settings.sandbox.test_timeout,
        )
    killed_by_heldout = {
        path: sorted(
            m for m, killers in result.killed_by.items() if any(_in(k, path) for k in killers)
        )
        for path in files
    }
    baseline_killers = set(per_test) - heldout_ids
    return Reference(
        key=key,
        trace=trace,
        statements={p: statements(prepared.repo, p) for p in trace},
        baseline=_sorted(baseline),
        heldout={p: _sorted(lines) for p, lines in heldout.items()},
        mutants=[
            MutantInfo(id=m.id, path=m.path, line=m.line, description=m.description)
            for m in result.counted()
        ],
        killed_by_baseline=sorted(result.killed(baseline_killers)),
        killed_by_heldout=killed_by_heldout,
        seconds=round(run.duration + result.seconds, 2),
    )


def measure_files(
    prepared: PreparedTarget, settings: Settings, ref: Reference, files: dict[str, str]
) -> Measured:
    """Lines and kills of new test files (a live run's accepted ones) on the reference mutants."""
    if not files:
        return Measured()
    targets = mutated_lines({p: _as_sets(lines) for p, lines in ref.heldout.items()})
    wanted = {m.id for m in ref.mutants}
    with Sandbox(prepared.repo, prepared.python, settings.sandbox) as sandbox:
        run = sandbox.run(files, select=sorted(files), trace=ref.trace)
        per_test = _passing_lines(run)
        mutants = [
            m for m in make_mutants(prepared.repo, targets, limit=MAX_MUTANTS) if m.id in wanted
        ]
        tests_for = {m.id: _covering(per_test, m.path, m.line, set(per_test)) for m in mutants}
        result = run_mutants(
            sandbox,
            files=files,
            mutants=mutants,
            tests_for=tests_for,
            stop_on_kill=set(),
            durations={},
            per_test_limit=settings.sandbox.test_timeout,
        )
    return Measured(
        lines=_sorted(mutated_lines(per_test)),
        killed=sorted(result.killed()),
        seconds=round(run.duration + result.seconds, 2),
    )


def mutated_lines(groups: dict[str, dict[str, set[int]]]) -> dict[str, set[int]]:
    """The union, per source file, of the lines of several groups (tests or held-out files):
    mutants go on the lines the held-out tests execute."""
    union: dict[str, set[int]] = {}
    for lines in groups.values():
        for path, hit in lines.items():
            union.setdefault(path, set()).update(hit)
    return union


def _as_sets(lines: Lines) -> dict[str, set[int]]:
    return {path: set(hit) for path, hit in lines.items()}


def _passing_lines(run: RunResult) -> dict[str, dict[str, set[int]]]:
    """Per passing test (first execution), the traced lines it executed."""
    out: dict[str, dict[str, set[int]]] = {}
    failed = {o.nodeid for o in run.outcomes if o.outcome in ("failed", "error")}
    for outcome in run.outcomes:
        if outcome.run == 0 and outcome.nodeid not in failed:
            hit = out.setdefault(outcome.nodeid, {})
            for path, lines in outcome.lines.items():
                hit.setdefault(path, set()).update(lines)
    return out


def _covering(
    per_test: dict[str, dict[str, set[int]]], path: str, line: int, among: set[str]
) -> list[str]:
    """The tests among `among` that execute the line: the first parametrized case of each test
    function, as the judge's mutation gate runs them (a mutant rarely tells the cases apart, and
    running every case multiplies the cost)."""
    seen: set[str] = set()
    chosen = []
    for nodeid in sorted(n for n in among if line in per_test.get(n, {}).get(path, set())):
        function = nodeid.split("[", 1)[0]
        if function not in seen:
            seen.add(function)
            chosen.append(nodeid)
    return chosen


def _in(nodeid: str, path: str) -> bool:
    return nodeid.split("::")[0] == path


def _sorted(lines: dict[str, set[int]]) -> Lines:
    return {path: sorted(hit) for path, hit in sorted(lines.items())}
