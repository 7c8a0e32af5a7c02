"""The example shop: its built git history, its own suite, and the demo script's claims about it.

Every claim the demo script makes about a proposed test (fails on a slip, passes, documents a bug
with a failing assertion) is checked here with a real pytest run in a copy of the built repo.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from agent import schema
from agent.demo.script import CHECKOUT_PATH, DISCOUNT_PATH, demo_turns
from agent.demo.shop import (
    BASE_MESSAGE,
    HEAD_MESSAGE,
    ExampleError,
    ShopRepo,
    build_shop_repo,
    examples_root,
    shop_base_source,
    shop_source,
)
from agent.schema import Expectation

# Records each test's outcome and exception type as JSON, so assertions don't scrape output.
RECORDER_PLUGIN = """
import json
import os

import pytest

_RESULTS = []


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    report = (yield).get_result()
    if report.when == "call" or report.outcome != "passed":
        _RESULTS.append(
            {
                "name": item.name,
                "path": item.nodeid.split("::")[0],
                "when": report.when,
                "outcome": report.outcome,
                "exc_type": call.excinfo.typename if call.excinfo else None,
                "message": str(call.excinfo.value) if call.excinfo else "",
            }
        )


def pytest_sessionfinish(session):
    with open(os.environ["SHOP_OUTCOMES"], "w") as out:
        json.dump(_RESULTS, out)
