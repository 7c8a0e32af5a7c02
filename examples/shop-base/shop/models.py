"""Domain records of the shop; every amount of money is a `Decimal` rounded to cents."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum
from typing import Any

CENT = Decimal("0.01")
ZERO = Decimal("0.00")


def to_money(value: Decimal | int | str) -> Decimal:
    """Round an amount to whole cents, half up, the way every price and total is kept."""
    return Decimal(value).quantize(CENT, rounding=ROUND_HALF_UP)


class OrderStatus(StrEnum):
    PENDING = "pending"
    PAID = "paid"
    CANCELLED = "cancelled"


@dataclass(frozen=True)
class Product:
    """A catalogue entry with its on-hand stock and the part of it held for open orders."""

    sku: str
    name: str
    price: Decimal
    stock: int
    reserved: int = 0

    @property
    def available(self) -> int:
        return self.stock - self.reserved

    def to_dict(self) -> dict[str, Any]:
        return {
            "sku": self.sku,
            "name": self.name,
            "price": str(self.price),
            "stock": self.stock,
            "reserved": self.reserved,
            "available": self.available,
        }


@dataclass(frozen=True)
class OrderLine:
    """One product in an order, priced when the order was placed."""

    sku: str
    quantity: int
    unit_price: Decimal

    @property
    def total(self) -> Decimal:
        return to_money(self.unit_price * self.quantity)


@dataclass
class Order:
    """A customer's order; `total` is what the customer owes."""

    id: int | None
    customer: str
    lines: list[OrderLine]
    total: Decimal
    status: OrderStatus = OrderStatus.PENDING
    payments: list[Payment] = field(default_factory=list)

    @property
    def subtotal(self) -> Decimal:
        return to_money(sum((line.total for line in self.lines), ZERO))

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "customer": self.customer,
            "status": str(self.status),
            "lines": [
                {"sku": ln.sku, "quantity": ln.quantity, "unit_price": str(ln.unit_price)}
                for ln in self.lines
            ],
            "subtotal": str(self.subtotal),
            "total": str(self.total),
            "payments": [p.to_dict() for p in self.payments],
        }


@dataclass(frozen=True)
class Payment:
    """A successful charge against an order, with the gateway's reference."""

    id: int | None
    order_id: int
    amount: Decimal
    reference: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "order_id": self.order_id,
            "amount": str(self.amount),
            "reference": self.reference,
        }
