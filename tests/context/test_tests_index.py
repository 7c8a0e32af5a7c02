from __future__ import annotations

from pathlib import Path

import git

from agent.context import build_context
from agent.context.conventions import find_conventions
from agent.source.files import discover_python_files
from tests.context.helpers import replace_in, write_files


def test_existing_tests_found_by_import_with_names_and_excerpt(shop_repo: git.Repo) -> None:
    root = Path(shop_repo.working_tree_dir)
    write_files(
        root,
        {
            "tests/test_via_package.py": """
                from shop import place_order


                def test_package_level(conn):
                    assert place_order(conn, "b", 1) == "b"
            """,
            "shop/tests/__init__.py": "",
            "shop/tests/test_relative.py": """
                from ..orders import Ledger


                def test_ledger_records():
                    assert Ledger().record("x") == "x"
            """,
            "tests/test_unrelated.py": """
                import shop.db


                def test_db():
                    assert shop.db
            """,
        },
    )
    replace_in(root / "shop/orders.py", "TAX = 0", "TAX = 1")

    ctx = build_context(root)

    by_path = {t.path: t for t in ctx.existing_tests}
    assert set(by_path) == {
        "tests/test_orders.py",
        "tests/test_via_package.py",  # shop/__init__.py re-exports place_order
        "shop/tests/test_relative.py",
    }
    orders = by_path["tests/test_orders.py"]
    assert orders.modules == ["shop.orders"]
    assert orders.tests == ["test_place_order_returns_id", "TestLedger::test_record"]
    assert orders.excerpt.startswith("from shop.orders import place_order\n")
    assert "def test_place_order_returns_id(conn, monkeypatch):" in orders.excerpt
    assert by_path["shop/tests/test_relative.py"].tests == ["test_ledger_records"]


def test_conventions_from_pyproject_conftest_and_contributing(shop_repo: git.Repo) -> None:
    root = Path(shop_repo.working_tree_dir)
    _, tests = discover_python_files(root)

    conventions = find_conventions(root, tests)

    assert conventions.tests_root == "tests"
    assert conventions.pytest_config.startswith("[tool.pytest.ini_options]")
    assert 'addopts = "-q"' in conventions.pytest_config
    assert "[project]" not in conventions.pytest_config
    assert conventions.fixtures == [
        "tests/conftest.py: conn(tmp_path) — A fresh database.",
        "tests/conftest.py: prices() -> dict [scope=session]",
    ]
    assert conventions.standards_path == "CONTRIBUTING.md"
    assert "never mocks of our own code" in conventions.standards
    assert find_conventions(root, tests, tests_root="it").tests_root == "it"


def test_pytest_ini_wins_and_names_its_testpaths(tmp_path: Path) -> None:
    write_files(
        tmp_path,
        {
            "pytest.ini": "[pytest]\ntestpaths = it unit\nmarkers =\n    slow: slow\n",
            "setup.cfg": "[tool:pytest]\ntestpaths = other\n",
            "it/test_a.py": "",
            "it/conftest.py": """
                from pytest import fixture

                @fixture(autouse=True)
                def env(monkeypatch):
                    yield
            """,
        },
    )
    _, tests = discover_python_files(tmp_path)
    conventions = find_conventions(tmp_path, tests)
    assert conventions.tests_root == "it"
    assert conventions.pytest_config.startswith("# pytest.ini\n[pytest]")
    assert conventions.fixtures == ["it/conftest.py: env(monkeypatch) [autouse=True]"]


def test_setup_cfg_section_and_guessed_tests_root(tmp_path: Path) -> None:
    write_files(
        tmp_path,
        {
            "setup.cfg": "[metadata]\nname = x\n\n[tool:pytest]\naddopts = -x\n",
            "src/pkg/__init__.py": "",
            "src/pkg/tests/__init__.py": "",
            "src/pkg/tests/test_one.py": "",
            "src/pkg/tests/test_two.py": "",
            "test_top.py": "",
            ".github/CONTRIBUTING.md": "Be kind.\n" + "x" * 10_000,
        },
    )
    _, tests = discover_python_files(tmp_path)
    conventions = find_conventions(tmp_path, tests)
    assert conventions.tests_root == "src/pkg/tests"
    assert conventions.pytest_config == "# setup.cfg\n[tool:pytest]\naddopts = -x"
    assert conventions.standards_path == ".github/CONTRIBUTING.md"
    assert conventions.standards.startswith("Be kind.")
    assert conventions.standards.endswith("…(trimmed)")
    assert len(conventions.standards) < 4_100


def test_defaults_without_tests_or_config(tmp_path: Path) -> None:
    write_files(tmp_path, {"app.py": "", "docs/contributing.rst": "Style: black.\n"})
    conventions = find_conventions(tmp_path, [])
    assert conventions.tests_root == "tests"
    assert conventions.pytest_config == ""
    assert conventions.fixtures == []
    assert (conventions.standards_path, conventions.standards) == (
        "docs/contributing.rst",
        "Style: black.",
    )
