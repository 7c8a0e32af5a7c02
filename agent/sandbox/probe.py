"""Can the sandbox collect the project's own tests? Asked once, before any test is judged.

A sandbox that cannot import the project (a dependency it cannot see, a plugin missing from the
interpreter, a conftest that needs what the sandbox hides) would fail every test it judges, and
each failure would read like the test's fault. So the existing suite is collected first; when it
cannot be, the run stops with one line naming the cause and whether plain pytest, outside the
sandbox, does any better.
"""

from __future__ import annotations

import os
import re
import subprocess
from collections import Counter
from pathlib import Path

from agent.index import open_index
from agent.log import get_logger
from agent.sandbox.errors import SandboxError
from agent.sandbox.isolation import sandbox_env
from agent.sandbox.sandbox import Sandbox
from agent.schema import CollectError, RunResult

log = get_logger(__name__)

SAMPLE = 8  # test files collected: enough to tell a broken environment from one broken file
_TEST_NAME = re.compile(r"^(test_.*|.*_test)\.py$")
_SKIPPED_DIRS = {"node_modules", "__pycache__", "build", "dist", "site-packages"}
# pytest's own last words when it stops: usage errors, internal errors, failed plugins
_CAUSE = re.compile(r"^(E\s+|ERROR:\s*|INTERNALERROR>\s*)(?P<text>.*\S)")
_EXCEPTION = re.compile(r"\b[A-Za-z_.]*(Error|Exception|Warning|Exit)\b: ")


class SandboxEnvironmentError(SandboxError):
    """The sandbox cannot collect the project's existing tests: no test can be judged."""


def existing_test_files(
    repo: Path,
    tests_root: str | None,
    *,
    exclude: frozenset[str] = frozenset(),
    limit: int = SAMPLE,
) -> list[str]:
    """Up to `limit` of the project's test files, spread over the tree (repo-relative).

    Without a tests root (or when it does not exist), the whole repository is searched.
    """
    root = repo / tests_root if tests_root and (repo / tests_root).is_dir() else repo
    found: list[str] = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(
            d
            for d in dirnames
            if not d.startswith(".")
            and d not in _SKIPPED_DIRS
            and not d.endswith(".egg-info")
            and not (Path(dirpath) / d / "pyvenv.cfg").exists()
        )
        found += [
            (Path(dirpath) / name).relative_to(repo).as_posix()
            for name in sorted(filenames)
            if _TEST_NAME.match(name)
        ]
    found = [f for f in found if f not in exclude]
    if len(found) <= limit:
        return found
    step = len(found) / limit
    return [found[int(i * step)] for i in range(limit)]


def _cause_from_output(result: RunResult) -> str:
    """The line of pytest's output that says why it stopped."""
    lines = (result.stdout_tail + "\n" + result.stderr_tail).splitlines()
    causes = [m.group("text") for line in lines if (m := _CAUSE.match(line.strip()))]
    named = [c for c in causes if _EXCEPTION.search(c) or "unrecognized arguments" in c]
    if named or causes:
        return (named or causes)[-1]
    if result.crashed:
        return result.crashed
    return f"pytest exit code {result.exit_code}"


def _covers(error_path: str, file: str) -> bool:
    return file == error_path or file.startswith(error_path.rstrip("/") + "/")


def _error_text(error: CollectError) -> str:
    if error.exc_type:
        return f"{error.exc_type}: {error.message}".rstrip(": ")
    return error.message or "error"


def _cause_from_errors(result: RunResult) -> str:
    """The most common collection error, as `Type: message (file)`."""
    counted = Counter(_error_text(e) for e in result.collect_errors)
    cause, _count = counted.most_common(1)[0]
    first = next(e.path for e in result.collect_errors if _error_text(e) == cause)
    return f"{cause} ({first})"


def diagnose(result: RunResult, files: list[str]) -> str | None:
    """Why collecting `files` failed as a whole, or None when the suite collects (mostly)."""
    if (
        result.exit_code in (3, 4)
        or result.crashed
        or (result.exit_code == 2 and not result.collect_errors)
    ):
        return _cause_from_output(result)
    broken = {e.path for e in result.collect_errors}
    failing = [f for f in files if any(_covers(b, f) for b in broken)]
    if files and len(failing) == len(files):
        return _cause_from_errors(result)
    # One cause shared by half the suite or more is the environment's, not those files'.
    causes = Counter(_error_text(e) for e in result.collect_errors)
    if causes and len(files) >= 2:
        _cause, count = causes.most_common(1)[0]
        if count >= 2 and count * 2 >= len(files):
            return _cause_from_errors(result)
    if broken:
        log.warning("some existing test files do not collect", files=sorted(broken)[:5])
    return None


