"""A target made ready to evaluate, once: a git repository without its held-out tests, an
environment its suite runs in, and proof that the suite is green there.

Everything lives under the cache folder and is reused while the target's spec is unchanged:

    <cache>/sdists/<project>-<version>/*.tar.gz
    <cache>/targets/<name>/repo      commit 1: the sdist as published; commit 2: held-out removed
    <cache>/targets/<name>/venv      the project (editable) and its pinned test dependencies
                                     (or repo/.venv, git-ignored, for targets set up that way)
    <cache>/targets/<name>/prepared.json
"""

from __future__ import annotations

import fcntl
import json
import shutil
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from pydantic import BaseModel, Field

from agent.config import SandboxSettings
from agent.demo.shop import build_shop_repo
from agent.log import get_logger
from agent.sandbox import Sandbox, SandboxError
from agent.schema import IsolationLevel, RunResult
from evals import fetch, gitrepo
from evals.targets import TargetSpec
from evals.variants import qualname_of

log = get_logger(__name__)

FORMAT = 1  # bump when the prepared layout changes, so old caches are rebuilt
TYPICAL_GITIGNORE = (".venv/", "__pycache__/", "*.py[cod]", "*.egg-info/", "build/", "dist/")


class PrepareError(Exception):
    """The target could not be made ready; the message says which step failed."""


class BaselineCheck(BaseModel):
    """The target's own full suite (held-out files included), run once in the sandbox."""

    green: bool
    passed: int = 0
    failed: int = 0
    errors: int = 0
    skipped: int = 0
    collect_errors: list[str] = Field(default_factory=list)
    problems: list[str] = Field(default_factory=list)  # the first few failures, one line each
    seconds: float = 0.0
    nodeids: list[str] = Field(default_factory=list)


class PreparedTarget(BaseModel):
    spec: TargetSpec
    digest: str
    repo: Path
    python: Path
    heldout: dict[str, str]  # path -> content, as the project ships it
    isolation: str  # the sandbox setting that runs the suite green here
    isolation_level: IsolationLevel
    notes: list[str] = Field(default_factory=list)
    baseline: BaselineCheck
    setup_seconds: dict[str, float] = Field(default_factory=dict)
    warm: bool = False  # loaded from the cache rather than built now

    def instances(self, path: str) -> dict[str, int]:
        """How many test items each test function of a held-out file has (parametrization)."""
        return dict(
            Counter(qualname_of(n) for n in self.baseline.nodeids if n.split("::")[0] == path)
        )


def target_dir(cache: Path, spec: TargetSpec) -> Path:
    return cache / "targets" / spec.name


def prepare(spec: TargetSpec, cache: Path) -> PreparedTarget:
    """The prepared target, from the cache when its spec is unchanged, else built now."""
    home = target_dir(cache, spec)
    home.mkdir(parents=True, exist_ok=True)
    digest = f"{FORMAT}-{spec.digest()}"
    with _locked(home / ".lock"):
        state = home / "prepared.json"
        if state.is_file():
            try:
                cached = PreparedTarget.model_validate_json(state.read_text(encoding="utf-8"))
            except ValueError:
                cached = None
            if (
                cached is not None
                and cached.digest == digest
                and cached.repo.is_dir()
                and cached.python.exists()
            ):
                log.info("target ready (cached)", target=spec.name)
                return cached.model_copy(update={"warm": True})
        prepared = _build(spec, cache, home, digest)
        state.write_text(prepared.model_dump_json(indent=2), encoding="utf-8")
        return prepared


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    """One preparer per target at a time (two evaluation runs may share a cache)."""
    with path.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _build(spec: TargetSpec, cache: Path, home: Path, digest: str) -> PreparedTarget:
    watch = _Stopwatch()
    repo = home / "repo"
    if repo.exists():
        shutil.rmtree(repo)
    if spec.kind == "example":
        with watch("repo"):
            build_shop_repo(repo)
        python = Path(sys.executable)
    else:
        with watch("download"):
            archive = fetch.sdist(spec, cache / "sdists")
        with watch("repo"):
            fetch.extract(archive, repo)
            fetch.check_contents(spec, repo)
            gitrepo.init(repo)
            ignored = _ignore_venv(repo) if spec.venv_in_repo else ""
            gitrepo.commit_all(repo, f"{spec.sdist_pin} as published on PyPI{ignored}")
        with watch("venv"):
            python = _venv(spec, home)
    with watch("repo"):
        heldout = {path: (repo / path).read_text(encoding="utf-8") for path in spec.heldout}
        for path in spec.heldout:
            (repo / path).unlink()
        gitrepo.commit_all(repo, f"Hold out {', '.join(spec.heldout)}")
    with watch("baseline"):
        isolation, level, check, notes = _green_isolation(spec, repo, python, heldout)
    log.info(
        "target prepared",
        target=spec.name,
        green=check.green,
        isolation=level.value,
        passed=check.passed,
        seconds=watch.seconds,
    )
    return PreparedTarget(
        spec=spec,
        digest=digest,
        repo=repo.resolve(),
        python=python,
        heldout=heldout,
        isolation=isolation,
        isolation_level=level,
        notes=notes,
        baseline=check,
        setup_seconds=watch.seconds,
    )


