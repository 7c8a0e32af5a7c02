"""A change to module-level data (a constant, a table entry) runs at import, before any test is
traced: it is credited to the tests that run code of its module, so a test that pins it is not
`misses_change` (real git repository, the real sandbox and gates, `check --base`)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

from agent.config import load_settings
from agent.pipeline import check

CODES = """
    CODES = {
        "bold": 1,
    }


    def code(name):
        return CODES[name]
"""


def _git(repo: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@e", *args],
        cwd=repo,
        check=True,
        capture_output=True,
    )


def _write(repo: Path, rel: str, text: str) -> None:
    (repo / rel).parent.mkdir(parents=True, exist_ok=True)
    (repo / rel).write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")


def test_a_test_pinning_a_new_table_entry_detects_the_change(tmp_path: Path) -> None:
    repo = tmp_path / "codes"
    _write(repo, "pkg/__init__.py", "")
    _write(repo, "pkg/codes.py", CODES)
    _write(
        repo,
        "tests/test_codes.py",
        """
        from pkg.codes import code


        def test_bold():
            assert code("bold") == 1
        """,
    )
    _git(repo, "init", "-q", "-b", "main")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-qm", "base")
    _write(repo, "pkg/codes.py", CODES.replace('"bold": 1,', '"bold": 1,\n        "strike": 9,'))
    _git(repo, "commit", "-qam", "strike")
    _write(
        repo,
        "tests/test_strike.py",
        """
        from pkg.codes import code


        def test_strike():
            assert code("strike") == 9
        """,
    )
    settings = load_settings(repo)
    settings.python = sys.executable
    settings.reruns = 1

    result = check(repo, [str(repo / "tests/test_strike.py")], settings=settings, base="HEAD~1")

    [verdict] = result.files[0].tests
    assert (verdict.verdict, verdict.reason) == ("accepted", None), verdict.detail
    assert "pkg/codes.py:3" in verdict.changed_lines_covered
    assert verdict.on_base == "failed" and verdict.detects_change is True


def test_a_case_that_fails_on_the_base_is_kept_though_its_trace_repeats_an_existing_test(
    tmp_path: Path,
) -> None:
    repo = tmp_path / "codes"
    _write(repo, "pkg/__init__.py", "")
    _write(repo, "pkg/codes.py", CODES)
    existing = """
        import pytest

        from pkg.codes import code


        @pytest.mark.parametrize(("name", "value"), [{cases}])
        def test_code(name, value):
            assert code(name) == value
    """
    _write(repo, "tests/test_codes.py", existing.format(cases='("bold", 1)'))
    _git(repo, "init", "-q", "-b", "main")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-qm", "base")
    _write(repo, "pkg/codes.py", CODES.replace('"bold": 1,', '"bold": 1,\n        "strike": 9,'))
    _git(repo, "commit", "-qam", "strike")
    _write(repo, "tests/test_more.py", existing.format(cases='("bold", 1), ("strike", 9)'))
    settings = load_settings(repo)
    settings.python = sys.executable
    settings.reruns = 1
    settings.mutation = False  # the trace alone cannot tell the two cases apart

    result = check(repo, [str(repo / "tests/test_more.py")], settings=settings, base="HEAD~1")

    by_case = {t.nodeid.split("[", 1)[1]: t for t in result.files[0].tests}
    strike, bold = by_case["strike-9]"], by_case["bold-1]"]
    assert (strike.verdict, strike.on_base, strike.detects_change) == ("accepted", "failed", True)
    assert "kept although its trace alone said redundant" in strike.base_detail
    assert (bold.verdict, bold.reason) == ("rejected", "redundant")


def test_a_test_running_only_code_that_never_reads_the_changed_table_misses_it(
    tmp_path: Path,
) -> None:
    repo = tmp_path / "codes"
    _write(repo, "pkg/__init__.py", "")
    source = CODES + "\n\n    def version():\n        return 1\n"
    _write(repo, "pkg/codes.py", source)
    _write(repo, "tests/test_codes.py", "def test_nothing():\n    assert True\n")
    _git(repo, "init", "-q", "-b", "main")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-qm", "base")
    _write(repo, "pkg/codes.py", source.replace('"bold": 1,', '"bold": 1,\n        "strike": 9,'))
    _git(repo, "commit", "-qam", "strike")
    _write(
        repo,
        "tests/test_version.py",
        """
        from pkg.codes import version


        def test_version():
            assert version() == 1
        """,
    )
    settings = load_settings(repo)
    settings.python = sys.executable
    settings.reruns = 1

    result = check(repo, [str(repo / "tests/test_version.py")], settings=settings, base="HEAD~1")

    [verdict] = result.files[0].tests
    assert (verdict.verdict, verdict.reason) == ("rejected", "misses_change"), verdict.detail
