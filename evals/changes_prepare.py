"""A release change's repository, built once and reused while its spec holds.

    <cache>/sdists/<project>-<version>/*.tar.gz
    <cache>/changes/<name>/repo             commit 1: release N; commit 2: N+1's code, N's tests
    <cache>/changes/<name>/prepared.json    the reference tests, the venv, the set-up times

Commit 1 is release N's sdist as published, less its build metadata (`PKG-INFO`,
`*.egg-info`). Commit 2 is release N+1's sdist (less the same) with the tests folder as N had
it. Data files the reference tests read (the spec's `bring`) are added to both commits. The
venv is made as a developer makes it: `python -m venv .venv` inside the repository (git-ignored
through `.git/info/exclude`), then `pip install -e .` with the pinned test dependencies.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
import time
from pathlib import Path

from pydantic import BaseModel, Field

from agent.log import get_logger
from evals import fetch, gitrepo
from evals.changes_reference import ReferenceFile, reference_files
from evals.changes_targets import ChangeSpec
from evals.prepare import _locked
from evals.sessions_target import SessionPrepareError, _run

log = get_logger(__name__)

FORMAT = 2  # bump when the prepared layout changes, so old caches are rebuilt
META = ("PKG-INFO", ".git")
VENV = ".venv"


class ChangePrepareError(Exception):
    """The change could not be set up; the message says which step failed."""


class PreparedChange(BaseModel):
    digest: str
    repo: Path
    python: Path
    base: str  # commit of release N
    change: str  # commit of release N+1's code
    reference: list[ReferenceFile] = Field(default_factory=list)
    setup_seconds: dict[str, float] = Field(default_factory=dict)
    warm: bool = False


def prepare(spec: ChangeSpec, cache: Path) -> PreparedChange:
    """The prepared change under `<cache>/changes/<name>`, from the cache when its spec holds."""
    home = (cache / "changes" / spec.name).resolve()
    home.mkdir(parents=True, exist_ok=True)
    digest = f"{FORMAT}-{spec.digest()}"
    with _locked(home / ".lock"):
        state = home / "prepared.json"
        if state.is_file():
            try:
                cached = PreparedChange.model_validate_json(state.read_text(encoding="utf-8"))
            except ValueError:
                cached = None
            if cached is not None and cached.digest == digest and cached.python.exists():
                return cached.model_copy(update={"warm": True})
        state.unlink(missing_ok=True)
        for child in home.iterdir():
            if child.name not in (".lock", "prepared.json"):
                shutil.rmtree(child) if child.is_dir() else child.unlink()
        seconds: dict[str, float] = {}
        started = time.monotonic()
        old = fetch.sdist(spec.base, cache / "sdists")
        new = fetch.sdist(spec.change, cache / "sdists")
        seconds["download"] = round(time.monotonic() - started, 2)
        started = time.monotonic()
        repo = home / "repo"
        base, change, reference = build_repo(spec, repo, old, new)
        seconds["repo"] = round(time.monotonic() - started, 2)
        started = time.monotonic()
        python = make_venv(spec, repo)
        seconds["venv"] = round(time.monotonic() - started, 2)
        prepared = PreparedChange(
            digest=digest,
            repo=repo.resolve(),
            python=python,
            base=base,
            change=change,
            reference=reference,
            setup_seconds=seconds,
        )
        state.write_text(prepared.model_dump_json(indent=1), encoding="utf-8")
        log.info("change prepared", change=spec.name, seconds=seconds)
        return prepared


def build_repo(
    spec: ChangeSpec, repo: Path, old_archive: Path, new_archive: Path
) -> tuple[str, str, list[ReferenceFile]]:
    """Both commits in `repo`, from two sdists; returns the commits and the reference tests."""
    with tempfile.TemporaryDirectory(dir=repo.parent) as scratch:
        old, new = Path(scratch) / "old", Path(scratch) / "new"
        fetch.extract(old_archive, old)
        fetch.extract(new_archive, new)
        return build_from_trees(spec, repo, old, new)


def build_from_trees(
    spec: ChangeSpec, repo: Path, old: Path, new: Path
) -> tuple[str, str, list[ReferenceFile]]:
    """Both commits in `repo` from two unpacked releases (folders are only read)."""
    for tree in (old, new):
        _strip_meta(tree)
    missing = [p for p in spec.bring if not (new / p).is_file()]
    if missing:
        raise ChangePrepareError(f"{spec.pins}: release {spec.change.version} lacks {missing}")
    shutil.copytree(old, repo, symlinks=True)
    _bring(spec, repo, new)
    gitrepo.init(repo)
    exclude = repo / ".git" / "info" / "exclude"
    exclude.write_text(exclude.read_text(encoding="utf-8") + f"{VENV}/\n", encoding="utf-8")
    base = gitrepo.commit_all(repo, f"Release {spec.base.version}")
    for child in repo.iterdir():
        if child.name != ".git":
            shutil.rmtree(child) if child.is_dir() and not child.is_symlink() else child.unlink()
    shutil.copytree(new, repo, symlinks=True, dirs_exist_ok=True)
    _put_back_tests(spec, repo, old)
    _bring(spec, repo, new)
    change = gitrepo.commit_all(repo, f"Release {spec.change.version} (code only)")
    reference = reference_files(
        _test_sources(spec, old),
        _test_sources(spec, new),
        test_files=spec.test_files,
        proposed_as=spec.proposed_as,
    )
    if not reference:
        raise ChangePrepareError(f"{spec.pins}: no test changed between the releases")
    return base, change, reference


def _bring(spec: ChangeSpec, repo: Path, new: Path) -> None:
    """The data files the reference tests read, in both commits: the base run keeps them."""
    for path in spec.bring:
        (repo / path).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(new / path, repo / path)


def _strip_meta(tree: Path) -> None:
    for name in META:
        target = tree / name
        if target.is_dir():
            shutil.rmtree(target)
        elif target.exists():
            target.unlink()
    for info in [*tree.glob("*.egg-info"), *tree.glob("src/*.egg-info")]:
        shutil.rmtree(info)


def _put_back_tests(spec: ChangeSpec, repo: Path, old: Path) -> None:
    """The tests as release N had them: its tests folder, or its named test files."""
    if spec.tests_root != ".":
        shutil.rmtree(repo / spec.tests_root, ignore_errors=True)
        if (old / spec.tests_root).is_dir():
            shutil.copytree(old / spec.tests_root, repo / spec.tests_root, symlinks=True)
    for path in spec.test_files:
        (repo / path).unlink(missing_ok=True)
        if (old / path).is_file():
            shutil.copy2(old / path, repo / path)


def _test_sources(spec: ChangeSpec, tree: Path) -> dict[str, str]:
    if spec.test_files:
        paths = [tree / p for p in spec.test_files if (tree / p).is_file()]
    else:
        paths = sorted((tree / spec.tests_root).rglob("*.py"))
    return {p.relative_to(tree).as_posix(): p.read_text(encoding="utf-8") for p in paths}


def make_venv(spec: ChangeSpec, repo: Path) -> Path:
    """`python -m venv .venv` in the repository, then `pip install -e . <requirements>`."""
    venv = repo / VENV
    try:
        _run([sys.executable, "-m", "venv", str(venv)], repo, f"python -m venv {VENV}")
        python = venv / "bin" / "python"
        command = [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
        command += ["-e", ".", *spec.requirements]
        try:
            _run(command, repo, "pip install")
        except SessionPrepareError as exc:  # once more: an index can drop a connection
            log.warning("pip install failed, retrying", change=spec.name, error=str(exc))
            _run(command, repo, "pip install")
    except SessionPrepareError as exc:
        raise ChangePrepareError(f"{spec.pins}: {exc}") from exc
    return python
