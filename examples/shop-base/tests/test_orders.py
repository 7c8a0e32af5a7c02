from decimal import Decimal

import pytest

from shop.events import EventBus
from shop.models import OrderStatus
from shop.orders import (
    OrderError,
    OrderNotFound,
    OrderNotPending,
    OrderService,
    OutOfStock,
    UnknownProduct,
)


@pytest.fixture
def bus():
    return EventBus()


@pytest.fixture
def orders(repo, bus):
    return OrderService(repo, bus)


def test_order_is_priced_from_the_catalogue_and_stored(orders):
    order = orders.create_order("alice", [("WIDGET", 2), ("GADGET", 1), ("WIDGET", 1)])
    assert [(ln.sku, ln.quantity) for ln in order.lines] == [("WIDGET", 3), ("GADGET", 1)]
    assert order.total == Decimal("94.99")
    stored = orders.get_order(order.id, "alice")
    assert stored.total == Decimal("94.99")
    assert stored.status is OrderStatus.PENDING


def test_creating_an_order_announces_it(orders, bus):
    order = orders.create_order("alice", [("WIDGET", 1)])
    assert [(e.name, e.payload) for e in bus.published] == [
        ("order.created", {"order_id": order.id, "lines": [("WIDGET", 1)]})
    ]


@pytest.mark.parametrize(
    ("items", "error"),
    [
        ([], OrderError),
        ([("WIDGET", 0)], OrderError),
        ([("NOPE", 1)], UnknownProduct),
        ([("GIZMO", 1)], OutOfStock),
        ([("GADGET", 6)], OutOfStock),
    ],
)
def test_invalid_orders_are_refused(orders, bus, items, error):
    with pytest.raises(error):
        orders.create_order("alice", items)
    assert bus.published == []


def test_customers_see_only_their_own_orders(orders):
    mine = orders.create_order("alice", [("WIDGET", 1)])
    orders.create_order("bob", [("WIDGET", 1)])
    assert [o.id for o in orders.list_orders("alice")] == [mine.id]
    with pytest.raises(OrderNotFound):
        orders.get_order(mine.id, "bob")


def test_cancelling_a_pending_order(orders, bus):
    order = orders.create_order("alice", [("GADGET", 2)])
    cancelled = orders.cancel_order(order.id, "alice")
    assert cancelled.status is OrderStatus.CANCELLED
    assert bus.published[-1].name == "order.cancelled"
    with pytest.raises(OrderNotPending):
        orders.cancel_order(order.id, "alice")
