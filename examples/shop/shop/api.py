"""The shop's JSON HTTP API: sign in, browse stock, place, pay, list and cancel orders."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import wraps
from pathlib import Path
from typing import Any

from flask import Flask, g, jsonify, request
from flask.typing import ResponseReturnValue

from shop.auth import InvalidToken, check_password, issue_token, verify_token
from shop.db import Repository
from shop.events import EventBus
from shop.inventory import InventoryService
from shop.orders import (
    InvalidDiscount,
    OrderError,
    OrderNotFound,
    OrderNotPending,
    OrderService,
    OutOfStock,
    UnknownProduct,
)
from shop.payments import FakeGateway, PaymentDeclined, PaymentGateway, PaymentService

# How each service error maps onto an HTTP status.
ERROR_STATUS: list[tuple[type[Exception], int]] = [
    (OrderNotFound, 404),
    (UnknownProduct, 404),
    (OutOfStock, 409),
    (OrderNotPending, 409),
    (InvalidDiscount, 400),
    (OrderError, 400),
    (PaymentDeclined, 402),
]


@dataclass
class Services:
    repo: Repository
    bus: EventBus
    orders: OrderService
    payments: PaymentService
    inventory: InventoryService
    secret: str
    users: Mapping[str, str]


def _error(message: str, status: int) -> ResponseReturnValue:
    return jsonify(error=message), status


def create_app(
    db_path: str | Path,
    *,
    secret: str = "dev-secret-change-me",
    users: Mapping[str, str] | None = None,
    gateway: PaymentGateway | None = None,
) -> Flask:
    """Build the Flask app over the SQLite file at `db_path`, creating its tables if needed."""
    repo = Repository(db_path)
    repo.init_schema()
    bus = EventBus()
    services = Services(
        repo=repo,
        bus=bus,
        inventory=InventoryService(repo, bus),
        orders=OrderService(repo, bus),
        payments=PaymentService(repo, gateway or FakeGateway(), bus),
        secret=secret,
        users=dict(users or {}),
    )
    app = Flask("shop")
    app.extensions["shop"] = services

    for exc_type, status in ERROR_STATUS:
        app.register_error_handler(exc_type, lambda exc, status=status: _error(str(exc), status))

    def signed_in(view: Callable[..., ResponseReturnValue]) -> Callable[..., ResponseReturnValue]:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> ResponseReturnValue:
            scheme, _, token = request.headers.get("Authorization", "").partition(" ")
            if scheme != "Bearer" or not token:
                return _error("missing bearer token", 401)
            try:
                g.user = verify_token(token, services.secret)
            except InvalidToken as exc:
                return _error(str(exc), 401)
            return view(*args, **kwargs)

        return wrapper

    @app.post("/login")
    def login() -> ResponseReturnValue:
        body = request.get_json(silent=True) or {}
        username, password = str(body.get("username", "")), str(body.get("password", ""))
        if not check_password(services.users, username, password):
            return _error("wrong username or password", 401)
        return jsonify(token=issue_token(username, services.secret))

    @app.get("/products/<sku>")
    def get_product(sku: str) -> ResponseReturnValue:
        with repo.transaction() as conn:
            product = repo.get_product(conn, sku)
        if product is None:
            return _error(f"no product {sku!r}", 404)
        return jsonify(product.to_dict())

    @app.post("/orders")
    @signed_in
    def create_order() -> ResponseReturnValue:
        body = request.get_json(silent=True) or {}
        items = body.get("items")
        if not isinstance(items, list):
            return _error("'items' must be a list of {sku, quantity}", 400)
        try:
            pairs = [(str(item["sku"]), int(item["quantity"])) for item in items]
        except (KeyError, TypeError, ValueError):
            return _error("each item needs a 'sku' and an integer 'quantity'", 400)
        order = services.orders.create_order(g.user, pairs, body.get("discount_code"))
        return jsonify(order.to_dict()), 201

    @app.get("/orders")
    @signed_in
    def list_orders() -> ResponseReturnValue:
        return jsonify(orders=[o.to_dict() for o in services.orders.list_orders(g.user)])

    @app.get("/orders/<int:order_id>")
    @signed_in
    def get_order(order_id: int) -> ResponseReturnValue:
        return jsonify(services.orders.get_order(order_id, g.user).to_dict())

    @app.post("/orders/<int:order_id>/pay")
    @signed_in
    def pay_order(order_id: int) -> ResponseReturnValue:
        body = request.get_json(silent=True) or {}
        card_token = body.get("card_token")
        if not isinstance(card_token, str) or not card_token:
            return _error("'card_token' is required", 400)
        payment = services.payments.pay(order_id, g.user, card_token)
        order = services.orders.get_order(order_id, g.user)
        return jsonify(order=order.to_dict(), payment=payment.to_dict())

    @app.post("/orders/<int:order_id>/cancel")
    @signed_in
    def cancel_order(order_id: int) -> ResponseReturnValue:
        return jsonify(services.orders.cancel_order(order_id, g.user).to_dict())

    return app
