"""The scripted conversation behind `itarch demo`, played against the example shop's history.

The turns are canned, not written by a model, but every proposed test really behaves as the
script says when run with pytest in the repository `agent.demo.shop.build_shop_repo` builds:

1. read `shop/payments.py`;
2. propose `tests/integration/test_checkout_flow.py` with a slip in the test itself: it expects
   `201 Created` from `POST /orders/<id>/pay`, which answers `200` — so it fails, and the
   feedback lets the next turn repair it;
3. propose the repaired checkout file (HTTP sign-in → OrderService → PaymentService and the fake
   gateway → SQLite → the `order.paid` event → InventoryService) and
   `tests/integration/test_discount_codes.py`, which documents the defect below and is listed
   with expectation `bug`;
4. finish.

The defect, at the seam between orders and payments, introduced by the discount-codes commit:
`OrderService.create_order` stores `Order.total` already net of the discount, while
`PaymentService.pay` charges `order.total - order.discount`, taking the discount off a second
time. Each module's unit tests pass on their own assumption; only an order placed with a code
and then paid shows it: 2 × WIDGET (25.00) + 1 × GADGET (19.99) with SAVE10 has total 62.99 but
is charged 55.99. The fix is to charge `order.total` in `shop/payments.py`.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from agent.demo.shop import shop_source
from agent.models.scripted import text, tool_use

CHECKOUT_PATH = "tests/integration/test_checkout_flow.py"
DISCOUNT_PATH = "tests/integration/test_discount_codes.py"

_CHECKOUT_HEADER = '''\
"""Checkout over HTTP: sign in, order, pay; the charge, the stored order and the stock agree."""

from decimal import Decimal

import pytest


@pytest.fixture
def headers(client):
    response = client.post("/login", json={"username": "alice", "password": "wonderland"})
    assert response.status_code == 200
    return {"Authorization": f"Bearer {response.get_json()['token']}"}


def _stock(client, sku):
    product = client.get(f"/products/{sku}").get_json()
    return product["stock"], product["reserved"]


def test_paid_order_is_charged_recorded_and_takes_stock(client, gateway, headers):
    items = [{"sku": "WIDGET", "quantity": 2}, {"sku": "GADGET", "quantity": 1}]
    created = client.post("/orders", json={"items": items}, headers=headers)
    assert created.status_code == 201
    order = created.get_json()
    assert order["total"] == "69.99"
    assert _stock(client, "WIDGET") == (10, 2)

    paid = client.post(
        f"/orders/{order['id']}/pay", json={"card_token": "tok_visa"}, headers=headers
    )
'''

_CHECKOUT_SLIP = """\
    assert paid.status_code == 201
"""

_CHECKOUT_FIXED = """\
    assert paid.status_code == 200
"""

_CHECKOUT_FOOTER = """\
    payment = paid.get_json()["payment"]
    assert payment["amount"] == "69.99"
    assert [(c.amount, c.card_token) for c in gateway.charges] == [(Decimal("69.99"), "tok_visa")]

    stored = client.get(f"/orders/{order['id']}", headers=headers).get_json()
    assert stored["status"] == "paid"
    assert [p["reference"] for p in stored["payments"]] == [payment["reference"]]
    assert _stock(client, "WIDGET") == (8, 0)
    assert _stock(client, "GADGET") == (4, 0)


def test_declined_card_keeps_the_order_pending_until_a_good_card_pays(client, gateway, headers):
    created = client.post(
        "/orders", json={"items": [{"sku": "GADGET", "quantity": 2}]}, headers=headers
    )
    order_id = created.get_json()["id"]

    declined = client.post(
        f"/orders/{order_id}/pay", json={"card_token": "tok_declined_expired"}, headers=headers
    )
    assert declined.status_code == 402
    assert "declined" in declined.get_json()["error"]
    assert gateway.charges == []
    stored = client.get(f"/orders/{order_id}", headers=headers).get_json()
    assert (stored["status"], stored["payments"]) == ("pending", [])
    assert _stock(client, "GADGET") == (5, 2)

    retried = client.post(
        f"/orders/{order_id}/pay", json={"card_token": "tok_visa"}, headers=headers
    )
    assert retried.status_code == 200
    assert retried.get_json()["order"]["status"] == "paid"
    assert _stock(client, "GADGET") == (3, 0)
