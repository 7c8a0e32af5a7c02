"""Benchmark the gates on the example shop.

1. The gate pipeline without mutation on one real test file (the shop's integration test),
   against a bare `pytest` run of the same file: cold (first check, pays for the existing
   suite's baseline) and warm (baseline cached), as wall-clock ratios.
2. Mutation of one changed module's changed lines (shop/orders.py, base..head): mutants per
   second and the score of the shop's order tests, and, when a mutmut 2.x executable is given,
   mutmut on the same lines (`--use-patch-file`) with the same tests.

    .venv/bin/python benchmarks/gates_bench.py [--runs 3] [--mutmut /path/to/venv/bin/mutmut]

mutmut is not a dependency of itarch: install it into a scratch virtualenv
(`python -m venv /tmp/mm && /tmp/mm/bin/pip install "mutmut<3" whatthepatch pytest flask`).
Prints one JSON document on stdout; progress goes to stderr.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

from agent.config import load_settings
from agent.context import build_context
from agent.demo.shop import ShopRepo, build_shop_repo
from agent.log import configure
from agent.quality import Judge
from agent.sandbox import Sandbox
from agent.schema import ProposedFile

INTEGRATION = "tests/integration/test_order_placement.py"
ORDER_TESTS = ["tests/test_orders.py", INTEGRATION]
MODULE = "shop/orders.py"


def say(text: str) -> None:
    sys.stderr.write(text + "\n")


def bare_pytest(repo: Path, files: list[str], runs: int) -> float:
    times = []
    for _ in range(runs):
        started = time.monotonic()
        subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *files],
            cwd=repo,
            capture_output=True,
            check=True,
        )
        times.append(time.monotonic() - started)
    return statistics.median(times)


def pipeline(shop: ShopRepo, runs: int) -> dict[str, Any]:
    settings = load_settings(shop.path, mutation=False)
    context = build_context(shop.path, base=shop.base)
    file = ProposedFile(path=INTEGRATION, content=(shop.path / INTEGRATION).read_text())
    bare = bare_pytest(shop.path, [INTEGRATION], runs)
    with Sandbox(shop.path, Path(sys.executable), settings.sandbox) as box:
        judge = Judge(box, settings, context=context, existing_ok=True)
        started = time.monotonic()
        cold = judge.check([file])
        cold_seconds = time.monotonic() - started
        warm_times, warm = [], cold
        for _ in range(runs):
            started = time.monotonic()
            warm = judge.check([file])
            warm_times.append(time.monotonic() - started)
        level = box.level.value
    verdicts = [t.verdict for f in warm.files for t in f.tests]
    warm_seconds = statistics.median(warm_times)
    return {
        "file": INTEGRATION,
        "isolation": level,
        "verdicts": verdicts,
        "bare_pytest_seconds": round(bare, 3),
        "cold_check_seconds": round(cold_seconds, 3),
        "warm_check_seconds": round(warm_seconds, 3),
        "cold_ratio": round(cold_seconds / bare, 2),
        "warm_ratio": round(warm_seconds / bare, 2),
        "warm_gate_seconds": warm.gate_seconds,
        "cold_gate_seconds": cold.gate_seconds,
    }


def mutation(shop: ShopRepo) -> dict[str, Any]:
    settings = load_settings(shop.path, mutation=True)
    context = build_context(shop.path, base=shop.base, modules=["shop.orders"])
    files = [ProposedFile(path=p, content=(shop.path / p).read_text()) for p in ORDER_TESTS]
    with Sandbox(shop.path, Path(sys.executable), settings.sandbox) as box:
        judge = Judge(box, settings, context=context, existing_ok=True)
        started = time.monotonic()
        result = judge.check(files)
        total_seconds = time.monotonic() - started
    seconds = result.gate_seconds.get("mutation", 0.0)
    return {
        "module": MODULE,
        "changed_lines": sorted(
            n for c in context.changed if c.path == MODULE for n in c.added_lines
        ),
        "tests": ORDER_TESTS,
        "mutants": result.mutants_total,
        "killed": result.mutants_killed,
        "score": result.mutation_score,
        "mutation_seconds": round(seconds, 3),
        "mutants_per_second": round(result.mutants_total / seconds, 2) if seconds else None,
        "whole_check_seconds": round(total_seconds, 3),
    }


def mutmut(shop: ShopRepo, executable: Path) -> dict[str, Any]:
    python = executable.parent / "python"
    with tempfile.TemporaryDirectory(prefix="itarch-mutmut-") as scratch:
        copy = Path(scratch) / "shop"
        shutil.copytree(shop.path, copy)
        patch = Path(scratch) / "change.diff"
        diff = subprocess.run(
            ["git", "diff", shop.base, shop.head, "--", MODULE],
            cwd=copy,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        patch.write_text(diff, encoding="utf-8")
        runner = f"{python} -m pytest -x -q -p no:cacheprovider {' '.join(ORDER_TESTS)}"
        started = time.monotonic()
        subprocess.run(
            [
                str(executable),
                "run",
                "--paths-to-mutate",
                MODULE,
                "--use-patch-file",
                str(patch),
                "--runner",
                runner,
            ],
            cwd=copy,
            capture_output=True,
        )
        seconds = time.monotonic() - started
        report = subprocess.run(
            [str(executable), "junitxml"], cwd=copy, capture_output=True, text=True
        ).stdout
    cases = ET.fromstring(report).iter("testcase")
    outcomes = [0 if case.find("failure") is not None else 1 for case in cases]
    total = len(outcomes)
    return {
        "tool": "mutmut 2 (--use-patch-file, one pytest process per mutant, file rewrites)",
        "mutants": total,
        "killed": sum(outcomes),
        "score": round(sum(outcomes) / total, 3) if total else None,
        "seconds": round(seconds, 3),
        "mutants_per_second": round(total / seconds, 2) if seconds else None,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="repetitions for medians")
    parser.add_argument("--mutmut", type=Path, default=None, help="a mutmut 2.x executable")
    args = parser.parse_args()
    configure()
    with tempfile.TemporaryDirectory(prefix="itarch-bench-") as scratch:
        shop = build_shop_repo(Path(scratch) / "shop")
        say("gate pipeline vs bare pytest ...")
        report: dict[str, Any] = {"pipeline": pipeline(shop, args.runs)}
        say("mutation on the change ...")
        report["mutation"] = mutation(shop)
        if args.mutmut is not None:
            say("mutmut on the same lines ...")
            report["mutmut"] = mutmut(shop, args.mutmut)
        else:
            report["mutmut"] = "skipped: pass --mutmut /path/to/mutmut (2.x) to compare"
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
