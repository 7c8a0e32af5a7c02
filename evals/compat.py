"""The compat suite: does `itarch check` work on real projects as their users set them up?

For each project (see `evals/compat_targets.py`), from inside its repository and with nothing
but the environment a user has (no `--python`, no `$VIRTUAL_ENV`: itarch has to find the venv in
the repository itself):

1. plain pytest on the checked files, with the project's own configuration (`-rA` only adds the
   per-test summary the score is read from);
2. `itarch check <files> --json`, in a subprocess with a timeout.

Score: the share of the tests that pass under plain pytest which itarch accepts (a test failing
under plain pytest is not counted against itarch), the rejection reasons seen, the exit code, the
wall time, whether a traceback reached stderr (always a failure of itarch), and whether the run
changed the user's working tree (`git status` before and after).
"""

from __future__ import annotations

import json
import os
import platform
import re
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field

import agent
from agent.log import get_logger
from evals.compat_prepare import Installer, PreparedProject, prepare, user_env
from evals.compat_targets import CompatSpec

log = get_logger(__name__)

PASS_SHARE = 0.95  # of the tests passing under plain pytest, itarch must accept at least this
# The longest itarch run takes about 30 s on two busy cores; a hung one must not stall CI.
CHECK_TIMEOUT = 240.0
PYTEST_TIMEOUT = 180.0
# Left in the tree by a previous run (of this suite, or of pytest and itarch in it): removed
# before each run so a warm run starts where a cold one does.
LEFTOVERS = (".pytest_cache", ".itarch", ".hypothesis", ".coverage", "coverage.xml")
SUMMARY_LINE = re.compile(r"^(PASSED|FAILED|ERROR|XFAIL|XPASS) (.+)$")
COUNT = re.compile(r"(\d+) (passed|failed|errors?|skipped|xfailed|xpassed|deselected)\b")
TRACEBACK = "Traceback (most recent call last)"

Status = Literal["scored", "not_green", "failed"]


class PlainRun(BaseModel):
    """Plain pytest on the checked files, in the project's venv, with its own configuration."""

    exit_code: int | None = None
    counts: dict[str, int] = Field(default_factory=dict)  # passed, failed, error, skipped...
    passed: list[str] = Field(default_factory=list)  # repository-relative node ids
    not_passed: dict[str, str] = Field(default_factory=dict)  # node id -> FAILED / ERROR / ...
    seconds: float = 0.0
    timed_out: bool = False
    tail: str = ""  # the last lines of its output when it ran no passing test


class ReasonSeen(BaseModel):
    count: int = 0
    example: str = ""  # `nodeid: detail` of the first test rejected for it


class CheckRun(BaseModel):
    """`itarch check <files> --json`, run as a user runs it."""

    command: list[str] = Field(default_factory=list)
    exit_code: int | None = None
    seconds: float = 0.0
    timed_out: bool = False
    json_ok: bool = False
    isolation: str = ""
    gate_seconds: dict[str, float] = Field(default_factory=dict)  # itarch's own split of its time
    verdicts: dict[str, str] = Field(default_factory=dict)  # repository-relative node id -> verdict
    reasons_of: dict[str, str] = Field(default_factory=dict)  # rejected node id -> reason code
    reasons: dict[str, ReasonSeen] = Field(default_factory=dict)
    traceback: bool = False
    stderr_tail: str = ""  # kept when something went wrong: a traceback, no JSON, exit code 2+
    tree_changed: list[str] = Field(default_factory=list)  # `git status` lines it added or removed


