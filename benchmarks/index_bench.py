"""The test-impact index on a real project's suite, and `itarch check` of one real test file.

A compat project (a PyPI sdist made into a git repository with its own `.venv` inside, as
`python -m evals run --suite compat` prepares it; cached under $EVALS_CACHE_DIR) is copied to a
scratch directory. Measured, each as a median of --runs against a baseline taken in the same run:

1. the whole suite: bare `pytest` (the project's own configuration) vs `itarch index` cold (the
   first build), warm (nothing changed: nothing runs) and after one source file changed;
2. one real test file: bare `pytest FILE` vs `itarch check FILE`, cold (no index) and warm
   (after `itarch index`: the existing tests' baselines read back).

    .venv/bin/python benchmarks/index_bench.py [--project python-dateutil] [--file F] [--runs 3]

Prints one JSON document on stdout; progress goes to stderr. The first run downloads the sdist
and the project's test requirements from PyPI.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from agent.log import configure
from evals.compat_prepare import prepare
from evals.compat_targets import COMPAT_TARGETS as TARGETS

ITARCH = [sys.executable, "-m", "agent.cli"]
DEFAULTS = {"python-dateutil": "tests/test_relativedelta.py", "tinydb": "tests/test_tinydb.py"}


def say(text: str) -> None:
    sys.stderr.write(text + "\n")
    sys.stderr.flush()


def timed(command: list[str], cwd: Path, *, ok: tuple[int, ...] = (0,)) -> float:
    started = time.perf_counter()
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if done.returncode not in ok:
        raise SystemExit(f"{' '.join(command)} exited {done.returncode}:\n{done.stderr[-2000:]}")
    return seconds


def median(command: list[str], cwd: Path, runs: int, **kw: Any) -> float:
    return statistics.median(timed(command, cwd, **kw) for _ in range(runs))


def relocate_editable(repo: Path, original: Path) -> None:
    """The copy's venv imports the copy: editable installs name the original's absolute path."""
    for site in repo.glob(".venv/lib/python*/site-packages"):
        for path in [*site.glob("*.pth"), *site.glob("__editable__*.py")]:
            text = path.read_text(encoding="utf-8")
            if str(original) in text:
                path.write_text(text.replace(str(original), str(repo)), encoding="utf-8")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--project", default="python-dateutil", choices=sorted(TARGETS))
    parser.add_argument("--file", default=None, help="the test file to check (repo-relative)")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    configure()  # diagnostics on stderr: stdout is the JSON document
    cache = Path(os.environ.get("EVALS_CACHE_DIR", Path.home() / ".cache" / "itarch" / "evals"))
    say(f"preparing {args.project} ...")
    prepared = prepare(TARGETS[args.project], cache)
    test_file = args.file or DEFAULTS.get(args.project) or prepared.spec.check[0]
    with tempfile.TemporaryDirectory(prefix="itarch-index-bench-") as scratch:
        repo = Path(scratch) / args.project
        shutil.copytree(prepared.repo, repo, symlinks=True)
        relocate_editable(repo, prepared.repo)
        python = str(repo / prepared.python.relative_to(prepared.repo))
        itarch = [*ITARCH, "--repo", str(repo), "--python", python]
        pytest = [python, "-m", "pytest", "-q", "-p", "no:cacheprovider"]
        # the suite's own outcome is not ours to judge: exit 1 (some test failed) is a run
        say("bare pytest, whole suite ...")
        bare_suite = median(pytest, repo, args.runs, ok=(0, 1))
        say("itarch index: cold, warm, after one source change ...")
        cold_index = timed([*itarch, "index"], repo)
        warm_index = median([*itarch, "index"], repo, args.runs)
        # a module of the project's package (beside an __init__.py), not a script or a test
        sources = sorted(
            p
            for p in repo.rglob("*.py")
            if ".venv" not in p.parts
            and "test" not in p.relative_to(repo).as_posix().lower()
            and (p.parent / "__init__.py").is_file()
            and p.name != "__init__.py"
        )
        touched = sources[0]
        touched.write_text(touched.read_text(encoding="utf-8") + "\n# touched\n", "utf-8")
        after_change = timed([*itarch, "index"], repo)
        say(f"bare pytest vs itarch check of {test_file} ...")
        bare_file = median([*pytest, test_file], repo, args.runs, ok=(0, 1))
        shutil.rmtree(repo / ".itarch")
        check = [*itarch, "check", test_file, "--json"]
        cold_check = timed(check, repo, ok=(0, 1))
        timed([*itarch, "index"], repo)  # warm: the existing tests' baselines in the index
        warm_check = median(check, repo, args.runs, ok=(0, 1))
    report = {
        "project": args.project,
        "runs": args.runs,
        "suite": {
            "bare_pytest_seconds": round(bare_suite, 2),
            "index_cold_seconds": round(cold_index, 2),
            "index_warm_seconds": round(warm_index, 2),
            "index_after_one_change_seconds": round(after_change, 2),
            "changed_file": touched.relative_to(repo).as_posix(),
            "cold_ratio": round(cold_index / bare_suite, 2),
            "warm_ratio": round(warm_index / bare_suite, 2),
        },
        "check": {
            "file": test_file,
            "bare_pytest_seconds": round(bare_file, 2),
            "cold_seconds": round(cold_check, 2),
            "warm_seconds": round(warm_check, 2),
            "cold_ratio": round(cold_check / bare_file, 2),
            "warm_ratio": round(warm_check / bare_file, 2),
            "target_ratio": 3.0,
        },
        "machine": {"cpus": os.cpu_count(), "load": [round(x, 1) for x in os.getloadavg()]},
    }
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
