from shop.events import EventBus
from shop.inventory import InventoryService


def _counters(repo, sku):
    with repo.transaction() as conn:
        product = repo.get_product(conn, sku)
    return product.stock, product.reserved


def test_created_orders_reserve_and_paid_orders_sell(repo):
    bus = EventBus()
    InventoryService(repo, bus)
    bus.publish("order.created", order_id=1, lines=[("WIDGET", 3)])
    assert _counters(repo, "WIDGET") == (10, 3)
    bus.publish("order.paid", order_id=1, lines=[("WIDGET", 3)])
    assert _counters(repo, "WIDGET") == (7, 0)


def test_cancelled_orders_release_their_reservation(repo):
    bus = EventBus()
    InventoryService(repo, bus)
    bus.publish("order.created", order_id=1, lines=[("GADGET", 2)])
    bus.publish("order.cancelled", order_id=1, lines=[("GADGET", 2)])
    assert _counters(repo, "GADGET") == (5, 0)
