"""`itarch review` on the example shop with some of its tests removed and weak tests planted:
the real CLI, the real sandbox and real pytest."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest

from agent.config import load_settings
from agent.demo.shop import ShopRepo, build_shop_repo
from agent.models.scripted import FunctionModel, tool_use
from agent.review import review
from agent.review.generate import generate_for_gaps
from tests.cli.support import PYPROJECT, git, itarch

PLANTED = "tests/test_planted.py"
PLANTED_TESTS = """\
from pathlib import Path

import shop
from shop.events import EventBus
from shop.orders import OrderService

SEEN = []
CALLS = [0]


def service(repo):
    return OrderService(repo, EventBus())


def test_creating_an_order_runs(repo):
    service(repo).create_order("alice", [("WIDGET", 1)])


def test_first_order_is_remembered(repo):
    SEEN.append(service(repo).create_order("alice", [("WIDGET", 1)]).id)
    assert SEEN


def test_remembered_order_is_still_there(repo):
    assert service(repo).list_orders("alice") == []
    assert SEEN, "needs the test before it"


def test_every_other_call_fails(repo):
    CALLS[0] += 1
    assert service(repo).list_orders("bob") == []
    assert CALLS[0] % 2 == 1


def test_needs_a_fixture_nobody_defines(warehouse):
    assert service(warehouse).list_orders("alice") == []


def test_order_leaves_a_note(repo):
    order = service(repo).create_order("alice", [("GADGET", 1)])
    Path(shop.__file__).parent.parent.joinpath("note.txt").write_text(str(order.id))
    assert order.id
"""
DUPLICATE = """

def test_creating_an_order_announces_it_too(orders, bus):
    order = orders.create_order("alice", [("WIDGET", 1)])
    assert [(e.name, e.payload) for e in bus.published] == [
        ("order.created", {"order_id": order.id, "lines": [("WIDGET", 1)]})
    ]
