"""Real git repositories for the context tests: a small shop with seams of many kinds."""

from __future__ import annotations

import hashlib
import textwrap
from pathlib import Path

import git

SHOP: dict[str, str] = {
    "pyproject.toml": """
        [project]
        name = "shop"
        version = "0.1"

        [project.scripts]
        shop = "shop.cli:main"

        [tool.pytest.ini_options]
        testpaths = ["tests"]
        addopts = "-q"
    """,
    "CONTRIBUTING.md": """
        # Contributing
        Tests use real sqlite databases, never mocks of our own code.
    """,
    ".gitignore": "*.log\n",
    "shop/__init__.py": '''
        """A tiny shop."""
        from shop.orders import place_order
    ''',
    "shop/db.py": '''
        """Storage."""
        import sqlite3


        def connect(path: str) -> sqlite3.Connection:
            """Open the shop database."""
            conn = sqlite3.connect(path)
            conn.execute("CREATE TABLE IF NOT EXISTS orders (id TEXT, total INT)")
            return conn


        def save_order(conn, order_id, total):
            conn.execute("INSERT INTO orders VALUES (?, ?)", (order_id, total))
            conn.commit()
    ''',
    "shop/events.py": '''
        class Bus:
            """In-process publish/subscribe."""

            def __init__(self):
                self.handlers = {}

            def subscribe(self, name, handler):
                self.handlers.setdefault(name, []).append(handler)

            def publish(self, name, payload):
                for handler in self.handlers.get(name, []):
                    handler(payload)


        bus = Bus()
    ''',
    "shop/payments.py": '''
        import httpx


        def charge(amount: int) -> dict:
            """Charge the card."""
            response = httpx.post("http://payments.invalid/charge", json={"amount": amount})
            return response.json()
    ''',
    "shop/orders.py": '''
        """Order placement."""
        from shop import db
        from shop.events import bus
        from shop.payments import charge

        TAX = 0


        def place_order(conn, order_id: str, total: int) -> str:
            """Charge, store and announce an order."""
            charge(total)
            db.save_order(conn, order_id, total)
            bus.publish("order.placed", {"id": order_id})
            return order_id


        class Ledger:
            def record(self, order_id):
                return order_id

            def close(self):
                return None
    ''',
    "shop/api.py": """
        from fastapi import FastAPI

        from shop.orders import place_order

        app = FastAPI()


        @app.post("/orders")
        def create_order(payload: dict):
            return {"id": place_order(None, payload["id"], payload["total"])}


        @app.get("/health")
        def health():
            return {"ok": True}
    """,
    "shop/cli.py": """
        import argparse
        import subprocess

        from shop.orders import place_order


        def main(argv=None):
            parser = argparse.ArgumentParser(prog="shop")
            parser.add_argument("order_id")
            args = parser.parse_args(argv)
            subprocess.run(["true"], check=True)
            return place_order(None, args.order_id, 0)


        if __name__ == "__main__":
            main()
    """,
    "tests/conftest.py": '''
        import pytest


        @pytest.fixture
        def conn(tmp_path):
            """A fresh database."""
            from shop.db import connect

            return connect(str(tmp_path / "shop.db"))


        @pytest.fixture(scope="session")
        def prices() -> dict:
            return {}
    ''',
    "tests/test_orders.py": """
        from shop.orders import place_order


        def test_place_order_returns_id(conn, monkeypatch):
            monkeypatch.setattr("shop.orders.charge", lambda total: {})
            assert place_order(conn, "a1", 5) == "a1"


        class TestLedger:
            def test_record(self):
                pass
    """,
    "tests/test_events.py": """
        from shop.events import Bus


        def test_publish_reaches_subscriber():
            seen = []
            bus = Bus()
            bus.subscribe("x", seen.append)
            bus.publish("x", 1)
            assert seen == [1]
    """,
}


def write_files(root: Path, files: dict[str, str]) -> None:
    """Write dedented files under root, creating folders."""
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"))


def commit_all(repo: git.Repo, message: str) -> str:
    repo.git.add("-A")
    repo.index.commit(message)
    return repo.head.commit.hexsha


def make_repo(root: Path, files: dict[str, str]) -> git.Repo:
    """A git repository holding `files` in one commit."""
    root.mkdir(parents=True, exist_ok=True)
    repo = git.Repo.init(root)
    with repo.config_writer() as config:
        config.set_value("user", "name", "Test")
        config.set_value("user", "email", "test@example.invalid")
    write_files(root, files)
    commit_all(repo, "initial")
    return repo


def replace_in(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new))


def git_state(root: Path) -> dict[str, str]:
    """What reading must never change: HEAD, the index file, and every file's bytes."""
    state = {
        "HEAD": (root / ".git" / "HEAD").read_text(),
        "head commit": git.Repo(root).head.commit.hexsha,
        "index": hashlib.sha256((root / ".git" / "index").read_bytes()).hexdigest(),
    }
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root).as_posix()
        if path.is_file() and not rel.startswith(".git/"):
            state[rel] = hashlib.sha256(path.read_bytes()).hexdigest()
    return state
