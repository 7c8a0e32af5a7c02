"""The context's diff puts the project's source first, then its tests, then the rest."""

from __future__ import annotations

from agent.context.builder import code_first


def _chunk(path: str) -> str:
    return f"diff --git a/{path} b/{path}\n--- a/{path}\n+++ b/{path}\n@@ -1 +1 @@\n-a\n+b\n"


def test_source_then_tests_then_docs_and_config_in_git_order_within_each() -> None:
    paths = ["CHANGELOG.md", "tests/test_x.py", "pkg/b.py", "setup.cfg", "pkg/a.py"]
    patch = "".join(_chunk(p) for p in paths)
    ordered = code_first(patch)
    heads = [line.split(" b/")[1] for line in ordered.splitlines() if line.startswith("diff")]
    assert heads == ["pkg/b.py", "pkg/a.py", "tests/test_x.py", "CHANGELOG.md", "setup.cfg"]
    assert sorted(ordered.splitlines()) == sorted(patch.splitlines())  # nothing lost


def test_a_patch_with_anything_else_is_left_as_it_is() -> None:
    patch = "note\n" + _chunk("README.md") + _chunk("pkg/a.py")
    assert code_first(patch) == patch
    assert code_first("") == ""
