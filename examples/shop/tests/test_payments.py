from decimal import Decimal

import pytest

from shop.events import EventBus
from shop.models import Order, OrderLine, OrderStatus
from shop.orders import OrderNotFound, OrderNotPending
from shop.payments import FakeGateway, PaymentDeclined, PaymentService


@pytest.fixture
def bus():
    return EventBus()


@pytest.fixture
def payments(repo, gateway, bus):
    return PaymentService(repo, gateway, bus)


@pytest.fixture
def order_id(repo):
    with repo.transaction() as conn:
        return repo.insert_order(
            conn, Order(None, "alice", [OrderLine("WIDGET", 2, Decimal("25.00"))], Decimal("50.00"))
        )


def test_paying_charges_the_total_and_marks_the_order_paid(repo, payments, gateway, bus, order_id):
    payment = payments.pay(order_id, "alice", "tok_visa")
    assert payment.amount == Decimal("50.00")
    assert [(c.amount, c.card_token) for c in gateway.charges] == [(Decimal("50.00"), "tok_visa")]
    with repo.transaction() as conn:
        order = repo.get_order(conn, order_id)
    assert order.status is OrderStatus.PAID
    assert [p.reference for p in order.payments] == [payment.reference]
    assert bus.published[-1].name == "order.paid"
    assert bus.published[-1].payload["amount"] == "50.00"


def test_declined_card_leaves_the_order_pending(repo, payments, bus, order_id):
    with pytest.raises(PaymentDeclined):
        payments.pay(order_id, "alice", "tok_declined_insufficient_funds")
    with repo.transaction() as conn:
        order = repo.get_order(conn, order_id)
    assert order.status is OrderStatus.PENDING
    assert order.payments == []
    assert bus.published == []


def test_an_order_is_paid_once(payments, order_id):
    payments.pay(order_id, "alice", "tok_visa")
    with pytest.raises(OrderNotPending):
        payments.pay(order_id, "alice", "tok_visa")


def test_another_customers_order_cannot_be_paid(payments, gateway, order_id):
    with pytest.raises(OrderNotFound):
        payments.pay(order_id, "bob", "tok_visa")
    assert gateway.charges == []


def test_fake_gateway_charges_each_idempotency_key_once():
    gateway = FakeGateway()
    first = gateway.charge(Decimal("5.00"), "tok_visa", "order-1")
    again = gateway.charge(Decimal("5.00"), "tok_visa", "order-1")
    other = gateway.charge(Decimal("7.00"), "tok_visa", "order-2")
    assert first == again != other
    assert len(gateway.charges) == 2