"""


def by_module(review: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {m["module"]: m for m in review["modules"]}


@pytest.fixture(scope="module")
def reviewed(review_run: tuple[Path, dict[str, Any]]) -> dict[str, Any]:
    return review_run[1]


@pytest.fixture(scope="module")
def review_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    """The shop without its payment and order-placement tests, with weak tests planted."""
    repo = build_shop_repo(tmp_path_factory.mktemp("reviewed") / "shop").path
    git(repo, "rm", "-q", "tests/test_payments.py", "tests/integration/test_order_placement.py")
    (repo / PLANTED).write_text(PLANTED_TESTS, encoding="utf-8")
    orders_tests = repo / "tests/test_orders.py"
    orders_tests.write_text(orders_tests.read_text(encoding="utf-8") + DUPLICATE, encoding="utf-8")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "fewer tests")
    done = itarch("review", "--json", cwd=repo, env={"ITARCH_RERUNS": "3"})
    assert done.returncode == 0, done.stderr
    assert "running" in done.stderr  # progress goes to stderr
    assert not (repo / "note.txt").exists()  # the tests ran on a copy
    return repo, dict(json.loads(done.stdout))


def test_a_review_after_itarch_index_reads_the_tests_back_with_the_same_findings(
    review_run: tuple[Path, dict[str, Any]],
) -> None:
    repo, first = review_run
    built = itarch("index", cwd=repo)
    assert built.returncode == 0, built.stderr
    again = itarch("review", "--json", cwd=repo, env={"ITARCH_RERUNS": "3"})
    assert again.returncode == 0, again.stderr
    assert "unchanged since their last run: read from the test-impact index" in again.stderr
    second = json.loads(again.stdout)
    for before, after in zip(first["modules"], second["modules"], strict=True):
        assert after["untested_seams"] == before["untested_seams"]
        assert after["seams"] == before["seams"]
        weak = {(w["nodeid"], w["reason"]) for w in after["weak_tests"]}
        assert weak == {(w["nodeid"], w["reason"]) for w in before["weak_tests"]}


def test_seams_only_the_removed_tests_covered_are_untested_and_no_others(
    reviewed: dict[str, Any],
) -> None:
    modules = by_module(reviewed)
    untested = {s for m in modules.values() for s in m["untested_seams"]}
    # Only the payment tests paid an order (the `order.paid` event); only the order-placement
    # test listed orders over HTTP.
    assert "event:shop/payments.py:79" in untested
    assert "http_route:shop/api.py:126" in untested
    # Still tested by the tests that remain: login, placing orders, their events, the database.
    for seam in (
        "http_route:shop/api.py:96",
        "http_route:shop/api.py:112",
        "event:shop/orders.py:87",
        "event:shop/orders.py:113",
        "database:shop/db.py:112",
    ):
        assert seam not in untested
    seams = {s["id"]: s for m in modules.values() for s in m["seams"]}
    assert set(reviewed["modules"][0]) >= {
        "module",
        "seams",
        "untested_seams",
        "weak_tests",
        "untested_error_paths",
    }
    assert set(seams["event:shop/orders.py:113"]) >= {"id", "kind", "tests"}
    assert seams["event:shop/orders.py:113"]["tests"] == [
        "tests/test_orders.py::test_cancelling_a_pending_order"
    ]
    ran = {t for s in seams.values() for t in s["tests"]}
    assert not any("test_payments" in t or "test_order_placement" in t for t in ran)
    assert all(not s["tests"] for i, s in seams.items() if i in untested)
    # An error path: the not-found branch of cancelling, which no test takes.
    errors = {e["id"] for e in modules["shop.orders"]["untested_error_paths"]}
    assert "raise:shop/orders.py:107" in errors


def test_planted_weak_tests_are_named_with_their_reasons_and_no_others(
    reviewed: dict[str, Any],
) -> None:
    weak = {
        (w["nodeid"], w["reason"]): w["detail"]
        for m in reviewed["modules"]
        for w in m["weak_tests"]
    }
    assert set(weak) == {
        (f"{PLANTED}::test_creating_an_order_runs", "no_assertions"),
        ("tests/test_orders.py::test_creating_an_order_announces_it_too", "redundant"),
        (f"{PLANTED}::test_remembered_order_is_still_there", "order_dependent"),
        (f"{PLANTED}::test_every_other_call_fails", "flaky"),
        (f"{PLANTED}::test_order_leaves_a_note", "side_effect"),
        (f"{PLANTED}::test_needs_a_fixture_nobody_defines", "fails"),
    }
    duplicate = ("tests/test_orders.py::test_creating_an_order_announces_it_too", "redundant")
    assert "tests/test_orders.py::test_creating_an_order_announces_it" in weak[duplicate]
    assert "note.txt" in weak[(f"{PLANTED}::test_order_leaves_a_note", "side_effect")]
    assert (
        "fixture 'warehouse' not found"
        in weak[(f"{PLANTED}::test_needs_a_fixture_nobody_defines", "fails")]
    )
    orders = by_module(reviewed)["shop.orders"]
    assert {w["nodeid"] for w in orders["weak_tests"]} >= {
        f"{PLANTED}::test_needs_a_fixture_nobody_defines",  # it ran nothing: its file imports it
        f"{PLANTED}::test_creating_an_order_runs",
        "tests/test_orders.py::test_creating_an_order_announces_it_too",
    }


def test_a_named_module_is_reviewed_alone_in_markdown(shop: ShopRepo) -> None:
    done = itarch("review", "--module", "shop.payments", "--markdown", cwd=shop.path)
    assert done.returncode == 0, done.stderr
    assert "### `shop.payments` (shop/payments.py)" in done.stdout
    assert "`event:shop/payments.py:79`" in done.stdout
    assert "shop.api" not in done.stdout
    assert "**untested**" not in done.stdout
    text = itarch("review", "shop/payments.py", cwd=shop.path)
    assert text.returncode == 0, text.stderr
    assert (
        "event:shop/payments.py:79" in text.stdout
        and "untested" not in text.stdout.split("not done")[0]
    )


def test_a_module_that_does_not_exist_is_one_line_and_exit_2(
    tmp_path: Path, shop: ShopRepo
) -> None:
    done = itarch("review", "--module", "shop.nope", cwd=shop.path)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines()[-1] == (
        f"itarch: error: no module named 'shop.nope' in {shop.path}"
    )


def test_review_generate_hands_the_gaps_to_the_loop_as_its_task(shop: ShopRepo) -> None:
    settings = load_settings(shop.path, python=sys.executable)
    settings.reruns = 1
    git(shop.path, "rm", "-q", "tests/test_payments.py")
    git(shop.path, "commit", "-q", "-m", "no payment tests")
    result = review(shop.path, settings=settings, modules=["shop.payments"])
    assert by_module(result.model_dump())["shop.payments"]["untested_seams"] == [
        "event:shop/payments.py:79"
    ]
    asked: list[str] = []

    def architect(messages: list[dict[str, Any]], tools: list[dict[str, Any]]) -> Any:
        asked.extend(b["text"] for b in messages[0]["content"] if b.get("type") == "text")
        return [tool_use("finish", {"summary": "nothing written"})]

    report = generate_for_gaps(
        shop.path, result, settings=settings, model=FunctionModel(architect), write=False
    )
    assert report is not None and report.stopped_by == "finish"
    task = asked[-1]
    assert task.startswith("Write integration tests for these modules")
    assert "event:shop/payments.py:79" in task and "self.bus.publish('order.paid')" in task
    assert "shop/payments.py" in asked[0]  # the context is about the module with the gap


SWALLOWING = """\
from shop.events import EventBus
from shop.orders import OrderService


def test_an_order_can_be_attempted(repo):
    try:
        OrderService(repo, EventBus()).create_order("alice", [("WIDGET", 1)])
    except Exception:
        pass
    assert repo.path
