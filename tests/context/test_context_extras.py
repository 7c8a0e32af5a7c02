"""The context shows the module-level names its code uses, each package's own pytest
configuration in a monorepo, and the target's Python version."""

from __future__ import annotations

import sys
from pathlib import Path

from agent.context import RepoTools, build_context, render_context
from tests.context.helpers import make_repo, replace_in

HOOKS = {
    "pyproject.toml": '[project]\nname = "plug"\nversion = "0.1"\nrequires-python = ">=3.10"\n',
    "plug/__init__.py": "",
    "plug/markers.py": "class HookspecMarker:\n    def __init__(self, name):\n"
    "        self.name = name\n\n    def __call__(self, f):\n        return f\n",
    "plug/hooks.py": (
        "from plug.markers import HookspecMarker\n\n"
        'hookspec = HookspecMarker("plug")\n'
        "LIMIT = 3\n"
        "UNUSED = 4\n\n\n"
        "@hookspec\n"
        "def on_start(args):\n"
        "    return args[:LIMIT]\n"
    ),
}


def test_the_changed_code_brings_the_module_level_names_it_uses(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "plug", HOOKS)
    root = Path(repo.working_tree_dir)
    replace_in(root / "plug/hooks.py", "args[:LIMIT]", "list(args)[:LIMIT]")

    ctx = build_context(root, python=sys.executable)
    text = render_context(ctx)

    assert [(n.path, n.line, n.source) for n in ctx.module_names] == [
        ("plug/hooks.py", 3, 'hookspec = HookspecMarker("plug")'),
        ("plug/hooks.py", 4, "LIMIT = 3"),
    ]
    assert "## Module-level names the changed code uses" in text
    assert '- `plug/hooks.py` L3: `hookspec = HookspecMarker("plug")`' in text
    version = ".".join(str(n) for n in sys.version_info[:3])
    assert ctx.python.startswith(f"Python {version} (")
    assert ctx.python.endswith("; requires-python >=3.10")
    assert f"Target Python: Python {version}" in text

    shown = RepoTools(root).get_symbol("on_start")
    assert "# module-level names it uses:" in shown
    assert 'hookspec = HookspecMarker("plug")' in shown and "UNUSED" not in shown


MONOREPO = {
    "pyproject.toml": '[project]\nname = "mono"\nversion = "0"\n',
    "packages/alpha/pyproject.toml": (
        '[project]\nname = "alpha"\nversion = "0"\n\n'
        '[tool.pytest.ini_options]\naddopts = "-p no:randomly"\ntestpaths = ["tests"]\n'
    ),
    "packages/alpha/alpha/__init__.py": "",
    "packages/alpha/alpha/core.py": "def f():\n    return 1\n",
    "packages/alpha/tests/test_core.py": "from alpha.core import f\n\n\n"
    "def test_f():\n    assert f() == 1\n",
    "packages/beta/pytest.ini": "[pytest]\nmarkers =\n    slow: slow tests\n",
    "packages/beta/beta/__init__.py": "",
    "packages/beta/beta/io.py": "def g():\n    return 2\n",
}


def test_each_changed_package_shows_its_own_pytest_config(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "mono", MONOREPO)
    root = Path(repo.working_tree_dir)
    replace_in(root / "packages/alpha/alpha/core.py", "return 1", "return 10")
    replace_in(root / "packages/beta/beta/io.py", "return 2", "return 20")

    ctx = build_context(root)
    text = render_context(ctx)

    configs = ctx.conventions.package_pytest_configs
    assert set(configs) == {"packages/alpha", "packages/beta"}
    assert 'addopts = "-p no:randomly"' in configs["packages/alpha"]
    assert "slow: slow tests" in configs["packages/beta"]
    assert "pytest configuration of `packages/alpha/`:" in text
    assert ctx.conventions.pytest_config == ""  # the root has none