"""

needs_flask = pytest.mark.skipif(
    importlib.util.find_spec("flask") is None, reason="the example shop needs flask"
)


def git(repo: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", *args], cwd=repo, capture_output=True, text=True, check=True, env=_clean_env()
    )
    return done.stdout.strip()


def _clean_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GIT_", "PYTEST_"))}
    env.update(GIT_CONFIG_GLOBAL=os.devnull, GIT_CONFIG_NOSYSTEM="1")
    return env


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> ShopRepo:
    return build_shop_repo(tmp_path_factory.mktemp("built") / "shop")


@pytest.fixture
def workdir(built: ShopRepo, tmp_path: Path) -> Path:
    """A private copy of the built repo, so a test can add or change files freely."""
    copy = tmp_path / "shop"
    shutil.copytree(built.path, copy, symlinks=True)
    return copy


def run_pytest(repo: Path, tmp_path: Path, *targets: str) -> list[dict[str, Any]]:
    plugin_dir = tmp_path / "plugin"
    plugin_dir.mkdir(exist_ok=True)
    (plugin_dir / "shop_outcome_recorder.py").write_text(RECORDER_PLUGIN)
    outcomes_file = tmp_path / "outcomes.json"
    env = _clean_env()
    env.update(
        PYTHONPATH=str(plugin_dir),
        PYTHONDONTWRITEBYTECODE="1",
        SHOP_OUTCOMES=str(outcomes_file),
    )
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"]
    command += ["-p", "shop_outcome_recorder", *targets]
    done = subprocess.run(command, cwd=repo, env=env, capture_output=True, text=True, timeout=120)
    assert outcomes_file.exists(), done.stdout + done.stderr
    outcomes: list[dict[str, Any]] = json.loads(outcomes_file.read_text())
    assert outcomes, done.stdout + done.stderr
    return outcomes


def by_name(outcomes: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {o["name"]: o for o in outcomes}


def proposals() -> list[schema.TestSuiteProposal]:
    return [
        schema.TestSuiteProposal.model_validate(block["input"])
        for turn in demo_turns()
        for block in turn
        if block["type"] == "tool_use" and block["name"] == "propose_tests"
    ]


def write_files(repo: Path, proposal: schema.TestSuiteProposal) -> None:
    for file in proposal.files:
        target = repo / file.path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(file.content)


# ---------------------------------------------------------------- locating the sources


def test_sources_are_found_in_the_checkout() -> None:
    assert (shop_source() / "shop" / "api.py").is_file()
    assert (shop_base_source() / "shop" / "payments.py").is_file()
    assert shop_source().parent == shop_base_source().parent == examples_root()


def test_sources_are_found_in_an_installed_layout(tmp_path: Path) -> None:
    package = tmp_path / "site-packages" / "agent"
    shutil.copytree(examples_root() / "shop", package / "_examples" / "shop")
    assert examples_root(package) == package / "_examples"


def test_missing_sources_are_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ExampleError, match="example shop is missing"):
        examples_root(tmp_path / "agent")


# ---------------------------------------------------------------- the built history


def test_history_has_the_base_and_the_feature_commit(built: ShopRepo) -> None:
    log = git(built.path, "log", "--format=%H %an <%ae> %aI %s").splitlines()
    assert [line.split(" ", 1)[0] for line in log] == [built.head, built.base]
    assert log[0].endswith(HEAD_MESSAGE)
    assert log[1].endswith(BASE_MESSAGE)
    assert git(built.path, "rev-parse", f"{built.head}^") == built.base
    assert git(built.path, "status", "--porcelain") == ""


def test_feature_diff_touches_several_shop_modules(built: ShopRepo) -> None:
    changed = git(built.path, "diff", "--name-only", built.base, built.head).splitlines()
    modules = {path for path in changed if path.startswith("shop/") and path.endswith(".py")}
    assert len(modules) >= 3, changed
    assert {"shop/orders.py", "shop/payments.py", "shop/api.py"} <= modules
    diff = git(built.path, "diff", built.base, built.head, "--", "shop/payments.py")
    assert "+        amount = to_money(order.total - order.discount)" in diff


def test_head_matches_the_shop_sources_and_ignores_caches(built: ShopRepo) -> None:
    tracked = git(built.path, "ls-files").splitlines()
    assert ".gitignore" in tracked
    assert not [p for p in tracked if "__pycache__" in p or ".pytest_cache" in p]
    for path in tracked:
        if path != ".gitignore":
            assert (built.path / path).read_bytes() == (shop_source() / path).read_bytes(), path
    ignored = (built.path / ".gitignore").read_text().splitlines()
    assert {"__pycache__/", ".pytest_cache/", ".itarch/"} <= set(ignored)


def test_base_holds_the_older_files(built: ShopRepo) -> None:
    root = shop_base_source()
    older = [
        p.relative_to(root)
        for p in root.rglob("*.*")
        if p.is_file()
        and not any(part.startswith((".", "__")) for part in p.relative_to(root).parts)
    ]
    assert len(older) >= 5
    for rel in older:
        shown = git(built.path, "show", f"{built.base}:{rel.as_posix()}")
        assert shown == (root / rel).read_text().strip(), rel


def test_build_is_deterministic(built: ShopRepo, tmp_path: Path) -> None:
    again = build_shop_repo(tmp_path / "again")
    assert (again.base, again.head) == (built.base, built.head)


def test_build_refuses_a_folder_that_is_not_empty(tmp_path: Path) -> None:
    (tmp_path / "keep.txt").write_text("mine")
    with pytest.raises(ExampleError, match="not empty"):
        build_shop_repo(tmp_path)
    assert [p.name for p in tmp_path.iterdir()] == ["keep.txt"]


# ---------------------------------------------------------------- the shop's own suite


@needs_flask
def test_shop_suite_passes_at_head(workdir: Path, tmp_path: Path) -> None:
    outcomes = run_pytest(workdir, tmp_path)
    assert len(outcomes) >= 30
    assert {o["outcome"] for o in outcomes} == {"passed"}
    integration = [o for o in outcomes if o["path"].startswith("tests/integration/")]
    assert len(integration) <= 1


@needs_flask
def test_shop_suite_passes_at_base(workdir: Path, built: ShopRepo, tmp_path: Path) -> None:
    git(workdir, "checkout", "--quiet", built.base)
    assert "discount" not in (workdir / "shop" / "payments.py").read_text()
    outcomes = run_pytest(workdir, tmp_path)
    assert {o["outcome"] for o in outcomes} == {"passed"}


# ---------------------------------------------------------------- the demo script


def test_demo_script_has_the_four_documented_turns() -> None:
    turns = demo_turns()
    tools = [[b["name"] for b in turn if b["type"] == "tool_use"] for turn in turns]
    assert tools == [["read_file"], ["propose_tests"], ["propose_tests"], ["finish"]]
    assert (shop_source() / turns[0][1]["input"]["path"]).is_file()
    first, second = proposals()
    assert [f.path for f in first.files] == [CHECKOUT_PATH]
    assert [f.path for f in second.files] == [CHECKOUT_PATH, DISCOUNT_PATH]
    bugs = [t for f in second.files for t in f.tests if t.expectation is Expectation.BUG]
    assert [t.name for t in bugs] == ["test_discounted_order_is_charged_its_total"]
    assert "order.total - order.discount" in bugs[0].justification


def test_demo_seams_point_at_the_lines_they_name(built: ShopRepo) -> None:
    seams = {s for p in proposals() for f in p.files for t in f.tests for s in t.seams}
    assert len(seams) >= 4
    for seam in seams:
        kind, path, line = seam.split(":")
        text = (built.path / path).read_text().splitlines()[int(line) - 1]
        needles = {"http_route": "@app.", "event": "publish(", "database": "INSERT INTO"}
        assert needles[kind] in text, seam


@needs_flask
def test_first_proposal_fails_on_a_slip_in_the_test(workdir: Path, tmp_path: Path) -> None:
    write_files(workdir, proposals()[0])
    outcomes = by_name(run_pytest(workdir, tmp_path, CHECKOUT_PATH))
    slipped = outcomes["test_paid_order_is_charged_recorded_and_takes_stock"]
    assert (slipped["outcome"], slipped["exc_type"]) == ("failed", "AssertionError")
    assert "201" in slipped["message"] and "200" in slipped["message"]
    declined = outcomes["test_declined_card_keeps_the_order_pending_until_a_good_card_pays"]
    assert declined["outcome"] == "passed"


@needs_flask
def test_repaired_proposal_passes_and_the_bug_test_fails_on_the_defect(
    workdir: Path, tmp_path: Path
) -> None:
    proposal = proposals()[1]
    write_files(workdir, proposal)
    listed = {t.name: t.expectation for f in proposal.files for t in f.tests}

    outcomes = run_pytest(workdir, tmp_path)  # the whole suite, proposals included
    proposed = {o["name"]: o for o in outcomes if o["path"] in (CHECKOUT_PATH, DISCOUNT_PATH)}
    assert set(proposed) == set(listed)
    for name, expectation in listed.items():
        if expectation is Expectation.PASS:
            assert proposed[name]["outcome"] == "passed", proposed[name]
        else:
            assert proposed[name]["outcome"] == "failed"
            assert proposed[name]["exc_type"] == "AssertionError"
            assert "'55.99' == '62.99'" in proposed[name]["message"]
    others = [o for o in outcomes if o["name"] not in listed]
    assert others and {o["outcome"] for o in others} == {"passed"}

    # Reruns in another order: the accepted file does not depend on order or earlier state.
    again = by_name(run_pytest(workdir, tmp_path, "-p", "no:randomly", CHECKOUT_PATH, "tests"))
    assert all(again[name]["outcome"] == "passed" for name, e in listed.items() if e == "pass")


@needs_flask
def test_bug_test_passes_once_payments_charges_the_order_total(
    workdir: Path, tmp_path: Path
) -> None:
    write_files(workdir, proposals()[1])
    payments = workdir / "shop" / "payments.py"
    source = payments.read_text()
    defect = "amount = to_money(order.total - order.discount)"
    assert source.count(defect) == 1
    payments.write_text(source.replace(defect, "amount = order.total"))

    outcomes = run_pytest(workdir, tmp_path)
    assert {o["outcome"] for o in outcomes} == {"passed"}
    assert "test_discounted_order_is_charged_its_total" in by_name(outcomes)