"""


def test_with_mutation_a_test_that_runs_a_seam_but_notices_nothing_kills_none_of_its_mutants(
    shop: ShopRepo,
) -> None:
    (shop.path / PLANTED).write_text(SWALLOWING, encoding="utf-8")
    settings = load_settings(shop.path, python=sys.executable)
    settings.reruns = 0
    result = review(shop.path, settings=settings, modules=["shop.orders"], mutation=True)
    orders = by_module(result.model_dump(mode="json"))["shop.orders"]
    weak = {(w["nodeid"], w["reason"]): w["detail"] for w in orders["weak_tests"]}
    planted = (f"{PLANTED}::test_an_order_can_be_attempted", "kills_no_mutant")
    assert planted in weak and "event:shop/orders.py:87" in weak[planted]
    # a test that checks what the seam does is not weak; nor is the planted one otherwise
    assert {reason for _, reason in weak} == {"kills_no_mutant"}
    strong = "tests/test_orders.py::test_order_is_priced_from_the_catalogue_and_stored"
    assert (strong, "kills_no_mutant") not in weak
    assert result.mutation and not any("mutation" in note for note in result.skipped)


def test_review_generate_without_a_key_stops_before_running_anything(shop: ShopRepo) -> None:
    done = itarch("review", "--generate", cwd=shop.path)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines()[-1] == (
        "itarch: error: no API key: set ANTHROPIC_API_KEY to use Claude"
    )
    assert "running" not in done.stderr and not done.stdout


PRICES = """\
_RATES = {}


def rate(code):
    if not _RATES:
        _RATES.update({"EUR": 1.0, "USD": 1.1})
    return _RATES[code]


def convert(amount, code):
    return round(amount * rate(code), 2)
"""


def test_a_copy_of_a_test_is_redundant_though_the_first_run_filled_a_cache(
    tmp_path: Path,
) -> None:
    repo = tmp_path / "calc"
    files = {
        "pyproject.toml": PYPROJECT,
        "calc/__init__.py": "",
        "calc/prices.py": PRICES,
        "tests/test_a.py": "from calc.prices import convert\n\n\n"
        "def test_euros_stay_euros():\n    assert convert(10, 'EUR') == 10.0\n",
        "tests/test_b.py": "from calc.prices import convert\n\n\n"
        "def test_euros_are_not_converted():\n    assert convert(20, 'EUR') == 20.0\n",
    }
    for rel, text in files.items():
        (repo / rel).parent.mkdir(parents=True, exist_ok=True)
        (repo / rel).write_text(text, encoding="utf-8")
    git(repo, "init", "-q")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "calc")
    done = itarch("review", "--json", "--reruns", "0", cwd=repo)
    assert done.returncode == 0, done.stderr
    module = by_module(json.loads(done.stdout))["calc.prices"]
    assert [(w["nodeid"], w["reason"]) for w in module["weak_tests"]] == [
        ("tests/test_b.py::test_euros_are_not_converted", "redundant")
    ]
    assert "tests/test_a.py::test_euros_stay_euros" in module["weak_tests"][0]["detail"]
    assert "second run" in module["weak_tests"][0]["detail"]


WEB = """\
from starlette.applications import Starlette
from starlette.routing import Route

from calc import views

routes = [
    Route("/rates", views.rates),
    Route("/health", views.health),
]
app = Starlette(routes=routes)
"""
VIEWS = """\
from starlette.responses import JSONResponse


async def rates(request):
    return JSONResponse({"EUR": 1.0})


async def health(request):
    return JSONResponse({"ok": True})
"""
TEST_WEB = """\
from starlette.testclient import TestClient

from calc.web import app


def test_rates_are_listed():
    assert TestClient(app).get("/rates").json() == {"EUR": 1.0}
"""


def test_a_route_registered_in_a_table_is_tested_when_its_view_runs(tmp_path: Path) -> None:
    repo = tmp_path / "calc"
    files = {
        "pyproject.toml": PYPROJECT,
        "calc/__init__.py": "",
        "calc/web.py": WEB,
        "calc/views.py": VIEWS,
        "tests/test_web.py": TEST_WEB,
    }
    for rel, text in files.items():
        (repo / rel).parent.mkdir(parents=True, exist_ok=True)
        (repo / rel).write_text(text, encoding="utf-8")
    git(repo, "init", "-q")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "calc")
    done = itarch("review", "--module", "calc.web", "--json", "--reruns", "0", cwd=repo)
    assert done.returncode == 0, done.stderr
    web = by_module(json.loads(done.stdout))["calc.web"]
    assert {s["id"]: s["tests"] for s in web["seams"]} == {
        "http_route:calc/web.py:7": ["tests/test_web.py::test_rates_are_listed"],
        "http_route:calc/web.py:8": [],
    }
    assert web["untested_seams"] == ["http_route:calc/web.py:8"]
