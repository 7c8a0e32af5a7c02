"""The parts of a review that need no sandbox: error paths and seam spans read from source, the
renderings, and the task a `--generate` run is given."""

from __future__ import annotations

import shutil
from pathlib import Path

from agent.review.analyse import seam_span
from agent.review.model import ErrorPath, ModuleReview, ReviewResult, SeamCoverage, WeakTest
from agent.review.render import gap_modules, gap_task, to_markdown
from agent.review.scope import review_scope
from agent.review.static import error_sites, functions
from agent.schema import Reason, Seam

SOURCE = '''\
from flask import Flask, jsonify


def create_app(db):
    app = Flask("x")

    @app.post("/orders")
    def create_order():
        """Place an order."""
        try:
            body = load()
        except (KeyError, ValueError):
            return jsonify(error="bad body"), 400
        if not body:
            return _error("empty", 422)
        return jsonify(body), 201

    return app


class Store:
    def save(self, conn, row):
        try:
            conn.execute("INSERT", row)
        except Exception:
            conn.rollback()
            raise
        if row is None:
            raise ValueError("no row")

    def _hidden(self):
        return 1


class Port:
    def charge(self, amount):
        ...
'''


def line(text: str) -> int:
    """The number of the line of SOURCE that holds `text`."""
    return next(i for i, s in enumerate(SOURCE.splitlines(), 1) if text in s)


def test_error_paths_are_handlers_raises_and_error_statuses_of_the_function() -> None:
    found = {f.qualname: f for f in functions(SOURCE)}
    assert set(found) == {
        "create_app",
        "create_app.create_order",
        "Store.save",
        "Store._hidden",
        "Port.charge",
    }
    assert found["Store.save"].public and not found["Store._hidden"].public
    assert not found["create_app.create_order"].public  # a route handler: a seam, not an API
    assert found["Port.charge"].stub and not found["Store.save"].stub
    sites = {(s.kind, s.line, s.detail) for s in error_sites(found["create_app.create_order"])}
    assert sites == {
        ("except", line("bad body"), "except (KeyError, ValueError)"),  # its first statement
        ("status", line('"empty"'), "return 422"),
    }
    save = {(s.kind, s.line, s.detail) for s in error_sites(found["Store.save"])}
    # the handler's own rollback and re-raise belong to the handler's path
    assert save == {("except", 26, "except Exception"), ("raise", 29, "raise ValueError")}
    assert error_sites(found["create_app"]) == []  # the handler's paths are the handler's


def test_a_route_runs_when_its_body_does_and_a_call_when_its_line_does() -> None:
    found = functions(SOURCE)
    at = line("@app.post")
    route = Seam(id=f"http_route:app.py:{at}", kind="http_route", path="app.py", line=at)
    func, span = seam_span(route, found)
    assert func is not None and func.qualname == "create_app.create_order"
    # its body's statements, past the docstring
    assert span == {line("try:"), line("load()"), line("bad body"), line("if not body")} | {
        line('"empty"'),
        line("201"),
    }
    at = line('"INSERT"')
    call = Seam(id=f"database:app.py:{at}", kind="database", path="app.py", line=at)
    func, span = seam_span(call, found)
    assert func is not None and func.qualname == "Store.save" and span == {at}


def review_result() -> ReviewResult:
    return ReviewResult(
        repo="/r",
        modules=[
            ModuleReview(
                module="shop.api",
                path="shop/api.py",
                seams=[
                    SeamCoverage(
                        id="http_route:shop/api.py:9", kind="http_route", detail="GET /a|b"
                    ),
                    SeamCoverage(
                        id="http_route:shop/api.py:20", kind="http_route", tests=["t.py::x"]
                    ),
                ],
                untested_seams=["http_route:shop/api.py:9"],
                weak_tests=[WeakTest(nodeid="t.py::x[a|b]", reason=Reason.FLAKY, detail="[red]x")],
                untested_error_paths=[
                    ErrorPath(
                        id="raise:shop/api.py:30",
                        kind="raise",
                        path="shop/api.py",
                        line=30,
                        detail="raise NotFound",
                        function="get",
                    )
                ],
            ),
            ModuleReview(module="shop.db", path="shop/db.py"),
        ],
    )


def test_markdown_names_every_gap_and_escapes_table_cells() -> None:
    text = to_markdown(review_result())
    assert "| `http_route:shop/api.py:9` | http_route | GET /a\\|b | **untested** |" in text
    assert "| `t.py::x[a\\|b]` | flaky | [red]x |" in text
    assert "- `raise:shop/api.py:30` raise NotFound in `get`" in text


def test_the_generate_task_names_the_untested_seams_and_error_paths_only() -> None:
    result = review_result()
    task = gap_task(result)
    assert "`http_route:shop/api.py:9`" in task and "`raise:shop/api.py:30`" in task
    assert "http_route:shop/api.py:20" not in task
    assert gap_modules(result) == ["shop.api"]


def test_by_default_the_projects_packages_are_reviewed_and_the_scripts_around_them_are_not(
    tmp_path: Path,
) -> None:
    files = {
        "app/__init__.py": "",
        "app/core.py": "import subprocess\n\n\ndef run():\n    return subprocess.run(['x'])\n",
        "release.py": "def main():\n    pass\n",
        "docs/conf.py": "project = 'x'\n",
        "tests/test_core.py": "from app.core import run\n\n\ndef test_run():\n    assert run\n",
        "tests/test_other.py": "def test_nothing():\n    assert 1 + 1 == 2\n",
    }
    for rel, text in files.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text, encoding="utf-8")
    scope = review_scope(tmp_path, None)
    assert list(scope.modules) == ["app", "app.core"]
    assert [s.id for s in scope.seams["app/core.py"]] == ["subprocess:app/core.py:5"]
    # only the test files that can reach the modules run
    assert scope.test_files == ["tests/test_core.py"]
    shutil.rmtree(tmp_path / "app")
    (tmp_path / "tests/test_core.py").unlink()
    assert list(review_scope(tmp_path, None).modules) == ["release"]  # a one-module project
