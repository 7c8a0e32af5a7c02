"""Pinned sdists from PyPI, through pip, checked against their recorded hashes."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path
from typing import Protocol

from agent.log import get_logger
from evals.targets import TargetSpec

log = get_logger(__name__)


class FetchError(Exception):
    """The sdist could not be downloaded, does not match its hash, or lacks its tests."""


class Pinned(Protocol):
    """A pinned sdist: a target of the offline suite, or a package of a compat project."""

    @property
    def project(self) -> str: ...
    @property
    def version(self) -> str: ...
    @property
    def sha256(self) -> str: ...
    @property
    def sdist_pin(self) -> str: ...


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def sdist(spec: Pinned, store: Path) -> Path:
    """The target's sdist archive in `store`, downloaded once and verified every time."""
    folder = store / f"{spec.project}-{spec.version}"
    archives = sorted(folder.glob("*.tar.gz")) if folder.is_dir() else []
    if not archives:
        folder.mkdir(parents=True, exist_ok=True)
        log.info("downloading sdist", project=spec.sdist_pin)
        done = subprocess.run(
            [
                sys.executable,
                *("-m", "pip", "download", "--quiet", "--no-deps"),
                *("--no-binary", ":all:", "--dest", str(folder), spec.sdist_pin),
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        archives = sorted(folder.glob("*.tar.gz"))
        if done.returncode != 0 or not archives:
            last = (done.stderr.strip().splitlines() or ["no output"])[-1]
            raise FetchError(f"pip download {spec.sdist_pin} failed: {last}")
    archive = archives[0]
    actual = sha256_of(archive)
    if actual != spec.sha256:
        raise FetchError(f"{archive.name} has sha256 {actual}, expected {spec.sha256}")
    return archive


def extract(archive: Path, dest: Path) -> None:
    """Unpack the archive's single top-level folder as `dest`."""
    with tempfile.TemporaryDirectory(dir=dest.parent) as scratch, tarfile.open(archive) as tar:
        tar.extractall(scratch, filter="data")
        tops = list(Path(scratch).iterdir())
        if len(tops) != 1 or not tops[0].is_dir():
            raise FetchError(f"{archive.name} does not hold one top-level folder")
        shutil.move(str(tops[0]), dest)


def check_contents(spec: TargetSpec, repo: Path) -> None:
    """The sdist really ships the tests the evaluation holds out and copies."""
    wanted = [*spec.heldout, spec.redundant_source.split("::", 1)[0]]
    missing = [p for p in wanted if not (repo / p).is_file()]
    if missing:
        raise FetchError(f"{spec.sdist_pin} sdist lacks {', '.join(missing)}")
    others = [p for p in (repo / spec.tests_root).rglob("test_*.py")]
    if len(others) <= len(spec.heldout):
        raise FetchError(f"{spec.sdist_pin} sdist has no tests besides the held-out ones")
