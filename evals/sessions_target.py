"""A recorded session's target repository, rebuilt exactly as it was when the session was recorded,
once, and reused while its spec holds.

    <cache>/sdists/<project>-<version>/*.tar.gz
    <cache>/sessions/<name>/repo             commit 1: the base release; commit 2: the change
    <cache>/sessions/<name>/prepared.json

Commit 1 is the base sdist as published, less its build metadata, with the `.gitignore` the
spec gives. Commit 2 copies the newer sdist over it, except its tests (the upstream's new tests
are the reference, not given to the model) and its build metadata. The venv lives inside the
repository (`python -m venv .venv`), with the project installed editable and the pinned test
dependencies, as its developer would have it.
"""

from __future__ import annotations

import fnmatch
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from pydantic import BaseModel, Field

from agent.demo.shop import deterministic_git_env
from agent.log import get_logger
from evals import fetch
from evals.compat_prepare import NOT_THE_USERS
from evals.gitrepo import DATE, GitError
from evals.prepare import _locked

log = get_logger(__name__)

FORMAT = 1  # bump when the prepared layout changes, so old caches are rebuilt
CHANGE_DATE = "2024-06-01T12:05:00+00:00"


class SessionPrepareError(Exception):
    """The target could not be set up; the message says which step failed."""


class Sdist(BaseModel):
    """A pinned sdist from PyPI (what `evals.fetch.sdist` downloads and verifies)."""

    project: str
    version: str
    sha256: str

    @property
    def sdist_pin(self) -> str:
        return f"{self.project}=={self.version}"


class TargetSpec(BaseModel):
    """How the recorded session's repository was set up: two releases, one commit each."""

    base: Sdist
    change: Sdist
    base_message: str
    change_message: str
    author: str = "dev"
    email: str = "dev@example.com"
    # Removed from the base's tree before commit 1 (globs relative to the repository).
    base_removes: list[str] = Field(default_factory=list)
    # Not copied from the newer sdist: top-level names, or globs matched against any name.
    change_skips_top: list[str] = Field(default_factory=list)
    change_skips: list[str] = Field(default_factory=list)
    gitignore: list[str] = Field(default_factory=list)
    venv: str = ".venv"
    requirements: list[str] = Field(default_factory=list)  # beside `-e .`, pinned
    # The trees the recording's two commits had (`git rev-parse HEAD~1^{tree} HEAD^{tree}`):
    # the rebuilt repository must match them, or it is not the same target.
    trees: list[str] = Field(default_factory=list)

    @property
    def pins(self) -> str:
        return f"{self.base.sdist_pin} -> {self.change.version}"

    def digest(self) -> str:
        return hashlib.sha256(self.model_dump_json().encode()).hexdigest()[:16]


class PreparedTarget(BaseModel):
    digest: str
    repo: Path
    python: Path
    setup_seconds: dict[str, float] = Field(default_factory=dict)
    warm: bool = False


def prepare(spec: TargetSpec, home: Path, cache: Path) -> PreparedTarget:
    """The prepared target in `home`, from the cache when its spec is unchanged, else built now."""
    home.mkdir(parents=True, exist_ok=True)
    digest = f"{FORMAT}-{spec.digest()}"
    with _locked(home / ".lock"):
        state = home / "prepared.json"
        if state.is_file():
            try:
                cached = PreparedTarget.model_validate_json(state.read_text(encoding="utf-8"))
            except ValueError:
                cached = None
            if cached is not None and cached.digest == digest and cached.python.exists():
                return cached.model_copy(update={"warm": True})
        state.unlink(missing_ok=True)
        prepared = _build(spec, cache, home, digest)
        state.write_text(prepared.model_dump_json(indent=2), encoding="utf-8")
        return prepared


