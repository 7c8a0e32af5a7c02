"""Choosing and building the Claude model from settings."""

from __future__ import annotations

import re

import pytest

from agent.config import Settings
from agent.models.anthropic import create_model, default_model, model_version, sdk_model_ids
from agent.models.base import ModelError
from tests.fakes.anthropic_server import AnthropicServer, text_message


def test_default_model_is_the_newest_undated_sonnet_the_sdk_lists() -> None:
    chosen = default_model()
    listed = sdk_model_ids()
    sonnets = {m: model_version(m) for m in listed if m.startswith("claude-sonnet-")}
    undated = {m: v for m, v in sonnets.items() if v is not None}

    assert chosen in listed
    assert chosen in undated
    assert all(undated[chosen] >= v for v in undated.values())
    assert re.search(r"\d{8}", chosen) is None  # not a dated snapshot


@pytest.mark.parametrize(
    ("model_id", "version"),
    [
        ("claude-sonnet-4-5", (4, 5)),
        ("claude-sonnet-4", (4,)),
        ("claude-sonnet-4-5-20250929", None),
        ("claude-opus-4-1", None),
        ("claude-3-7-sonnet-latest", None),
    ],
)
def test_model_version(model_id: str, version: tuple[int, ...] | None) -> None:
    assert model_version(model_id) == version


def test_no_api_key_is_one_clear_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)

    with pytest.raises(ModelError, match=r"^no API key: set ANTHROPIC_API_KEY"):
        create_model(Settings())


def test_created_model_uses_the_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-configured")
    with AnthropicServer([text_message("ok")], api_key="sk-ant-configured") as server:
        monkeypatch.setenv("ANTHROPIC_BASE_URL", server.base_url)
        settings = Settings(model="claude-haiku-4-5")
        model = create_model(settings)
        response = model.complete(
            system="s", messages=[{"role": "user", "content": "hi"}], tools=[], max_tokens=10
        )

    assert model.name == "claude-haiku-4-5"
    assert model.price == settings.price_for("claude-haiku-4-5")
    assert response.text() == "ok"
    assert server.message_requests()[0].body["model"] == "claude-haiku-4-5"


def test_model_defaults_to_the_sdk_sonnet(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ITARCH_MODEL", raising=False)
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-x")
    monkeypatch.setenv("ANTHROPIC_BASE_URL", "http://127.0.0.1:9")  # never reached: no request

    model = create_model(Settings())

    assert model.name == default_model()
    assert model.price == Settings().price_for(default_model())
