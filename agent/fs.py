"""File-system checks every layer shares: whether a path stays inside a folder."""

from __future__ import annotations

import os
from pathlib import Path


def is_within(path: Path, root: Path) -> bool:
    """Whether `path` is `root` or lies under it, compared as given: resolve both first (or use
    `real_within`) when a symlink must not lead out."""
    return path == root or root in path.parents


def real_within(path: Path, root: Path) -> bool:
    """Whether `path`, with every symlink followed, is `root` (itself real) or lies under it."""
    return is_within(Path(os.path.realpath(path)), root)
