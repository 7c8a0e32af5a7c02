"""The changes suite's pure parts: its targets, the reference tests taken from two releases, the
repository built from them (real git, no network) and the scorecard."""

from __future__ import annotations

import subprocess
import textwrap
from pathlib import Path

import pytest

from evals import changes_cli
from evals.changes import ChangeRun, ChangesResult, Figures, TestRecord, check_expectations
from evals.changes_card import render
from evals.changes_prepare import build_from_trees
from evals.changes_reference import changed_tests, reference_files
from evals.changes_targets import CHANGES, ChangeSpec, select
from evals.cli import main
from evals.sessions_target import Sdist

OLD_TESTS = textwrap.dedent(
    """\
    import pytest

    from pkg import add


    def test_same():
        assert add(1, 1) == 2


    class TestAdd:
        def test_kept_as_was(self):
            assert add(0, 0) == 0

        @pytest.mark.parametrize("a", [1, 2])
        def test_changed(self, a):
            assert add(a, 0) == a
    """
)
NEW_TESTS = textwrap.dedent(
    """\
    import pytest

    from pkg import add


    def test_same():
        assert add(1, 1) == 2


    class TestAdd:
        def test_kept_as_was(self):
            assert add(0, 0) == 0

        @pytest.mark.parametrize("a", [1, 2, 3])
        def test_changed(self, a):
            assert add(a, 0) == a


    def test_new():
        assert add(-1, 1) == 0
    """
)


def test_every_target_is_pinned_and_says_what_each_reference_test_should_get() -> None:
    assert len(CHANGES) >= 8
    assert {s.kind for s in CHANGES.values()} >= {"behaviour", "refactor"}
    projects = {s.base.project for s in CHANGES.values()}
    assert not projects & {"python-dotenv", "flask-sqlalchemy", "click", "toolz", "six"}
    for spec in CHANGES.values():
        assert spec.base.project == spec.change.project
        assert len(spec.base.sha256) == len(spec.change.sha256) == 64
        assert spec.expect, f"{spec.name} has no expectations"
        assert all(o in ("detects", "guards") or o.islower() for _, o in spec.expect)
    assert [s.name for s in select(["parse-1.20.1"])] == ["parse-1.20.1"]
    with pytest.raises(KeyError, match="unknown change"):
        select(["nope-1.0"])


def test_a_changed_file_keeps_its_module_code_and_only_new_or_changed_tests() -> None:
    got = changed_tests(OLD_TESTS, NEW_TESTS)
    assert got is not None
    assert got.tests == ["TestAdd::test_changed", "test_new"]
    assert got.dropped == ["TestAdd::test_kept_as_was", "test_same"]
    assert "from pkg import add" in got.content
    assert "def test_same" not in got.content and "test_kept_as_was" not in got.content
    compile(got.content, "t.py", "exec")
    assert changed_tests(OLD_TESTS, OLD_TESTS) is None

    files = reference_files(
        {"tests/test_add.py": OLD_TESTS},
        {"tests/test_add.py": NEW_TESTS, "tests/test_more.py": NEW_TESTS, "tests/util.py": ""},
    )
    assert [(f.path, f.source, f.new_file) for f in files] == [
        ("tests/test_add_upstream.py", "tests/test_add.py", False),
        ("tests/test_more.py", "tests/test_more.py", True),
    ]


def _release(root: Path, version: str, body: str, tests: str, data: str | None = None) -> Path:
    tree = root / f"pkg-{version}"
    (tree / "pkg").mkdir(parents=True)
    (tree / "tests").mkdir()
    (tree / "pkg" / "__init__.py").write_text(body, encoding="utf-8")
    (tree / "tests" / "test_add.py").write_text(tests, encoding="utf-8")
    (tree / "PKG-INFO").write_text(f"Version: {version}\n", encoding="utf-8")
    if data is not None:
        (tree / "tests" / "data.txt").write_text(data, encoding="utf-8")
    return tree


def _git(repo: Path, *args: str) -> str:
    done = subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, check=True)
    return done.stdout.strip()


