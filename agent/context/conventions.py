"""How this repository writes tests: where they live, the pytest configuration, the conftest
fixtures, and the contributor guide when there is one."""

from __future__ import annotations

import ast
import configparser
import re
import tomllib
from collections import Counter
from pathlib import Path, PurePosixPath

from agent.context.repo_map import first_line
from agent.schema import Conventions
from agent.source.files import TEST_DIRS, read_text

CONFIG_LIMIT = 3_000
STANDARDS_LIMIT = 4_000
MAX_FIXTURES = 120
MAX_PACKAGE_CONFIGS = 8
STANDARDS_FILES = (
    "CODING_STANDARDS.md",
    "CODING_STANDARDS.rst",
    "CODE_STYLE.md",
    "STYLEGUIDE.md",
    "STYLE_GUIDE.md",
    "CONTRIBUTING.md",
    "CONTRIBUTING.rst",
    "CONTRIBUTING.txt",
    "CONTRIBUTING",
    ".github/CONTRIBUTING.md",
    "docs/CONTRIBUTING.md",
)
STANDARDS_GLOBS = ("docs/contributing*", "docs/CONTRIBUTING*", "docs/**/contributing*")
_PYPROJECT_SECTION = re.compile(r"^\[tool\.pytest(\.ini_options)?\]\s*$")


def _trim(text: str, limit: int) -> str:
    text = text.strip()
    return text if len(text) <= limit else text[:limit].rstrip() + "\n…(trimmed)"


def _ini_section(path: Path, section: str) -> str:
    """One section of an ini-style file, as written (comments kept)."""
    text = read_text(path) or ""
    lines: list[str] = []
    inside = False
    for line in text.splitlines():
        if line.startswith("["):
            inside = line.strip() == f"[{section}]"
        if inside:
            lines.append(line)
    return "\n".join(lines).strip()


def _pyproject_section(path: Path) -> str:
    text = read_text(path) or ""
    lines: list[str] = []
    inside = False
    for line in text.splitlines():
        if line.startswith("["):
            inside = bool(_PYPROJECT_SECTION.match(line.strip())) or (
                inside and line.startswith("[tool.pytest.")
            )
        if inside:
            lines.append(line)
    return "\n".join(lines).strip()


def pytest_config(root: Path) -> tuple[str, list[str]]:
    """(config text, testpaths) from the file pytest itself would pick."""
    for name in ("pytest.ini", ".pytest.ini"):
        if (root / name).is_file():
            return _from_ini(root / name, "pytest")
    pyproject = root / "pyproject.toml"
    if pyproject.is_file() and (section := _pyproject_section(pyproject)):
        try:
            data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError):
            data = {}
        options = data.get("tool", {}).get("pytest", {})
        options = options.get("ini_options", options)
        paths = options.get("testpaths", [])
        return section, [paths] if isinstance(paths, str) else [str(p) for p in paths]
    for name, section_name in (("tox.ini", "pytest"), ("setup.cfg", "tool:pytest")):
        if (root / name).is_file() and _ini_section(root / name, section_name):
            return _from_ini(root / name, section_name)
    return "", []


def _from_ini(path: Path, section: str) -> tuple[str, list[str]]:
    text = _ini_section(path, section)
    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read_string(text or f"[{section}]")
        paths = parser.get(section, "testpaths", fallback="").split()
    except configparser.Error:
        paths = []
    return f"# {path.name}\n{text}", paths


def detect_tests_root(root: Path, test_files: list[str], testpaths: list[str]) -> str:
    """The configured testpaths, else the folder most tests live in, else "tests"."""
    for candidate in testpaths:
        if (root / candidate).is_dir():
            return candidate.strip("/") or "."
    counts: Counter[str] = Counter()
    for path in test_files:
        parts = PurePosixPath(path).parts[:-1]
        for i, part in enumerate(parts):
            if part in TEST_DIRS:
                counts["/".join(parts[: i + 1])] += 1
                break
    return counts.most_common(1)[0][0] if counts else "tests"


def _is_fixture(decorator: ast.expr) -> tuple[bool, str]:
    """(is a pytest fixture, its notable options: scope, autouse)."""
    call = decorator if isinstance(decorator, ast.Call) else None
    func = call.func if call else decorator
    name = ast.unparse(func)
    if not (name == "fixture" or name.endswith(".fixture")):
        return False, ""
    notes = []
    for kw in call.keywords if call else []:
        if kw.arg in {"scope", "autouse"} and isinstance(kw.value, ast.Constant):
            value = ast.unparse(kw.value).strip("'\"")
            notes.append(f"{kw.arg}={value}")
    return True, f" [{', '.join(notes)}]" if notes else ""


def fixtures(root: Path, test_files: list[str]) -> list[str]:
    """ "tests/conftest.py: db(tmp_path) -> Connection [scope=session] — doc" per fixture."""
    found: list[str] = []
    for path in test_files:
        if not path.endswith("conftest.py"):
            continue
        text = read_text(root / path)
        try:
            tree = ast.parse(text or "", filename=path)
        except (SyntaxError, ValueError):
            continue
        for node in tree.body:
            if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            for decorator in node.decorator_list:
                is_fixture, notes = _is_fixture(decorator)
                if is_fixture:
                    returns = f" -> {ast.unparse(node.returns)}" if node.returns else ""
                    doc = first_line(ast.get_docstring(node, clean=False))
                    entry = f"{path}: {node.name}({ast.unparse(node.args)}){returns}{notes}"
                    found.append(f"{entry} — {doc}" if doc else entry)
                    break
    return found[:MAX_FIXTURES]


def standards(root: Path) -> tuple[str, str]:
    """(path, trimmed text) of the coding standards or contributor guide, if any."""
    candidates = [root / name for name in STANDARDS_FILES]
    for pattern in STANDARDS_GLOBS:
        candidates += sorted(root.glob(pattern))
    for path in candidates:
        if path.is_file() and (text := read_text(path, limit=STANDARDS_LIMIT * 4)):
            return path.relative_to(root).as_posix(), _trim(text, STANDARDS_LIMIT)
    return "", ""


def package_configs(root: Path, paths: list[str]) -> dict[str, str]:
    """folder -> pytest configuration, for each folder below the root that holds the config
    pytest would pick for one of `paths` (the nearest one up from the file, as pytest does)."""
    found: dict[str, str] = {}
    seen: set[str] = set()
    for path in paths:
        folder = PurePosixPath(path).parent
        while folder.parts and str(folder) not in seen:
            seen.add(str(folder))
            config, _ = pytest_config(root / folder)
            if config:
                found[str(folder)] = _trim(config, CONFIG_LIMIT)
                break
            folder = folder.parent
        if len(found) >= MAX_PACKAGE_CONFIGS:
            break
    return dict(sorted(found.items()))


def find_conventions(
    root: Path, test_files: list[str], tests_root: str | None = None, paths: list[str] | None = None
) -> Conventions:
    config, testpaths = pytest_config(root)
    standards_path, standards_text = standards(root)
    return Conventions(
        tests_root=tests_root or detect_tests_root(root, test_files, testpaths),
        pytest_config=_trim(config, CONFIG_LIMIT),
        package_pytest_configs=package_configs(root, paths or []),
        fixtures=fixtures(root, test_files),
        standards=standards_text,
        standards_path=standards_path,
    )
