"""The models the loop talks to: the `Model` protocol (`base`), Claude (`anthropic`, the only module
that imports the SDK), scripted turns (`scripted`) and recorded sessions (`replay`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from agent.config import Settings
    from agent.models.base import Model


def claude(settings: Settings) -> Model:
    """The configured Claude model: the one factory every entry point uses. The SDK is imported
    here, not with the package: it takes a second or two, and check, demo and the hook's check
    mode never need it. A missing key is a ModelError, said in one line."""
    from agent.models.anthropic import create_model

    return create_model(settings)
