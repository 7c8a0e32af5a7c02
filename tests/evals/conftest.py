"""A cache folder shared by the evaluation tests: the shop target is prepared and measured once."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def evals_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("evals-cache")
