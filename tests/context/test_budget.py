from __future__ import annotations

import re
from pathlib import Path

import git
import pytest

from agent.context import build_context, render_context
from agent.context.budget import estimate_tokens, fit_to_budget
from agent.schema import Context
from tests.context.helpers import commit_all, replace_in, write_files

# Where each kind of trimming sits in the order of sacrifice.
ORDER = [
    r"repo map: [\d,]+( of [\d,]+)? modules not touched by the change",
    r"existing tests: excerpts of \d+ test files",
    r"seams: [\d,]+ seams outside the changed modules",
    r"diff: hunks of \d+ non-Python files \(README\.md\)",
    r"repo map: [\d,]+( of [\d,]+)? modules that import or are imported by the changed modules",
    r"existing tests: \d+ of \d+ test files",
    r"conventions: coding standards text \(CONTRIBUTING\.md\)",
    r"conventions: \d+ of \d+ conftest fixtures",
    r"seams: [\d,]+ unchanged seams in the changed modules",
    r"diff: shortened .*",
    r"repo map: [\d,]+( of [\d,]+)? modules in focus .*",
    r"diff: the last [\d,]+ characters",
    r"the context is still about [\d,]+ tokens over the budget",
]


def category(note: str) -> int:
    for index, pattern in enumerate(ORDER):
        if re.fullmatch(pattern, note):
            return index
    raise AssertionError(f"unexpected note: {note!r}")


@pytest.fixture
def big_change(shop_repo: git.Repo) -> Path:
    """The shop plus 60 unrelated modules; a change to orders.py and to README.md."""
    root = Path(shop_repo.working_tree_dir)
    functions = "".join(
        f"def helper_{n}(value: int, *, scale: float = 1.0) -> float:\n"
        f'    """Scale value number {n}."""\n    return value * scale\n\n\n'
        for n in range(8)
    )
    write_files(root, {f"misc/m{i:02}.py": functions for i in range(60)})
    write_files(root, {"README.md": "# Shop\n" + "".join(f"line {i}\n" for i in range(80))})
    commit_all(shop_repo, "more code")
    replace_in(root / "shop/orders.py", '{"id": order_id}', '{"id": order_id, "total": total}')
    replace_in(root / "README.md", "line 40\n", "line forty\n")
    return root


def test_large_budget_keeps_everything(big_change: Path) -> None:
    ctx = build_context(big_change, budget_tokens=1_000_000)
    assert ctx.dropped == []
    assert len(ctx.repo_map) == 7 + 60
    assert ctx.tokens == estimate_tokens(render_context(ctx))


def test_unrelated_repo_map_goes_first(big_change: Path) -> None:
    full = build_context(big_change, budget_tokens=1_000_000)
    budget = full.tokens - 300

    ctx = build_context(big_change, budget_tokens=budget)

    assert len(ctx.dropped) == 1
    assert re.fullmatch(r"repo map: \d+ of 60 modules not touched by the change", ctx.dropped[0])
    assert ctx.tokens <= budget
    assert ctx.tokens == estimate_tokens(render_context(ctx))
    kept = {m.module for m in ctx.repo_map}
    assert {"shop.orders", "shop.api", "shop.db"} <= kept
    assert len(kept) < 67
    assert all(t.excerpt for t in ctx.existing_tests)
    assert "README.md" in ctx.diff


@pytest.mark.parametrize("budget", [3_000, 1_500, 600])
def test_trimming_follows_the_order_of_sacrifice(big_change: Path, budget: int) -> None:
    ctx = build_context(big_change, budget_tokens=budget)

    categories = [category(note) for note in ctx.dropped]
    assert categories == sorted(categories)
    assert categories[0] == 0
    rendered = render_context(ctx)
    assert ctx.tokens == estimate_tokens(rendered)
    if not ctx.dropped[-1].startswith("the context is still"):
        assert ctx.tokens <= budget
    for note in ctx.dropped:
        assert note in rendered  # the model is told what it is not seeing
    # The change itself survives longest.
    assert '+    bus.publish("order.placed", {"id": order_id, "total": total})' in ctx.diff
    if budget <= 600:
        assert "README.md" not in ctx.diff
        assert "(README.md)" in " ".join(ctx.dropped)


def test_impossible_budget_says_how_far_over(big_change: Path) -> None:
    ctx = build_context(big_change, budget_tokens=50)
    assert re.fullmatch(
        r"the context is still about [\d,]+ tokens over the budget", ctx.dropped[-1]
    )
    assert ctx.seams == [] or all(s.changed for s in ctx.seams)


def test_fitting_does_not_mutate_the_input() -> None:
    ctx = Context(repo="/r", diff="diff --git a/x.txt b/x.txt\n+" + "y" * 4_000 + "\n")
    before = ctx.model_dump()
    fitted = fit_to_budget(ctx, 200)
    assert ctx.model_dump() == before
    assert fitted.dropped and fitted.dropped[0].startswith("diff: hunks of 1 non-Python files")
    assert estimate_tokens("abcd" * 10) == 10 and estimate_tokens("abcde") == 2
