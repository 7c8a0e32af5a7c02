"""With a test-impact index built for real (`itarch index` on a real git repository, real sandbox
runs), the related test files are the ones whose tests executed the source file: one that only
reaches it through another module is found, one that imports it without running any of it is
not, and they come ranked by how much of it they ran. A test file changed since it was indexed
is read by its imports again."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

from agent.config import load_settings
from agent.index import open_index
from agent.pipeline import index
from agent.tests_map import TestMap, related_test_files

FILES = {
    "pyproject.toml": """
        [project]
        name = "pkg"
        version = "0.1.0"

        [tool.pytest.ini_options]
        pythonpath = ["."]
    """,
    ".gitignore": "__pycache__/\n",
    "pkg/__init__.py": "",
    "pkg/core.py": """
        def compute(x):
            if x < 0:
                raise ValueError(x)
            return x + 1


        def other():
            total = 0
            for i in range(3):
                total += i
            return total
    """,
    "pkg/api.py": """
        from pkg import core


        def total(xs):
            return sum(core.compute(x) for x in xs)
    """,
    # Reaches pkg/core.py only through pkg/api.py: its imports say nothing of it.
    "tests/test_api.py": """
        from pkg.api import total


        def test_total():
            assert total([1, 2]) == 5
    """,
    "tests/test_core.py": """
        from pkg.core import compute, other


        def test_compute():
            assert compute(1) == 2


        def test_other():
            assert other() == 3
    """,
    # Imports the module but runs none of it.
    "tests/test_idle.py": """
        import pkg.core


        def test_module_is_there():
            assert pkg.core.__name__ == "pkg.core"
    """,
}
SOURCES = {"pkg/core.py"}


def _git(repo: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@e", *args],
        cwd=repo,
        check=True,
        capture_output=True,
    )


def _related(repo: Path, *, indexed: bool) -> list[str]:
    store = open_index(repo, create=False, read_only=True) if indexed else None
    try:
        return related_test_files(repo, "tests", SOURCES, exclude=set(), near=[], index=store)
    finally:
        if store is not None:
            store.close()


def test_the_tests_that_executed_a_file_are_the_ones_related_to_it(tmp_path: Path) -> None:
    repo = tmp_path / "pkg"
    for rel, text in FILES.items():
        (repo / rel).parent.mkdir(parents=True, exist_ok=True)
        (repo / rel).write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
    _git(repo, "init", "-q", "-b", "main")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-qm", "base")

    # Without an index, imports decide.
    assert _related(repo, indexed=False) == ["tests/test_core.py", "tests/test_idle.py"]

    settings = load_settings(repo)
    settings.python = sys.executable
    summary = index(repo, settings=settings)
    assert (summary.tests, summary.passed) == (4, 4)

    # With one, execution does, the most of the file run first.
    assert _related(repo, indexed=True) == ["tests/test_core.py", "tests/test_api.py"]
    store = open_index(repo, create=False, read_only=True)
    assert store is not None
    try:
        found = TestMap(repo, ["tests/test_api.py", "tests/test_core.py"], store).related(SOURCES)
    finally:
        store.close()
    assert [(r.path, r.by) for r in found] == [
        ("tests/test_core.py", "execution"),
        ("tests/test_api.py", "execution"),
    ]
    assert found[0].lines > found[1].lines > 0

    # A change to the source file leaves the entries answering (they say what the tests ran);
    # a test file changed since it was indexed is read by its imports again.
    core = repo / "pkg/core.py"
    core.write_text(core.read_text().replace("x + 1", "x + 2"), encoding="utf-8")
    idle = repo / "tests/test_idle.py"
    idle.write_text(idle.read_text() + "\n\ndef test_more():\n    assert True\n", encoding="utf-8")
    assert _related(repo, indexed=True) == [
        "tests/test_core.py",
        "tests/test_api.py",
        "tests/test_idle.py",
    ]
