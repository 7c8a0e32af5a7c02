from __future__ import annotations

import shutil
from pathlib import Path

import git
import pytest

from agent.context import ContextError, build_context, render_context
from tests.context.helpers import SHOP, commit_all, git_state, replace_in, write_files

SECTIONS = [
    "## Change summary",
    "## Diff",
    "## Seams touched",
    "## Repo map",
    "## Existing tests",
    "## Conventions",
]


def test_change_context_renders_every_section_in_order(shop_repo: git.Repo) -> None:
    root = Path(shop_repo.working_tree_dir)
    replace_in(root / "shop/orders.py", "    charge(total)\n", "    charge(total + 1)\n")
    before = git_state(root)

    ctx = build_context(root)
    text = render_context(ctx)

    assert git_state(root) == before
    assert ctx.repo == str(root.resolve())
    assert ctx.modules == ["shop.orders"]
    assert [f.path for f in ctx.changed] == ["shop/orders.py"]
    positions = [text.index(s) for s in SECTIONS]
    assert positions == sorted(positions)
    assert "## What was trimmed" not in text  # nothing was
    assert "- `shop/orders.py` (modified, new/changed lines 11) — module `shop.orders`" in text
    assert "+    charge(total + 1)" in text
    event = "`event:shop/orders.py:13` bus.publish('order.placed') in `place_order` **changed**"
    assert f"- {event}" in text
    assert "- L9 `def place_order(conn, order_id: str, total: int) -> str`" in text
    assert "### `tests/test_orders.py`" in text
    assert "Tests root: `tests`" in text
    assert text.index("### `shop.orders`") < text.index("### `shop.db`")  # the change first


def test_no_change_gives_an_empty_but_valid_context(shop_repo: git.Repo) -> None:
    ctx = build_context(Path(shop_repo.working_tree_dir))
    assert ctx.changed == [] and ctx.modules == [] and ctx.seams == [] and ctx.diff == ""
    assert len(ctx.repo_map) == 7
    assert "(none found)" in render_context(ctx)


def test_modules_focus_without_git_and_without_diff(tmp_path: Path) -> None:
    write_files(tmp_path, {rel: text for rel, text in SHOP.items()})  # a plain folder

    by_name = build_context(tmp_path, modules=["shop.payments"])
    by_path = build_context(tmp_path, modules=["shop/payments.py"])

    assert by_name.model_dump(exclude={"tokens"}) == by_path.model_dump(exclude={"tokens"})
    assert by_name.modules == ["shop.payments"]
    assert by_name.diff == "" and by_name.changed == []
    ids = {s.id: s for s in by_name.seams}
    assert not ids["http_client:shop/payments.py:6"].changed
    assert "import:shop/orders.py:4" in ids  # who uses the module in focus
    text = render_context(by_name)
    assert "No diff: the context focuses on the requested modules." in text
    assert "## Diff" not in text


def test_modules_may_name_a_package_or_folder(shop_repo: git.Repo) -> None:
    root = Path(shop_repo.working_tree_dir)
    everything = ["shop", "shop.api", "shop.cli", "shop.db", "shop.events", "shop.orders"]
    assert sorted(build_context(root, modules=["shop"]).modules) == [*everything, "shop.payments"]
    assert len(build_context(root, modules=["shop/"]).modules) == 7
    two = build_context(root, modules=["shop.db", str(root / "shop" / "events.py")])
    assert two.modules == ["shop.db", "shop.events"]


@pytest.mark.parametrize(
    ("modules", "message"),
    [
        (["shop.nothing"], "no module named 'shop.nothing'"),
        (["shop/nothing.py"], "no such file or folder in the repository: shop/nothing.py"),
        (["../elsewhere.py"], "is outside the repository"),
        (["tests/test_orders.py"], "is not a source module"),
    ],
)
def test_bad_module_names_are_one_clear_line(
    shop_repo: git.Repo, modules: list[str], message: str
) -> None:
    with pytest.raises(ContextError, match=message) as err:
        build_context(Path(shop_repo.working_tree_dir), modules=modules)
    assert "\n" not in str(err.value)


def test_base_and_modules_narrow_the_diff(shop_repo: git.Repo) -> None:
    root = Path(shop_repo.working_tree_dir)
    replace_in(root / "shop/orders.py", "TAX = 0", "TAX = 2")
    replace_in(root / "shop/db.py", '"""Storage."""', '"""Storage!"""')
    commit_all(shop_repo, "two changes")

    ctx = build_context(root, base="HEAD~1", modules=["shop.db"])

    assert [f.path for f in ctx.changed] == ["shop/db.py"]
    assert "TAX" not in ctx.diff and "Storage!" in ctx.diff
    assert ctx.modules == ["shop.db"]


def test_committed_head_is_read_from_git_not_the_working_tree(shop_repo: git.Repo) -> None:
    root = Path(shop_repo.working_tree_dir)
    replace_in(
        root / "shop/orders.py",
        "class Ledger:",
        "def refund(order_id):\n    import subprocess\n\n    subprocess.run(['refund', order_id])"
        "\n\n\nclass Ledger:",
    )
    sha = commit_all(shop_repo, "refunds")
    shutil.copy(root / "shop/payments.py", root / "shop/orders.py")  # unrelated local edit

    ctx = build_context(root, base="HEAD~1", head=sha)

    orders = next(m for m in ctx.repo_map if m.module == "shop.orders")
    assert "refund" in [s.name for s in orders.symbols]
    seams = {s.id: s for s in ctx.seams}
    assert seams["subprocess:shop/orders.py:20"].changed
    assert seams["subprocess:shop/orders.py:20"].symbol == "refund"


def test_repository_errors_surface_as_context_errors(tmp_path: Path) -> None:
    with pytest.raises(ContextError, match="not a directory"):
        build_context(tmp_path / "missing")
    (tmp_path / "m.py").write_text("x = 1\n")
    with pytest.raises(ContextError, match="not a git repository"):
        build_context(tmp_path)
    git.Repo.init(tmp_path)
    with pytest.raises(ContextError, match="no commits yet"):
        build_context(tmp_path)
    assert build_context(tmp_path, modules=["m"]).modules == ["m"]  # focus needs no history
