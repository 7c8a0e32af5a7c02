import sqlite3
from decimal import Decimal

import pytest

from shop.models import Order, OrderLine, OrderStatus, Payment


def test_money_is_stored_as_text_and_read_back_exactly(repo):
    with repo.transaction() as conn:
        order_id = repo.insert_order(
            conn,
            Order(None, "alice", [OrderLine("GADGET", 3, Decimal("19.99"))], Decimal("59.97")),
        )
        kind = conn.execute("SELECT typeof(total) FROM orders WHERE id = ?", (order_id,))
        assert kind.fetchone()[0] == "text"
        order = repo.get_order(conn, order_id)
    assert order is not None
    assert order.total == Decimal("59.97")
    assert order.lines[0].unit_price == Decimal("19.99")
    assert order.status is OrderStatus.PENDING


def test_transaction_rolls_back_on_error(repo):
    with pytest.raises(RuntimeError), repo.transaction() as conn:
        repo.adjust_stock(conn, "WIDGET", stock=-4)
        raise RuntimeError("boom")
    with repo.transaction() as conn:
        assert repo.get_product(conn, "WIDGET").stock == 10


def test_stock_cannot_go_negative(repo):
    with pytest.raises(sqlite3.IntegrityError), repo.transaction() as conn:
        repo.adjust_stock(conn, "GIZMO", stock=-1)


def test_orders_are_listed_per_customer_with_their_payments(repo):
    with repo.transaction() as conn:
        first = repo.insert_order(
            conn, Order(None, "alice", [OrderLine("WIDGET", 1, Decimal("25"))], Decimal("25"))
        )
        repo.insert_order(
            conn, Order(None, "bob", [OrderLine("WIDGET", 1, Decimal("25"))], Decimal("25"))
        )
        repo.insert_payment(conn, Payment(None, first, Decimal("25"), "ch_1"))
        orders = repo.list_orders(conn, "alice")
    assert [o.id for o in orders] == [first]
    assert orders[0].payments[0].amount == Decimal("25.00")
