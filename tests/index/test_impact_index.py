"""The test-impact index on a real git repository, filled by real pytest runs in the real sandbox:
what each test executes is recorded per line and per function, an unchanged test file is read
back instead of run again, and an entry goes stale exactly when a file it depends on changes."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from agent.config import Settings, load_settings
from agent.index import function_spans, functions_of, open_index
from agent.pipeline import check, index
from agent.schema import Reason

PYTHON = sys.executable

FILES = {
    "pyproject.toml": """
        [project]
        name = "inv"
        version = "0.1.0"

        [tool.pytest.ini_options]
        testpaths = ["tests"]
        pythonpath = ["."]
    """,
    ".gitignore": "__pycache__/\n",
    "inv/__init__.py": "",
    "inv/config.py": """
        LIMIT = 10
    """,
    "inv/stock.py": """
        from inv.config import LIMIT


        class Store:
            def __init__(self):
                self.items = {}

            def add(self, name, count):
                if count > LIMIT:
                    raise ValueError("too many")
                self.items[name] = self.items.get(name, 0) + count
                return self.items[name]


        def untested():
            return 1
    """,
    "inv/report.py": """
        def render(items):
            def line(name):
                return f"{name}: {items[name]}"

            return "\\n".join(line(n) for n in sorted(items))
    """,
    "tests/__init__.py": "",
    "tests/test_stock.py": """
        from inv.stock import Store


        def test_add_counts():
            store = Store()
            store.add("apple", 2)
            assert store.add("apple", 3) == 5
    """,
    "tests/test_report.py": """
        from inv.report import render


        def test_render_sorted():
            assert render({"b": 1, "a": 2}) == "a: 2\\nb: 1"
    """,
}


def _git(repo: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "inv"
    for rel, text in FILES.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
    _git(root, "init", "-q", "-b", "main")
    _git(root, "add", "-A")
    _git(root, "-c", "user.name=t", "-c", "user.email=t@e", "commit", "-qm", "base")
    return root


def _settings(repo: Path) -> Settings:
    settings = load_settings(repo)
    settings.python = PYTHON
    return settings


def test_index_records_lines_and_functions_then_reuses_unchanged_files(repo: Path) -> None:
    first = index(repo, settings=_settings(repo))
    assert (first.test_files, first.ran, first.reused) == (2, 2, 0)
    assert (first.tests, first.passed) == (2, 2)

    store = open_index(repo, create=False)
    assert store is not None
    stock = {
        nodeid: (lines, functions)
        for nodeid, _, lines, functions in store.executions("inv/stock.py")
    }
    assert list(stock) == ["tests/test_stock.py::test_add_counts"]
    lines, functions = stock["tests/test_stock.py::test_add_counts"]
    assert functions == {"Store.__init__", "Store.add"}
    assert 9 in lines and 10 not in lines  # the raise is not taken
    assert 16 not in lines  # untested() never runs
    report = [functions for _, _, _, functions in store.executions("inv/report.py")]
    assert report == [{"render", "render.line"}]

    again = index(repo, settings=_settings(repo))
    assert (again.ran, again.reused) == (0, 2)

    # A change to a module imported at collection only (a constant) makes its importers stale.
    (repo / "inv/config.py").write_text("LIMIT = 20\n", encoding="utf-8")
    after_config = index(repo, settings=_settings(repo))
    assert (after_config.ran, after_config.reused) == (1, 1)

    # A change to a file a test executed makes only that test file stale.
    report_py = repo / "inv/report.py"
    report_py.write_text(report_py.read_text() + "\n\nEXTRA = 1\n", encoding="utf-8")
    store = open_index(repo, create=False)
    assert store is not None
    assert not store.valid("tests/test_report.py") and store.valid("tests/test_stock.py")

    # The pytest configuration is a dependency of every test file.
    pyproject = repo / "pyproject.toml"
    pyproject.write_text(pyproject.read_text() + "\n# touched\n", encoding="utf-8")
    assert not store.valid("tests/test_stock.py")
    # the index stays out of the user's git status
    status = subprocess.run(
        ["git", "status", "--short"], cwd=repo, capture_output=True, text=True, check=True
    ).stdout
    assert ".itarch" not in status


def test_check_reads_an_unchanged_baseline_back_with_the_same_verdicts(repo: Path) -> None:
    proposal = repo / "tests/test_stock_copy.py"
    proposal.write_text(
        (repo / "tests/test_stock.py").read_text().replace("test_add_counts", "test_again"),
        encoding="utf-8",
    )
    without = _settings(repo)
    without.index = False
    ran = check(repo, [str(proposal)], settings=without)
    assert not (repo / ".itarch" / "index.db").exists()

    index(repo, settings=_settings(repo))
    read_back = check(repo, [str(proposal)], settings=_settings(repo))

    verdicts = [
        [(t.nodeid, t.verdict, t.reason) for t in r.files[0].tests] for r in (ran, read_back)
    ]
    assert verdicts[0] == verdicts[1]
    assert verdicts[0][0][2] == Reason.REDUNDANT  # judged against the existing test either way
    assert read_back.gate_seconds["baseline"] < ran.gate_seconds["baseline"]


def test_function_spans_put_each_line_in_its_innermost_function() -> None:
    source = textwrap.dedent(
        """
        import os


        @decorator
        def outer():
            x = 1

            def inner():
                return x

            return inner


        class Box:
            def get(self):
                return 2
        """
    )
    spans = function_spans(source)
    assert [name for _, _, name in spans] == ["outer", "outer.inner", "Box.get"]
    lines = {line: name for start, end, name in spans for line in range(start, end + 1)}
    assert lines[7] == "outer" and lines[10] == "outer.inner" and lines[17] == "Box.get"
    # the `def inner` line runs in `outer`
    assert lines[9] == "outer"


def test_functions_of_reads_the_file_at_its_hash(tmp_path: Path) -> None:
    (tmp_path / "m.py").write_text("X = 1\n\n\ndef f():\n    return X\n", encoding="utf-8")
    assert functions_of(tmp_path, "m.py", "h1", {1, 5}) == {"<module>", "f"}


def test_a_second_check_of_the_same_change_reads_the_baseline_back_without_an_index_built(
    repo: Path,
) -> None:
    proposal = repo / "tests/test_stock_copy.py"
    proposal.write_text(
        (repo / "tests/test_stock.py").read_text().replace("test_add_counts", "test_again"),
        encoding="utf-8",
    )
    first = check(repo, [str(proposal)], settings=_settings(repo))
    second = check(repo, [str(proposal)], settings=_settings(repo))

    assert [t.reason for t in second.files[0].tests] == [t.reason for t in first.files[0].tests]
    assert second.gate_seconds["baseline"] < first.gate_seconds["baseline"]
    store = open_index(repo, create=False)
    assert store is not None and store.valid("tests/test_stock.py")
    # every source file traced (cheap on any Python): an index that answers the hook and context
    assert store.test_files() == ["tests/test_stock.py"] and store.has_entries()


def test_with_settrace_forced_a_check_keeps_runs_only_for_what_they_traced(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`sys.settrace` over every source file is dear: without `itarch index` a check then keeps
    its runs for the next check of the same change, not as entries that answer any question."""
    monkeypatch.setenv("ITARCH_LINE_TRACER", "settrace")
    proposal = repo / "tests/test_stock_copy.py"
    proposal.write_text(
        (repo / "tests/test_stock.py").read_text().replace("test_add_counts", "test_again"),
        encoding="utf-8",
    )
    first = check(repo, [str(proposal)], settings=_settings(repo))
    second = check(repo, [str(proposal)], settings=_settings(repo))

    assert [t.reason for t in second.files[0].tests] == [t.reason for t in first.files[0].tests]
    store = open_index(repo, create=False)
    assert store is not None and store.valid("tests/test_stock.py")
    assert store.test_files() == [] and not store.has_entries()