class ProjectResult(BaseModel):
    name: str
    pins: str
    shapes: list[str] = Field(default_factory=list)
    files: list[str] = Field(default_factory=list)
    env: dict[str, str] = Field(default_factory=dict)
    notes: str = ""
    status: Status = "scored"
    message: str = ""
    plain: PlainRun | None = None
    check: CheckRun | None = None
    baseline: int = 0  # tests passing under plain pytest, less the known rejections
    accepted: int = 0  # ... of which itarch accepted
    known_rejections: dict[str, str] = Field(default_factory=dict)  # the spec's
    known: int = 0  # known rejections among the passing tests
    known_confirmed: int = 0  # ... which itarch rejected for the expected reason
    missing: list[str] = Field(default_factory=list)  # passing under pytest, absent from itarch's
    # itarch's node ids with no PASSED/FAILED/ERROR line from pytest (skipped ones, or a node id
    # pytest spells differently), with itarch's verdict
    unmatched: list[str] = Field(default_factory=list)
    setup_seconds: dict[str, float] = Field(default_factory=dict)
    warm: bool = False

    def known_rejections_of(self, nodeid: str) -> str | None:
        return self.known_rejections.get(nodeid)

    @property
    def share(self) -> float | None:
        return self.accepted / self.baseline if self.baseline else None

    @property
    def passes(self) -> bool:
        """At least PASS_SHARE accepted, no traceback, and the tree left as it was."""
        return (
            self.status == "scored"
            and self.share is not None
            and self.share >= PASS_SHARE
            and self.check is not None
            and not self.check.traceback
            and not self.check.tree_changed
            and self.known_confirmed == self.known
        )


class CompatResult(BaseModel):
    suite: Literal["compat"] = "compat"
    started: str = Field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))
    itarch: str = agent.__version__
    python: str = Field(default_factory=lambda: sys.version.split()[0])
    machine: str = Field(default_factory=lambda: f"{platform.system()} {platform.machine()}")
    jobs: int = 1
    wall_seconds: float = 0.0
    projects: list[ProjectResult] = Field(default_factory=list)

    @property
    def date(self) -> str:
        return self.started[:10]

    def write(self, folder: Path, markdown: str) -> tuple[Path, Path]:
        folder.mkdir(parents=True, exist_ok=True)
        stem = folder / f"{self.date}-{self.suite}"
        json_path, md_path = stem.with_suffix(".json"), stem.with_suffix(".md")
        json_path.write_text(self.model_dump_json(indent=1), encoding="utf-8")
        md_path.write_text(markdown, encoding="utf-8")
        return json_path, md_path


def run_compat(
    specs: list[CompatSpec],
    cache: Path,
    *,
    jobs: int = 2,
    itarch: list[str] | None = None,
    install: Installer | None = None,
    timeout: float = CHECK_TIMEOUT,
) -> CompatResult:
    """Prepare (or reuse) and run every project, `jobs` at a time."""
    started = time.monotonic()
    command = itarch or itarch_command()
    result = CompatResult(jobs=jobs)

    def one(spec: CompatSpec) -> ProjectResult:
        return run_project(spec, cache, command, install=install, timeout=timeout)

    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        result.projects = list(pool.map(one, specs))
    result.wall_seconds = round(time.monotonic() - started, 2)
    return result


def itarch_command() -> list[str]:
    """The `itarch` console script installed next to this interpreter (as a user has it)."""
    script = Path(sys.executable).parent / "itarch"
    return [str(script)] if script.exists() else [sys.executable, "-m", "agent.cli"]


def run_project(
    spec: CompatSpec,
    cache: Path,
    itarch: list[str],
    *,
    install: Installer | None = None,
    timeout: float = CHECK_TIMEOUT,
) -> ProjectResult:
    result = ProjectResult(
        name=spec.name,
        pins=spec.pins,
        shapes=list(spec.shapes),
        files=list(spec.check),
        env=dict(spec.env),
        known_rejections=dict(spec.known_rejections),
        notes=spec.notes,
    )
    try:
        prepared = prepare(spec, cache, install=install)
    except Exception as exc:  # any failure to set the project up is reported, not raised
        log.warning("compat project not prepared", project=spec.name, error=str(exc))
        return result.model_copy(update={"status": "failed", "message": str(exc)})
    result.setup_seconds, result.warm = prepared.setup_seconds, prepared.warm
    clear_leftovers(prepared)
    env = user_env(spec)
    result.plain = plain_pytest(prepared, env)
    if spec.last_failed:
        seed_last_failed(prepared)
    result.check = check(prepared, env, itarch, timeout)
    score(result, spec)
    log.info(
        "compat project run",
        project=spec.name,
        baseline=result.baseline,
        accepted=result.accepted,
        exit_code=result.check.exit_code,
        seconds=result.check.seconds,
    )
    return result


