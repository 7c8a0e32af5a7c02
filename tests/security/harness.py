"""Run the hostile corpus at every isolation level and collect what happened.

Each level gets one driver (see driver.py) in namespaces of the harness's own making, all
levels at once. A driver that dies mid-case (a case killed itarch itself) is recorded as an
escape for that case and started again for the cases left.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path

from agent.sandbox.workspace import remove_tree
from agent.schema import IsolationLevel
from tests.security.cases import BY_NAME, CASES, Case

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
OUTER = [
    "unshare",
    *("--user", "--map-root-user", "--net", "--ipc", "--uts", "--pid", "--fork", "--mount-proc"),
]
CASE_BUDGET = 60.0  # seconds one case may take before its driver is stopped


@dataclass
class Report:
    case: str
    level: str
    status: str  # "contained", "escaped", "skipped", "error"
    expected_escape: bool = False  # the level is known not to stop this case
    verdicts: dict[str, dict[str, str]] = field(default_factory=dict)
    wrong_verdicts: list[str] = field(default_factory=list)
    escapes: list[str] = field(default_factory=list)
    error: str = ""
    seconds: float = 0.0
    note: str = ""

    @property
    def contained(self) -> bool:
        return self.status == "contained"


def outer_namespaces_work() -> bool:
    if shutil.which("unshare") is None or shutil.which("ip") is None:
        return False
    done = subprocess.run([*OUTER, "true"], capture_output=True, timeout=30)
    return done.returncode == 0


def judge_verdicts(case: Case, verdicts: dict[str, dict[str, str]]) -> list[str]:
    wrong = []
    if not verdicts:
        return ["no verdicts at all"]
    for key, verdict in sorted(verdicts.items()):
        allowed = case.expected(key)
        if allowed and verdict["outcome"] not in allowed:
            wrong.append(
                f"{key}: {verdict['outcome']} ({verdict['detail'][:160]}), "
                f"expected {' or '.join(sorted(allowed))}"
            )
    return wrong


def to_report(case: Case, level: IsolationLevel, raw: dict) -> Report:  # type: ignore[type-arg]
    report = Report(
        case=case.name,
        level=level.value,
        status="contained",
        verdicts=raw.get("verdicts", {}),
        escapes=list(raw.get("escapes", [])),
        error=raw.get("error", ""),
        seconds=float(raw.get("seconds", 0.0)),
        expected_escape=level == IsolationLevel.PROCESS and case.process != "contained",
    )
    for key, verdict in sorted(report.verdicts.items()):
        if verdict["outcome"] == "accepted" and case.claims_escape(key):
            report.escapes.append(
                f"{key} was accepted: it passes only if its attack worked (it checks that itself)"
            )
    if report.escapes:
        report.status = "escaped"
        report.note = case.why_process if report.expected_escape else ""
    elif report.error:
        report.status = "error"
    else:
        report.wrong_verdicts = judge_verdicts(case, report.verdicts)
    return report


def _driver_env(secret: str, home: Path) -> dict[str, str]:
    return {
        "PATH": os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin"),
        "LANG": "C.UTF-8",
        "HOME": str(home),
        "ANTHROPIC_API_KEY": secret,
        "PYTHONPATH": str(ROOT),
        "PYTHONDONTWRITEBYTECODE": "1",
    }


def run_level(level: IsolationLevel, cases: list[Case], base: Path, secret: str) -> list[Report]:
    """Every case at one level, restarting the driver whenever a case kills it."""
    reports: list[Report] = []
    pending = [c for c in cases if c.runs_at(level)]
    for case in cases:
        if not case.runs_at(level):
            reports.append(
                Report(
                    case.name, level.value, "skipped", expected_escape=True, note=case.why_process
                )
            )
    run_id = uuid.uuid4().hex[:6]
    home = base / f"driver-home-{level.value}"
    home.mkdir(parents=True, exist_ok=True)
    while pending:
        argv = [
            *OUTER,
            sys.executable,
            str(HERE / "init.py"),
            str(HERE / "driver.py"),
            *("--level", level.value, "--base", str(base / level.value)),
            *("--run-id", run_id, "--cases", ",".join(c.name for c in pending)),
        ]
        try:
            done = subprocess.run(
                argv,
                capture_output=True,
                text=True,
                timeout=CASE_BUDGET * len(pending),
                cwd=ROOT,
                env=_driver_env(secret, home),
            )
            stdout, stderr, killed = done.stdout, done.stderr, False
        except subprocess.TimeoutExpired as exc:
            stdout = (exc.stdout or b"").decode() if isinstance(exc.stdout, bytes) else exc.stdout
            stderr = (exc.stderr or b"").decode() if isinstance(exc.stderr, bytes) else exc.stderr
            stdout, stderr, killed = stdout or "", stderr or "", True
        running: Case | None = None
        sandbox_root = ""
        for line in stdout.splitlines():
            try:
                event = json.loads(line)
            except ValueError:
                continue
            if event.get("event") == "sandbox":
                sandbox_root = str(event["root"])
            elif event.get("event") == "start":
                running = BY_NAME[event["case"]]
            elif event.get("event") == "report":
                case = BY_NAME[event["case"]]
                reports.append(to_report(case, level, event))
                pending.remove(case)
                running = None
        if running is None:
            if pending:  # the driver never got going
                for case in pending:
                    reports.append(Report(case.name, level.value, "error", error=stderr[-2000:]))
            break
        why = "ran past its time budget" if killed else "itarch's own process was killed"
        reports.append(
            to_report(
                running,
                level,
                {"escapes": [f"{why} during this case (driver stderr: {stderr[-300:]!r})"]},
            )
        )
        pending.remove(running)
        _clean_leftovers(run_id, base / level.value, running, sandbox_root)
    return reports


def _clean_leftovers(run_id: str, base: Path, case: Case, sandbox_root: str) -> None:
    """A killed driver could clean up neither its world nor the sandbox it had open."""
    shutil.rmtree(base / case.name, ignore_errors=True)
    for top in (Path("/tmp"), Path("/run")):
        for path in top.glob(f"itarch-sec-{run_id}-*"):
            shutil.rmtree(path, ignore_errors=True)
    if sandbox_root and Path(sandbox_root).name.startswith("itarch-sandbox-"):
        remove_tree(Path(sandbox_root))  # it holds read-only files


def run_matrix(levels: list[IsolationLevel], cases: list[Case] | None = None) -> list[Report]:
    """Every case at every level (levels in parallel). The fake secret is new each time."""
    cases = cases if cases is not None else CASES
    secret = f"sk-ant-api03-ITARCH-CANARY-{uuid.uuid4().hex}"
    # Outside /tmp on purpose: the repository's parent must be hidden by the sandbox itself,
    # not merely because bubblewrap hides all of /tmp.
    base = Path(tempfile.mkdtemp(prefix="itarch-sec-", dir="/var/tmp"))
    results: dict[IsolationLevel, list[Report]] = {}

    def work(level: IsolationLevel) -> None:
        results[level] = run_level(level, cases, base, secret)

    threads = [threading.Thread(target=work, args=(level,)) for level in levels]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        shutil.rmtree(base, ignore_errors=True)
    order = {case.name: index for index, case in enumerate(cases)}
    reports = [r for level in levels for r in results.get(level, [])]
    return sorted(reports, key=lambda r: (order[r.case], levels.index(IsolationLevel(r.level))))


def as_json(reports: list[Report]) -> str:
    return json.dumps([asdict(r) for r in reports], indent=2)