def test_the_repository_holds_release_n_then_the_new_code_with_the_old_tests(
    tmp_path: Path,
) -> None:
    old = _release(tmp_path, "1.0", "def add(a, b):\n    return a + b\n", OLD_TESTS)
    new = _release(tmp_path, "1.1", "def add(a, b):\n    return b + a\n", NEW_TESTS, data="fixture")
    spec = ChangeSpec(
        name="pkg-1.1",
        kind="refactor",
        what="operands swapped",
        base=Sdist(project="pkg", version="1.0", sha256="0" * 64),
        change=Sdist(project="pkg", version="1.1", sha256="1" * 64),
        bring=["tests/data.txt"],
    )
    repo = tmp_path / "repo"
    base, change, reference = build_from_trees(spec, repo, old, new)

    assert _git(repo, "rev-list", "--count", "HEAD") == "2"
    assert _git(repo, "rev-parse", "HEAD~1") == base and _git(repo, "rev-parse", "HEAD") == change
    assert _git(repo, "diff", "--name-only", "HEAD~1", "HEAD").split() == ["pkg/__init__.py"]
    assert _git(repo, "show", "HEAD~1:tests/data.txt") == "fixture"  # brought into both
    assert (repo / "tests" / "test_add.py").read_text(encoding="utf-8") == OLD_TESTS
    assert not (repo / "PKG-INFO").exists()
    assert ".venv/" in (repo / ".git" / "info" / "exclude").read_text(encoding="utf-8")
    assert _git(repo, "status", "--porcelain") == ""
    assert [f.path for f in reference] == ["tests/test_add_upstream.py"]


def _figures(*tests: TestRecord) -> Figures:
    accepted = [t for t in tests if t.verdict != "rejected"]
    return Figures(
        source="reference tests replayed",
        files=1,
        tests=len(tests),
        accepted=len(accepted),
        detects=sum(bool(t.detects_change) for t in accepted),
        changed_lines=4,
        changed_run=3,
        mutants=5,
        killed=2,
        wall_seconds=1.5,
        tests_seen=list(tests),
    )


def test_strict_checks_and_the_scorecard_say_what_was_expected_and_what_came() -> None:
    spec = ChangeSpec(
        name="pkg-1.1",
        kind="behaviour",
        what="adds",
        base=Sdist(project="pkg", version="1.0", sha256="0" * 64),
        change=Sdist(project="pkg", version="1.1", sha256="1" * 64),
        expect=[("test_pin*", "detects"), ("test_guard", "guards"), ("*", "redundant")],
    )
    got = _figures(
        TestRecord(nodeid="t.py::test_pin[1]", verdict="accepted", detects_change=True),
        TestRecord(nodeid="t.py::test_pin[2]", verdict="accepted", detects_change=False),
        TestRecord(nodeid="t.py::test_guard", verdict="accepted", detects_change=False),
        TestRecord(nodeid="t.py::test_copy", verdict="rejected", reason="redundant"),
    )
    problems, known = check_expectations(spec, got)
    assert problems == ["t.py::test_pin[2]: expected detects, got guards"] and known == []
    assert [t.ok for t in got.tests_seen] == [True, False, True, True]

    run = ChangeRun(
        name="pkg-1.1",
        pins="pkg 1.0 -> 1.1",
        kind="behaviour",
        what="adds",
        reference_files=["t.py"],
        reference=got,
        problems=problems,
    )
    result = ChangesResult(started="2026-01-02T03:04:05+00:00", changes=[run])
    card = render(result)
    assert "reference tests replayed" in card
    assert (
        "| pkg 1.0 -> 1.1 | behaviour | 3/4 (75%) | 1/3 (33%) | 3/4 (75%) | 2/5 (40%) | 0/1 | 1.5 |"
        in card
    )
    assert "**mismatch**" in card and "SWT-bench" in card
    assert "t.py::test_pin[2]: expected detects, got guards" in card
    assert result.total("reference").accepted == 3

    live = result.model_copy(
        update={"mode": "live", "changes": [run.model_copy(update={"live": got})]}
    )
    assert "| pkg 1.0 -> 1.1 | 3/4 (75%) | 1/3 (33%) | 1/3 (33%) |" in render(live)

    spec.known = {"test_pin?2?": "a known misjudgment"}
    problems, known = check_expectations(spec, got)
    assert problems == [] and known == ["t.py::test_pin[2]: a known misjudgment"]


def test_live_without_a_key_fails_with_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    code = main(["run", "--suite", "changes", "--live", "--cache", str(tmp_path)])
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert err == changes_cli.NO_KEY and "\n" not in err
