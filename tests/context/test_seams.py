from __future__ import annotations

import textwrap
from pathlib import Path

import git
import pytest

from agent.context import build_context
from agent.context.seams import scan_module
from tests.context.helpers import replace_in, write_files


def found(source: str, module: str = "app.mod") -> list[tuple[str, int, str, str]]:
    """(kind, line, symbol, detail) of every seam the scanner finds in `source`."""
    scan = scan_module(module, "app/mod.py", textwrap.dedent(source), {"app", "app.mod", "app.db"})
    assert scan is not None
    return [(f.kind, f.line, f.symbol, f.detail) for f in scan.found]


def kinds(source: str) -> list[tuple[str, str]]:
    return [(kind, detail) for kind, _, _, detail in found(source)]


HTTP_ROUTES = {
    "flask route with methods": (
        """
        from flask import Flask
        app = Flask(__name__)

        @app.route("/items", methods=["POST", "put"])
        def create():
            return ""
        """,
        "POST,PUT /items -> create",
    ),
    "fastapi router": (
        """
        from fastapi import APIRouter
        router = APIRouter()

        @router.get("/items/{item_id}")
        async def read_item(item_id: int):
            return {}
        """,
        "GET /items/{item_id} -> read_item",
    ),
    "aiohttp route table": (
        """
        from aiohttp import web
        routes = web.RouteTableDef()

        @routes.post("/hook")
        async def hook(request):
            return web.Response()
        """,
        "POST /hook -> hook",
    ),
    "starlette Route": (
        """
        from starlette.routing import Route
        routes = [Route("/users", endpoint=list_users, methods=["GET", "POST"])]
        """,
        "GET,POST /users",
    ),
    "django path": (
        """
        from django.urls import path, re_path
        from . import views
        urlpatterns = [path("orders/<int:pk>/", views.detail, name="detail")]
        """,
        "ANY orders/<int:pk>/",
    ),
    "django re_path": (
        """
        from django.urls import re_path
        urlpatterns = [re_path(r"^legacy/$", legacy)]
        """,
        "ANY ^legacy/$",
    ),
    "aiohttp add_route": (
        """
        def setup(app):
            app.router.add_route("PATCH", "/orders/{id}", patch_order)
        """,
        "PATCH /orders/{id}",
    ),
    "aiohttp add_get": (
        """
        def setup(app):
            app.router.add_get("/health", health)
        """,
        "GET /health",
    ),
    "flask add_url_rule": (
        """
        def setup(app):
            app.add_url_rule("/legacy", view_func=legacy)
        """,
        "ANY /legacy",
    ),
}


@pytest.mark.parametrize("case", list(HTTP_ROUTES), ids=list(HTTP_ROUTES))
def test_http_routes(case: str) -> None:
    source, detail = HTTP_ROUTES[case]
    assert ("http_route", detail) in kinds(source)


def test_database_seams() -> None:
    seams = found(
        """
        import sqlite3
        import psycopg
        from sqlalchemy import create_engine
        from sqlalchemy.orm import Session
        from django.db import transaction

        def store(path, row):
            conn = sqlite3.connect(path)
            conn.execute("INSERT INTO t VALUES (?)", row)
            conn.close()

        def orm(url, obj):
            engine = create_engine(url)
            with Session(engine) as session:
                session.add(obj)
                session.commit()

        @transaction.atomic
        def pay(order):
            Order.objects.filter(id=order.id).update(paid=True)

        def pg(dsn):
            return psycopg.connect(dsn)
        """
    )
    db = [(line, symbol, detail) for kind, line, symbol, detail in seams if kind == "database"]
    assert db == [
        (9, "store", "sqlite3.connect(path)"),
        (10, "store", "conn.execute('INSERT INTO t VALUES (?)')"),
        (11, "store", "conn.close()"),  # a method of a tracked connection
        (14, "orm", "create_engine(url)"),
        (15, "orm", "Session(engine)"),
        (16, "orm", "session.add(obj)"),
        (17, "orm", "session.commit()"),
        (19, "pay", "@transaction.atomic pay"),
        (21, "pay", "Order.objects.filter().update(…)"),
        (21, "pay", "Order.objects.filter(…)"),
        (24, "pg", "psycopg.connect(dsn)"),
    ]


