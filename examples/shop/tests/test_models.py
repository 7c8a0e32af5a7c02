from decimal import Decimal

from shop.models import Order, OrderLine, Product, to_money


def test_to_money_rounds_half_up_to_cents():
    assert to_money(Decimal("2.345")) == Decimal("2.35")
    assert to_money(Decimal("2.344")) == Decimal("2.34")
    assert str(to_money(3)) == "3.00"


def test_line_total_is_quantity_times_unit_price():
    assert OrderLine("GADGET", 3, Decimal("19.99")).total == Decimal("59.97")


def test_order_subtotal_sums_its_lines():
    order = Order(
        id=None,
        customer="alice",
        lines=[OrderLine("WIDGET", 2, Decimal("25.00")), OrderLine("GIZMO", 1, Decimal("4.50"))],
        total=Decimal("54.50"),
    )
    assert order.subtotal == Decimal("54.50")
    assert order.to_dict()["subtotal"] == "54.50"


def test_available_stock_excludes_reservations():
    product = Product("WIDGET", "Widget", Decimal("25.00"), stock=10, reserved=3)
    assert product.available == 7
    assert product.to_dict()["available"] == 7
