"""The one containment check: inside means the folder itself or below it, never a sibling."""

from __future__ import annotations

from pathlib import Path

from agent.fs import is_within, real_within


def test_inside_is_the_folder_or_below_it() -> None:
    root = Path("/repo/tests")
    assert is_within(root, root)
    assert is_within(root / "a" / "test_x.py", root)
    assert not is_within(Path("/repo/tests-other/test_x.py"), root)
    assert not is_within(Path("/repo"), root)


def test_a_symlink_out_of_the_folder_is_outside(tmp_path: Path) -> None:
    root, outside = tmp_path / "root", tmp_path / "outside"
    root.mkdir()
    outside.mkdir()
    (root / "link").symlink_to(outside)
    real_root = root.resolve()
    assert is_within(root / "link" / "x.py", root)  # as given
    assert not real_within(root / "link" / "x.py", real_root)
    assert real_within(root / "x.py", real_root)
