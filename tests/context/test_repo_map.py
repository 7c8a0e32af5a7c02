from __future__ import annotations

from pathlib import Path

from agent.context.repo_map import build_repo_map, reexports
from agent.source.files import discover_python_files, is_test_path
from tests.context.helpers import write_files


def test_symbols_signatures_docs_and_repo_imports(tmp_path: Path) -> None:
    write_files(
        tmp_path,
        {
            "src/shop/__init__.py": "from .orders import Order, place\n",
            "src/shop/orders.py": '''
                """Orders and their placement.

                More words.
                """
                import json
                from typing import Any

                from . import pricing
                from .pricing import total as compute_total


                class Order(Base, metaclass=Meta):
                    """One order."""

                    def __init__(self, id: str, *, items: list[str] | None = None) -> None:
                        self.id = id

                    async def pay(self, amount: int = 0) -> bool:
                        """Pay for it."""
                        from shop.payments import charge
                        return charge(amount)

                    def _private(self):
                        pass


                def place(order: Order, **extra: Any) -> "Order":
                    return order


                def _hidden():
                    pass
            ''',
            "src/shop/pricing.py": "def total(x):\n    return x\n",
            "src/shop/payments.py": "def charge(a):\n    return True\n",
            "src/shop/broken.py": "def oops(:\n",
        },
    )
    repo = build_repo_map(tmp_path)

    orders = repo.modules["shop.orders"]
    assert orders.path == "src/shop/orders.py"
    assert orders.doc == "Orders and their placement."
    assert orders.imports == ["shop.payments", "shop.pricing"]  # nested import included
    assert [(s.name, s.kind, s.signature, s.doc, s.line) for s in orders.symbols] == [
        ("Order", "class", "class Order(Base, metaclass=Meta)", "One order.", 12),
        (
            "Order.__init__",
            "method",
            "def __init__(self, id: str, *, items: list[str] | None=None) -> None",
            "",
            15,
        ),
        ("Order.pay", "method", "async def pay(self, amount: int=0) -> bool", "Pay for it.", 18),
        ("place", "function", "def place(order: Order, **extra: Any) -> 'Order'", "", 27),
    ]
    assert repo.modules["shop"].imports == ["shop.orders"]
    assert repo.modules["shop.broken"].doc.startswith("(does not parse: SyntaxError")
    assert repo.by_path["src/shop/pricing.py"] == "shop.pricing"
    assert "def total" in repo.sources["src/shop/pricing.py"]
    assert reexports(repo, "shop.orders") == {"shop": {"Order", "place"}}


def test_tests_virtualenvs_hidden_and_build_folders_are_not_modules(tmp_path: Path) -> None:
    write_files(
        tmp_path,
        {
            "pkg/__init__.py": "",
            "pkg/core.py": "",
            "pkg/test/__init__.py": "",  # a library's own `test` package (django/test) is code
            "pkg/test/client.py": "",
            "pkg/tests/test_core.py": "",
            "tests/test_pkg.py": "",
            "tests/helpers.py": "",
            "conftest.py": "",
            "pkg/core_test.py": "",
            ".venv/lib/python3.11/site-packages/dep.py": "",
            "myenv/pyvenv.cfg": "home = /usr\n",
            "myenv/lib/x.py": "",
            ".hidden/h.py": "",
            "build/lib/pkg/core.py": "",
            "node_modules/n.py": "",
            "pkg.egg-info/x.py": "",
            "docs/build/conf.py": "",  # `build` is only skipped at the top level
        },
    )
    sources, tests = discover_python_files(tmp_path)
    assert sources == [
        "docs/build/conf.py",
        "pkg/__init__.py",
        "pkg/core.py",
        "pkg/test/__init__.py",
        "pkg/test/client.py",
    ]
    assert tests == [
        "conftest.py",
        "pkg/core_test.py",
        "pkg/tests/test_core.py",
        "tests/helpers.py",
        "tests/test_pkg.py",
    ]
    assert is_test_path("test/unit/x.py") and not is_test_path("pkg/testing/x.py")
    repo = build_repo_map(tmp_path)
    assert set(repo.modules) == {
        "docs.build.conf",
        "pkg",
        "pkg.core",
        "pkg.test",
        "pkg.test.client",
    }
    assert repo.test_files == tests