def test_event_seams() -> None:
    got = kinds(
        """
        from django.db.models.signals import post_save
        from django.dispatch import receiver, Signal

        order_paid = Signal()

        @receiver(post_save, sender=Order)
        def on_save(sender, **kwargs):
            order_paid.send(sender=Order)

        def wire(bus, sio, emitter, task):
            bus.publish("order.paid", {})
            bus.subscribe("order.paid", handler)
            emitter.emit("tick")
            sio.on("connect", handler)
            post_save.connect(handler, sender=Order)
            task.delay(1)
        """
    )
    events = [detail for kind, detail in got if kind == "event"]
    assert events == [
        "Signal()",
        "@receiver(post_save) on_save",
        "order_paid.send(…)",
        "bus.publish('order.paid')",
        "bus.subscribe('order.paid')",
        "emitter.emit('tick')",
        "sio.on('connect')",
        "post_save.connect(handler)",
        "task.delay(1)",
    ]


def test_http_client_seams() -> None:
    got = kinds(
        """
        import requests
        import httpx
        import urllib.request
        import aiohttp

        def fetch(url):
            response = requests.get(url, timeout=5)
            return response.json()

        def push(url, data):
            with httpx.Client() as client:
                client.post(url, json=data)

        def legacy(url):
            return urllib.request.urlopen(url).read()

        async def stream(url):
            async with aiohttp.ClientSession() as session:
                async with session.get(url) as resp:
                    return await resp.text()
        """
    )
    clients = [detail for kind, detail in got if kind == "http_client"]
    assert clients == [
        "requests.get(url)",
        "httpx.Client()",
        "client.post(url)",
        "urllib.request.urlopen(url)",
        "aiohttp.ClientSession()",
        "session.get(url)",
    ]  # response.json() and resp.text() are not outbound calls


def test_subprocess_seams_resolved_through_imports() -> None:
    got = kinds(
        """
        import os
        import asyncio
        import subprocess as sp
        from subprocess import check_output as co

        def run(cmd):
            sp.run(cmd, check=True)
            co(["git", "status"])
            os.system("ls")
            os.execvp("ls", ["ls"])

        async def arun():
            await asyncio.create_subprocess_exec("ls")

        def unrelated(run_it):
            run_it(["not", "a", "subprocess"])
        """
    )
    assert [detail for kind, detail in got if kind == "subprocess"] == [
        "sp.run(cmd)",
        "co(…)",
        "os.system('ls')",
        "os.execvp('ls')",
        "asyncio.create_subprocess_exec('ls')",
    ]


def test_cli_entry_seams() -> None:
    got = kinds(
        """
        import argparse
        import click
        import typer

        app = typer.Typer()

        @app.command()
        def hello(name: str):
            print(name)

        @click.group()
        def cli():
            pass

        @cli.command()
        def sync():
            pass

        def main(argv=None):
            parser = argparse.ArgumentParser()
            return parser.parse_args(argv)

        if __name__ == "__main__":
            main()
        """
    )
    assert [detail for kind, detail in got if kind == "cli_entry"] == [
        "typer.Typer()",
        "app.command hello",
        "click.group cli",
        "cli.command sync",
        "argparse.ArgumentParser()",
        "if __name__ == '__main__'",
    ]


def test_django_management_command() -> None:
    scan = scan_module(
        "app.management.commands.reindex",
        "app/management/commands/reindex.py",
        "from django.core.management.base import BaseCommand\n\n"
        "class Command(BaseCommand):\n    def handle(self, *args, **options):\n        pass\n",
        set(),
    )
    assert scan is not None
    assert [(f.kind, f.detail, f.scope) for f in scan.found] == [
        ("cli_entry", "manage.py reindex", (3, 5))
    ]


def test_ordinary_code_is_not_a_seam() -> None:
    assert (
        kinds(
            """
            import socket

            class Cache:
                @property
                def size(self):
                    return len(self.data)

            def work(data, sock, items):
                value = data.get("x")
                sock.connect(("localhost", 80))
                "/".join(items)
                items.append(value)
                return sorted(items, key=len)
            """
        )
        == []
    )


