"""Which model the hook's `generate` mode talks to: Claude, or a scripted one named in the env.

`ITARCH_SCRIPTED_MODEL=turns.json` replaces Claude with canned turns, for dry runs in CI (and for
the tests, since git starts the hook as a subprocess). The file is a JSON list; each entry is one
assistant turn: a list of content blocks, a `{"content": [...], "stop_reason": ...}` response,
or `{"error": "message"}` to make that request fail. Output from it is labelled scripted.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from agent.config import Settings
from agent.models import claude
from agent.models.base import Model, ModelError
from agent.models.scripted import ScriptedModel, Turn
from agent.schema import ModelResponse

SCRIPTED_ENV = "ITARCH_SCRIPTED_MODEL"


# Replaceable by code that embeds the hook; the environment variable still wins.
model_factory: Callable[[Settings], Model] = claude


def hook_model(settings: Settings, env: Mapping[str, str]) -> tuple[Model, str]:
    """The model and how to name it to the user; ModelError when none can be had (no key)."""
    script = env.get(SCRIPTED_ENV, "")
    if script:
        return ScriptedModel(load_turns(Path(script))), f"SCRIPTED model from {script} (not Claude)"
    model = model_factory(settings)
    return model, f"model {model.name}"


def load_turns(path: Path) -> list[Turn]:
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ModelError(f"cannot read the scripted model {path}: {exc}") from None
    if not isinstance(raw, list):
        raise ModelError(f"{path}: a scripted model is a JSON list of turns")
    return [_turn(entry, path, i) for i, entry in enumerate(raw)]


def _turn(entry: Any, path: Path, index: int) -> Turn:
    if isinstance(entry, list):
        return entry
    if isinstance(entry, dict) and "error" in entry:
        return ModelError(str(entry["error"]))
    if isinstance(entry, dict) and "content" in entry:
        return ModelResponse.model_validate({**entry, "source": "scripted"})
    raise ModelError(f"{path}: turn {index} is neither a list of blocks, a response nor an error")
