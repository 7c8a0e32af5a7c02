"""The one mapping from existing test files to code, read statically from real files: what a test
file imports (nested and relative imports too), which modules that reaches, the conftest.py
imports that count for the tests below them, and the related test files ranked without an
index."""

from __future__ import annotations

import ast
import textwrap
from pathlib import Path

from agent import tests_map
from agent.tests_map import (
    TestMap,
    imports_of,
    module_files,
    reaches,
    read_imports,
    related_test_files,
    with_conftests,
)

FILES = {
    "shop/__init__.py": "from shop.orders import place_order\n",
    "shop/orders.py": "def place_order():\n    return 1\n",
    "shop/db.py": "def connect():\n    return None\n",
    "shop/util/__init__.py": "",
    "shop/util/money.py": "def cents(x):\n    return x * 100\n",
    "tests/conftest.py": """
        import pytest

        from shop.db import connect


        @pytest.fixture
        def conn():
            return connect()
    """,
    "tests/test_orders.py": """
        from shop.orders import place_order


        def test_place(conn):
            assert place_order() == 1
    """,
    "tests/test_package.py": """
        import shop


        def test_package():
            assert shop.place_order() == 1
    """,
    "tests/api/test_money.py": """
        def test_cents():
            from shop.util.money import cents

            assert cents(1) == 100
    """,
    "tests/api/helpers.py": "from shop.orders import place_order\n",
    "tests/test_broken.py": "def test_(:\n",
}


def _repo(root: Path) -> Path:
    for rel, text in FILES.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
    return root


def test_a_files_imports_nested_and_relative_ones_resolved_against_its_package() -> None:
    tree = ast.parse(
        textwrap.dedent(
            """
            import shop.db as database
            from shop.orders import place_order, Ledger
            from shop.util import *
            from . import helpers
            from ..orders import Ledger as L


            def test_x():
                try:
                    from shop.util.money import cents
                except ImportError:
                    pass
            """
        )
    )
    found = [(i.dotted, i.name) for i in read_imports(tree, "shop.tests")]
    assert found == [
        ("shop.db", None),
        ("shop.orders.place_order", "place_order"),
        ("shop.orders.Ledger", "Ledger"),
        ("shop.util", None),
        ("shop.tests.helpers", "helpers"),
        ("shop.orders.Ledger", "Ledger"),
        ("shop.util.money.cents", "cents"),
    ]
    # Without a package, relative imports are left out; a from-import names its module too.
    names = {n for i in read_imports(tree) for n in i.names}
    assert names == {
        "shop.db",
        "shop.orders",
        "shop.orders.place_order",
        "shop.orders.Ledger",
        "shop.util",
        "shop.util.money",
        "shop.util.money.cents",
    }


def test_unreadable_or_broken_files_import_nothing(tmp_path: Path) -> None:
    root = _repo(tmp_path)
    assert imports_of(root / "tests/test_broken.py") == frozenset()
    assert imports_of(root / "tests/missing.py") == frozenset()
    assert imports_of(root / "tests/test_package.py") == {"shop"}


def test_a_package_above_reaches_a_module_unless_its_reexports_say_otherwise() -> None:
    # Any import of a package may reach its modules (it may re-export them) ...
    assert reaches({"shop"}, "shop.orders")
    assert reaches({"shop.orders.place_order"}, "shop.orders")
    assert not reaches({"shop.db"}, "shop.orders")
    assert not reaches({"shop.ordersx"}, "shop.orders")
    # ... unless what the package re-exports from the module is known: then only those names.
    exported = {"shop": {"place_order"}}
    assert reaches({"shop", "shop.place_order"}, "shop.orders", exported)
    assert not reaches({"shop", "shop.connect"}, "shop.orders", exported)
    assert reaches({"shop.orders"}, "shop.orders", {})


def test_conftest_imports_count_for_the_tests_in_its_folder_and_below() -> None:
    imports = {
        "conftest.py": frozenset({"top"}),
        "tests/conftest.py": frozenset({"shop.db"}),
        "tests/test_a.py": frozenset({"shop.orders"}),
        "tests/sub/test_b.py": frozenset(),
        "other/test_c.py": frozenset(),
    }
    merged = with_conftests(imports)
    assert merged["tests/test_a.py"] == {"top", "shop.db", "shop.orders"}
    assert merged["tests/sub/test_b.py"] == {"top", "shop.db"}
    assert merged["tests/conftest.py"] == {"top", "shop.db"}
    assert merged["other/test_c.py"] == {"top"}


def test_names_resolve_to_the_most_specific_source_files(tmp_path: Path) -> None:
    root = _repo(tmp_path)
    (root / "src/lib").mkdir(parents=True)
    (root / "src/lib/__init__.py").write_text("")
    (root / "src/lib/core.py").write_text("")
    assert module_files(root, {"shop", "shop.orders", "shop.orders.place_order"}) == {
        "shop/orders.py"
    }
    assert module_files(root, {"shop", "shop.place_order"}) == {"shop/__init__.py"}
    assert module_files(root, {"lib.core.thing", "pytest"}) == {"src/lib/core.py"}


def test_a_test_files_code_includes_what_its_conftest_files_import(tmp_path: Path) -> None:
    root = _repo(tmp_path)
    tests = tests_map.test_files(root, "tests")
    assert tests == [
        "tests/test_broken.py",
        "tests/test_orders.py",
        "tests/test_package.py",
        "tests/api/test_money.py",
    ]
    mapping = TestMap(root, tests)
    assert mapping.conftests("tests/api/test_money.py") == ["tests/conftest.py"]
    assert mapping.files("tests/api/test_money.py") == {"shop/util/money.py", "shop/db.py"}
    assert mapping.files("tests/api/test_money.py", conftests=False) == {"shop/util/money.py"}

    found = mapping.related({"shop/db.py", "shop/orders.py"})
    assert [(r.path, sorted(r.files), r.by) for r in found] == [
        ("tests/test_orders.py", ["shop/db.py", "shop/orders.py"], "imports"),
        ("tests/api/test_money.py", ["shop/db.py"], "imports"),
        ("tests/test_broken.py", ["shop/db.py"], "imports"),  # its conftest's, while it is broken
        ("tests/test_package.py", ["shop/db.py"], "imports"),
    ]


def test_related_test_files_without_an_index_go_by_their_own_imports(tmp_path: Path) -> None:
    root = _repo(tmp_path)
    (root / "tests/test_both.py").write_text(
        "from shop.orders import place_order\nfrom shop.util.money import cents\n"
    )
    sources = {"shop/orders.py", "shop/util/money.py"}
    related = related_test_files(root, "tests", sources, exclude=set(), near=["tests/api/new.py"])
    # Most shared first, then nearest; the conftest's shop.db import is no relation here.
    assert related == ["tests/test_both.py", "tests/api/test_money.py", "tests/test_orders.py"]
    assert related_test_files(root, "tests", {"shop/db.py"}, exclude=set(), near=[]) == []
    assert related_test_files(root, "tests", set(), exclude=set(), near=[]) == []
    limited = related_test_files(
        root, "tests", sources, exclude={"tests/test_both.py"}, near=[], limit=1
    )
    assert limited == ["tests/api/test_money.py"]