def _build(spec: TargetSpec, cache: Path, home: Path, digest: str) -> PreparedTarget:
    seconds: dict[str, float] = {}
    for child in home.iterdir():
        if child.name not in (".lock", "prepared.json"):
            shutil.rmtree(child) if child.is_dir() else child.unlink()
    repo = home / "repo"
    started = time.monotonic()
    base = fetch.sdist(spec.base, cache / "sdists")
    change = fetch.sdist(spec.change, cache / "sdists")
    seconds["download"] = round(time.monotonic() - started, 2)
    started = time.monotonic()
    build_repo(spec, repo, base, change)
    seconds["repo"] = round(time.monotonic() - started, 2)
    started = time.monotonic()
    python = make_venv(spec, repo)
    seconds["venv"] = round(time.monotonic() - started, 2)
    log.info("session target prepared", target=spec.pins, seconds=seconds)
    return PreparedTarget(digest=digest, repo=repo.resolve(), python=python, setup_seconds=seconds)


def git(repo: Path, spec: TargetSpec, *args: str, date: str = DATE) -> str:
    """git with the spec's author and committer, a fixed date and no user or system config."""
    env = deterministic_git_env(date, spec.author, spec.email)
    command = ["git", "-c", "commit.gpgsign=false", *args]
    done = subprocess.run(command, cwd=repo, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        lines = (done.stderr or done.stdout).strip().splitlines()
        raise GitError(f"git {args[0]} failed in {repo}: {lines[-1] if lines else '?'}")
    return done.stdout.strip()


def build_repo(spec: TargetSpec, repo: Path, base: Path, change: Path) -> None:
    repo.parent.mkdir(parents=True, exist_ok=True)
    fetch.extract(base, repo)
    for pattern in spec.base_removes:
        for path in repo.glob(pattern):
            shutil.rmtree(path) if path.is_dir() else path.unlink()
    if spec.gitignore:
        (repo / ".gitignore").write_text("\n".join(spec.gitignore) + "\n", encoding="utf-8")
    git(repo, spec, "init", "--quiet", "-b", "main")
    _commit(repo, spec, spec.base_message, DATE)
    with tempfile.TemporaryDirectory(dir=repo.parent) as scratch:
        newer = Path(scratch) / "change"
        fetch.extract(change, newer)
        shutil.copytree(newer, repo, ignore=_skips(spec, newer), dirs_exist_ok=True)
    _commit(repo, spec, spec.change_message, CHANGE_DATE)
    trees = [
        git(repo, spec, "rev-parse", "HEAD~1^{tree}"),
        git(repo, spec, "rev-parse", "HEAD^{tree}"),
    ]
    if spec.trees and trees != spec.trees:
        raise SessionPrepareError(
            f"{spec.pins}: the rebuilt commits have trees {trees}, the recording's had {spec.trees}"
        )


def _commit(repo: Path, spec: TargetSpec, message: str, date: str) -> None:
    git(repo, spec, "add", "--all", date=date)
    git(repo, spec, "commit", "--quiet", "--no-verify", "--message", message, date=date)


def _skips(spec: TargetSpec, top: Path) -> Callable[[str, list[str]], set[str]]:
    def ignore(folder: str, names: list[str]) -> set[str]:
        skipped = {n for n in names if any(fnmatch.fnmatch(n, p) for p in spec.change_skips)}
        if Path(folder) == top:
            skipped |= set(names) & set(spec.change_skips_top)
        return skipped

    return ignore


def make_venv(spec: TargetSpec, repo: Path) -> Path:
    """`python -m venv .venv` in the repository, then `pip install -e . <requirements>`."""
    venv = repo / spec.venv
    _run([sys.executable, "-m", "venv", str(venv)], repo, f"python -m venv {spec.venv}")
    python = venv / "bin" / "python"
    command = [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    command += ["-e", ".", *spec.requirements]
    try:
        _run(command, repo, "pip install")
    except SessionPrepareError as exc:  # once more: an index can drop a connection
        log.warning("pip install failed, retrying", target=spec.pins, error=str(exc))
        _run(command, repo, "pip install")
    return python


def _run(command: list[str], cwd: Path, what: str) -> None:
    env = {k: v for k, v in os.environ.items() if k not in NOT_THE_USERS}
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        lines = [x for x in done.stderr.strip().splitlines() if not x.startswith("WARNING")]
        raise SessionPrepareError(f"{what} failed: {lines[-1] if lines else done.returncode}")
