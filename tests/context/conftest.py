"""Fixtures for the context tests."""

from __future__ import annotations

from pathlib import Path

import git
import pytest

from tests.context.helpers import SHOP, make_repo


@pytest.fixture
def shop_repo(tmp_path: Path) -> git.Repo:
    """The sample shop, committed once; edit its files to make a change."""
    return make_repo(tmp_path / "shop", SHOP)
