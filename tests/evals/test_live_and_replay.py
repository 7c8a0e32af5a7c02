"""The live suite's whole path with a function standing in for Claude, then its replay.

The stand-in proposes a file with a slip (a wrong status code) and repairs it from the verdict
(the loop ends once everything proposed is kept); its turns carry token usage and cost so the
accounting is exercised too. The run
is labelled `function` everywhere, never as a model's.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from agent.models.scripted import FunctionModel, text, tool_use
from agent.schema import ModelResponse, Usage
from evals import replay
from evals.cli import NO_KEY, main
from evals.results import SuiteResult

PATH = "tests/test_order_errors.py"
FILE = '''\
"""Orders over HTTP reach the error handlers: unknown products, empty stock."""


def _headers(client):
    response = client.post("/login", json={"username": "bob", "password": "builder"})
    assert response.status_code == 200
    return {"Authorization": f"Bearer {response.get_json()['token']}"}


def test_order_for_an_unknown_product_is_not_found(client):
    items = [{"sku": "NOPE", "quantity": 1}]
    response = client.post("/orders", json={"items": items}, headers=_headers(client))
    assert response.status_code == STATUS
    assert "error" in response.get_json()


def test_order_beyond_the_stock_conflicts(client):
    items = [{"sku": "GIZMO", "quantity": 1}]
    response = client.post("/orders", json={"items": items}, headers=_headers(client))
    assert response.status_code == 409
'''
SLIP = FILE.replace("STATUS", "400")
FIXED = FILE.replace("STATUS", "404")
USAGE = Usage(
    input_tokens=900, output_tokens=700, cache_creation_input_tokens=4000, cache_read_input_tokens=0
)
CACHED = Usage(
    input_tokens=300, output_tokens=500, cache_creation_input_tokens=0, cache_read_input_tokens=4000
)


def turn(blocks: list[dict[str, Any]], usage: Usage, cost: str) -> ModelResponse:
    return ModelResponse(
        content=blocks,
        stop_reason="tool_use",
        usage=usage,
        cost_usd=Decimal(cost),
        model="function",
        source="function",
    )


def architect(messages: list[dict[str, Any]], tools: list[dict[str, Any]]) -> ModelResponse:
    results = [b for b in messages[-1]["content"] if b.get("type") == "tool_result"]
    propose = "propose_tests"
    if not results:
        files = [{"path": PATH, "content": SLIP, "purpose": "error handlers over HTTP"}]
        return turn([text("first draft"), tool_use(propose, {"files": files})], USAGE, "0.0321")
    if results[0].get("is_error"):
        files = [{"path": PATH, "content": FIXED, "purpose": "error handlers over HTTP"}]
        return turn([tool_use(propose, {"files": files})], CACHED, "0.0099")
    return turn([tool_use("finish", {"summary": "done"})], CACHED, "0.0042")


@pytest.fixture(scope="module")
def live_run(evals_cache: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    out = tmp_path_factory.mktemp("results")
    argv = ["run", "--suite", "live", "--target", "shop"]
    code = main(
        [*argv, "--cache", str(evals_cache), "--out", str(out)],
        model_factory=lambda settings: FunctionModel(architect),
    )
    assert code == 0
    (results,) = out.glob("*-live.json")
    return results, (out / results.name.replace(".json", ".md")).read_text()


def test_live_path_scores_the_repaired_file(live_run: tuple[Path, str]) -> None:
    results, _ = live_run
    (shop,) = SuiteResult.model_validate_json(results.read_text()).live
    assert shop.status == "scored", shop.message
    assert shop.model_source == "function"
    gen = shop.generation
    assert gen is not None
    # The model reads the verdict that keeps its repair, then finishes.
    assert (gen.iterations, gen.stopped_by) == (3, "finish")
    assert (gen.files_proposed, gen.files_accepted) == (2, 1)
    assert gen.accepted_per_iteration == [0, 1]  # per proposal
    # First proposal: one test fails on its assertion, one passes; the repair keeps both.
    assert (gen.tests_proposed, gen.tests_built, gen.tests_reliable, gen.tests_accepted) == (
        4,
        4,
        3,
        2,
    )
    assert gen.cache_read_tokens == 8000
    assert gen.cache_read_share == pytest.approx(8000 / 13500, 1e-3)
    assert gen.cost_usd == Decimal("0.0462")
    assert gen.dollars_per_accepted_test == Decimal("0.0231")
    recovery = shop.recovery
    assert recovery is not None and recovery.covered_with_accepted > recovery.covered_baseline
    assert [e["kind"] for e in shop.journal].count("response") == 3


def test_live_scorecard_says_who_proposed_and_cites_the_studies(live_run: tuple[Path, str]) -> None:
    _, markdown = live_run
    assert "a function stand-in (not a model)" in markdown
    assert "Claude" not in markdown.split("## Generation")[0]
    assert "arXiv:2402.09171" in markdown and "arXiv:2403.16218" in markdown
    assert "| TestGen-LLM | generated test cases that build | 75% | 100% |" in markdown


def test_replay_of_the_recording_scores_identically(
    live_run: tuple[Path, str], evals_cache: Path, tmp_path: Path
) -> None:
    results, _ = live_run
    argv = ["run", "--suite", "replay", "--from", str(results), "--cache", str(evals_cache)]
    assert main([*argv, "--out", str(tmp_path)]) == 0
    (replayed_path,) = tmp_path.glob("*-replay.json")
    replayed = SuiteResult.model_validate_json(replayed_path.read_text())
    assert replayed.identical is True and replayed.differences == []
    original = SuiteResult.model_validate_json(results.read_text())
    assert replayed.live[0].scores() == original.live[0].scores()
    assert replayed.live[0].model_source == "replay"
    card = (tmp_path / replayed_path.name.replace(".json", ".md")).read_text()
    assert "scores are **identical**" in card


def test_a_score_that_moved_is_named_in_the_differences(live_run: tuple[Path, str]) -> None:
    results, _ = live_run
    (original,) = SuiteResult.model_validate_json(results.read_text()).live
    assert original.generation is not None
    moved = original.model_copy(deep=True)
    assert moved.generation is not None
    moved.generation.tests_accepted = 99
    assert replay.differences(original, original) == []
    assert replay.differences(original, moved) == [
        "generation.tests_accepted: recorded 2, replayed 99"
    ]


def test_live_without_a_key_is_skipped_with_a_clear_message(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    assert main(["run", "--suite", "live", "--out", str(tmp_path)]) == 0
    assert NO_KEY in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_usage_errors_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "--target", "nope", "--out", str(tmp_path)]) == 2
    assert "unknown target(s) nope" in capsys.readouterr().err
    assert main(["run", "--suite", "replay", "--out", str(tmp_path)]) == 2
    assert "needs --from" in capsys.readouterr().err
