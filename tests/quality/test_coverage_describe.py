"""How changed lines are named to the model: each span with the function that holds it."""

from __future__ import annotations

import os
from pathlib import Path

from agent.quality.coverage import describe_lines

SOURCE = (
    "def first():\n"  # 1
    "    a = 1\n"  # 2
    "    return a\n"  # 3
    "\n"  # 4
    "\n"  # 5
    "def second():\n"  # 6
    "    b = 2\n"  # 7
    "    return b\n"  # 8
    "\n"  # 9
    "X = 3\n"  # 10
)


def test_each_span_is_named_by_its_own_function(tmp_path: Path) -> None:
    (tmp_path / "mod.py").write_text(SOURCE)
    text = describe_lines({"mod.py": {2, 3, 7, 10}}, tmp_path)
    assert text == "mod.py lines 2-3 (first), 7 (second), 10"


def test_a_rewritten_file_is_read_again_even_with_its_old_mtime(tmp_path: Path) -> None:
    path = tmp_path / "mod.py"
    path.write_text(SOURCE)
    stamp = path.stat().st_mtime_ns
    assert describe_lines({"mod.py": {7}}, tmp_path) == "mod.py lines 7 (second)"
    # the copy is restored from elsewhere with the original's timestamp (as copy2 does)
    path.unlink()
    path.write_text("\n\n\n\n\n\n" + SOURCE)
    os.utime(path, ns=(stamp, stamp))
    assert describe_lines({"mod.py": {7}}, tmp_path) == "mod.py lines 7 (first)"
