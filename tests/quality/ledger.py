"""A small ledger package as a real two-commit git repository: the gates' test subject.

The base commit prices carts and stores orders in SQLite; the head commit adds discount codes
to pricing and checkout (the change the gates measure coverage and mutants on). It also ships
a committed symlink under tests/ that points back into the package, for the path gate.
"""

from __future__ import annotations

import os
import subprocess
import textwrap
from pathlib import Path

BASE: dict[str, str] = {
    "pyproject.toml": """
        [project]
        name = "ledger"
        version = "0.1.0"

        [tool.pytest.ini_options]
        testpaths = ["tests"]
        pythonpath = ["."]
    """,
    ".gitignore": "__pycache__/\n",
    "ledger/__init__.py": "",
    "ledger/pricing.py": '''
        """Prices and tax."""

        TAX_RATE = 0.2


        def subtotal(items):
            return sum(qty * price for qty, price in items)


        def total(items):
            return round(subtotal(items) * (1 + TAX_RATE), 2)
    ''',
    "ledger/store.py": '''
        """Orders kept in SQLite."""

        import sqlite3


        class Store:
            def __init__(self, path=":memory:"):
                self.db = sqlite3.connect(path)
                self.db.execute(
                    "CREATE TABLE IF NOT EXISTS orders (id INTEGER PRIMARY KEY, total REAL)"
                )

            def add(self, total):
                cursor = self.db.execute("INSERT INTO orders (total) VALUES (?)", (total,))
                self.db.commit()
                return cursor.lastrowid

            def get(self, order_id):
                query = "SELECT total FROM orders WHERE id = ?"
                row = self.db.execute(query, (order_id,)).fetchone()
                return row[0] if row else None
    ''',
    "ledger/checkout.py": '''
        """Checkout: price the cart, store the order, announce it."""

        from ledger import pricing

        _EVENTS = []


        def checkout(store, items):
            if not items:
                raise ValueError("empty cart")
            amount = pricing.total(items)
            order_id = store.add(amount)
            _EVENTS.append(("order.placed", order_id))
            return order_id


        def events():
            return list(_EVENTS)
    ''',
    "tests/test_store.py": """
        from ledger.store import Store


        def test_stored_total_reads_back():
            store = Store()
            assert store.get(store.add(9.5)) == 9.5
    """,
    "tests/test_pricing.py": """
        from ledger.pricing import subtotal, total


        def test_subtotal():
            assert subtotal([(2, 5.0)]) == 10.0


        def test_total():
            assert total([(1, 10.0)]) == 12.0
    """,
}

HEAD: dict[str, str] = {
    "ledger/pricing.py": '''
        """Prices, discounts and tax."""

        TAX_RATE = 0.2


        def subtotal(items):
            return sum(qty * price for qty, price in items)


        def total(items, discount=0.0):
            amount = subtotal(items)
            if discount > 0:
                amount = amount * (1 - discount)
            return round(amount * (1 + TAX_RATE), 2)
    ''',
    "ledger/checkout.py": '''
        """Checkout: price the cart, apply a discount code, store the order, announce it."""

        from ledger import pricing

        # Discount codes are case-insensitive.
        DISCOUNTS = {"HALF": 0.5, "TENOFF": 0.1}
        _EVENTS = []


        def checkout(store, items, code=None):
            if not items:
                raise ValueError("empty cart")
            discount = DISCOUNTS.get(code, 0.0) if code else 0.0
            amount = pricing.total(items, discount)
            order_id = store.add(amount)
            _EVENTS.append(("order.placed", order_id))
            return order_id


        def events():
            return list(_EVENTS)
    ''',
}


def git(repo: Path, *args: str) -> str:
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(repo),
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@example.invalid",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.invalid",
    }
    done = subprocess.run(
        ["git", *args], cwd=repo, env=env, capture_output=True, text=True, check=True
    )
    return done.stdout.strip()


def write(root: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")


def build_ledger(dest: Path) -> str:
    """Build the repository at `dest`; return the base commit's sha."""
    dest.mkdir(parents=True)
    write(dest, BASE)
    (dest / "tests" / "package_link").symlink_to("../ledger")
    git(dest, "init", "-q", "-b", "main")
    git(dest, "add", "-A")
    git(dest, "commit", "-q", "-m", "base")
    base = git(dest, "rev-parse", "HEAD")
    write(dest, HEAD)
    git(dest, "add", "-A")
    git(dest, "commit", "-q", "-m", "discount codes")
    return base
