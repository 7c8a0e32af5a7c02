from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest

from agent.config import Price
from agent.models.anthropic import AnthropicModel, default_model
from tests.fakes.anthropic_server import AnthropicServer, anthropic_server

__all__ = ["anthropic_server"]

SONNET_PRICE = Price(
    input=Decimal(3), output=Decimal(15), cache_write=Decimal("3.75"), cache_read=Decimal("0.30")
)


@pytest.fixture
def price() -> Price:
    return SONNET_PRICE


@pytest.fixture
def make_model(anthropic_server: AnthropicServer) -> Callable[..., AnthropicModel]:
    """An AnthropicModel pointed at the loopback server, with waits short enough for tests."""

    def make(**overrides: Any) -> AnthropicModel:
        options: dict[str, Any] = {
            "api_key": "sk-ant-test",
            "base_url": anthropic_server.base_url,
            "price": SONNET_PRICE,
            "max_attempts": 4,
            "timeout": 10.0,
            "backoff_base": 0.01,
        }
        options.update(overrides)
        return AnthropicModel(default_model(), **options)

    return make