_NOT_A_CANDIDATE = frozenset({"PATH", "HOME", "PWD", "OLDPWD", "SHELL", "USER", "LOGNAME", "SHLVL"})
_MAX_SCANNED = 2000  # source files searched for variable names


def variables_the_code_reads(workspace: Path, passed: set[str]) -> list[str]:
    """Variables set in our environment, kept from tests, whose names the project's code quotes.

    A conftest or a settings module that reads `os.environ["DATABASE_URL"]` names it as a string;
    when that name is set here but the sandbox withholds it, it is the likeliest cause.
    """
    names = {
        n
        for n in os.environ
        if n not in passed and n not in _NOT_A_CANDIDATE and not n.startswith("ITARCH_")
    }
    if not names:
        return []
    alternatives = "|".join(map(re.escape, sorted(names)))
    quoted = re.compile(rf"""["']({alternatives})["']""")
    found: set[str] = set()
    for index, path in enumerate(workspace.rglob("*.py")):
        if index >= _MAX_SCANNED:
            break
        try:
            found.update(quoted.findall(path.read_text(encoding="utf-8", errors="replace")))
        except OSError:
            continue
    return sorted(found)


def _plain_pytest_collects(sandbox: Sandbox, files: list[str]) -> bool:
    """Does pytest, outside the sandbox and with the user's environment, collect the files?

    Runs in the sandbox's copy of the repository, never in the user's tree, and writes no
    caches; only collection (the imports of the test modules), no test.
    """
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    argv = [str(sandbox.python), "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider"]
    try:
        proc = subprocess.run(
            [*argv, "--", *files],
            cwd=sandbox.workspace,
            env=env,
            capture_output=True,
            timeout=300,
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return proc.returncode in (0, 5)


def _known_to_collect(sandbox: Sandbox, files: list[str]) -> bool:
    """The test-impact index saw these very files collect with this interpreter."""
    index = open_index(sandbox.repo, sandbox.workspace, read_only=True)
    if index is None:
        return False
    try:
        return all(index.collected(f, str(sandbox.python)) for f in files)
    finally:
        index.close()


def ensure_suite_collects(
    sandbox: Sandbox, tests_root: str | None, *, judged: list[str] | None = None
) -> None:
    """Raise SandboxEnvironmentError (one line) when the existing tests cannot be collected.

    `judged` files are left out: their own faults are verdicts, not the environment's.
    """
    files = existing_test_files(sandbox.workspace, tests_root, exclude=frozenset(judged or ()))
    if not files or _known_to_collect(sandbox, files):
        return
    result = sandbox.run({}, select=files, collect_only=True)
    cause = diagnose(result, files)
    if cause is None:
        log.debug("existing tests collect", files=len(files), tests=len(result.collected))
        return
    where = f"with {sandbox.python}"
    if _plain_pytest_collects(sandbox, files):
        hint = "run `itarch doctor`, and see SECURITY.md for what the sandbox hides"
        passed = sandbox_env(
            os.environ,
            home=sandbox.workspace,
            python_bin=sandbox.python.parent,
            tmpdir=None,
            pass_env=sandbox.settings.pass_env,
        )
        if names := variables_the_code_reads(sandbox.workspace, set(passed)):
            listed = ", ".join(f'"{n}"' for n in names)
            hint = (
                f"the code reads {', '.join(names)}, set here but not passed to tests: if the "
                f"tests need them, add `pass_env = [{listed}]` under [tool.itarch.sandbox]"
            )
        raise SandboxEnvironmentError(
            f"the sandbox cannot collect the project's tests {where} (plain pytest can): "
            f"{cause}; {hint}"
        )
    raise SandboxEnvironmentError(
        f"the project's tests do not collect {where}, in the sandbox or outside it: {cause}; "
        "install what is missing into that interpreter, or pass --python"
    )
