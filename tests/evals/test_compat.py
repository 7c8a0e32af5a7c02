"""The compat suite's harness, on a tiny project built here from a local sdist (no network).

The project has an in-repo `.venv` (git-ignored), two tests that pass and one that fails under
plain pytest; `itarch check` runs on it for real, from inside the repository, without --python.
"""

from __future__ import annotations

import hashlib
import json
import sysconfig
import tarfile
from pathlib import Path

import pytest

from evals import compat_card
from evals.cli import main
from evals.compat import read_plain, run_compat
from evals.compat_prepare import prepare
from evals.compat_targets import COMPAT_TARGETS, SHAPES, CompatSpec, ConfigEdit, Sdist

TESTS = """\
from tinyproj import double


def test_double():
    assert double(2) == 4


def test_double_of_zero():
    assert double(0) == 0


def test_wrong_on_purpose():
    assert double(1) == 3
"""


def _sdist(store: Path, scratch: Path) -> str:
    """tinyproj-0.1.tar.gz where `fetch.sdist` looks first, so nothing is downloaded."""
    top = scratch / "tinyproj-0.1"
    (top / "tests").mkdir(parents=True)
    (top / "tinyproj.py").write_text("def double(x):\n    return 2 * x\n", encoding="utf-8")
    (top / "tests" / "test_tiny.py").write_text(TESTS, encoding="utf-8")
    (top / "pyproject.toml").write_text(
        '[project]\nname = "tinyproj"\nversion = "0.1"\n\n'
        '[tool.pytest.ini_options]\ntestpaths = ["tests"]\n',
        encoding="utf-8",
    )
    folder = store / "tinyproj-0.1"
    folder.mkdir(parents=True)
    archive = folder / "tinyproj-0.1.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(top, arcname=top.name)
    return hashlib.sha256(archive.read_bytes()).hexdigest()


def _install(spec: CompatSpec, repo: Path, python: Path) -> None:
    """Stands in for `pip install -e . pytest`: a .pth onto the repository and our pytest."""
    (site,) = (python.parent.parent / "lib").glob("python*/site-packages")
    ours = sysconfig.get_paths()["purelib"]
    (site / "_tinyproj.pth").write_text(f"{repo}\n{ours}\n", encoding="utf-8")


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> tuple[CompatSpec, Path]:
    cache = tmp_path_factory.mktemp("compat-cache")
    sha = _sdist(cache / "sdists", tmp_path_factory.mktemp("sdist"))
    spec = CompatSpec(
        name="tiny",
        shapes=("venv-ignored", "odd-path"),
        packages=(Sdist(project="tinyproj", version="0.1", sha256=sha),),
        location="my projects/café-tiny",
        gitignore=("__pycache__/", ".pytest_cache/", ".venv/"),
        edits=(
            ConfigEdit(
                path="pyproject.toml",
                replace='testpaths = ["tests"]\n',
                text='testpaths = ["tests"]\naddopts = "-ra"\n',
            ),
        ),
        edits_message="Summarise every outcome",
        check=("tests/test_tiny.py",),
    )
    return spec, cache


def test_the_project_is_set_up_as_a_user_would_and_cached(tiny: tuple[CompatSpec, Path]) -> None:
    spec, cache = tiny
    prepared = prepare(spec, cache, install=_install)
    assert not prepared.warm
    assert prepared.repo.name == "café-tiny" and prepared.repo.parent.name == "my projects"
    assert prepared.python == prepared.repo / ".venv" / "bin" / "python"
    assert (prepared.repo / ".git").is_dir()
    assert 'addopts = "-ra"' in (prepared.repo / "pyproject.toml").read_text(encoding="utf-8")
    again = prepare(spec, cache, install=_install)
    assert again.warm and again.repo == prepared.repo


