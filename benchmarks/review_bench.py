"""Benchmark `itarch review` against a bare run of the same test suite.

By default on the example shop; `--repo DIR` (a git work tree whose tests run with `--python`)
measures a real project's suite. Three numbers, each a median of `--runs` runs measured in this
run: bare `pytest` on the test files the review selects; the review with `reruns = 0` (the traced
run and the static checks); the review with the configured reruns (default 5: flaky and order).

    .venv/bin/python benchmarks/review_bench.py [--runs 3] [--repo DIR --python PY] [--reruns 5]

Prints one JSON document on stdout; progress goes to stderr.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from agent.config import load_settings
from agent.demo.shop import build_shop_repo
from agent.log import configure
from agent.review import review
from agent.review.scope import review_scope


def say(text: str) -> None:
    sys.stderr.write(text + "\n")


def timed(fn: object, runs: int) -> float:
    assert callable(fn)
    times = []
    for _ in range(runs):
        started = time.monotonic()
        fn()
        times.append(time.monotonic() - started)
    return round(statistics.median(times), 2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--repo", type=Path, default=None)
    parser.add_argument("--python", default=sys.executable)
    parser.add_argument("--reruns", type=int, default=5)
    args = parser.parse_args()
    configure(0)
    with tempfile.TemporaryDirectory() as scratch:
        repo = args.repo.resolve() if args.repo else build_shop_repo(Path(scratch) / "shop").path
        files = review_scope(repo, None).test_files
        say(f"{repo}: {len(files)} test file(s)")

        def bare() -> None:
            subprocess.run(
                [args.python, "-m", "pytest", "-q", "-p", "no:cacheprovider", *files],
                cwd=repo,
                capture_output=True,
                check=False,
            )

        def reviewed(reruns: int) -> None:
            settings = load_settings(repo, python=args.python)
            settings.reruns = reruns
            review(repo, settings=settings)

        bare_s = timed(bare, args.runs)
        say(f"bare pytest: {bare_s}s")
        traced_s = timed(lambda: reviewed(0), args.runs)
        say(f"review, no reruns: {traced_s}s")
        full_s = timed(lambda: reviewed(args.reruns), args.runs)
        say(f"review, {args.reruns} reruns: {full_s}s")
    print(
        json.dumps(
            {
                "repo": str(args.repo or "examples/shop"),
                "test_files": len(files),
                "runs": args.runs,
                "bare_pytest_s": bare_s,
                "review_no_reruns_s": traced_s,
                "review_s": full_s,
                "reruns": args.reruns,
                "ratio_no_reruns": round(traced_s / bare_s, 2) if bare_s else None,
                "ratio": round(full_s / bare_s, 2) if bare_s else None,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
