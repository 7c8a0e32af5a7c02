"""The loop end to end: scripted models, the real sandbox, real pytest, the example shop."""

from __future__ import annotations

import sys
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from agent.config import Settings, load_settings, with_budget
from agent.demo.script import (
    CHECKOUT_PATH,
    CHECKOUT_TEST,
    CHECKOUT_WITH_SLIP,
    DISCOUNT_JUSTIFICATION,
    DISCOUNT_PATH,
    DISCOUNT_TEST,
)
from agent.demo.shop import ShopRepo
from agent.journal import Journal
from agent.models.scripted import FunctionModel, ScriptedModel, text, tool_use
from agent.pipeline import generate, write_new_file
from agent.schema import AcceptedFile, ModelResponse, Usage
from tests.conftest import tree_state


def settings_for(shop: ShopRepo, **budget: Any) -> Settings:
    settings = load_settings(shop.path, python=sys.executable)
    settings.budget = with_budget(settings.budget, budget)
    return settings


def a_file(path: str, content: str, bug: str | None = None) -> dict[str, Any]:
    tests = (
        [{"name": bug, "expectation": "bug", "justification": DISCOUNT_JUSTIFICATION}]
        if bug
        else []
    )
    return {"path": path, "content": content, "purpose": "integration", "tests": tests}


def propose(*files: dict[str, Any]) -> dict[str, Any]:
    return tool_use("propose_tests", {"files": list(files)})


