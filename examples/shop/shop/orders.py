"""Placing, reading and cancelling orders; prices and discounts are fixed at placing time."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal

from shop.db import Repository
from shop.events import EventBus
from shop.models import ZERO, Order, OrderLine, OrderStatus, to_money

# Percentage off the subtotal for each code the shop accepts.
DISCOUNT_CODES: dict[str, Decimal] = {
    "SAVE10": Decimal("0.10"),
    "WELCOME5": Decimal("0.05"),
}


class OrderError(Exception):
    """A request about an order that cannot be honoured; the message says why."""


class UnknownProduct(OrderError):
    pass


class OutOfStock(OrderError):
    pass


class InvalidDiscount(OrderError):
    pass


class OrderNotFound(OrderError):
    pass


class OrderNotPending(OrderError):
    pass


def discount_for(code: str | None, subtotal: Decimal) -> Decimal:
    """Return the amount a discount code takes off `subtotal` (zero without a code)."""
    if code is None:
        return ZERO
    rate = DISCOUNT_CODES.get(code.upper())
    if rate is None:
        raise InvalidDiscount(f"unknown discount code {code!r}")
    return to_money(subtotal * rate)


class OrderService:
    """Creates and reads orders; announces `order.created` and `order.cancelled` on the bus."""

    def __init__(self, repo: Repository, bus: EventBus) -> None:
        self.repo = repo
        self.bus = bus

    def create_order(
        self, customer: str, items: Iterable[tuple[str, int]], discount_code: str | None = None
    ) -> Order:
        """Price the items from the catalogue, apply the discount code and store the order."""
        wanted: dict[str, int] = {}
        for sku, quantity in items:
            if quantity <= 0:
                raise OrderError(f"quantity for {sku} must be positive")
            wanted[sku] = wanted.get(sku, 0) + quantity
        if not wanted:
            raise OrderError("an order needs at least one item")

        with self.repo.transaction() as conn:
            lines = []
            for sku, quantity in wanted.items():
                product = self.repo.get_product(conn, sku)
                if product is None:
                    raise UnknownProduct(f"no product {sku!r}")
                if product.available < quantity:
                    raise OutOfStock(f"only {product.available} of {sku} available")
                lines.append(OrderLine(sku, quantity, product.price))
            order = Order(id=None, customer=customer, lines=lines, total=ZERO)
            order.discount = discount_for(discount_code, order.subtotal)
            order.discount_code = discount_code.upper() if discount_code else None
            order.total = order.subtotal - order.discount
            order.id = self.repo.insert_order(conn, order)

        self.bus.publish("order.created", order_id=order.id, lines=list(wanted.items()))
        return order

    def get_order(self, order_id: int, customer: str | None = None) -> Order:
        """Return the order; another customer's order is reported as not found."""
        with self.repo.transaction() as conn:
            order = self.repo.get_order(conn, order_id)
        if order is None or (customer is not None and order.customer != customer):
            raise OrderNotFound(f"no order {order_id}")
        return order

    def list_orders(self, customer: str) -> list[Order]:
        with self.repo.transaction() as conn:
            return self.repo.list_orders(conn, customer)

    def cancel_order(self, order_id: int, customer: str) -> Order:
        """Cancel a pending order and release the stock held for it."""
        with self.repo.transaction() as conn:
            order = self.repo.get_order(conn, order_id)
            if order is None or order.customer != customer:
                raise OrderNotFound(f"no order {order_id}")
            if order.status is not OrderStatus.PENDING:
                raise OrderNotPending(f"order {order_id} is {order.status}")
            self.repo.set_order_status(conn, order_id, OrderStatus.CANCELLED)
            order.status = OrderStatus.CANCELLED
        lines = [(ln.sku, ln.quantity) for ln in order.lines]
        self.bus.publish("order.cancelled", order_id=order_id, lines=lines)
        return order