def clear_leftovers(prepared: PreparedProject) -> None:
    """Back to the tree as prepared: what earlier runs' tests wrote, and tool caches, removed."""
    spec, repo = prepared.spec, prepared.repo
    _git(repo, "checkout", "--quiet", "--", ".")
    _git(repo, "clean", "-d", "--force", "--quiet", "-e", f"/{spec.venv}/", "-e", "*.egg-info")
    roots = {repo} | {repo / p.subdir for p in spec.packages}
    for root in roots:
        for name in LEFTOVERS:
            path = root / name
            if path.is_dir():
                shutil.rmtree(path, ignore_errors=True)
            elif path.exists():
                path.unlink()


def seed_last_failed(prepared: PreparedProject) -> None:
    """pytest's cache as a run that failed these tests leaves it (keyed by rootdir node ids)."""
    package = prepared.spec.packages[0].subdir
    root = prepared.repo / package if package else prepared.repo
    cache = root / ".pytest_cache" / "v" / "cache"
    cache.mkdir(parents=True, exist_ok=True)
    prefix = f"{package}/" if package else ""
    failed = {n.removeprefix(prefix): True for n in prepared.spec.last_failed}
    (cache / "lastfailed").write_text(json.dumps(failed, indent=2), encoding="utf-8")


def plain_pytest(prepared: PreparedProject, env: dict[str, str]) -> PlainRun:
    command = [str(prepared.python), "-m", "pytest", *prepared.spec.check, "-rA"]
    out, code, seconds, timed_out = _run(command, prepared.repo, env, PYTEST_TIMEOUT)
    run = read_plain(out[0], prepared.spec.check)
    run.exit_code, run.seconds, run.timed_out = code, seconds, timed_out
    if not run.passed:
        run.tail = _tail(out[0] + "\n" + out[1], 25)
    return run


def read_plain(output: str, files: tuple[str, ...] | list[str]) -> PlainRun:
    """Per-test outcomes from the `-rA` summary, and the counts from pytest's last line."""
    run = PlainRun()
    in_summary = False
    for line in output.splitlines():
        if "short test summary info" in line:
            in_summary = True
            continue
        match = SUMMARY_LINE.match(line) if in_summary else None
        if not match:
            continue
        word, rest = match.groups()
        nodeid = rest if word == "PASSED" else rest.split(" - ", 1)[0]
        nodeid = normalise(nodeid.strip(), files)
        if word == "PASSED":
            run.passed.append(nodeid)
        else:
            run.not_passed[nodeid] = word
    for line in reversed(output.splitlines()):
        found = COUNT.findall(line)
        if found:
            for number, what in found:
                key = "error" if what.startswith("error") else what
                run.counts[key] = int(number)
            break
    return run


def normalise(nodeid: str, files: tuple[str, ...] | list[str]) -> str:
    """A node id relative to the repository: pytest's are relative to its rootdir, which in a
    monorepo is the package's folder, so the path part is matched against the checked files."""
    path, sep, rest = nodeid.partition("::")
    for full in files:
        if full == path or full.endswith("/" + path):
            return full + sep + rest
    return nodeid