def test_the_harness_scores_itarch_against_plain_pytest(tiny: tuple[CompatSpec, Path]) -> None:
    spec, cache = tiny
    result = run_compat([spec], cache, jobs=1, install=_install, timeout=300)
    (project,) = result.projects
    assert project.status == "scored", project.message
    assert project.plain is not None and project.check is not None
    assert project.plain.counts == {"passed": 2, "failed": 1}
    assert project.plain.not_passed == {"tests/test_tiny.py::test_wrong_on_purpose": "FAILED"}
    # The test failing under plain pytest is not counted against itarch.
    assert project.baseline == 2
    assert project.check.json_ok, project.check.stderr_tail
    assert project.check.exit_code == 1  # itarch rejects the failing test
    assert project.check.verdicts["tests/test_tiny.py::test_wrong_on_purpose"] == "rejected"
    assert "fails" in project.check.reasons
    assert project.accepted == 2 and project.share == 1.0
    assert not project.check.traceback and not project.check.tree_changed
    card = compat_card.render(result)
    assert "| tiny | venv-ignored, odd-path | 3 | 2 | 2 | 100% |" in card
    assert "| **total** | 1 of 1 projects pass |" in card


def test_the_cli_writes_results_and_strict_fails_on_a_project_that_cannot_be_set_up(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    broken = CompatSpec(
        name="broken",
        shapes=("venv-ignored",),
        packages=(Sdist(project="tinyproj", version="0.1", sha256="0" * 64),),
        check=("tests/test_tiny.py",),
    )
    monkeypatch.setitem(COMPAT_TARGETS, "broken", broken)
    _sdist(tmp_path / "cache" / "sdists", tmp_path / "scratch")
    out = tmp_path / "out"
    argv = ["run", "--suite", "compat", "--target", "broken", "--cache", str(tmp_path / "cache")]
    assert main([*argv, "--out", str(out)]) == 1
    (written,) = out.glob("*-compat.json")
    data = json.loads(written.read_text(encoding="utf-8"))
    (project,) = data["projects"]
    assert project["status"] == "failed" and "sha256" in project["message"]
    assert "**not set up**" in (out / written.name.replace(".json", ".md")).read_text()
    assert main([*argv, "--out", str(out), "--target", "nonesuch"]) == 2


def test_plain_pytest_outcomes_are_read_from_the_summary_relative_to_the_repository() -> None:
    output = """\
============================= test session starts ==============================
rootdir: /x/packages/asgiref
tests/test_local.py::test_a PASSED                                       [ 50%]
[gw1] [100%] FAILED tests/test_local.py::test_b[x - y]
=========================== short test summary info ============================
PASSED tests/test_local.py::test_a
PASSED tests/test_local.py::test_c[a b]
FAILED tests/test_local.py::test_b[x] - AssertionError: assert 1 == 2
ERROR tests/test_local.py::test_d - RuntimeError
XFAIL tests/test_local.py::test_e - reason: later
SKIPPED [1] tests/test_local.py:9: no
============ 2 passed, 1 failed, 1 error, 1 skipped, 1 xfailed in 0.10s ============
"""
    run = read_plain(output, ["packages/asgiref/tests/test_local.py"])
    assert run.passed == [
        "packages/asgiref/tests/test_local.py::test_a",
        "packages/asgiref/tests/test_local.py::test_c[a b]",
    ]
    assert run.not_passed == {
        "packages/asgiref/tests/test_local.py::test_b[x]": "FAILED",
        "packages/asgiref/tests/test_local.py::test_d": "ERROR",
        "packages/asgiref/tests/test_local.py::test_e": "XFAIL",
    }
    assert run.counts == {"passed": 2, "failed": 1, "error": 1, "skipped": 1, "xfailed": 1}


def test_the_projects_cover_every_shape_with_pinned_sdists() -> None:
    covered = {shape for spec in COMPAT_TARGETS.values() for shape in spec.shapes}
    assert set(SHAPES) <= covered, set(SHAPES) - covered
    sdists = [p for spec in COMPAT_TARGETS.values() for p in spec.packages]
    assert len({p.project for p in sdists}) >= 12
    offline = {"flask-sqlalchemy", "flask-wtf", "marshmallow-sqlalchemy"}
    assert not offline & {p.project for p in sdists}
    for spec in COMPAT_TARGETS.values():
        assert 1 <= len(spec.check) <= 3, spec.name
        assert all("==" in r for r in spec.requirements), spec.name
        assert all(len(p.sha256) == 64 for p in spec.packages), spec.name
        assert bool(spec.edits) == bool(spec.edits_message), spec.name
