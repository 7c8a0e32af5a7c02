"""The git pre-push hook: which modules and seams a push changes that no existing test exercises.

`git push` runs `.git/hooks/pre-push REMOTE URL` with one line per pushed ref on stdin. In
`check` mode (the default, no model) the hook lists what the push leaves untested and prints the
`itarch generate` command that would fix it; `block` fails the push while that list is not
empty; `generate` writes proven tests for the gaps as new, uncommitted files. Everything goes to
stderr, which git shows to the user. The hook never changes the index, HEAD or existing files,
and its own failure never stops a push (except in `block` mode, which fails closed).

This module is on the path of every push: it loads the seam rules only once a push has commits
to check, and leaves the model, sandbox and gates to `generate` mode.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from agent.git import toplevel
from agent.hook.installer import (
    HOOK,
    LEGACY,
    MODES,
    HookError,
    hooks_dir,
    install,
    is_ours,
    uninstall,
)
from agent.hook.refs import (
    PushRange,
    parse_ref_lines,
    resolve,
    updates_from_pre_commit,
)

if TYPE_CHECKING:
    from agent.config import Settings

__all__ = ["HookError", "install", "main", "run_hook", "uninstall"]

SKIP_ENV = "ITARCH_SKIP"
# Set while the kept legacy hook runs, so an itarch call inside it does not check twice.
NESTED_ENV = "ITARCH_PRE_PUSH_RUNNING"


def run_hook(
    start: Path,
    remote: str | None,
    url: str | None,
    stdin: str,
    *,
    mode: str | None = None,
    env: Mapping[str, str] | None = None,
    out: TextIO | None = None,
) -> int:
    """Everything the hook does; returns its exit code (non-zero stops the push)."""
    env = os.environ if env is None else env
    out = out or sys.stderr
    if env.get(NESTED_ENV):
        return 0  # the outer itarch hook does the check
    try:
        repo = toplevel(start)
    except Exception as exc:
        _say(out, f"pre-push check skipped: {exc}")
        return 0
    code = _run_legacy(repo, remote, url, stdin, env, out)
    if code != 0:
        return code
    if env.get(SKIP_ENV, "").strip().lower() not in ("", "0", "false", "no"):
        _say(out, f"pre-push check skipped ({SKIP_ENV}={env[SKIP_ENV]})")
        return 0
    current = mode or "check"  # what a failure is judged by until the settings say otherwise
    try:
        updates = parse_ref_lines(stdin) or updates_from_pre_commit(env)
        ranges, _ = resolve(repo, remote or env.get("PRE_COMMIT_REMOTE_NAME", ""), updates)
        if not ranges:
            return 0  # only deletions, tags or commits the remote has: nothing to check
        settings, current = _settings(repo, mode, out)
        return _check_push(repo, settings, current, ranges, env, out)
    except KeyboardInterrupt:
        _say(out, "pre-push check interrupted")
        return 130
    except Exception as exc:
        # Our own failure must not stop the user's push, unless they asked us to gate it.
        where = f"{type(exc).__name__}: {exc}".splitlines()[0]
        if current != "block":
            _say(out, f"pre-push check failed ({where}); push continues")
            return 0
        _say(out, f"pre-push check failed ({where}); push stopped (block mode)")
        _say(out, f"skip once with {SKIP_ENV}=1 git push, or git push --no-verify")
        return 1


def _settings(repo: Path, mode_flag: str | None, out: TextIO) -> tuple[Settings, str]:
    """The settings and the mode: the script's --mode flag, else [tool.itarch.hook] mode (a mode
    outside the choices is refused when the settings load)."""
    from agent.config import load_settings  # pydantic-settings: only once there is work to do

    settings = load_settings(repo)
    return settings, mode_flag or settings.hook.mode


def _check_push(
    repo: Path,
    settings: Settings,
    mode: str,
    ranges: list[PushRange],
    env: Mapping[str, str],
    out: TextIO,
) -> int:
    # The seam rules and test facts load here, not with the module: a skipped push, a tag or a
    # deletion never pays for them.
    from agent.hook.report import print_scans
    from agent.hook.scan import scan_range

    started = time.monotonic()
    watch, tests_root = settings.hook.paths, settings.tests_root
    scans = [s for r in ranges if (s := scan_range(repo, r, watch, tests_root))]
    if not scans:
        return 0  # nothing Python changed: say nothing, cost nothing
    if mode == "generate" and any(s.gaps for s in scans):
        from agent.hook.generate import generate_for_push

        return generate_for_push(repo, scans, settings, env, out, started)
    print_scans(out, scans, mode, seconds=time.monotonic() - started)
    return 1 if mode == "block" and any(s.gaps for s in scans) else 0


def _run_legacy(
    repo: Path,
    remote: str | None,
    url: str | None,
    stdin: str,
    env: Mapping[str, str],
    out: TextIO,
) -> int:
    """Run the hook ours replaced, first, with the same arguments and stdin, as git would have."""
    try:
        where = hooks_dir(repo, force=True)
    except HookError:
        return 0
    hook, legacy = where / HOOK, where / LEGACY
    # Only when git started our script: under pre-commit, pre-commit runs its own legacy hook.
    if not (is_ours(hook) and legacy.is_file() and os.access(legacy, os.X_OK)) or is_ours(legacy):
        return 0
    args = [a for a in (remote, url) if a is not None]
    try:
        done = subprocess.run(
            [str(legacy), *args], cwd=repo, input=stdin.encode(), env={**env, NESTED_ENV: "1"}
        )
    except OSError as exc:
        # git stops a push whose hook cannot start; the kept hook gets the same treatment.
        _say(out, f"cannot run {legacy} ({exc.strerror}); push stopped")
        return 1
    if done.returncode != 0:
        _say(out, f"{legacy.name} (the hook that was here before itarch's) stopped the push")
    return done.returncode


def _usage_error(argv: Sequence[str] | None) -> int:
    _say(sys.stderr, f"pre-push check skipped: cannot read the arguments {list(argv or [])}")
    return 0


def _say(out: TextIO, line: str) -> None:
    out.write(f"itarch: {line}\n")
    out.flush()


def main(argv: Sequence[str] | None = None, *, start: Path | None = None) -> int:
    """`itarch hook run pre-push [--mode M] [REMOTE URL]`, without loading the CLI: the one parser
    of those arguments (`itarch hook run` hands its arguments here too). `start` is where the
    repository is looked for (default: the current directory)."""
    import structlog

    if not structlog.is_configured():
        from agent.log import configure

        configure()  # as the CLI does: warnings and errors only, on stderr, never on stdout
    parser = argparse.ArgumentParser(prog="itarch hook run")
    parser.add_argument("hook", choices=["pre-push"])
    parser.add_argument("remote", nargs="?")
    parser.add_argument("url", nargs="?")
    parser.add_argument("--mode", choices=MODES)
    try:
        args = parser.parse_intermixed_args(argv)
    except SystemExit as exc:
        # argparse has printed the usage; a wrong call must not stop the push (--help is 0).
        return 0 if exc.code in (0, None) else _usage_error(argv)
    stdin = "" if sys.stdin is None or sys.stdin.isatty() else sys.stdin.read()
    return run_hook(start or Path.cwd(), args.remote, args.url, stdin, mode=args.mode)
