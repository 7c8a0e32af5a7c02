from __future__ import annotations

import json
import os
from pathlib import Path

import git
import pytest

from agent.context import RepoTools, tool_specs
from agent.context.repo_tools import MAX_HITS, MAX_LINES
from tests.context.helpers import write_files


@pytest.fixture
def tools(shop_repo: git.Repo, tmp_path: Path) -> RepoTools:
    root = Path(shop_repo.working_tree_dir)
    (tmp_path / "secret.txt").write_text("TOP SECRET\n")
    os.symlink(tmp_path / "secret.txt", root / "leak.txt")  # escapes the repository
    os.symlink(root / "shop" / "db.py", root / "db_link.py")  # stays inside
    return RepoTools(root)


def test_read_file_numbers_lines_and_pages(tools: RepoTools) -> None:
    whole = tools.read_file("shop/payments.py")
    assert whole.splitlines()[0] == "shop/payments.py (lines 1-7 of 7)"
    assert whole.splitlines()[1] == "1 | import httpx"
    part = tools.read_file("shop/orders.py", start=9, end=10)
    assert part.splitlines()[1:] == [
        " 9 | def place_order(conn, order_id: str, total: int) -> str:",
        '10 |     """Charge, store and announce an order."""',
        "… more: start=11",
    ]
    assert tools.read_file("db_link.py").startswith("db_link.py (lines 1-14 of 14)")
    listing = tools.read_file("shop")
    assert listing.splitlines()[0] == "shop is a folder:"
    assert "orders.py" in listing


def test_read_file_caps_long_files(tools: RepoTools) -> None:
    (tools.root / "long.py").write_text("".join(f"x{i} = {i}\n" for i in range(1000)))
    text = tools.read_file("long.py")
    assert text.splitlines()[0] == f"long.py (lines 1-{MAX_LINES} of 1000)"
    assert text.endswith(f"… more: start={MAX_LINES + 1}")


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("../secret.txt", "outside the repository"),
        ("shop/../../secret.txt", "outside the repository"),
        ("/etc/passwd", "is absolute"),
        ("leak.txt", "outside the repository"),  # a symlink pointing out
        (".git/config", "inside .git"),
        ("shop/../.git/HEAD", "inside .git"),
        ("", "empty path"),
        ("nope.py", "no such file"),
    ],
)
def test_read_file_refuses_to_leave_the_repository(
    tools: RepoTools, path: str, message: str
) -> None:
    text = tools.read_file(path)
    assert text.startswith("error: ") and message in text
    assert "TOP SECRET" not in text and "[core]" not in text
    answer, is_error = tools.dispatch("read_file", {"path": path})
    assert is_error and answer == text


def test_read_file_errors_for_ranges_and_binaries(tools: RepoTools) -> None:
    (tools.root / "blob.bin").write_bytes(b"\x00\x01\x02")
    assert "binary" in tools.read_file("blob.bin")
    assert "has only 7 lines" in tools.read_file("shop/payments.py", start=50)
    assert "before start" in tools.read_file("shop/payments.py", start=5, end=2)
    assert "files with that name: shop/orders.py" in tools.read_file("orders.py")


def test_search_code_finds_tracked_and_new_files(tools: RepoTools) -> None:
    (tools.root / "shop" / "coupons.py").write_text("def apply_coupon(total):\n    return total\n")
    (tools.root / "debug.log").write_text("def apply_coupon ignored\n")  # .gitignore'd

    hits = tools.search_code(r"def \w+_coupon")
    assert hits == "shop/coupons.py:1: def apply_coupon(total):"
    only_tests = tools.search_code("place_order", glob="tests/*.py")
    assert only_tests.splitlines() == [
        "tests/test_orders.py:1: from shop.orders import place_order",
        "tests/test_orders.py:4: def test_place_order_returns_id(conn, monkeypatch):",
        'tests/test_orders.py:6: assert place_order(conn, "a1", 5) == "a1"',
    ]
    by_name = tools.search_code("httpx", glob="payments.py")
    assert by_name.startswith("shop/payments.py:1: import httpx")
    assert "TOP SECRET" not in tools.search_code("SECRET")  # the escaping symlink is skipped
    assert tools.search_code("zzz_nothing").startswith("no matches for 'zzz_nothing'")
    assert tools.search_code("(unclosed").startswith("error: invalid regular expression")


def test_search_code_caps_hits(tools: RepoTools) -> None:
    write_files(tools.root, {"many.py": "".join(f"hit_{i} = {i}\n" for i in range(500))})
    text = tools.search_code("hit_")
    lines = text.splitlines()
    assert len(lines) == MAX_HITS + 1
    assert lines[-1] == "… (more matches; narrow the pattern or glob)"