def test_import_seams_name_repo_modules_only() -> None:
    got = found(
        """
        import os
        from app import db
        from app.db import save, load
        from . import db as database

        def lazy():
            import app.db
        """
    )
    assert [(kind, line, symbol, detail) for kind, line, symbol, detail in got] == [
        ("import", 3, "", "app.db"),
        ("import", 4, "", "app.db (save, load)"),
        ("import", 5, "", "app.db"),
        ("import", 8, "lazy", "app.db"),
    ]


# ---------------------------------------------------------------- the seam map of a change


def seam_map(root: Path) -> dict[str, tuple[str, bool]]:
    ctx = build_context(root)
    return {s.id: (s.detail, s.changed) for s in ctx.seams}


def test_change_keeps_own_seams_callers_and_callees(shop_repo: git.Repo) -> None:
    root = Path(shop_repo.working_tree_dir)
    replace_in(root / "shop/orders.py", '{"id": order_id}', '{"id": order_id, "total": total}')

    seams = seam_map(root)

    # The changed module: every seam, the one on the changed line marked.
    assert seams["event:shop/orders.py:13"] == ("bus.publish('order.placed')", True)
    assert seams["import:shop/orders.py:4"] == ("shop.payments (charge)", False)
    # Elsewhere: code that uses the changed function ...
    assert seams["http_route:shop/api.py:8"] == ("POST /orders -> create_order", False)
    assert seams["import:shop/api.py:3"] == ("shop.orders (place_order)", False)
    assert seams["subprocess:shop/cli.py:11"] == ("subprocess.run(…)", False)
    # ... and what the changed function calls: the HTTP and database work a test must handle.
    assert seams["http_client:shop/payments.py:6"][0].startswith("httpx.post(")
    assert seams["database:shop/db.py:14"] == ("conn.commit()", False)
    # Not near the change: a route whose handler does not call it, and unrelated db setup.
    assert "http_route:shop/api.py:13" not in seams
    assert "database:shop/db.py:7" not in seams


def test_seam_inside_changed_function_is_changed(shop_repo: git.Repo) -> None:
    root = Path(shop_repo.working_tree_dir)
    replace_in(root / "shop/orders.py", "    charge(total)\n", "    charge(total * 2)\n")

    seams = seam_map(root)

    assert seams["event:shop/orders.py:13"] == ("bus.publish('order.placed')", True)
    assert seams["import:shop/orders.py:2"] == ("shop.db", False)  # a line of its own


def test_console_script_and_main_block_of_changed_cli(shop_repo: git.Repo) -> None:
    root = Path(shop_repo.working_tree_dir)
    replace_in(root / "shop/cli.py", 'prog="shop"', 'prog="shop-cli"')

    seams = seam_map(root)

    assert seams["cli_entry:shop/cli.py:7"] == ("console script shop = shop.cli:main", True)
    assert seams["cli_entry:shop/cli.py:8"] == ("argparse.ArgumentParser(…)", True)
    assert seams["cli_entry:shop/cli.py:15"] == ("if __name__ == '__main__'", False)


def test_users_through_package_reexport(tmp_path: Path, shop_repo: git.Repo) -> None:
    root = Path(shop_repo.working_tree_dir)
    write_files(
        root,
        {
            "shop/reports.py": """
                from shop import place_order


                def nightly(subprocess_runner):
                    import subprocess

                    subprocess.run(["sync"])
                    return place_order(None, "n", 0)
            """
        },
    )
    shop_repo.git.add("-A")
    shop_repo.index.commit("reports")
    replace_in(root / "shop/orders.py", "    charge(total)\n", "    charge(total + 1)\n")

    seams = seam_map(root)

    assert seams["import:shop/reports.py:1"] == ("shop (place_order)", False)
    assert seams["subprocess:shop/reports.py:7"] == ("subprocess.run(…)", False)


def test_seam_ids_are_stable_across_runs(shop_repo: git.Repo) -> None:
    root = Path(shop_repo.working_tree_dir)
    replace_in(root / "shop/orders.py", "TAX = 0", "TAX = 1")
    first = [s.id for s in build_context(root).seams]
    second = [s.id for s in build_context(root).seams]
    assert first == second
    assert len(first) == len(set(first))
    assert all(
        i.split(":")[0]
        in {"import", "event", "http_route", "subprocess", "cli_entry", "database", "http_client"}
        for i in first
    )
