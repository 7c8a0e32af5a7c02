"""Which interpreter runs the target's tests, and what it looks like from the inside."""

from __future__ import annotations

import functools
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from pydantic import BaseModel, Field

from agent.log import get_logger
from agent.sandbox.errors import TargetPythonError

log = get_logger(__name__)

# One subprocess answers everything the sandbox needs to know about an interpreter: does it run,
# which pytest it has, and which directories must stay visible for it to import anything.
_INSPECT = r"""
import json, os, sys
info = {
    "executable": os.path.realpath(sys.executable),
    "version": "%d.%d.%d" % sys.version_info[:3],
    "prefix": sys.prefix,
    "base_prefix": getattr(sys, "base_prefix", sys.prefix),
    "exec_prefix": sys.exec_prefix,
    "base_exec_prefix": getattr(sys, "base_exec_prefix", sys.exec_prefix),
    "sys_path": [p for p in sys.path if p],
}
try:
    import pytest
    info["pytest_version"] = pytest.__version__
except Exception as exc:
    info["pytest_error"] = "%s: %s" % (type(exc).__name__, exc)
print(json.dumps(info))
"""


class PythonInfo(BaseModel):
    """What the target interpreter reported about itself."""

    executable: str
    version: str
    prefix: str
    base_prefix: str
    exec_prefix: str
    base_exec_prefix: str
    sys_path: list[str] = Field(default_factory=list)
    pytest_version: str | None = None
    pytest_error: str | None = None

    def prefixes(self) -> list[str]:
        """Installation roots the interpreter needs read access to (deduplicated, in order)."""
        roots = [
            self.prefix,
            self.base_prefix,
            self.exec_prefix,
            self.base_exec_prefix,
            str(Path(self.executable).parent.parent),
        ]
        return list(dict.fromkeys(os.path.realpath(r) for r in roots))


def _candidates(repo: Path) -> list[tuple[str, Path]]:
    found: list[tuple[str, Path]] = []
    venv = os.environ.get("VIRTUAL_ENV")
    if venv:
        found.append(("$VIRTUAL_ENV", Path(venv) / "bin" / "python"))
    found.append(("repo .venv", repo / ".venv" / "bin" / "python"))
    found.append(("repo venv", repo / "venv" / "bin" / "python"))
    return found


def _resolve_explicit(explicit: str, repo: Path) -> Path:
    path = Path(explicit).expanduser()
    if os.sep not in explicit and not path.exists():
        on_path = shutil.which(explicit)  # a bare name such as "python3.12"
        if on_path:
            return Path(on_path)
    if not path.is_absolute() and not path.exists():
        path = repo / path
    if not path.exists():
        raise TargetPythonError(f"python interpreter {explicit} does not exist")
    return path


def find_python(repo: Path, explicit: str | None = None) -> Path:
    """The interpreter for the target's tests: explicit, $VIRTUAL_ENV, repo/.venv, repo/venv, ours.

    Raises TargetPythonError (one line) when the chosen interpreter does not run or lacks pytest.
    """
    if explicit:
        python = _resolve_explicit(explicit, repo)
        source = "explicit"
    else:
        python, source = Path(sys.executable), "itarch's own interpreter"
        for name, candidate in _candidates(repo):
            if candidate.exists():
                python, source = candidate, name
                break
    python = python.absolute()
    info = inspect_python(python)
    log.info(
        "target python",
        python=str(python),
        source=source,
        version=info.version,
        pytest=info.pytest_version,
    )
    return python


def inspect_python(python: Path) -> PythonInfo:
    """Run the interpreter once; raise TargetPythonError unless it runs and imports pytest.

    An answer is kept on disk while the interpreter and the directories it imports from are
    unchanged (an install or upgrade touches its site-packages), so each command does not
    start the interpreter again only to ask the same questions.
    """
    return _inspect(python.absolute())


def _cache_file() -> Path:
    root = os.environ.get("ITARCH_CACHE_DIR") or os.environ.get("XDG_CACHE_HOME")
    base = Path(root) if root else Path.home() / ".cache"
    return (base if os.environ.get("ITARCH_CACHE_DIR") else base / "itarch") / "pythons.json"


def _stamp(python: Path, info: PythonInfo | None) -> list[list[object]]:
    """What must be unchanged for an answer about `python` to hold: the interpreter, its
    pyvenv.cfg, and every directory on its path (their mtimes move when a package comes or goes)."""
    paths = [str(python), info.executable if info else "", str(python.parent.parent / "pyvenv.cfg")]
    paths += info.sys_path if info else []
    stamp: list[list[object]] = []
    for path in dict.fromkeys(p for p in paths if p):
        try:
            st = os.stat(path)
            stamp.append([path, st.st_mtime_ns, st.st_size])
        except OSError:
            stamp.append([path, None, None])
    return stamp


def _cached(python: Path) -> PythonInfo | None:
    try:
        entry = json.loads(_cache_file().read_text(encoding="utf-8")).get(str(python))
        info = PythonInfo.model_validate(entry["info"])
    except (OSError, ValueError, TypeError, KeyError):
        return None
    return info if entry.get("stamp") == _stamp(python, info) else None


def _remember(python: Path, info: PythonInfo) -> None:
    path = _cache_file()
    try:
        known = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(known, dict):
            known = {}
    except (OSError, ValueError):
        known = {}
    known[str(python)] = {"info": info.model_dump(), "stamp": _stamp(python, info)}
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        scratch = path.with_name(f"{path.name}.{os.getpid()}")
        scratch.write_text(json.dumps(known), encoding="utf-8")
        scratch.replace(path)  # whole or not at all, when two commands write at once
    except OSError:
        pass  # a read-only home only costs the next command one interpreter start


@functools.cache
def _inspect(python: Path) -> PythonInfo:
    if (known := _cached(python)) is not None:
        return known
    info = _ask(python)
    _remember(python, info)
    return info


def _ask(python: Path) -> PythonInfo:
    try:
        proc = subprocess.run(
            [str(python), "-c", _INSPECT],
            capture_output=True,
            text=True,
            timeout=60,
            cwd="/",  # so nothing in the caller's directory shadows pytest
            # the sandbox hides the user's home, so user site-packages must not count here either
            env={
                "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
                "LANG": "C.UTF-8",
                "HOME": "/nonexistent-itarch-home",
            },
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise TargetPythonError(
            f"{python} does not run ({exc}): pass --python or set [tool.itarch] python"
        ) from None
    try:
        info = PythonInfo.model_validate(json.loads(proc.stdout.strip().splitlines()[-1]))
    except (ValueError, IndexError):
        last = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        raise TargetPythonError(
            f"{python} does not run ({last}): pass --python or set [tool.itarch] python"
        ) from None
    if info.pytest_version is None:
        raise TargetPythonError(
            f"{python} has no pytest: install it there ({python} -m pip install pytest) "
            "or pass --python"
        )
    return info