def check(
    prepared: PreparedProject, env: dict[str, str], itarch: list[str], timeout: float
) -> CheckRun:
    command = [*itarch, "check", *prepared.spec.check, "--json"]
    before = _git_status(prepared.repo)
    (stdout, stderr), code, seconds, timed_out = _run(command, prepared.repo, env, timeout)
    after = _git_status(prepared.repo)
    run = CheckRun(
        command=["itarch", "check", *prepared.spec.check, "--json"],
        exit_code=code,
        seconds=seconds,
        timed_out=timed_out,
        traceback=TRACEBACK in stderr,
        tree_changed=sorted(set(before) ^ set(after)),
    )
    document = _json_document(stdout)
    if document is not None:
        read_verdicts(run, document, prepared.spec.check)
    if run.traceback or not run.json_ok or timed_out or (code or 0) >= 2:
        run.stderr_tail = _tail(stderr or stdout, 30)
    return run


def read_verdicts(run: CheckRun, document: dict[str, Any], files: tuple[str, ...]) -> None:
    run.json_ok = True
    run.isolation = str(document.get("isolation", ""))
    run.gate_seconds = dict(document.get("gate_seconds") or {})
    for verdict_file in document.get("files", []):
        for test in verdict_file.get("tests", []):
            nodeid = normalise(str(test.get("nodeid", "")), files)
            verdict = str(test.get("verdict", ""))
            run.verdicts[nodeid] = verdict
            if verdict == "rejected":
                reason = str(test.get("reason") or "unknown")
                run.reasons_of[nodeid] = reason
                seen = run.reasons.setdefault(reason, ReasonSeen())
                seen.count += 1
                if not seen.example:
                    seen.example = f"{nodeid}: {test.get('detail', '')}"[:400]


def score(result: ProjectResult, spec: CompatSpec) -> None:
    plain, run = result.plain, result.check
    assert plain is not None and run is not None
    passed = set(plain.passed) - set(spec.known_rejections)
    result.baseline = len(passed)
    result.accepted = sum(1 for n in passed if run.verdicts.get(n) == "accepted")
    known = set(plain.passed) & set(spec.known_rejections)
    result.known = len(known)
    result.known_confirmed = sum(
        1 for n in known if run.reasons_of.get(n) == spec.known_rejections[n]
    )
    result.missing = sorted(passed - set(run.verdicts))[:10] if run.json_ok else []
    known = passed | set(plain.not_passed)
    result.unmatched = [f"{n} ({run.verdicts[n]})" for n in sorted(set(run.verdicts) - known)][:10]
    if not passed:
        result.status = "not_green"
        result.message = f"no test of {', '.join(spec.check)} passes under plain pytest"


def _json_document(stdout: str) -> dict[str, Any] | None:
    text = stdout.strip()
    if not text:
        return None
    starts = [0] + [m.start() for m in re.finditer(r"^\{", text, re.MULTILINE)]
    for start in starts:
        try:
            document = json.loads(text[start:])
        except ValueError:
            continue
        if isinstance(document, dict):
            return document
    return None


def _git_status(repo: Path) -> list[str]:
    return _git(repo, "status", "--porcelain").splitlines()


def _git(repo: Path, *args: str) -> str:
    done = subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, check=False)
    return done.stdout


def _run(
    command: list[str], cwd: Path, env: dict[str, str], timeout: float
) -> tuple[tuple[str, str], int | None, float, bool]:
    """(stdout, stderr), exit code, seconds, timed out; the whole process group ends on timeout."""
    started = time.monotonic()
    process = subprocess.Popen(
        command,
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        encoding="utf-8",
        errors="replace",
        start_new_session=True,
    )
    try:
        stdout, stderr = process.communicate(timeout=timeout)
        timed_out = False
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        stdout, stderr = process.communicate()
        timed_out = True
    seconds = round(time.monotonic() - started, 2)
    return (stdout, stderr), (None if timed_out else process.returncode), seconds, timed_out


def _tail(text: str, lines: int) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])


def reason_totals(result: CompatResult) -> Counter[str]:
    totals: Counter[str] = Counter()
    for project in result.projects:
        if project.check:
            for reason, seen in project.check.reasons.items():
                totals[reason] += seen.count
    return totals
