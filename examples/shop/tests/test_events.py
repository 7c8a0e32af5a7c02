import pytest

from shop.events import Event, EventBus


def test_handlers_run_in_subscription_order_with_the_payload():
    bus = EventBus()
    seen = []
    bus.subscribe("order.paid", lambda e: seen.append(("first", e.payload["order_id"])))
    bus.subscribe("order.paid", lambda e: seen.append(("second", e.payload["order_id"])))
    bus.publish("order.paid", order_id=7)
    assert seen == [("first", 7), ("second", 7)]


def test_events_reach_only_their_subscribers_and_are_recorded():
    bus = EventBus()
    seen = []
    bus.subscribe("order.created", seen.append)
    bus.publish("order.cancelled", order_id=1)
    assert seen == []
    assert bus.published == [Event("order.cancelled", {"order_id": 1})]


def test_handler_errors_reach_the_publisher():
    bus = EventBus()

    def broken(event):
        raise RuntimeError("mail server down")

    bus.subscribe("order.paid", broken)
    with pytest.raises(RuntimeError, match="mail server down"):
        bus.publish("order.paid", order_id=1)
