"""How much does the pre-push hook (check mode) add to a small `git push` of examples/shop?

Three copies of the example shop each push to their own local bare remote: one without the hook,
one with it (a static answer), one with it and a warm test-impact index (`itarch index` built
once; answers by execution). Each round commits the same one-line change of behaviour inside
`OrderService.create_order` (a function with database and event seams) in each, then times a
real `git push` of each. Prints the medians, the differences and the ratios against the push
without the hook, and the import time of the hook's code path next to the full CLI's.
Targets: the hook's push under 1 s; the warm index adds under 0.5 s.

    python benchmarks/hook_bench.py [--runs 9]
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from agent.demo.shop import build_shop_repo
from agent.hook.run import install

TARGET_SECONDS = 1.0
EDITED = "shop/orders.py"
# The first statement of OrderService.create_order; the bench line goes just before it.
ANCHOR = "        wanted: dict[str, int] = {}\n"


def git_env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GIT_", "ITARCH_"))}
    env.update(
        HOME=str(home),
        GIT_CONFIG_NOSYSTEM="1",
        GIT_CONFIG_GLOBAL=os.devnull,
        GIT_AUTHOR_NAME="bench",
        GIT_AUTHOR_EMAIL="bench@example.invalid",
        GIT_COMMITTER_NAME="bench",
        GIT_COMMITTER_EMAIL="bench@example.invalid",
    )
    return env


def git(repo: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["git", *args], cwd=repo, env=env, capture_output=True, text=True, check=True
    )


def shop_with_remote(root: Path, name: str, env: dict[str, str]) -> Path:
    shop = build_shop_repo(root / name).path
    remote = root / f"{name}.git"
    git(root, env, "init", "--quiet", "--bare", str(remote))
    git(shop, env, "remote", "add", "origin", str(remote))
    git(shop, env, "push", "--quiet", "--no-verify", "-u", "origin", "HEAD:refs/heads/main")
    git(shop, env, "branch", "--quiet", "--set-upstream-to=origin/main")
    return shop


def small_change(shop: Path, env: dict[str, str], round_no: int) -> None:
    path = shop / EDITED
    text = path.read_text(encoding="utf-8")
    text = re.sub(r"        bench_round = \d+\n", "", text)
    if text.count(ANCHOR) != 1:
        raise SystemExit(f"{EDITED} changed: cannot find the line of create_order to edit")
    # A statement, not a comment: a cosmetic change is not checked at all.
    text = text.replace(ANCHOR, f"        bench_round = {round_no}\n" + ANCHOR)
    path.write_text(text, encoding="utf-8")
    git(shop, env, "commit", "--quiet", "--no-verify", "-am", f"bench round {round_no}")


def timed_push(shop: Path, env: dict[str, str]) -> tuple[float, float, str]:
    """Wall seconds, CPU seconds (user + system of git and everything it ran), stderr."""
    cpu_before = _children_cpu()
    started = time.perf_counter()
    done = subprocess.run(
        ["git", "push", "origin", "HEAD:refs/heads/main"],
        cwd=shop,
        env=env,
        capture_output=True,
        text=True,
    )
    elapsed = time.perf_counter() - started
    cpu = _children_cpu() - cpu_before
    if done.returncode != 0:
        raise SystemExit(f"push failed in {shop}:\n{done.stderr}")
    return elapsed, cpu, done.stderr


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def import_seconds(statement: str, runs: int) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", statement], check=True)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=9, help="pushes of each kind")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="itarch-hook-bench-") as tmp:
        root = Path(tmp)
        env = git_env(root)
        hooked = shop_with_remote(root, "hooked", env)
        plain = shop_with_remote(root, "plain", env)
        indexed = shop_with_remote(root, "indexed", env)
        install(hooked, mode="check")
        install(indexed, mode="check")
        started = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "agent.cli", "--python", sys.executable, "index"],
            cwd=indexed,
            env=env,
            capture_output=True,
            check=True,
        )
        index_build = time.perf_counter() - started

        with_hook, without, with_index, hook_cpu, base_cpu = [], [], [], [], []
        said = said_indexed = ""
        for n in range(args.runs):
            for shop in (hooked, plain, indexed):
                small_change(shop, env, n)
            seconds, cpu, said = timed_push(hooked, env)
            with_hook.append(seconds)
            hook_cpu.append(cpu)
            seconds, cpu, _ = timed_push(plain, env)
            without.append(seconds)
            base_cpu.append(cpu)
            seconds, _, said_indexed = timed_push(indexed, env)
            with_index.append(seconds)

    hook_median = statistics.median(with_hook)
    base_median = statistics.median(without)
    index_median = statistics.median(with_index)
    print(f"examples/shop, a one-line change in {EDITED} (create_order), {args.runs} pushes each")
    print(f"git push, no hook:         median {base_median * 1000:7.1f} ms")
    print(f"git push, itarch check:    median {hook_median * 1000:7.1f} ms")
    print(f"hook's cost:               {(hook_median - base_median) * 1000:7.1f} ms")
    print(f"ratio:                     {hook_median / base_median:7.1f}x")
    print(f"git push, hook + index:    median {index_median * 1000:7.1f} ms")
    print(f"hook's cost, warm index:   {(index_median - base_median) * 1000:7.1f} ms")
    print(f"ratio, warm index:         {index_median / base_median:7.1f}x")
    print(f"itarch index (built once): {index_build:7.2f} s")
    cpu_hook, cpu_base = statistics.median(hook_cpu), statistics.median(base_cpu)
    print(
        f"CPU time (user+sys), less sensitive to a busy machine: no hook {cpu_base * 1000:.1f} ms, "
        f"itarch check {cpu_hook * 1000:.1f} ms, ratio {cpu_hook / max(cpu_base, 1e-3):.1f}x"
    )
    verdict = "met" if hook_median < TARGET_SECONDS else "MISSED"
    print(f"target < {TARGET_SECONDS:.1f} s for the hooked push: {verdict}")
    verdict = "met" if index_median - base_median < 0.5 else "MISSED"
    print(f"target < 0.5 s added with a warm index: {verdict}")
    for name, text in (("static", said), ("index", said_indexed)):
        said_lines = [line for line in text.splitlines() if line.startswith("itarch:")]
        print(f"the hook said ({name}):", said_lines[0] if said_lines else "(nothing)")
    check_path = "agent.hook.run, agent.config, agent.hook.scan"
    hook_import = import_seconds(f"import {check_path}", 5)
    cli_import = import_seconds("import agent.cli.main", 3)
    print(f"python + imports of check mode:     {hook_import * 1000:7.1f} ms")
    print(f"python + import of the full CLI:    {cli_import * 1000:7.1f} ms (what the hook avoids)")
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(
        f"machine: {os.cpu_count()} CPU(s), load average {load} (noisy neighbours skew all figures)"
    )


if __name__ == "__main__":
    main()