def test_get_symbol_by_name_dotted_name_and_method(tools: RepoTools) -> None:
    plain = tools.get_symbol("place_order")
    assert plain.splitlines()[0] == "# def shop.orders.place_order — shop/orders.py:9-14"
    assert "14 |     return order_id" in plain
    dotted = tools.get_symbol("shop.orders.Ledger.record")
    assert dotted.splitlines()[0] == "# def shop.orders.Ledger.record — shop/orders.py:18-19"
    assert tools.get_symbol("Ledger.close").splitlines()[0].endswith("shop/orders.py:21-22")
    cls = tools.get_symbol("Bus")
    assert cls.startswith("# class shop.events.Bus — shop/events.py:1-12")
    assert tools.get_symbol("shop.orders.TAX").startswith("# variable shop.orders.TAX")
    decorated = tools.get_symbol("create_order")
    assert decorated.splitlines()[1] == ' 8 | @app.post("/orders")'
    assert tools.get_symbol("conn").startswith("# def tests.conftest.conn")  # fixtures too
    assert tools.get_symbol("shop.orders") == (
        "shop.orders is a module (shop/orders.py); use read_file to read it"
    )
    assert tools.get_symbol("no_such_thing").startswith("error: no function, class or method")
    assert tools.get_symbol("not a name!").startswith("error: 'not a name!' is not a name")


def test_tool_specs_are_anthropic_tool_definitions() -> None:
    specs = tool_specs()
    assert [s["name"] for s in specs] == ["read_file", "search_code", "get_symbol"]
    for spec in specs:
        assert set(spec) == {"name", "description", "input_schema"}
        assert spec["input_schema"]["type"] == "object"
        assert "$ref" not in json.dumps(spec)
    read = specs[0]["input_schema"]
    assert read["required"] == ["path"]
    assert set(read["properties"]) == {"path", "start", "end", "at_base"}
    assert RepoTools.tool_specs() == specs


@pytest.mark.parametrize(
    ("name", "payload", "message"),
    [
        ("rm_rf", {"path": "x"}, "unknown tool 'rm_rf'"),
        ("read_file", {}, "path: Field required"),
        ("read_file", {"path": 5}, "path: Input should be a valid string"),
        ("read_file", {"path": "m.py", "start": "abc"}, "start: Input should be a valid integer"),
        ("read_file", {"path": "m.py", "start": 0}, "start: Input should be greater than or equal"),
        ("search_code", {"pattern": ""}, "pattern: String should have at least 1 character"),
        ("get_symbol", ["place_order"], "takes a JSON object, got list"),
        ("get_symbol", None, "takes a JSON object, got NoneType"),
        ("search_code", "place_order", "takes a JSON object, got str"),
    ],
)
def test_dispatch_never_raises_on_bad_input(
    tools: RepoTools, name: str, payload: object, message: str
) -> None:
    text, is_error = tools.dispatch(name, payload)
    assert is_error
    assert text.startswith("error: ") and message in text


def test_dispatch_runs_each_tool(tools: RepoTools) -> None:
    text, is_error = tools.dispatch("get_symbol", {"name": "charge", "extra": "ignored"})
    assert not is_error and "def charge(amount: int) -> dict:" in text
    text, is_error = tools.dispatch("search_code", {"pattern": "Bus\\(\\)", "glob": "shop/*"})
    assert not is_error and text == "shop/events.py:15: bus = Bus()"
    text, is_error = tools.dispatch("read_file", {"path": "shop/api.py", "start": 1, "end": 1})
    assert not is_error and text.splitlines()[1:] == [
        "1 | from fastapi import FastAPI",
        "… more: start=2",
    ]


def test_tools_work_outside_git(tmp_path: Path) -> None:
    write_files(tmp_path, {"pkg/__init__.py": "", "pkg/m.py": "def f():\n    return 1\n"})
    tools = RepoTools(tmp_path)
    assert tools.search_code("return 1") == "pkg/m.py:2: return 1"
    assert tools.get_symbol("pkg.m.f").startswith("# def pkg.m.f — pkg/m.py:1-2")


def test_read_file_at_base_shows_the_file_before_the_change(tmp_path: Path) -> None:
    repo = git.Repo.init(tmp_path / "r")
    root = Path(repo.working_tree_dir)
    write_files(root, {"calc.py": "def add(a, b):\n    return a + b\n"})
    repo.index.add(["calc.py"])
    repo.index.commit("base")
    base = repo.head.commit.hexsha
    write_files(
        root, {"calc.py": "def add(a, b):\n    return round(a + b, 2)\n", "new.py": "X = 1\n"}
    )

    tools = RepoTools(root, base)
    before = tools.dispatch("read_file", {"path": "calc.py", "at_base": True})
    header = f"calc.py at the base revision {base} (lines 1-2 of 2)"
    assert before == (f"{header}\n1 | def add(a, b):\n2 |     return a + b", False)
    assert "round" in tools.read_file("calc.py")  # without it: the working tree
    text, error = tools.dispatch("read_file", {"path": "new.py", "at_base": True})
    assert error and "did not exist at the base revision" in text
    text, error = RepoTools(root).dispatch("read_file", {"path": "calc.py", "at_base": True})
    assert error and "no base revision" in text
    text, error = tools.dispatch("read_file", {"path": "../x.py", "at_base": True})
    assert error and "outside the repository" in text