class _Stopwatch:
    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    @contextmanager
    def __call__(self, step: str) -> Iterator[None]:
        started = time.monotonic()
        try:
            yield
        finally:
            spent = time.monotonic() - started
            self.seconds[step] = round(self.seconds.get(step, 0.0) + spent, 2)


def _ignore_venv(repo: Path) -> str:
    """Make `.venv/` git-ignored, as a user who keeps the venv in the repository does; what was
    added, for the commit message."""
    gitignore = repo / ".gitignore"
    if not gitignore.is_file():
        gitignore.write_text("\n".join(TYPICAL_GITIGNORE) + "\n", encoding="utf-8")
        return ", with a typical .gitignore (it ships none)"
    text = gitignore.read_text(encoding="utf-8")
    if any(line.strip().strip("/") == ".venv" for line in text.splitlines()):
        return ""
    gitignore.write_text(text.rstrip("\n") + "\n.venv/\n", encoding="utf-8")
    return ", with .venv/ added to its .gitignore"


def _venv(spec: TargetSpec, home: Path) -> Path:
    """A venv with the project installed editable and its pinned test dependencies: next to the
    repository, or inside it as `.venv`."""
    venv = home / "repo" / ".venv" if spec.venv_in_repo else home / "venv"
    marker = venv / "itarch-evals.json"
    wanted = {"project": spec.sdist_pin, "requirements": list(spec.requirements)}
    python = venv / "bin" / "python"
    if (
        marker.is_file()
        and python.exists()
        and json.loads(marker.read_text(encoding="utf-8")) == wanted
    ):
        return python
    if venv.exists():
        shutil.rmtree(venv)
    _run([sys.executable, "-m", "venv", str(venv)], f"python -m venv for {spec.name}")
    _run(
        [
            str(python),
            *("-m", "pip", "install", "--quiet", "--disable-pip-version-check"),
            *("--editable", str(home / "repo")),
            *spec.requirements,
        ],
        f"pip install of {spec.sdist_pin} and its test dependencies",
    )
    marker.write_text(json.dumps(wanted), encoding="utf-8")
    return python


def _run(command: list[str], what: str) -> None:
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        lines = [x for x in done.stderr.strip().splitlines() if not x.startswith("WARNING")]
        raise PrepareError(f"{what} failed: {lines[-1] if lines else done.returncode}")


def _green_isolation(
    spec: TargetSpec, repo: Path, python: Path, heldout: dict[str, str]
) -> tuple[str, IsolationLevel, BaselineCheck, list[str]]:
    """Run the full suite under the strongest isolation; step down a level if only that helps.

    Both levels tried keep the network namespace, so nothing the suite does leaves the machine.
    """
    notes: list[str] = []
    check, level = baseline_check(spec, repo, python, heldout, "auto")
    if check.green or level != IsolationLevel.BWRAP:
        return "auto", level, check, notes
    fallback, fallback_level = baseline_check(spec, repo, python, heldout, "unshare")
    if not fallback.green:
        return "auto", level, check, notes
    why = (check.collect_errors + check.problems + ["not green"])[0]
    notes.append(f"the suite is not green under bwrap ({why}); evaluated under unshare")
    return "unshare", fallback_level, fallback, notes


def baseline_check(
    spec: TargetSpec, repo: Path, python: Path, heldout: dict[str, str], isolation: str
) -> tuple[BaselineCheck, IsolationLevel]:
    try:
        with Sandbox(repo, python, SandboxSettings(isolation=isolation)) as sandbox:
            result = sandbox.run(heldout, select=[spec.tests_root])
            level = sandbox.level
    except SandboxError as exc:
        raise PrepareError(f"{spec.name}: the sandbox cannot run its suite: {exc}") from exc
    return read_baseline(result, list(heldout)), level


def read_baseline(result: RunResult, heldout: list[str]) -> BaselineCheck:
    first = [o for o in result.outcomes if o.run == 0]
    counts = Counter(o.outcome for o in first)
    bad = [o for o in first if o.outcome in ("failed", "error")]
    collect = [f"{e.path}: {e.exc_type}: {e.message}"[:200] for e in result.collect_errors]
    ran = {o.nodeid.split("::")[0] for o in first}
    problems = [f"{o.nodeid}: {o.exc_type or o.outcome}: {o.message}"[:200] for o in bad[:5]]
    problems += [f"{path}: none of its tests ran" for path in heldout if path not in ran]
    if result.timed_out or result.crashed:
        problems.append(result.crashed or "the run hit its wall clock")
    if not first and result.exit_code:
        problems.insert(0, _last_error(result.stdout_tail + "\n" + result.stderr_tail))
    return BaselineCheck(
        green=not bad and not collect and not problems and counts["passed"] > 0,
        passed=counts["passed"],
        failed=counts["failed"],
        errors=counts["error"],
        skipped=counts["skipped"],
        collect_errors=collect,
        problems=problems,
        seconds=round(result.duration, 2),
        nodeids=[o.nodeid for o in first],
    )


def _last_error(output: str) -> str:
    """The line of pytest's output that names what went wrong (`E   ModuleNotFoundError: ...`)."""
    lines = [x.strip() for x in output.splitlines() if x.strip()]
    errors = [x.removeprefix("E").strip() for x in lines if "Error" in x]
    return (errors or lines or ["pytest exited without running a test"])[-1][:200]
