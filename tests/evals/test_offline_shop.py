"""The offline suite on the example shop: every case judged right, through the real loop."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from evals import corpus, scorecard
from evals.cli import main
from evals.offline import run_offline
from evals.prepare import prepare
from evals.results import OfflineTarget, SuiteResult
from evals.targets import SHOP

REASONS = {
    "path",
    "syntax",
    "import",
    "collection",
    "no_tests",
    "fails",
    "error",
    "timeout",
    "network",
    "side_effect",
    "flaky",
    "order_dependent",
    "no_assertions",
    "redundant",
    "misses_change",  # the shop's history has a real change to miss
}


@pytest.fixture(scope="module")
def suite(evals_cache: Path) -> SuiteResult:
    return run_offline([SHOP], evals_cache)


@pytest.fixture(scope="module")
def shop(suite: SuiteResult) -> OfflineTarget:
    (target,) = suite.offline
    return target


def test_the_shop_is_prepared_green_without_its_held_out_file(
    suite: SuiteResult, evals_cache: Path
) -> None:
    prepared = prepare(SHOP, evals_cache)
    assert prepared.warm  # the suite above built it; this call only reads the cache
    assert prepared.baseline.green and prepared.baseline.failed == 0
    assert not (prepared.repo / "tests/test_api.py").exists()
    assert "def test_login_returns_a_token" in prepared.heldout["tests/test_api.py"]
    assert prepared.instances("tests/test_api.py")["test_malformed_orders_are_rejected"] == 4


def test_every_case_gets_the_verdict_its_defect_calls_for(shop: OfflineTarget) -> None:
    assert shop.status == "scored", shop.message
    wrong = [(c.name, c.expected, c.actual, c.detail) for c in shop.cases if not c.correct]
    assert wrong == []
    assert {c.expected for c in shop.cases} == REASONS | {corpus.ACCEPTED}
    assert shop.accuracy.false_accepts == shop.accuracy.false_rejects == 0
    assert shop.accuracy.confusion["network"] == {"network": 1}


def test_the_accepted_file_brings_back_what_the_full_suite_covers(shop: OfflineTarget) -> None:
    recovery = shop.recovery
    assert recovery is not None
    assert recovery.lines_lost > 0 and recovery.lines_regained == recovery.lines_lost
    assert recovery.coverage_ratio == 1.0
    assert recovery.killed_full > recovery.killed_baseline
    assert recovery.mutation_ratio == 1.0


def test_time_is_split_into_tests_model_and_harness(shop: OfflineTarget) -> None:
    timing = shop.timing
    assert timing.sandbox_runs > 0
    assert 0 < timing.tests <= timing.pytest <= timing.wall
    assert timing.overhead == pytest.approx(timing.wall - timing.tests - timing.model, abs=0.02)
    assert timing.in_process == pytest.approx(timing.wall - timing.pytest - timing.model, abs=0.02)
    assert timing.model < 1.0  # the stand-in answers at once


def test_the_scorecard_reports_the_confusion_matrix(suite: SuiteResult, tmp_path: Path) -> None:
    markdown = scorecard.render(suite)
    assert "| shop | example |" in markdown
    assert "| **all** | | | | 2 | 15 | 17 | 17 | 0 | 0 | 0 |" in markdown
    assert "Positive cases: **2**; negative cases: **15**." in markdown
    assert "one case per file" in markdown
    assert "None: every case got the verdict" in markdown
    json_path, md_path = suite.write(tmp_path, markdown)
    assert SuiteResult.model_validate_json(json_path.read_text()).offline[0].accuracy.correct == 17
    assert md_path.read_text() == markdown


def test_the_corpus_can_be_written_out_to_read(
    suite: SuiteResult, evals_cache: Path, tmp_path: Path
) -> None:
    argv = ["corpus", "--target", "shop", "--cache", str(evals_cache), "--out", str(tmp_path)]
    assert main(argv) == 0
    manifest = json.loads((tmp_path / "shop" / "cases.json").read_text())
    assert {case["name"] for case in manifest} == REASONS | {"verbatim"}
    flaky = (tmp_path / "shop" / "flaky.py").read_text()
    assert "_draws = random.Random(" in flaky and "assert _draws.random() < 0.5" in flaky
