"""Runs hostile cases through the real Judge and sandbox, and checks from outside what got out.

Started by the harness as process 2 of a user, network, pid and mount namespace of its own
(`unshare -rn --pid --fork --mount-proc`, with `init.py` as process 1), so even a case that
escapes its sandbox stays inside the harness's walls: no packet can leave (the "uplink" is a
veth pair that ends at our listeners), and every process ends with the namespace.

    python driver.py --level LEVEL --cases a,b,... --base DIR --run-id ID

Prints one JSON line per case: {"event": "start", ...} before, {"event": "report", ...} after.
The API key this process was started with (ANTHROPIC_API_KEY) is the fake secret to look for.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import signal
import sys
import time
from pathlib import Path
from typing import Any

from agent.config import Settings, load_settings
from agent.log import configure
from agent.quality import Judge
from agent.sandbox import Sandbox
from agent.schema import CheckResult, IsolationLevel, ProposedFile, RunResult, TestVerdict
from tests.security.cases import BY_NAME, Case, source, victim_hash
from tests.security.listeners import UPLINK, Catcher, SharedMemory, build_uplink
from tests.security.world import differences, plant, remove, snapshot

CANARY_MARK = "ITARCH-CANARY-"
LEFTOVER_WAIT = 3.0
RSS_GROWTH_LIMIT_MB = 512


class Recorder:
    """The sandbox as the Judge sees it, keeping every RunResult for the leak search."""

    def __init__(self, box: Sandbox) -> None:
        self.box = box
        self.level: IsolationLevel = box.level
        self.repo = box.repo
        self.results: list[RunResult] = []

    @property
    def workspace(self) -> Path:
        return self.box.workspace

    def run(self, files: dict[str, str] | None = None, **kwargs: Any) -> RunResult:
        result = self.box.run(files, **kwargs)
        self.results.append(result)
        return result


def settings_for(repo: Path, level: IsolationLevel) -> Settings:
    return load_settings(
        repo,
        mutation=False,
        reruns=1,
        # any write to the repository counts as an escape here, itarch's own index included
        index=False,
        sandbox={
            "isolation": level.value,
            "test_timeout": 3.0,
            "run_timeout": 8.0,
            "memory_mb": 1024,
            "file_size_mb": 256,
            "max_processes": 128,
        },
    )


def outcome_of(verdict: TestVerdict) -> str:
    if verdict.verdict == "rejected":
        return verdict.reason.value if verdict.reason else "rejected"
    return verdict.verdict


def key_of(nodeid: str) -> str:
    return nodeid.split("::")[-1].split("[", 1)[0] if "::" in nodeid else nodeid


def others() -> dict[int, str]:
    """Live processes of this pid namespace besides init and us: pid -> command line."""
    found = {}
    for name in os.listdir("/proc"):
        if not name.isdigit() or int(name) in (1, os.getpid()):
            continue
        try:
            stat = Path("/proc", name, "stat").read_text()
            cmdline = Path("/proc", name, "cmdline").read_bytes()
        except OSError:
            continue
        if stat.rsplit(")", 1)[-1].split()[0] in ("Z", "X"):
            continue
        found[int(name)] = cmdline.replace(b"\0", b" ").decode("utf-8", "replace")[:120]
    return found


def sweep() -> dict[int, str]:
    """What outlived the run (after a grace period), then kill it all: this namespace is ours."""
    deadline = time.monotonic() + LEFTOVER_WAIT
    while (left := others()) and time.monotonic() < deadline:
        time.sleep(0.1)
    if left:
        with contextlib.suppress(OSError):
            os.kill(-1, signal.SIGKILL)  # in our own pid namespace: spares init and us
        deadline = time.monotonic() + LEFTOVER_WAIT
        while others() and time.monotonic() < deadline:
            time.sleep(0.05)
    return left


def leaks(secret: str, results: list[RunResult], checks: list[CheckResult], hits: list[str]):  # type: ignore[no-untyped-def]
    canary = secret[secret.index(CANARY_MARK) :]
    where = []
    for index, result in enumerate(results):
        if canary in result.model_dump_json():
            where.append(f"sandbox run {index + 1} result (output, failure messages)")
    for index, check in enumerate(checks):
        if canary in check.model_dump_json():
            where.append(f"verdicts of proposal {index + 1}")
    where += [f"reached a listener: {hit}" for hit in hits if canary in hit]
    return where


def run_case(case: Case, level: IsolationLevel, base: Path, tag: str, secret: str) -> dict:  # type: ignore[type-arg]
    world = plant(base / case.name, tag, secret)
    os.environ["HOME"] = str(world.home)
    # itarch's own cache (answers about interpreters) is the host's, not the test's: kept
    # beside the worlds, outside what the harness watches for escapes
    os.environ["ITARCH_CACHE_DIR"] = str(base / "itarch-cache")
    catcher = Catcher(world.sockets())
    catcher.start()
    shared = SharedMemory(tag, f"ANTHROPIC_API_KEY={secret}".encode())
    values = {
        **world.placeholders(),
        "UPLINK": UPLINK,
        "PORT": str(catcher.port),
        "PIDNS": os.readlink("/proc/self/ns/pid"),
        "VICTIM_HASH": victim_hash(),
    }
    before = snapshot(world.watched())
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    settings = settings_for(world.repo, level)
    verdicts: dict[str, dict[str, str]] = {}
    checks: list[CheckResult] = []
    recorder: Recorder | None = None
    error = ""
    sandbox_root: Path | None = None
    started = time.monotonic()
    try:
        with Sandbox(world.repo, Path(sys.executable), settings.sandbox) as box:
            sandbox_root = box.workspace.parent.parent
            # so the harness can remove it if a case kills us before close()
            print(json.dumps({"event": "sandbox", "root": str(sandbox_root)}), flush=True)
            recorder = Recorder(box)
            for stage in case.stages:
                files = [
                    ProposedFile(path=path, content=source(corpus, values))
                    for path, corpus in stage.items()
                ]
                check = Judge(recorder, settings).check(files)
                checks.append(check)
                for file in check.files:
                    for test in file.tests:
                        verdicts[key_of(test.nodeid)] = {
                            "outcome": outcome_of(test),
                            "detail": test.detail[:300],
                        }
    except Exception as exc:  # the report says what broke; the harness fails the case
        error = f"{type(exc).__name__}: {exc}"[:500]
    seconds = time.monotonic() - started
    left = sweep()
    after = snapshot(world.watched())
    time.sleep(0.2)  # late connections still count
    catcher.stop()
    shared.remove()
    escapes: list[str] = []
    escapes += leaks(secret, recorder.results if recorder else [], checks, catcher.hits)
    escapes += [f"changed outside the sandbox: {line}" for line in differences(before, after)]
    escapes += [f"reached the outside: {hit}" for hit in catcher.hits]
    escapes += [f"process outlived the run: {pid} {cmd}" for pid, cmd in sorted(left.items())]
    if sandbox_root is not None and sandbox_root.exists():
        escapes.append(f"the sandbox's directory {sandbox_root} survived close()")
    growth_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before) // 1024
    if growth_mb > RSS_GROWTH_LIMIT_MB:
        escapes.append(f"itarch's own memory grew by {growth_mb} MB")
    remove(world)
    return {
        "event": "report",
        "case": case.name,
        "level": level.value,
        "verdicts": verdicts,
        "escapes": escapes,
        "error": error,
        "seconds": round(seconds, 2),
        "runs": len(recorder.results) if recorder else 0,
    }


def check_namespace() -> None:
    """Refuse to run anywhere but as process 2 under our init: the sweep kills everything."""
    try:
        init = Path("/proc/1/cmdline").read_bytes()
    except OSError:
        init = b""
    if os.getpid() != 2 or b"init.py" not in init:
        raise SystemExit("driver.py must run as process 2 of its own pid namespace (see init.py)")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--level", required=True)
    parser.add_argument("--cases", required=True)
    parser.add_argument("--base", required=True, type=Path)
    parser.add_argument("--run-id", required=True)
    args = parser.parse_args()
    check_namespace()
    configure(0)  # warnings and errors only, on stderr: stdout carries the reports
    secret = os.environ["ANTHROPIC_API_KEY"]
    level = IsolationLevel(args.level)
    uplink = build_uplink()
    for name in args.cases.split(","):
        case = BY_NAME[name]
        print(json.dumps({"event": "start", "case": name, "uplink": uplink}), flush=True)
        tag = f"{args.run_id}-{level.value[:2]}-{name}"
        report = run_case(case, level, args.base, tag, secret)
        print(json.dumps(report), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
