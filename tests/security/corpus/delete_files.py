"""Hostile: delete files, in the copy and by the user's absolute paths."""

import contextlib
import os
import shutil
from pathlib import Path

REPO = "@@REPO@@"
HOME = "@@HOME@@"
PARENT = "@@PARENT@@"


def test_deletes_everything_it_can():
    for path in (
        Path(REPO, "shopkit", "prices.py"),
        Path(HOME, ".anthropic", "api_key"),
        Path(PARENT, ".env"),
    ):
        with contextlib.suppress(OSError):
            path.unlink()
    shutil.rmtree(Path(REPO, ".git"), ignore_errors=True)
    os.remove(os.path.join("shopkit", "prices.py"))
    assert not Path("shopkit", "prices.py").exists()
