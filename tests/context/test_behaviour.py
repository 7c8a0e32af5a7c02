"""Seams and focus come from what changed in behaviour: a reformat is cosmetic and produces no
seams, seams are ranked by the changed lines they hold or call into, and the context leads with
the behaviour changes."""

from __future__ import annotations

from pathlib import Path

import git

from agent.context import build_context, render_context
from agent.context.behaviour import compare
from tests.context.helpers import commit_all, make_repo, replace_in, write_files

REFORMATTED_ORDERS = '''
"""Order placement, reformatted."""
from shop import db
from shop.events import bus
from shop.payments import charge

TAX = 0  # no tax yet


def place_order(
    conn,
    order_id: str,
    total: int,
) -> str:
    """Charge, store and announce an order (and say so at length)."""
    charge(total)
    db.save_order(conn, order_id, total)
    bus.publish(
        "order.placed",
        {"id": order_id},
    )
    return order_id


class Ledger:
    """A ledger."""

    def record(self, order_id):
        return order_id

    def close(self):
        return None
'''


def test_a_reformat_only_change_is_cosmetic_and_has_no_seams(shop_repo: git.Repo) -> None:
    root = Path(shop_repo.working_tree_dir)
    base = shop_repo.head.commit.hexsha
    write_files(root, {"shop/orders.py": REFORMATTED_ORDERS})
    commit_all(shop_repo, "reformat")

    ctx = build_context(root, base=base)
    text = render_context(ctx)

    (changed,) = ctx.changed
    assert changed.path == "shop/orders.py" and changed.cosmetic
    assert changed.added_lines and changed.behaviour_lines == []
    assert ctx.seams == [] and ctx.modules == [] and ctx.behaviour == []
    assert "cosmetic only" in text and "**changed**" not in text
    assert "No behaviour change in Python code: its changes are cosmetic." in text


def test_only_the_function_that_changed_behaviour_is_changed(shop_repo: git.Repo) -> None:
    root = Path(shop_repo.working_tree_dir)
    # Reformat place_order, change what Ledger.close does.
    replace_in(root / "shop/orders.py", "    charge(total)\n", "    charge(  total  )  # card\n")
    replace_in(root / "shop/orders.py", "        return None\n", "        return 0\n")

    ctx = build_context(root)

    (changed,) = ctx.changed
    assert not changed.cosmetic
    assert changed.added_lines == [11, 22] and changed.behaviour_lines == [22]
    assert [(n.kind, n.detail) for n in ctx.behaviour] == [("changed function", "Ledger.close")]
    assert not any(s.changed for s in ctx.seams)  # place_order's seams did not change


def test_the_context_leads_with_branches_and_environment_reads(shop_repo: git.Repo) -> None:
    root = Path(shop_repo.working_tree_dir)
    replace_in(root / "shop/cli.py", "import argparse\n", "import argparse\nimport os\n")
    replace_in(
        root / "shop/cli.py",
        "    args = parser.parse_args(argv)\n",
        "    args = parser.parse_args(argv)\n"
        "    if os.environ.get('SHOP_DRY'):\n"
        "        return None\n",
    )
    write_files(
        root,
        {
            "shop/env.py": """
                from pathlib import Path


                def load(path):
                    return Path(path).read_text()
            """
        },
    )

    ctx = build_context(root)
    text = render_context(ctx)

    notes = {(n.path, n.kind, n.detail) for n in ctx.behaviour}
    assert ("shop/cli.py", "changed function", "main") in notes
    assert ("shop/cli.py", "branch", "if os.environ.get('SHOP_DRY')") in notes
    assert ("shop/cli.py", "environment", "os.environ.get('SHOP_DRY')") in notes
    assert ("shop/env.py", "new function", "load") in notes
    assert ("shop/env.py", "I/O", "Path(path).read_text()") in notes
    assert text.index("## What the change does") < text.index("## Change summary")
    assert ctx.seams[0].path == "shop/cli.py" and ctx.seams[0].changed_lines == 2


def test_seams_are_ranked_by_the_changed_lines_they_hold_or_call(tmp_path: Path) -> None:
    queries = "\n".join(
        f"def q{i}(conn):\n    return conn.execute('SELECT {i}')\n\n" for i in range(30)
    )
    repo = make_repo(
        tmp_path / "r",
        {
            "app/__init__.py": "",
            "app/store.py": "import httpx\n\n\n"
            + queries
            + "def sync(conn):\n    conn.commit()\n    return helper(conn)\n\n\n"
            + "def helper(conn):\n    return 1\n\n\n"
            + "def push(data):\n    return httpx.post('http://x.invalid', json=data)\n",
        },
    )
    root = Path(repo.working_tree_dir)
    replace_in(
        root / "app/store.py",
        "def helper(conn):\n    return 1\n",
        "def helper(conn):\n    n = 2\n    n += 1\n    return n\n",
    )
    replace_in(root / "app/store.py", "json=data)", "json=data, timeout=3)")

    ctx = build_context(root)

    first, second = ctx.seams[:2]
    # sync's commit calls into the changed helper (3 lines); push's HTTP call changed itself.
    assert (first.kind, first.symbol, first.changed, first.changed_lines) == (
        "database",
        "sync",
        False,
        3,
    )
    assert (second.kind, second.changed, second.changed_lines) == ("http_client", True, 1)
    weights = [s.changed_lines for s in ctx.seams]
    assert weights == sorted(weights, reverse=True)
    queries_seams = [s for s in ctx.seams if s.symbol.startswith("q")]
    assert len(queries_seams) == 30 and all(s.changed_lines == 0 for s in queries_seams)


def test_compare_sees_docstrings_comments_and_layout_as_cosmetic() -> None:
    old = 'def f(a, b):\n    """Doc."""\n    return a + b\n'
    new = "def f(a,\n      b):  # add\n    return (a +\n            b)\n"
    assert compare(old, new, {1, 2, 3, 4}).cosmetic
    changed = compare(old, "def f(a, b):\n    return a - b\n", {2})
    assert not changed.cosmetic and changed.changed == ["f"] and changed.lines == {2}
    assert compare(None, new, {1}).new == ["f"]
