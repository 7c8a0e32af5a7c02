"""A compat project made ready once, the way its users set it up, and reused while its spec holds.

    <cache>/sdists/<project>-<version>/*.tar.gz
    <cache>/compat/<name>/<location>          the git repository, its venv inside it
    <cache>/compat/<name>/prepared.json

The repository: commit 1 is the sdist(s) as published (plus the repository's `.gitignore` where
the sdist ships none), tagged with the release where the version comes from git; commit 2 (only
when the spec has edits) is the configuration a user added. The venv: `python -m venv` inside
the repository (or laid out as uv lays one out), the packages installed editable with `pip
install -e`, and the pinned test dependencies.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from pydantic import BaseModel, Field

from agent.log import get_logger
from evals import fetch, gitrepo
from evals.compat_targets import CompatSpec
from evals.prepare import _locked

log = get_logger(__name__)

FORMAT = 1  # bump when the prepared layout changes, so old caches are rebuilt
UV_VERSION = "0.8.22"  # what the uv-style venv's pyvenv.cfg says made it

COLLECT_TIMEOUT = 300
# Variables of the shell running the suite that a user in the project's repository would not have.
NOT_THE_USERS = ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME", "PYTEST_ADDOPTS", "PYTEST_PLUGINS")

# Installs the project into a fresh venv: (spec, repo, venv python). Tests pass their own.
Installer = Callable[[CompatSpec, Path, Path], None]


class CompatPrepareError(Exception):
    """The project could not be set up; the message says which step failed."""


class PreparedProject(BaseModel):
    spec: CompatSpec
    digest: str
    repo: Path
    python: Path
    setup_seconds: dict[str, float] = Field(default_factory=dict)
    warm: bool = False


def project_home(cache: Path, spec: CompatSpec) -> Path:
    return cache / "compat" / spec.name


def prepare(spec: CompatSpec, cache: Path, *, install: Installer | None = None) -> PreparedProject:
    """The prepared project, from the cache when its spec is unchanged, else built now."""
    home = project_home(cache, spec)
    home.mkdir(parents=True, exist_ok=True)
    digest = f"{FORMAT}-{spec.digest()}"
    with _locked(home / ".lock"):
        state = home / "prepared.json"
        if state.is_file():
            try:
                cached = PreparedProject.model_validate_json(state.read_text(encoding="utf-8"))
            except ValueError:
                cached = None
            if cached is not None and cached.digest == digest and cached.python.exists():
                log.info("compat project ready (cached)", project=spec.name)
                return cached.model_copy(update={"warm": True})
        state.unlink(missing_ok=True)
        prepared = _build(spec, cache, home, digest, install or pip_install)
        state.write_text(prepared.model_dump_json(indent=2), encoding="utf-8")
        return prepared


def _build(
    spec: CompatSpec, cache: Path, home: Path, digest: str, install: Installer
) -> PreparedProject:
    seconds: dict[str, float] = {}
    repo = home / spec.location
    for child in home.iterdir():  # an older build, whatever its location was
        if child.name not in (".lock", "prepared.json"):
            shutil.rmtree(child) if child.is_dir() else child.unlink()
    with _timed(seconds, "download"):
        archives = [fetch.sdist(package, cache / "sdists") for package in spec.packages]
    with _timed(seconds, "repo"):
        build_repo(spec, repo, archives)
    with _timed(seconds, "venv"):
        python = make_venv(spec, repo)
        install(spec, repo, python)
        _check_ignored(spec, repo)
    with _timed(seconds, "collect"):
        check_collects(spec, repo, python)
    log.info("compat project prepared", project=spec.name, seconds=seconds)
    return PreparedProject(
        spec=spec, digest=digest, repo=repo.resolve(), python=python, setup_seconds=seconds
    )


@contextmanager
def _timed(seconds: dict[str, float], step: str) -> Iterator[None]:
    started = time.monotonic()
    try:
        yield
    finally:
        seconds[step] = round(seconds.get(step, 0.0) + time.monotonic() - started, 2)


def build_repo(spec: CompatSpec, repo: Path, archives: list[Path]) -> None:
    """The git repository: the sdists as published, then the user's configuration edits."""
    repo.parent.mkdir(parents=True, exist_ok=True)
    for package, archive in zip(spec.packages, archives, strict=True):
        dest = repo / package.subdir if package.subdir else repo
        dest.parent.mkdir(parents=True, exist_ok=True)
        fetch.extract(archive, dest)
    repo.mkdir(exist_ok=True)
    missing = [path for path in spec.check if not (repo / path).is_file()]
    if missing:
        raise CompatPrepareError(f"{spec.pins}: the sdist lacks {', '.join(missing)}")
    ignore = repo / ".gitignore"
    if spec.gitignore and not ignore.exists():
        ignore.write_text("\n".join(spec.gitignore) + "\n", encoding="utf-8")
    gitrepo.git(repo, "init", "--quiet")
    gitrepo.commit_all(repo, f"{spec.pins} as published on PyPI")
    for package in spec.packages:
        if package.tag:
            gitrepo.git(repo, "tag", package.tag)
    if spec.edits:
        for edit in spec.edits:
            apply_edit(repo, edit.path, edit.text, edit.replace)
        gitrepo.commit_all(repo, spec.edits_message or "Configure the tests")


