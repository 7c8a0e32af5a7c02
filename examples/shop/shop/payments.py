"""Taking payment for orders through a card gateway and recording the charge."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Protocol

from shop.db import Repository
from shop.events import EventBus
from shop.models import OrderStatus, Payment, to_money
from shop.orders import OrderNotFound, OrderNotPending


class PaymentDeclined(Exception):
    """The gateway refused the charge; nothing was taken."""


class PaymentGateway(Protocol):
    def charge(self, amount: Decimal, card_token: str, idempotency_key: str) -> str:
        """Charge `amount` to the card and return the gateway's reference for the charge."""
        ...


@dataclass(frozen=True)
class Charge:
    amount: Decimal
    card_token: str
    idempotency_key: str
    reference: str


@dataclass
class FakeGateway:
    """An in-process gateway: approves every card except tokens starting with `tok_declined`.

    A repeated idempotency key returns the first charge's reference instead of charging twice.
    """

    charges: list[Charge] = field(default_factory=list)

    def charge(self, amount: Decimal, card_token: str, idempotency_key: str) -> str:
        for previous in self.charges:
            if previous.idempotency_key == idempotency_key:
                return previous.reference
        if card_token.startswith("tok_declined"):
            raise PaymentDeclined(f"card {card_token} was declined")
        reference = f"ch_{len(self.charges) + 1:06d}"
        self.charges.append(Charge(amount, card_token, idempotency_key, reference))
        return reference


class PaymentService:
    """Charges a pending order, marks it paid and announces `order.paid`."""

    def __init__(self, repo: Repository, gateway: PaymentGateway, bus: EventBus) -> None:
        self.repo = repo
        self.gateway = gateway
        self.bus = bus

    def pay(self, order_id: int, customer: str, card_token: str) -> Payment:
        with self.repo.transaction() as conn:
            order = self.repo.get_order(conn, order_id)
        if order is None or order.customer != customer:
            raise OrderNotFound(f"no order {order_id}")
        if order.status is not OrderStatus.PENDING:
            raise OrderNotPending(f"order {order_id} is {order.status}")

        amount = to_money(order.total - order.discount)
        # Keyed by order so a retried request cannot charge the card twice.
        reference = self.gateway.charge(amount, card_token, f"order-{order_id}")

        with self.repo.transaction() as conn:
            payment = Payment(None, order_id, amount, reference)
            payment_id = self.repo.insert_payment(conn, payment)
            self.repo.set_order_status(conn, order_id, OrderStatus.PAID)

        lines = [(ln.sku, ln.quantity) for ln in order.lines]
        self.bus.publish("order.paid", order_id=order_id, amount=str(amount), lines=lines)
        return Payment(payment_id, order_id, amount, reference)
