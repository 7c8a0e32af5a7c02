"""How runs end: the model finishes, or a budget does, and no judged verdict goes unread.

Scripted and function models drive the real loop, sandbox and pytest on the example shop.
"""

from __future__ import annotations

import sys
from typing import Any

import pytest

from agent.config import Settings, load_settings
from agent.demo.script import CHECKOUT_PATH, CHECKOUT_TEST
from agent.demo.shop import ShopRepo
from agent.journal import JournalError
from agent.models.scripted import FunctionModel, ScriptedModel, tool_use
from agent.pipeline import generate
from agent.schema import ModelResponse, Usage

SECOND_PATH = "tests/integration/test_checkout_again.py"
READ = tool_use("read_file", {"path": "shop/api.py"})
FINISH = tool_use("finish", {"summary": "covered the checkout"})


def settings_for(shop: ShopRepo, **budget: Any) -> Settings:
    settings = load_settings(shop.path, python=sys.executable)
    settings.budget = settings.budget.model_validate({**settings.budget.model_dump(), **budget})
    return settings


def propose(path: str = CHECKOUT_PATH, content: str = CHECKOUT_TEST) -> dict[str, Any]:
    return tool_use(
        "propose_tests", {"files": [{"path": path, "content": content, "purpose": "checkout"}]}
    )


def last_result(request: dict[str, Any]) -> str:
    content = request["messages"][-1]["content"]
    return "\n".join(str(b.get("content", "")) for b in content if isinstance(b, dict))


def test_defaults_let_a_reading_session_propose_and_finish(shop: ShopRepo) -> None:
    # Five reading turns, a proposal, then finish: what a careful model does with defaults.
    model = ScriptedModel([[READ]] * 5 + [[propose()], [FINISH]])
    report = generate(
        shop.path,
        settings=load_settings(shop.path, python=sys.executable),
        model=model,
        base=shop.base,
    )
    assert report.stopped_by == "finish" and report.message == "covered the checkout"
    assert [a.path for a in report.accepted] == [CHECKOUT_PATH] and report.accepted[0].written
    assert "ACCEPTED" in last_result(model.requests[-1])  # it read the verdict before finishing


def test_all_accepted_then_more_proposed(shop: ShopRepo) -> None:
    model = ScriptedModel([[propose()], [propose(SECOND_PATH)], [FINISH]])
    report = generate(shop.path, settings=settings_for(shop), model=model, base=shop.base)
    first = last_result(model.requests[1])
    assert "Proposal rounds left: 4." in first  # every verdict says how many are left
    assert "All tests kept so far kill" in first  # and what the kept tests kill in total
    assert sorted(a.path for a in report.accepted) == sorted([CHECKOUT_PATH, SECOND_PATH])
    assert report.stopped_by == "finish" and len(model.requests) == 3


def test_a_proposal_on_the_last_round_is_read_before_the_run_ends(shop: ShopRepo) -> None:
    model = ScriptedModel([[propose()], [propose(SECOND_PATH)], [FINISH]])
    report = generate(shop.path, settings=settings_for(shop, rounds=1), model=model, base=shop.base)
    second = last_result(model.requests[1])
    assert "ACCEPTED" in second and "last proposal round" in second
    # The second proposal was refused, not judged: the round budget ended the run.
    assert report.stopped_by == "rounds" and len(model.requests) == 2
    assert [a.path for a in report.accepted] == [CHECKOUT_PATH]
    assert not (shop.path / SECOND_PATH).exists()


def test_the_turn_cap_waits_for_the_verdict_to_be_read(shop: ShopRepo) -> None:
    model = ScriptedModel([[propose()], [FINISH]])
    report = generate(shop.path, settings=settings_for(shop, turns=1), model=model, base=shop.base)
    assert len(model.requests) == 2 and report.stopped_by == "finish"


def test_a_hard_limit_ends_the_run_at_once_and_says_the_verdict_was_not_read(
    shop: ShopRepo,
) -> None:
    costly = ModelResponse(
        content=[propose()], stop_reason="tool_use", usage=Usage(input_tokens=5000)
    )
    model = ScriptedModel([costly, [FINISH]])
    report = generate(
        shop.path, settings=settings_for(shop, tokens=1000), model=model, base=shop.base
    )
    assert report.stopped_by == "tokens" and len(model.requests) == 1
    assert "before the model read the last verdict" in report.message
    assert [a.path for a in report.accepted] == [CHECKOUT_PATH]  # what was kept is kept


@pytest.mark.parametrize("cause", ["rounds", "turns", "tokens", "model_error"])
def test_resume_continues_a_run_any_budget_or_error_ended(shop: ShopRepo, cause: str) -> None:
    budget: dict[str, Any] = {
        "rounds": {"rounds": 1},
        "turns": {"turns": 1},
        "tokens": {"tokens": 1000},
        "model_error": {},
    }[cause]
    first_turns: list[Any] = {
        "rounds": [[propose()], [propose(SECOND_PATH)]],
        "turns": [[READ], [READ]],
        "tokens": [
            ModelResponse(content=[READ], stop_reason="tool_use", usage=Usage(input_tokens=5000))
        ],
        "model_error": [[READ]],  # then the script runs dry: a model error
    }[cause]
    first = generate(
        shop.path,
        settings=settings_for(shop, **budget),
        model=ScriptedModel(first_turns),
        base=shop.base,
    )
    assert first.stopped_by == cause

    # Fresh budgets apply to the continuation; the conversation is not asked again.
    proposal = [propose(SECOND_PATH)] if cause == "rounds" else [propose()]
    second = ScriptedModel([proposal, [FINISH]])
    fresh = settings_for(shop, rounds=1 if cause == "rounds" else 5)
    report = generate(shop.path, settings=fresh, model=second, resume=first.run_id)
    assert report.run_id == first.run_id and report.stopped_by == "finish"
    assert report.iterations == first.iterations + 2  # the report covers the whole run
    assert len(second.requests[0]["messages"]) > 1  # it carries the earlier conversation
    assert any(a.path in (CHECKOUT_PATH, SECOND_PATH) for a in report.accepted)

    with pytest.raises(JournalError, match="finished by the model"):
        generate(shop.path, settings=fresh, model=ScriptedModel([]), resume=first.run_id)


def test_the_model_is_told_what_is_still_untested(shop: ShopRepo) -> None:
    seen: list[str] = []

    def architect(messages: list[dict[str, Any]], tools: list[dict[str, Any]]) -> Any:
        if len(messages) == 1:
            return [propose()]
        seen.append(last_result({"messages": messages}))
        return [FINISH]

    generate(shop.path, settings=settings_for(shop), model=FunctionModel(architect), base=shop.base)
    verdict = seen[0]
    # The shop's change (discount codes) has lines and mutants the checkout test leaves alone.
    assert "Changed lines no kept test executes:" in verdict
    assert "shop/" in verdict.split("Changed lines no kept test executes:")[1]