def apply_edit(repo: Path, path: str, text: str, replace: str) -> None:
    target = repo / path
    old = target.read_text(encoding="utf-8") if target.exists() else ""
    if replace:
        if replace not in old:
            raise CompatPrepareError(f"{path} has no {replace.strip()!r} to edit")
        new = old.replace(replace, text, 1)
    else:
        new = old + text
    target.write_text(new, encoding="utf-8")


def make_venv(spec: CompatSpec, repo: Path) -> Path:
    """`python -m venv` inside the repository; uv-style: no pip, uv's marks."""
    venv = repo / spec.venv
    command = [sys.executable, "-m", "venv", "--prompt", spec.name, str(venv)]
    if spec.uv_style:
        command.insert(3, "--without-pip")
    _run(command, repo, f"python -m venv {spec.venv}")
    if spec.uv_style:
        cfg = venv / "pyvenv.cfg"
        text = cfg.read_text(encoding="utf-8")
        cfg.write_text(text + f"uv = {UV_VERSION}\n", encoding="utf-8")
        (venv / ".gitignore").write_text("*\n", encoding="utf-8")
        (venv / "CACHEDIR.TAG").write_text(
            "Signature: 8a477f597d28d172789f06886806bc55\n", encoding="utf-8"
        )
    return venv / "bin" / "python"


def pip_install(spec: CompatSpec, repo: Path, python: Path) -> None:
    """`pip install -e <package>... <requirements>`, from the repository's root.

    A uv-style venv has no pip of its own: pip runs from outside it with `--python`, as
    `uv pip install` would.
    """
    editables = [x for p in spec.packages for x in ("-e", p.subdir or ".")]
    pip = [str(python), "-m", "pip"]
    if spec.uv_style:
        pip = [sys.executable, "-m", "pip", "--python", str(python)]
    command = [*pip, "install", "--quiet", "--disable-pip-version-check"]
    try:
        _run([*command, *editables, *spec.requirements], repo, f"pip install for {spec.name}")
    except CompatPrepareError as exc:  # once more: an index can drop a connection
        log.warning("pip install failed, retrying", project=spec.name, error=str(exc))
        _run([*command, *editables, *spec.requirements], repo, f"pip install for {spec.name}")


def _check_ignored(spec: CompatSpec, repo: Path) -> None:
    """The venv is ignored by git exactly when the spec says so (its shape depends on it)."""
    probe = f"{spec.venv}/pyvenv.cfg"
    done = subprocess.run(
        ["git", "check-ignore", "--quiet", probe], cwd=repo, capture_output=True, check=False
    )
    if (done.returncode == 0) != spec.venv_ignored:
        state = "ignored" if done.returncode == 0 else "not ignored"
        raise CompatPrepareError(f"{spec.name}: {probe} is {state} by git, against its spec")


def check_collects(spec: CompatSpec, repo: Path, python: Path) -> None:
    """The whole suite collects under plain pytest in each package's folder, as its users run it:
    itarch collects the existing suite first, so a dependency missing here would be ours."""
    roots = [repo / p.subdir for p in spec.packages] if spec.packages[0].subdir else [repo]
    for root in roots:
        done = subprocess.run(
            [str(python), "-m", "pytest", "--collect-only", "-q"],
            cwd=root,
            env=user_env(spec),
            capture_output=True,
            text=True,
            check=False,
            timeout=COLLECT_TIMEOUT,
        )
        if done.returncode != 0:
            last = _collect_error(done.stdout + "\n" + done.stderr)
            where = root.relative_to(repo).as_posix() if root != repo else "the repository"
            raise CompatPrepareError(
                f"{spec.name}: plain pytest cannot collect the suite in {where} "
                f"(exit {done.returncode}): {last[:300]}"
            )


def _collect_error(output: str) -> str:
    """The first line under pytest's first `ERROR collecting` header, else its last line."""
    lines = [x.strip() for x in output.splitlines() if x.strip()]
    for i, line in enumerate(lines[:-1]):
        if "ERROR collecting" in line:
            return f"{line.strip('_ ')}: {lines[i + 1]}"
    errors = [x for x in lines if x.startswith("E ")]
    return (errors or lines or ["no output"])[-1]


def user_env(spec: CompatSpec) -> dict[str, str]:
    """This process's environment as a user's shell in the repository has it."""
    env = {k: v for k, v in os.environ.items() if k not in NOT_THE_USERS}
    return env | spec.env


def _run(command: list[str], cwd: Path, what: str) -> None:
    env = {k: v for k, v in os.environ.items() if k not in NOT_THE_USERS}
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        lines = [x for x in done.stderr.strip().splitlines() if not x.startswith("WARNING")]
        raise CompatPrepareError(f"{what} failed: {lines[-1] if lines else done.returncode}")
