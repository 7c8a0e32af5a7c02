"""The offline suite: the judge on each target's corpus, through the real loop, without a key.

Per target: prepare (cached), measure the full suite (cached), propose the corpus turn by turn
with a scripted model through `agent.pipeline.generate`, and score the verdicts: a confusion
matrix of expected against actual reasons, the coverage and mutation the accepted held-out files
bring back, and where the time went.
"""

from __future__ import annotations

import multiprocessing
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import TypeVar

from agent.log import get_logger
from agent.schema import IsolationLevel
from evals import corpus, measure, runs, scores
from evals.prepare import PreparedTarget, prepare
from evals.results import OfflineTarget, SuiteResult, TargetInfo, Timing
from evals.targets import TargetSpec

log = get_logger(__name__)

NETWORK_ISOLATED = {IsolationLevel.BWRAP, IsolationLevel.UNSHARE, IsolationLevel.CONTAINER}
T = TypeVar("T")
R = TypeVar("R")


def run_offline(specs: list[TargetSpec], cache: Path, *, jobs: int = 1) -> SuiteResult:
    started = time.monotonic()
    result = SuiteResult(suite="offline")
    ready = _map(_prepare, [(spec, cache) for spec in specs], jobs)
    # Judge the biggest held-out suites first, so the last target to finish is a small one.
    order = sorted(range(len(specs)), key=lambda i: -_weight(ready[i]))
    judged = _map(_evaluate, [(specs[i], ready[i]) for i in order], jobs)
    result.offline = [judged[order.index(i)] for i in range(len(specs))]
    result.wall_seconds = round(time.monotonic() - started, 2)
    return result


def _map(work: Callable[[T], R], items: list[T], jobs: int) -> list[R]:
    """`work` on each item; with jobs > 1, in that many processes. Not threads: two threads
    building ASTs at once can fail with "AST constructor recursion depth mismatch" (the
    converter's recursion counter is shared by the interpreter's threads; CPython gh-106905),
    and the judge parses every proposed file."""
    if jobs <= 1 or len(items) <= 1:
        return [work(item) for item in items]
    methods = multiprocessing.get_all_start_methods()
    context = multiprocessing.get_context("fork" if "fork" in methods else None)
    with ProcessPoolExecutor(max_workers=jobs, mp_context=context) as pool:
        return list(pool.map(work, items))


def _evaluate(job: tuple[TargetSpec, PreparedTarget | str]) -> OfflineTarget:
    return evaluate(*job)


def _prepare(job: tuple[TargetSpec, Path]) -> PreparedTarget | str:
    spec, cache = job
    try:
        return prepare(spec, cache)
    except Exception as exc:  # one target's set-up failing must not sink the others
        log.error("target not prepared", target=spec.name, error=str(exc))
        return str(exc)


def _weight(prepared: PreparedTarget | str) -> int:
    """Test items in the held-out files: what the judge's runs grow with."""
    if isinstance(prepared, str):
        return 0
    return sum(sum(prepared.instances(path).values()) for path in prepared.heldout)


def evaluate(spec: TargetSpec, prepared: PreparedTarget | str) -> OfflineTarget:
    if isinstance(prepared, str):
        return OfflineTarget(
            target=TargetInfo(name=spec.name, kind=spec.kind, project=spec.project),
            status="failed",
            message=prepared,
        )
    info = TargetInfo.of(prepared)
    timing = Timing(setup=prepared.setup_seconds, warm=prepared.warm)
    if not prepared.baseline.green:
        why = (prepared.baseline.collect_errors + prepared.baseline.problems + ["?"])[0]
        return OfflineTarget(
            target=info,
            status="not_green",
            message=f"its own suite is not green: {why}",
            timing=timing,
        )
    try:
        return score_corpus(prepared, info, timing)
    except Exception as exc:  # a broken target must not sink the others' scores
        log.error("target not scored", target=spec.name, error=str(exc))
        return OfflineTarget(target=info, status="failed", message=str(exc), timing=timing)


def score_corpus(prepared: PreparedTarget, info: TargetInfo, timing: Timing) -> OfflineTarget:
    settings = runs.eval_settings(prepared)
    started = time.monotonic()
    ref = measure.reference(prepared, settings)
    if not timing.warm:
        timing.reference = round(time.monotonic() - started, 2)
    cases, skipped = corpus.cases(
        prepared,
        rounds=settings.reruns,
        network_isolated=prepared.isolation_level in NETWORK_ISOLATED,
    )
    turns = corpus.turns(cases)
    verdicts, records = runs.propose_corpus(prepared, settings, turns)
    results = scores.judge_turns(turns, verdicts)
    diff = [c for c in cases if c.group == "diff"]
    if diff:
        base = prepared.spec.change_base
        more, diff_records = runs.propose_corpus(prepared, settings, [diff], base=base)
        results += scores.judge_turns([diff], more)
        records += diff_records
    kept = [r.heldout for r in results if r.name == "verbatim" and r.actual in ("accepted", "bug")]
    for record in records:
        timing.add(record)
    log.info(
        "target scored",
        target=prepared.spec.name,
        correct=sum(r.correct for r in results),
        cases=len(results),
        seconds=timing.wall,
    )
    return OfflineTarget(
        target=info,
        cases=results,
        skipped=skipped,
        accuracy=scores.accuracy(results),
        recovery=scores.recovery(ref, scores.heldout_as_measured(ref, kept)),
        timing=timing,
    )
