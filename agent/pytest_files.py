"""Which test files the user means: paths resolved against --repo (or here), folders expanded to
the files pytest would collect in them."""

from __future__ import annotations

import configparser
import fnmatch
import os
import tomllib
from pathlib import Path

from agent.errors import UserError
from agent.source.files import SKIP_DIRS

DEFAULT_PYTHON_FILES = ("test_*.py", "*_test.py")
# pytest's default norecursedirs, plus what never holds a project's tests.
_NO_RECURSE = ("*.egg", ".*", "_darcs", "build", "CVS", "dist", "node_modules", "venv", "{arch}")


class PathError(UserError):
    """A path argument names nothing itarch can judge; the message says what to give instead."""


def python_files(repo: Path) -> list[str]:
    """The project's pytest `python_files` patterns, from the file pytest would read them from."""
    for name in ("pytest.ini", ".pytest.ini"):
        if (repo / name).is_file():
            return _from_ini(repo / name, "pytest") or list(DEFAULT_PYTHON_FILES)
    pyproject = repo / "pyproject.toml"
    if pyproject.is_file():
        try:
            data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
            data = {}
        options = data.get("tool", {}).get("pytest", {})
        if options:
            value = options.get("ini_options", options).get("python_files")
            if isinstance(value, str):
                return value.split() or list(DEFAULT_PYTHON_FILES)
            if isinstance(value, list) and value:
                return [str(v) for v in value]
            return list(DEFAULT_PYTHON_FILES)
    for name, section in (("tox.ini", "pytest"), ("setup.cfg", "tool:pytest")):
        if (repo / name).is_file():
            found = _from_ini(repo / name, section)
            if found is not None:
                return found or list(DEFAULT_PYTHON_FILES)
    return list(DEFAULT_PYTHON_FILES)


def _from_ini(path: Path, section: str) -> list[str] | None:
    """The patterns in `section` ([] when it has none), None when there is no such section."""
    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read(path, encoding="utf-8")
    except (configparser.Error, UnicodeDecodeError):
        return None
    if not parser.has_section(section):
        return None
    return parser.get(section, "python_files", fallback="").split()


def _matches(rel: str, name: str, patterns: list[str]) -> bool:
    return any(fnmatch.fnmatch(rel if "/" in p else name, p) for p in patterns)


def _skip(parent: str, name: str) -> bool:
    if name in SKIP_DIRS or any(fnmatch.fnmatch(name, p) for p in _NO_RECURSE):
        return True
    return os.path.exists(os.path.join(parent, name, "pyvenv.cfg"))  # a virtualenv


def collect(folder: Path, patterns: list[str]) -> list[Path]:
    """The test files under `folder` pytest would collect with `patterns`, sorted."""
    found: list[Path] = []
    for parent, dirs, names in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not _skip(parent, d))
        for name in names:
            path = Path(parent) / name
            if name.endswith(".py") and _matches(path.as_posix(), name, patterns):
                found.append(path)
    return sorted(found)


def resolve_test_files(raw: list[Path], *, repo: Path, repo_given: bool, cwd: Path) -> list[Path]:
    """The test files `raw` names. A relative path is looked up against --repo when it was
    given, else against the current directory, then against the other one."""
    bases = list(dict.fromkeys([repo, cwd] if repo_given else [cwd, repo]))
    files: list[Path] = []
    patterns: list[str] | None = None
    for path in raw:
        candidates = [path] if path.is_absolute() else [base / path for base in bases]
        found = next((c for c in candidates if c.exists()), None)
        if found is None:
            where = "" if path.is_absolute() else f" (looked in {' and '.join(map(str, bases))})"
            raise PathError(f"no such test file: {path}{where}")
        if found.is_dir():
            patterns = patterns or python_files(repo)
            inside = collect(found, patterns)
            if not inside:
                raise PathError(
                    f"{path} holds no test files (pytest collects {' '.join(patterns)}); "
                    "give test files or a folder of them"
                )
            files += inside
        elif found.suffix != ".py":
            raise PathError(
                f"{path} is not a Python test file: give test files (.py) or folders of them"
            )
        else:
            files.append(found)
    return list(dict.fromkeys(f.absolute() for f in files))