"""

DISCOUNT_TEST = '''\
"""Discount codes end to end: the card is charged exactly the discounted total of the order."""

from decimal import Decimal


def test_discounted_order_is_charged_its_total(client, gateway):
    login = client.post("/login", json={"username": "alice", "password": "wonderland"})
    headers = {"Authorization": f"Bearer {login.get_json()['token']}"}
    items = [{"sku": "WIDGET", "quantity": 2}, {"sku": "GADGET", "quantity": 1}]

    created = client.post(
        "/orders", json={"items": items, "discount_code": "SAVE10"}, headers=headers
    )
    assert created.status_code == 201
    order = created.get_json()
    assert (order["subtotal"], order["discount"], order["total"]) == ("69.99", "7.00", "62.99")

    paid = client.post(
        f"/orders/{order['id']}/pay", json={"card_token": "tok_visa"}, headers=headers
    )
    assert paid.status_code == 200
    assert paid.get_json()["payment"]["amount"] == order["total"]
    assert [c.amount for c in gateway.charges] == [Decimal("62.99")]
'''

CHECKOUT_WITH_SLIP = _CHECKOUT_HEADER + _CHECKOUT_SLIP + _CHECKOUT_FOOTER
CHECKOUT_TEST = _CHECKOUT_HEADER + _CHECKOUT_FIXED + _CHECKOUT_FOOTER

DISCOUNT_JUSTIFICATION = (
    "OrderService.create_order stores Order.total already net of the discount (the model "
    "documents total as what the customer owes, after any discount), but PaymentService.pay "
    "charges order.total - order.discount, so the discount is taken off twice: the order says "
    "62.99 and the card is charged 55.99. The test asserts the charge equals the order's total."
)


def _line_of(path: str, needle: str) -> int:
    """The 1-based line of the first occurrence of `needle` in a file of the example shop."""
    lines = (shop_source() / path).read_text(encoding="utf-8").splitlines()
    for number, line in enumerate(lines, start=1):
        if needle in line:
            return number
    raise LookupError(f"{needle!r} not found in {path}")


def _seam(kind: str, path: str, needle: str) -> str:
    # Same shape as the seam map's ids, e.g. "http_route:shop/api.py:42".
    return f"{kind}:{path}:{_line_of(path, needle)}"


@cache
def _seams() -> dict[str, str]:
    return {
        "login": _seam("http_route", "shop/api.py", '@app.post("/login")'),
        "create": _seam("http_route", "shop/api.py", '@app.post("/orders")'),
        "pay": _seam("http_route", "shop/api.py", '@app.post("/orders/<int:order_id>/pay")'),
        "paid_event": _seam("event", "shop/payments.py", 'publish("order.paid"'),
        "payment_row": _seam("database", "shop/db.py", "INSERT INTO payments"),
    }


def _checkout_file(content: str) -> dict[str, Any]:
    seams = _seams()
    flow = [seams["login"], seams["create"], seams["pay"], seams["payment_row"]]
    return {
        "path": CHECKOUT_PATH,
        "content": content,
        "purpose": "Checkout over HTTP reaches the gateway, the database and the stock counters.",
        "tests": [
            {
                "name": "test_paid_order_is_charged_recorded_and_takes_stock",
                "expectation": "pass",
                "seams": [*flow, seams["paid_event"]],
            },
            {
                "name": "test_declined_card_keeps_the_order_pending_until_a_good_card_pays",
                "expectation": "pass",
                "seams": flow,
            },
        ],
    }


def _discount_file() -> dict[str, Any]:
    seams = _seams()
    return {
        "path": DISCOUNT_PATH,
        "content": DISCOUNT_TEST,
        "purpose": "A discount code changes what the card is charged, exactly once.",
        "tests": [
            {
                "name": "test_discounted_order_is_charged_its_total",
                "expectation": "bug",
                "justification": DISCOUNT_JUSTIFICATION,
                "seams": [seams["create"], seams["pay"], seams["payment_row"]],
            }
        ],
    }


def demo_turns() -> list[list[dict[str, Any]]]:
    """The demo's four assistant turns, each a list of Anthropic content blocks."""
    return [
        [
            text(
                "The change adds discount codes across orders, payments and the API. "
                "Payment is where the order's amounts meet the gateway, so I'll read it first."
            ),
            tool_use("read_file", {"path": "shop/payments.py"}),
        ],
        [
            text("A checkout test through the HTTP API, the gateway, SQLite and the stock events."),
            tool_use(
                "propose_tests",
                {
                    "files": [_checkout_file(CHECKOUT_WITH_SLIP)],
                    "notes": "Uses the conftest fixtures: client, gateway (FakeGateway), tmp DB.",
                },
            ),
        ],
        [
            text(
                "My test was wrong: paying answers 200 with the order and the payment, not 201. "
                "Fixed. I'm also adding a discount-code test: payments subtracts the discount "
                "from a total that already has it taken off, so I expect it to fail on this code."
            ),
            tool_use(
                "propose_tests",
                {
                    "files": [_checkout_file(CHECKOUT_TEST), _discount_file()],
                    "notes": "test_discounted_order_is_charged_its_total documents a defect: "
                    "a SAVE10 order totalling 62.99 is charged 55.99.",
                },
            ),
        ],
        [
            tool_use(
                "finish",
                {
                    "summary": "Added an end-to-end checkout test (sign-in, order, payment, "
                    "stored payment, stock committed by the order.paid event, declined card) and "
                    "a test documenting a defect: discounted orders are charged the discount "
                    "twice, because PaymentService.pay subtracts order.discount from a total "
                    "that OrderService already discounted. Fix: charge order.total."
                },
            )
        ],
    ]
