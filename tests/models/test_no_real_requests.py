"""The suite never reaches a real model API by accident: building a client for a remote API
fails loudly; a fake on the loopback interface is still reached."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from agent.config import Settings
from agent.models.anthropic import (
    ALLOW_REQUESTS_ENV,
    ModelRequestsBlocked,
    create_model,
    is_loopback,
)


def _settings(base_url: str | None) -> Settings:
    return Settings(
        ANTHROPIC_API_KEY="test-key", ANTHROPIC_BASE_URL=base_url, model="claude-sonnet-4-5"
    )


def test_the_suite_blocks_model_requests() -> None:
    assert os.environ[ALLOW_REQUESTS_ENV] == "0"


@pytest.mark.parametrize("base_url", [None, "https://api.anthropic.com", "http://10.0.0.7:8080"])
def test_a_client_for_a_remote_api_fails_loudly(
    base_url: str | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ANTHROPIC_BASE_URL", raising=False)
    with pytest.raises(ModelRequestsBlocked, match="blocked"):
        create_model(_settings(base_url))


@pytest.mark.parametrize(
    "base_url", ["http://127.0.0.1:8123", "http://localhost:9", "http://[::1]:80"]
)
def test_a_fake_on_loopback_is_still_reached(base_url: str) -> None:
    assert is_loopback(base_url)
    assert create_model(_settings(base_url)).name == "claude-sonnet-4-5"


def test_processes_the_tests_start_inherit_the_block() -> None:
    code = (
        "from agent.config import Settings\n"
        "from agent.models.anthropic import create_model\n"
        "create_model(Settings(ANTHROPIC_API_KEY='k', model='claude-sonnet-4-5'))\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANTHROPIC_")}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert done.returncode != 0
    assert "ModelRequestsBlocked" in done.stderr


def test_allowing_requests_lets_a_remote_client_be_built(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ALLOW_REQUESTS_ENV, "1")
    assert create_model(_settings("https://api.anthropic.com")).name == "claude-sonnet-4-5"
