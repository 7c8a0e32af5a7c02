"""The context names the existing tests that run the changed functions, measured by the
test-impact index: a test that reaches the code only as `pkg.func` through a star re-export is
found, and marked with what of the change it runs; existing tests that now fail are listed
(real git repository, real sandbox runs)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

from agent.config import load_settings
from agent.context import build_context, render_context
from agent.pipeline import index

FILES = {
    "pyproject.toml": """
        [project]
        name = "pkg"
        version = "0.1.0"

        [tool.pytest.ini_options]
        pythonpath = ["."]
    """,
    "pkg/__init__.py": "from .core import *  # noqa: F403\n",
    "pkg/core.py": """
        __all__ = ["compute", "other"]


        def compute(x):
            return x + 1


        def other():
            return 0
    """,
    "tests/test_api.py": """
        import pkg


        def test_compute_adds():
            assert pkg.compute(1) == 2
    """,
    "tests/test_other.py": """
        from pkg.core import other


        def test_other_is_zero():
            assert other() == 0
    """,
}


def _git(repo: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@e", *args],
        cwd=repo,
        check=True,
        capture_output=True,
    )


def test_tests_that_run_the_change_are_named_with_what_they_run(tmp_path: Path) -> None:
    repo = tmp_path / "pkg"
    for rel, text in FILES.items():
        (repo / rel).parent.mkdir(parents=True, exist_ok=True)
        (repo / rel).write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
    _git(repo, "init", "-q", "-b", "main")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-qm", "base")
    settings = load_settings(repo)
    settings.python = sys.executable

    core = repo / "pkg/core.py"
    changed = core.read_text().replace("return x + 1", "return x + 1 if x else 1")
    core.write_text(changed.replace("return 0", "return -1"), encoding="utf-8")
    without = build_context(repo, base="HEAD")
    assert not without.tests_by_execution

    summary = index(repo, settings=settings)
    assert (summary.tests, summary.passed) == (2, 1)  # `other` now returns -1
    ctx = build_context(repo, base="HEAD")

    assert ctx.tests_by_execution
    found = {t.path: t.runs_change for t in ctx.existing_tests}
    assert found["tests/test_api.py"] == ["pkg/core.py: compute"]  # `other` no test runs
    assert "runs the changed code: pkg/core.py: compute" in render_context(ctx)
    assert ctx.failing_tests == [
        "tests/test_other.py::test_other_is_zero (AssertionError: assert -1 == 0)"
    ]
