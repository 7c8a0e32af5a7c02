"""What does the sandbox cost? `Sandbox.run` against bare `python -m pytest` on the same tests.

Uses examples/shop when present, else a generated repository with 50 tests. The sandbox's copy
is made once before timing (as in real use, where one Sandbox serves many runs); bare pytest
runs on its own copy, so neither touches the source tree. Runs alternate to spread machine
noise evenly. Target: sandbox median <= 1.15x bare median.

    python benchmarks/sandbox_bench.py [--runs 9] [--repo DIR | --generated] [--isolation auto]
        [--python PY]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from agent.config import SandboxSettings
from agent.log import configure
from agent.sandbox import Sandbox, find_python
from agent.schema import IsolationLevel

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "shop"
TARGET_RATIO = 1.15


def generated_repo(root: Path, tests: int = 50) -> Path:
    """A small package and `tests` integration-style tests across five files."""
    (root / "inv").mkdir(parents=True)
    (root / "inv" / "__init__.py").write_text("")
    (root / "inv" / "store.py").write_text(
        "import json\n\n\nclass Store:\n"
        "    def __init__(self, path):\n        self.path = path\n        self.items = {}\n\n"
        "    def add(self, name, qty):\n"
        "        self.items[name] = self.items.get(name, 0) + qty\n"
        "        self.path.write_text(json.dumps(self.items))\n\n"
        "    def load(self):\n        return json.loads(self.path.read_text())\n"
    )
    (root / "tests").mkdir()
    per_file = tests // 5
    for f in range(5):
        body = ["from inv.store import Store\n"]
        for t in range(per_file):
            body.append(
                f"\ndef test_store_{f}_{t}(tmp_path):\n"
                f"    store = Store(tmp_path / 's.json')\n"
                f"    store.add('x', {t})\n"
                f"    store.add('x', 1)\n"
                f"    assert store.load() == {{'x': {t + 1}}}\n"
            )
        (root / "tests" / f"test_store_{f}.py").write_text("".join(body))
    return root


def bare_env(tmpdir: Path) -> dict[str, str]:
    """Our environment, but caching bytecode like the sandbox does (it drops that variable)."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["TMPDIR"] = str(tmpdir)
    return env


def time_bare(python: Path, copy: Path, targets: list[str], tmpdir: Path) -> float:
    started = time.perf_counter()
    subprocess.run(
        [str(python), "-m", "pytest", "-q", "-p", "no:cacheprovider", *targets],
        cwd=copy,
        env=bare_env(tmpdir),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        check=False,
    )
    return time.perf_counter() - started


def time_sandbox(box: Sandbox, targets: list[str]) -> tuple[float, int]:
    started = time.perf_counter()
    result = box.run(select=targets)
    return time.perf_counter() - started, len(result.outcomes)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=9)
    parser.add_argument("--repo", type=Path, default=None)
    parser.add_argument("--generated", action="store_true", help="use the generated repo")
    parser.add_argument("--isolation", default="auto")
    parser.add_argument("--python", default=None)
    args = parser.parse_args()
    configure()

    with tempfile.TemporaryDirectory(prefix="itarch-bench-") as scratch:
        if args.repo is not None:
            source = args.repo.resolve()
        elif EXAMPLE.is_dir() and not args.generated:
            source = EXAMPLE
        else:
            source = generated_repo(Path(scratch) / "generated")
        targets = ["tests"]
        python = find_python(source, args.python or sys.executable)
        bare_copy = Path(scratch) / "bare" / source.name
        shutil.copytree(
            source, bare_copy, ignore=shutil.ignore_patterns("__pycache__", ".pytest_cache")
        )
        box = Sandbox(source, python, SandboxSettings(isolation=args.isolation))
        # Same kind of temp storage on both sides: bwrap gives tests a tmpfs /tmp, which makes
        # fsync-heavy tests (sqlite) faster than on disk and would flatter the sandbox.
        shm = Path("/dev/shm")
        on_tmpfs = box.level == IsolationLevel.BWRAP and shm.is_dir()
        bare_tmp = Path(tempfile.mkdtemp(dir=shm if on_tmpfs else scratch))
        try:
            time_bare(python, bare_copy, targets, bare_tmp)  # warm-up: page cache, pyc files
            _, tests = time_sandbox(box, targets)
            bare: list[float] = []
            boxed: list[float] = []
            for _ in range(args.runs):
                bare.append(time_bare(python, bare_copy, targets, bare_tmp))
                boxed.append(time_sandbox(box, targets)[0])
        finally:
            box.close()
            shutil.rmtree(bare_tmp, ignore_errors=True)

    bare_median = statistics.median(bare)
    box_median = statistics.median(boxed)
    ratio = box_median / bare_median
    print(f"repo:        {source} ({tests} test outcomes per run)")
    storage = "tmpfs" if on_tmpfs else "disk"
    print(f"isolation:   {box.level.value}  (bare pytest's TMPDIR on {storage})")
    print(f"runs:        {args.runs}")
    print(f"bare pytest: median {bare_median:.3f}s  (all: {', '.join(f'{t:.2f}' for t in bare)})")
    print(f"sandbox:     median {box_median:.3f}s  (all: {', '.join(f'{t:.2f}' for t in boxed)})")
    print(f"ratio:       {ratio:.3f}x of medians, {min(boxed) / min(bare):.3f}x of minimums")
    print(f"target:      <= {TARGET_RATIO}x (medians)")
    return 0 if ratio <= TARGET_RATIO else 1


if __name__ == "__main__":
    raise SystemExit(main())
