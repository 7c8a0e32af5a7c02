"""The judge's related existing test files: answered by `agent.tests_map`, the one mapping from
tests to code. Kept only so that the judge's import of it keeps working."""

from __future__ import annotations

from agent.tests_map import module_files, related_test_files

__all__ = ["module_files", "related_test_files"]