def last_results(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    content = messages[-1]["content"]
    return [b for b in content if isinstance(b, dict) and b.get("type") == "tool_result"]


def test_failing_proposal_is_repaired_accepted_and_a_bug_kept_as_strict_xfail(
    shop: ShopRepo,
) -> None:
    seen_feedback: list[str] = []

    def architect(messages: list[dict[str, Any]], tools: list[dict[str, Any]]) -> Any:
        results = last_results(messages)
        if not results:
            return [text("checkout first"), propose(a_file(CHECKOUT_PATH, CHECKOUT_WITH_SLIP))]
        seen_feedback.append(results[0]["content"])
        if results[0].get("is_error"):
            bug = "test_discounted_order_is_charged_its_total"
            return [
                propose(
                    a_file(CHECKOUT_PATH, CHECKOUT_TEST), a_file(DISCOUNT_PATH, DISCOUNT_TEST, bug)
                )
            ]
        return [tool_use("finish", {"summary": "done"})]

    before = tree_state(shop.path)
    report = generate(
        shop.path, settings=settings_for(shop), model=FunctionModel(architect), base=shop.base
    )

    # The first verdict told the model why its test failed: the assertion's values.
    assert "201" in seen_feedback[0] and "fails" in seen_feedback[0]
    # Everything was kept, and the model read that verdict before it chose to finish.
    assert "all files are kept" in seen_feedback[1]
    assert report.stopped_by == "finish" and report.message == "done"
    assert report.iterations == 3
    assert report.model_source == "function"
    assert sorted(a.path for a in report.accepted) == [CHECKOUT_PATH, DISCOUNT_PATH]
    assert all(a.written for a in report.accepted)
    assert [b.nodeid.split("::")[-1] for b in report.bugs] == [
        "test_discounted_order_is_charged_its_total"
    ]
    written = (shop.path / DISCOUNT_PATH).read_text()
    assert (
        "xfail(strict=True" in written
        and "def test_discounted_order_is_charged_its_total" in written
    )
    assert (shop.path / CHECKOUT_PATH).read_text() == CHECKOUT_TEST

    # Nothing else in the user's tree or git state changed: only the two new files appeared.
    after = tree_state(shop.path)
    assert {
        k: v for k, v in after.items() if k not in {CHECKOUT_PATH, DISCOUNT_PATH, "<status>"}
    } == {k: v for k, v in before.items() if k != "<status>"}
    assert after["<status>"].splitlines() == [
        "?? " + p for p in sorted([CHECKOUT_PATH, DISCOUNT_PATH])
    ]

    # Every message and verdict was journaled.
    kinds = [e["kind"] for e in Journal.open(shop.path, report.run_id).events()]
    assert kinds[0] == "run_started" and kinds[-1] == "report"
    assert kinds.count("response") == 3 and kinds.count("verdict") == 2


def test_invalid_proposal_is_re_asked_with_the_schema_error(shop: ShopRepo) -> None:
    model = ScriptedModel(
        [
            [propose({"path": "tests/integration/test_x.py"})],  # no content
            [tool_use("propose_tests", {"files": "not a list"})],
            [tool_use("finish", {"summary": "gave up"})],
        ]
    )
    before = tree_state(shop.path)
    report = generate(shop.path, settings=settings_for(shop), model=model, base=shop.base)
    second, third = model.requests[1]["messages"], model.requests[2]["messages"]
    for messages in (second, third):
        result = last_results(messages)[0]
        assert result["is_error"] is True and "does not match the schema" in result["content"]
    assert "content" in last_results(second)[0]["content"]
    assert report.stopped_by == "finish" and report.accepted == []
    assert tree_state(shop.path) == before


@pytest.mark.parametrize(
    ("budget", "response", "cause"),
    [
        (
            {"turns": 2},
            ModelResponse(
                content=[tool_use("read_file", {"path": "shop/api.py"})], stop_reason="tool_use"
            ),
            "turns",
        ),
        (
            {"tokens": 1000},
            ModelResponse(
                content=[tool_use("read_file", {"path": "shop/api.py"})],
                stop_reason="tool_use",
                usage=Usage(input_tokens=1500),
            ),
            "tokens",
        ),
        (
            {"dollars": Decimal("0.10")},
            ModelResponse(
                content=[tool_use("read_file", {"path": "shop/api.py"})],
                stop_reason="tool_use",
                cost_usd=Decimal("0.11"),
            ),
            "dollars",
        ),
    ],
)
def test_each_budget_ends_a_run(
    shop: ShopRepo, budget: dict[str, Any], response: ModelResponse, cause: str
) -> None:
    model = ScriptedModel([response] * 5)
    report = generate(shop.path, settings=settings_for(shop, **budget), model=model, base=shop.base)
    assert report.stopped_by == cause
    assert cause in report.message
    # Never more than one request past the limit.
    assert len(model.requests) == (2 if cause == "turns" else 1)


def test_wall_time_budget_ends_a_run(shop: ShopRepo) -> None:
    def slow(messages: list[dict[str, Any]], tools: list[dict[str, Any]]) -> Any:
        time.sleep(0.3)
        return [tool_use("read_file", {"path": "shop/api.py"})]

    model = FunctionModel(slow)
    report = generate(
        shop.path, settings=settings_for(shop, wall_seconds=0.2), model=model, base=shop.base
    )
    assert report.stopped_by == "wall_time" and len(model.requests) == 1


def test_proposal_over_an_existing_file_is_rejected_and_never_written(shop: ShopRepo) -> None:
    existing = "tests/test_orders.py"
    original = (shop.path / existing).read_text()
    model = ScriptedModel(
        [
            [propose(a_file(existing, "def test_x():\n    assert 1 == 1\n"))],
            [tool_use("finish", {"summary": "s"})],
        ]
    )
    report = generate(shop.path, settings=settings_for(shop), model=model, base=shop.base)
    verdict = report.verdicts[0].tests[0]
    assert (
        verdict.verdict == "rejected"
        and verdict.reason is not None
        and verdict.reason.value == "path"
    )
    assert report.accepted == []
    assert (shop.path / existing).read_text() == original


def test_write_new_file_never_overwrites(tmp_path: Path) -> None:
    target = tmp_path / "tests" / "test_a.py"
    assert write_new_file(tmp_path, AcceptedFile(path="tests/test_a.py", content="one\n"))
    assert not write_new_file(tmp_path, AcceptedFile(path="tests/test_a.py", content="two\n"))
    assert target.read_text() == "one\n"
    assert [p.name for p in target.parent.iterdir()] == ["test_a.py"]  # no temp files left
