"""How long does building the context of a 5-file change take on a big repository (Django)?

Compares the median time of `build_context` for that change with a floor that any tool must pay:
`git diff` in a subprocess plus `ast.parse` of every .py file. Target: at most 1.5x the floor.

    python benchmarks/context_bench.py [--version 5.1.4] [--runs 5] [--cache DIR]

Django's sdist is downloaded once with pip into the cache folder.
"""

from __future__ import annotations

import argparse
import ast
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from agent.context import build_context, render_context
from agent.log import configure

EDITED = (
    "django/db/models/query.py",
    "django/core/handlers/base.py",
    "django/urls/resolvers.py",
    "django/http/response.py",
    "django/contrib/auth/views.py",
)
GIT = ["git", "-c", "user.name=bench", "-c", "user.email=bench@example.invalid"]


def fetch_sdist(version: str, cache: Path) -> Path:
    cache.mkdir(parents=True, exist_ok=True)
    found = sorted(cache.glob(f"[Dd]jango-{version}.tar.gz"))
    if not found:
        pip = [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:"]
        subprocess.run([*pip, f"django=={version}", "-d", str(cache)], check=True)
        found = sorted(cache.glob(f"[Dd]jango-{version}.tar.gz"))
    if not found:
        raise SystemExit(f"pip did not leave Django-{version}.tar.gz in {cache}")
    return found[0]


def unpack(sdist: Path, into: Path) -> Path:
    with tarfile.open(sdist) as tar:
        tar.extractall(into, filter="data")
    (root,) = [p for p in into.iterdir() if p.is_dir()]
    return root


def edit(path: Path) -> None:
    """Insert a statement at the top of the first function's body: a real changed line."""
    text = path.read_text(encoding="utf-8")
    tree = ast.parse(text)
    func = next(n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef))
    first = func.body[0]
    lines = text.splitlines(keepends=True)
    indent = " " * first.col_offset
    lines.insert(first.lineno - 1, f"{indent}_benchmark_edit = None\n")
    path.write_text("".join(lines), encoding="utf-8")


def prepare(root: Path) -> None:
    def git(*args: str) -> None:
        subprocess.run([*GIT, *args], cwd=root, check=True, capture_output=True)

    git("init", "-q")
    git("add", "-A")
    git("commit", "-qm", "django sdist")
    for rel in EDITED:
        edit(root / rel)
    git("commit", "-qam", "edit five modules")


def floor(root: Path) -> None:
    subprocess.run(["git", "diff", "HEAD~1", "HEAD"], cwd=root, check=True, capture_output=True)
    for parent, dirs, names in os.walk(root):
        dirs[:] = [d for d in dirs if d != ".git"]
        for name in names:
            if name.endswith(".py"):
                path = os.path.join(parent, name)
                try:
                    with open(path, "rb") as fh:
                        ast.parse(fh.read(), path)
                except (SyntaxError, ValueError):
                    pass


def median_seconds(work: Callable[[], object], runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        work()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--version", default="5.1.4")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--cache", type=Path, default=Path.home() / ".cache/itarch/bench")
    args = parser.parse_args()
    configure(0)  # warnings only: the figures go to stdout

    sdist = fetch_sdist(args.version, args.cache)
    with tempfile.TemporaryDirectory(prefix="itarch-bench-") as tmp:
        root = unpack(sdist, Path(tmp))
        prepare(root)
        py_files = sum(1 for _ in root.rglob("*.py"))

        def context() -> object:
            return build_context(root, base="HEAD~1", head="HEAD")

        ctx = build_context(root, base="HEAD~1", head="HEAD")  # warm the file cache
        floor(root)
        floor_s = median_seconds(lambda: floor(root), args.runs)
        context_s = median_seconds(context, args.runs)

    print(f"Django {args.version}: {py_files:,} .py files, {len(EDITED)} files changed")
    print(
        f"context: {len(ctx.seams)} seams, {len(ctx.existing_tests)} existing test files, ", end=""
    )
    print(
        f"{ctx.tokens:,} tokens ({len(render_context(ctx)):,} chars), dropped: {len(ctx.dropped)}"
    )
    print(
        f"floor (git diff + ast.parse of every .py file): {floor_s:.2f} s (median of {args.runs})"
    )
    print(
        f"build_context:                                  {context_s:.2f} s (median of {args.runs})"
    )
    print(f"ratio: {context_s / floor_s:.2f}x (target <= 1.5x)")


if __name__ == "__main__":
    main()
