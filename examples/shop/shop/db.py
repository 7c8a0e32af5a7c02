"""SQLite persistence: one connection per transaction, money kept as exact decimal text."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path

from shop.models import Order, OrderLine, OrderStatus, Payment, Product, to_money

SCHEMA = """
CREATE TABLE IF NOT EXISTS products (
    sku TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    price TEXT NOT NULL,
    stock INTEGER NOT NULL CHECK (stock >= 0),
    reserved INTEGER NOT NULL DEFAULT 0 CHECK (reserved >= 0)
);
CREATE TABLE IF NOT EXISTS orders (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    customer TEXT NOT NULL,
    status TEXT NOT NULL,
    total TEXT NOT NULL,
    discount TEXT NOT NULL DEFAULT '0.00',
    discount_code TEXT
);
CREATE TABLE IF NOT EXISTS order_lines (
    order_id INTEGER NOT NULL REFERENCES orders(id),
    sku TEXT NOT NULL REFERENCES products(sku),
    quantity INTEGER NOT NULL CHECK (quantity > 0),
    unit_price TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS payments (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    order_id INTEGER NOT NULL REFERENCES orders(id),
    amount TEXT NOT NULL,
    reference TEXT NOT NULL UNIQUE
);
"""


def _money(value: Decimal) -> str:
    return str(to_money(value))


class Repository:
    """Reads and writes shop records; callers group writes with `transaction()`."""

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)

    def _connect(self) -> sqlite3.Connection:
        # Autocommit mode: transactions are opened and closed explicitly below.
        conn = sqlite3.connect(self.path, isolation_level=None)
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA foreign_keys = ON")
        return conn

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """Yield a connection inside BEGIN IMMEDIATE; commit on success, roll back on error."""
        conn = self._connect()
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
        finally:
            conn.close()

    def init_schema(self) -> None:
        conn = self._connect()
        try:
            conn.executescript(SCHEMA)
        finally:
            conn.close()

    # ------------------------------------------------------------------ products

    def add_product(self, product: Product) -> None:
        with self.transaction() as conn:
            conn.execute(
                "INSERT INTO products (sku, name, price, stock, reserved) VALUES (?, ?, ?, ?, ?)",
                (product.sku, product.name, _money(product.price), product.stock, product.reserved),
            )

    def get_product(self, conn: sqlite3.Connection, sku: str) -> Product | None:
        row = conn.execute("SELECT * FROM products WHERE sku = ?", (sku,)).fetchone()
        if row is None:
            return None
        return Product(
            row["sku"], row["name"], Decimal(row["price"]), row["stock"], row["reserved"]
        )

    def adjust_stock(
        self, conn: sqlite3.Connection, sku: str, *, stock: int = 0, reserved: int = 0
    ) -> None:
        """Add the given deltas to a product's stock and reservation counters."""
        conn.execute(
            "UPDATE products SET stock = stock + ?, reserved = reserved + ? WHERE sku = ?",
            (stock, reserved, sku),
        )

    # ------------------------------------------------------------------ orders

    def insert_order(self, conn: sqlite3.Connection, order: Order) -> int:
        cur = conn.execute(
            "INSERT INTO orders (customer, status, total, discount, discount_code)"
            " VALUES (?, ?, ?, ?, ?)",
            (
                order.customer,
                str(order.status),
                _money(order.total),
                _money(order.discount),
                order.discount_code,
            ),
        )
        order_id = cur.lastrowid
        assert order_id is not None
        conn.executemany(
            "INSERT INTO order_lines (order_id, sku, quantity, unit_price) VALUES (?, ?, ?, ?)",
            [(order_id, ln.sku, ln.quantity, _money(ln.unit_price)) for ln in order.lines],
        )
        return order_id

    def get_order(self, conn: sqlite3.Connection, order_id: int) -> Order | None:
        row = conn.execute("SELECT * FROM orders WHERE id = ?", (order_id,)).fetchone()
        return None if row is None else self._order_from_row(conn, row)

    def list_orders(self, conn: sqlite3.Connection, customer: str) -> list[Order]:
        rows = conn.execute(
            "SELECT * FROM orders WHERE customer = ? ORDER BY id", (customer,)
        ).fetchall()
        return [self._order_from_row(conn, row) for row in rows]

    def set_order_status(
        self, conn: sqlite3.Connection, order_id: int, status: OrderStatus
    ) -> None:
        conn.execute("UPDATE orders SET status = ? WHERE id = ?", (str(status), order_id))

    def _order_from_row(self, conn: sqlite3.Connection, row: sqlite3.Row) -> Order:
        lines = [
            OrderLine(ln["sku"], ln["quantity"], Decimal(ln["unit_price"]))
            for ln in conn.execute(
                "SELECT * FROM order_lines WHERE order_id = ? ORDER BY rowid", (row["id"],)
            )
        ]
        payments = [
            Payment(p["id"], p["order_id"], Decimal(p["amount"]), p["reference"])
            for p in conn.execute(
                "SELECT * FROM payments WHERE order_id = ? ORDER BY id", (row["id"],)
            )
        ]
        return Order(
            id=row["id"],
            customer=row["customer"],
            lines=lines,
            total=Decimal(row["total"]),
            status=OrderStatus(row["status"]),
            discount=Decimal(row["discount"]),
            discount_code=row["discount_code"],
            payments=payments,
        )

    # ------------------------------------------------------------------ payments

    def insert_payment(self, conn: sqlite3.Connection, payment: Payment) -> int:
        cur = conn.execute(
            "INSERT INTO payments (order_id, amount, reference) VALUES (?, ?, ?)",
            (payment.order_id, _money(payment.amount), payment.reference),
        )
        assert cur.lastrowid is not None
        return cur.lastrowid
