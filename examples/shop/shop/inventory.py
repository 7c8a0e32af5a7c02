"""Stock keeping: holds stock for open orders and settles it when they are paid or cancelled."""

from __future__ import annotations

from shop.db import Repository
from shop.events import Event, EventBus


class InventoryService:
    """Keeps product counters in step with the order lifecycle, driven by bus events.

    `order.created` reserves each line, `order.paid` turns the reservation into a sale and
    `order.cancelled` gives it back.
    """

    def __init__(self, repo: Repository, bus: EventBus) -> None:
        self.repo = repo
        bus.subscribe("order.created", self.on_created)
        bus.subscribe("order.paid", self.on_paid)
        bus.subscribe("order.cancelled", self.on_cancelled)

    def _apply(self, event: Event, *, stock_sign: int, reserved_sign: int) -> None:
        with self.repo.transaction() as conn:
            for sku, quantity in event.payload["lines"]:
                self.repo.adjust_stock(
                    conn, sku, stock=stock_sign * quantity, reserved=reserved_sign * quantity
                )

    def on_created(self, event: Event) -> None:
        self._apply(event, stock_sign=0, reserved_sign=+1)

    def on_paid(self, event: Event) -> None:
        self._apply(event, stock_sign=-1, reserved_sign=-1)

    def on_cancelled(self, event: Event) -> None:
        self._apply(event, stock_sign=0, reserved_sign=-1)
