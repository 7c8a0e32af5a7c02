"""Mutation on the change: kills are reported per test and per file, and they agree with the
slow, obvious method (write each mutant to disk, run pytest)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from agent.context import build_context
from agent.quality import Judge
from agent.quality.mutation import make_mutants
from agent.quality.mutator import Mutant
from agent.sandbox import Sandbox
from agent.schema import CheckResult, Reason

from .conftest import PYTHON, Ledger, proposed, quiet_settings, verdicts

TESTS = """
from ledger.checkout import checkout
from ledger.store import Store


def test_exact_discounted_total():
    store = Store()
    order_id = checkout(store, [(2, 10.0)], code="HALF")
    assert store.get(order_id) == 12.0


def test_something_is_stored():
    store = Store()
    order_id = checkout(store, [(3, 5.0)], code="TENOFF")
    assert store.get(order_id) is not None
"""
PATH = "tests/test_discounts.py"


@pytest.fixture(scope="module")
def result(judges: Callable[..., Judge]) -> CheckResult:
    return judges(mutation=True).check([proposed(PATH, TESTS)])


def test_kills_are_reported_per_test_file_and_run(result: CheckResult) -> None:
    found = verdicts(result, PATH)
    exact = set(found["test_exact_discounted_total"].mutants_killed)
    loose = set(found["test_something_is_stored"].mutants_killed)
    assert {t.verdict for t in found.values()} == {"accepted"}
    assert exact, "a test asserting the exact total must kill mutants of the pricing change"
    assert len(exact - loose) > 0, "the exact assertion must kill mutants the loose one misses"
    assert result.mutants_total >= result.mutants_killed == len(exact | loose) > 0
    (file,) = [f for f in result.files if f.path == PATH]
    assert file.mutation_score == pytest.approx(len(exact | loose) / result.mutants_total, 0.01)
    assert result.mutation_score == file.mutation_score
    assert "mutation" in result.gate_seconds


def test_in_memory_mutants_agree_with_rewriting_the_file(
    result: CheckResult, ledger: Ledger, tmp_path: Path
) -> None:
    """Each mutant written to disk and run by plain pytest: killed exactly when the judge said."""
    reported = set(verdicts(result, PATH)["test_exact_discounted_total"].mutants_killed)
    changed = {c.path: set(c.added_lines) for c in ledger.context.changed}
    everything = make_mutants(ledger.path, changed)
    # One mutant of every kind and file, plus every module-level one: the ways a mutant is applied.
    sample: dict[tuple[str, str], Mutant] = {}
    for mutant in everything:
        key = (mutant.path, mutant.kind if mutant.function else mutant.id)
        sample.setdefault(key, mutant)
    mutants = list(sample.values())
    assert len({m.kind for m in mutants}) >= 4 and any(m.statement for m in mutants)
    reported &= {m.id for m in mutants}
    # Two copies, one per core; no bytecode caches, so a rewritten file is always re-read.
    copies = []
    for name in ("a", "b"):
        copy = tmp_path / name
        shutil.copytree(ledger.path, copy, ignore=shutil.ignore_patterns(".git", "__pycache__"))
        (copy / PATH).write_text(TESTS, encoding="utf-8")
        copies.append(copy)
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}

    def killed(copy: Path, mutant: Mutant) -> bool:
        original = (copy / mutant.path).read_text(encoding="utf-8")
        (copy / mutant.path).write_text(mutant.source, encoding="utf-8")
        try:
            done = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "pytest",
                    "-q",
                    "-x",
                    "-p",
                    "no:cacheprovider",
                    f"{PATH}::test_exact_discounted_total",
                ],
                cwd=copy,
                env=env,
                capture_output=True,
                timeout=60,
            )
        finally:
            (copy / mutant.path).write_text(original, encoding="utf-8")
        return done.returncode != 0

    def work(share: tuple[Path, list[Mutant]]) -> set[str]:
        copy, mine = share
        return {m.id for m in mine if killed(copy, m)}

    with ThreadPoolExecutor(max_workers=2) as pool:
        truth = set().union(
            *pool.map(work, [(copies[0], mutants[::2]), (copies[1], mutants[1::2])])
        )
    assert reported == truth


def test_module_scope_without_a_base(ledger: Ledger) -> None:
    """With modules instead of a diff, coverage is measured on those modules and mutants go
    on the lines the new tests add to the suite's coverage."""
    context = build_context(ledger.path, modules=["ledger.checkout"])
    settings = quiet_settings(ledger.path, mutation=True)
    store_only = (
        "from ledger.store import Store\n\n\ndef test_round_trip():\n"
        "    store = Store()\n    assert store.get(store.add(2.5)) == 2.5\n"
    )
    with Sandbox(ledger.path, PYTHON, settings.sandbox) as box:
        result = Judge(box, settings, context=context).check(
            [proposed(PATH, TESTS), proposed("tests/test_store_only.py", store_only)]
        )
    found = verdicts(result, PATH)
    assert {t.verdict for t in found.values()} == {"accepted"}
    assert all(t.lines_added for t in found.values())
    assert result.mutants_total > 0 and found["test_exact_discounted_total"].mutants_killed
    (store,) = verdicts(result, "tests/test_store_only.py").values()
    assert store.reason == Reason.REDUNDANT and "ledger/checkout.py" in store.detail


def test_integration_of_paths_the_suite_covers_separately_is_kept(ledger: Ledger) -> None:
    """Pricing and storage each have their own existing test; a test joining them repeats
    neither, while a copy of one of them is redundant."""
    context = build_context(ledger.path, modules=["ledger.pricing", "ledger.store"])
    settings = quiet_settings(ledger.path, mutation=False)
    joined = (
        "from ledger.pricing import total\nfrom ledger.store import Store\n\n\n"
        "def test_priced_total_is_stored():\n    store = Store()\n"
        "    assert store.get(store.add(total([(1, 10.0)]))) == 12.0\n"
    )
    copy = (
        "from ledger.store import Store\n\n\ndef test_stored_total_reads_back():\n"
        "    store = Store()\n    assert store.get(store.add(9.5)) == 9.5\n"
    )
    with Sandbox(ledger.path, PYTHON, settings.sandbox) as box:
        result = Judge(box, settings, context=context).check(
            [proposed("tests/test_joined.py", joined), proposed("tests/test_copy.py", copy)]
        )
    (kept,) = verdicts(result, "tests/test_joined.py").values()
    assert kept.verdict == "accepted" and kept.lines_added == 0, kept
    (repeat,) = verdicts(result, "tests/test_copy.py").values()
    assert repeat.reason == Reason.REDUNDANT
    assert "tests/test_store.py::test_stored_total_reads_back" in repeat.detail
