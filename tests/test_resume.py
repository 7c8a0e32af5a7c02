"""Ctrl-C and crashes lose nothing: `--resume` continues from the journal, repeating no call."""

from __future__ import annotations

import sys
from typing import Any

import pytest

from agent.config import load_settings
from agent.demo.script import CHECKOUT_PATH, CHECKOUT_TEST, DISCOUNT_PATH
from agent.demo.shop import ShopRepo
from agent.journal import Journal, JournalError
from agent.models.scripted import ScriptedModel, tool_use
from agent.pipeline import Interrupted, generate
from agent.resume import state_from_journal


def _propose(path: str, content: str) -> dict[str, Any]:
    return tool_use(
        "propose_tests", {"files": [{"path": path, "content": content, "purpose": "p"}]}
    )


def test_interrupted_run_resumes_where_it_stopped(shop: ShopRepo) -> None:
    settings = load_settings(shop.path, python=sys.executable)
    # Turn 1 reads; turn 2 proposes a good file and a broken one (one accepted, one rejected);
    # then Ctrl-C while waiting for turn 3.
    both = tool_use(
        "propose_tests",
        {
            "files": [
                {"path": CHECKOUT_PATH, "content": CHECKOUT_TEST},
                {"path": DISCOUNT_PATH, "content": "def test_a(:\n"},
            ]
        },
    )
    first = ScriptedModel(
        [[tool_use("read_file", {"path": "shop/payments.py"})], [both], KeyboardInterrupt()]
    )
    with pytest.raises(Interrupted) as stopped:
        generate(
            shop.path,
            settings=settings,
            model=first,
            base=shop.base,
        )
    run_id = stopped.value.run_id
    assert "--resume " + run_id in str(stopped.value)
    assert not (shop.path / CHECKOUT_PATH).exists()  # files are written when a run ends

    state = state_from_journal(Journal.open(shop.path, run_id))
    assert state.iterations == 2 and state.pending is None
    assert state.messages[-1]["role"] == "user"  # the verdict of turn 2 was journaled
    assert list(state.accepted) == [CHECKOUT_PATH]

    second = ScriptedModel([[tool_use("finish", {"summary": "s"})]])
    report = generate(shop.path, settings=settings, model=second, resume=run_id)
    assert report.run_id == run_id
    # The resumed conversation carries both earlier turns: no answered call was asked again.
    assert len(second.requests) == 1
    sent = second.requests[0]["messages"]
    assert [m["role"] for m in sent] == ["user", "assistant", "user", "assistant", "user"]
    assert report.iterations == 3 and report.stopped_by == "finish"
    assert (shop.path / CHECKOUT_PATH).read_text() == CHECKOUT_TEST  # no accepted test lost
    assert not (shop.path / DISCOUNT_PATH).exists()

    with pytest.raises(JournalError, match="finished by the model"):
        generate(shop.path, settings=settings, model=ScriptedModel([]), resume=run_id)


def test_a_turn_journaled_but_not_acted_on_is_acted_on_at_resume(shop: ShopRepo) -> None:
    settings = load_settings(shop.path, python=sys.executable)
    journal = Journal.create(shop.path)
    journal.append("run_started", base=shop.base, head="HEAD", modules=None, model="scripted")
    journal.append("message", role="user", content=[{"type": "text", "text": "context"}])
    answer = [_propose(CHECKOUT_PATH, CHECKOUT_TEST)]
    journal.append(
        "response",
        response={"content": answer, "stop_reason": "tool_use", "usage": {"input_tokens": 7}},
    )
    # ...and the process died here (kill -9), before the proposal was judged.
    state = state_from_journal(journal)
    assert state.pending is not None and state.usage.input_tokens == 7

    model = ScriptedModel([[tool_use("finish", {"summary": "s"})]])
    report = generate(shop.path, settings=settings, model=model, resume=journal.run_id)
    # The journaled answer was judged without asking again; the model then read its verdict.
    assert len(model.requests) == 1
    assert "ACCEPTED" in str(model.requests[0]["messages"][-1]["content"])
    assert report.stopped_by == "finish" and report.iterations == 2
    assert (shop.path / CHECKOUT_PATH).exists()
