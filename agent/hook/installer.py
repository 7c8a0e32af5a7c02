"""Installing and removing the pre-push hook script, keeping any hook that was there before.

The script only hands over to `python -m agent.cli hook run pre-push`, with the interpreter that
installed it, so the hook works without `itarch` on PATH (GUI git clients, virtualenvs). The
target project's interpreter given at install (`--python`) is passed on. A hook that is not ours
is kept as `pre-push.legacy` and run first by `hook run`; uninstall puts it back.
"""

from __future__ import annotations

import os
import shlex
import sys
from pathlib import Path

from agent.errors import UserError
from agent.git import GitError, git

HOOK = "pre-push"
LEGACY = "pre-push.legacy"
MARKER = "# itarch pre-push hook"
MODES = ("check", "generate", "block")
# The scopes of a core.hooksPath that belongs to this repository alone.
_OWN_SCOPES = ("local", "worktree")


class HookError(UserError):
    """The hook cannot be installed or removed as asked; the message says how to fix it."""


def is_ours(path: Path) -> bool:
    try:
        return MARKER in path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False


def hooks_dir(repo: Path, *, force: bool = False) -> Path:
    """Where git looks for this repository's hooks, honouring core.hooksPath.

    A hooks path set for this repository (local or worktree config) is used as is. One set
    globally is shared by every repository, so writing there needs --force."""
    try:
        scoped = git(repo, "config", "--show-scope", "--get", "core.hooksPath", check=False)
        where = git(repo, "rev-parse", "--git-path", "hooks")
    except GitError as exc:
        raise HookError(f"{repo} is not a git repository ({exc})") from None
    if scoped:
        scope, _, value = scoped.partition("\t")
        if scope not in _OWN_SCOPES and not force:
            raise HookError(
                f"core.hooksPath is set in the {scope} git config to {value!r}, which other "
                "repositories share; run `git config --local core.hooksPath .git/hooks` to give "
                "this repository its own hooks, or install there anyway with --force"
            )
    path = Path(os.path.expanduser(where))
    return (path if path.is_absolute() else repo / path).resolve()


def script(mode: str, python: str | None = None, target: str | None = None) -> str:
    """The hook script: `python` runs itarch (default: this interpreter); `target` is the
    project's interpreter for its tests (`--python`), passed on when given. `--mode` is written
    only when asked for, so [tool.itarch.hook] decides. `-P` keeps the repository's own folders
    off sys.path: a project with an `agent` package of its own must not shadow ours."""
    py = shlex.quote(python or sys.executable)
    mode_flag = f" --mode {mode}" if mode != "check" else ""
    if target:
        mode_flag = f" --python {shlex.quote(target)}{mode_flag}"
    return f"""#!/bin/sh
{MARKER} (itarch hook install; remove with: itarch hook uninstall).
# It only hands over to itarch, which runs {LEGACY} first when there is one.
# Skip once with ITARCH_SKIP=1 git push, or git push --no-verify.
PY={py}
if [ ! -x "$PY" ]; then
    echo "itarch: $PY is gone; pre-push check skipped (reinstall: itarch hook install)" >&2
    if [ -x "$0.legacy" ]; then exec "$0.legacy" "$@"; fi
    exit 0
fi
exec "$PY" -P -m agent.cli hook run pre-push{mode_flag} "$@"
"""


def install(repo: Path, mode: str = "check", force: bool = False, python: str | None = None) -> str:
    """Install (or update) the hook; returns one line saying what was done. `python` is the
    target project's interpreter the hook passes on (an absolute path, when it is a path)."""
    if mode not in MODES:
        raise HookError(f"unknown hook mode {mode!r}: choose one of {', '.join(MODES)}")
    where = hooks_dir(repo, force=force)
    where.mkdir(parents=True, exist_ok=True)
    hook, legacy = where / HOOK, where / LEGACY
    kept = ""
    if hook.exists() and not is_ours(hook):
        if legacy.exists():
            if not force:
                raise HookError(
                    f"{hook} is another tool's hook and {legacy.name} is taken; move one of them "
                    "away, or use --force to keep the old legacy hook aside (it will not run)"
                )
            aside = _free_name(where, LEGACY + ".bak")
            legacy.rename(aside)
            kept = f"; {legacy.name} moved to {aside.name} (not run)"
        hook.rename(legacy)
        kept = f"; the existing hook is kept as {legacy.name} and runs first" + kept
    if python and os.sep in python:
        python = os.path.abspath(python)  # the hook runs from the work tree's top, not from here
    already = hook.exists()
    _write_executable(hook, script(mode, target=python))
    verb = "updated" if already else "installed"
    done = f"{verb} the pre-push hook ({mode} mode) at {hook}{kept}"
    if python:
        done += f"; the target project's tests run with {python}"
    if mode == "generate":
        done += (
            "; at push time, generate mode needs ANTHROPIC_API_KEY in the environment git push "
            "runs in (without it the hook only lists the gaps) and a target interpreter with "
            "pytest: "
            + (
                "the one above"
                if python
                else "[tool.itarch] python, $VIRTUAL_ENV or .venv/ (or reinstall with --python)"
            )
        )
    return done


def uninstall(repo: Path) -> str:
    """Remove our hook and restore the one it replaced; returns one line saying what was done."""
    where = hooks_dir(repo, force=True)  # removing is always safe, wherever it was put
    hook, legacy = where / HOOK, where / LEGACY
    if hook.exists() and not is_ours(hook):
        return f"{hook} is not itarch's hook; left alone"
    if not hook.exists():
        return f"no itarch pre-push hook in {where}"
    hook.unlink()
    if legacy.exists() and not is_ours(legacy):
        legacy.rename(hook)
        return f"removed the itarch pre-push hook and restored the previous one at {hook}"
    return f"removed the itarch pre-push hook from {where}"


def _write_executable(path: Path, text: str) -> None:
    # Write beside and rename: a push running meanwhile sees the old or the new hook, never half.
    tmp = path.with_name(f".{path.name}.itarch-tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.chmod(0o755)
    os.replace(tmp, path)


def _free_name(where: Path, stem: str) -> Path:
    n = 1
    while (where / f"{stem}{n}").exists():
        n += 1
    return where / f"{stem}{n}"
