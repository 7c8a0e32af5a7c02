"""ReplayModel plays a recorded conversation back, in order."""

from __future__ import annotations

from decimal import Decimal

import pytest

from agent.models.base import Model, ModelError
from agent.models.replay import ReplayModel
from agent.schema import ModelResponse, Usage

RECORDED = [
    ModelResponse(
        content=[{"type": "tool_use", "id": "toolu_1", "name": "read_file", "input": {"p": 1}}],
        stop_reason="tool_use",
        usage=Usage(input_tokens=10, output_tokens=3),
        model="claude-sonnet-4-5",
        cost_usd=Decimal("0.000075"),
    ),
    ModelResponse(content=[{"type": "text", "text": "done"}], model="claude-sonnet-4-5"),
]


def ask(model: ReplayModel) -> ModelResponse:
    return model.complete(
        system="s", messages=[{"role": "user", "content": "hi"}], tools=[], max_tokens=10
    )


def test_plays_back_in_order_labelled_replay() -> None:
    model = ReplayModel(RECORDED)

    first, second = ask(model), ask(model)

    assert isinstance(model, Model)
    assert first.tool_uses() == RECORDED[0].tool_uses()
    assert first.usage == RECORDED[0].usage
    assert first.cost_usd == RECORDED[0].cost_usd
    assert second.text() == "done"
    assert {first.source, second.source} == {"replay"}
    assert RECORDED[0].source == "anthropic"  # the recording itself is left as it was
    assert model.remaining == 0
    assert len(model.requests) == 2


def test_exhausted_recording_raises_model_error() -> None:
    model = ReplayModel(RECORDED[:1])
    ask(model)

    with pytest.raises(ModelError, match="no response left"):
        ask(model)


def test_returned_responses_are_copies() -> None:
    model = ReplayModel(RECORDED)

    ask(model).content[0]["input"]["p"] = 2

    assert RECORDED[0].content[0]["input"] == {"p": 1}
