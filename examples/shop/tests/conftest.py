"""Shared fixtures: a throwaway database with a small catalogue, a fake gateway and the app."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from shop.api import create_app
from shop.db import Repository
from shop.models import Product
from shop.payments import FakeGateway

USERS = {"alice": "wonderland", "bob": "builder"}
SECRET = "test-secret"
CATALOGUE = [
    Product("WIDGET", "Widget", Decimal("25.00"), stock=10),
    Product("GADGET", "Gadget", Decimal("19.99"), stock=5),
    Product("GIZMO", "Gizmo", Decimal("4.50"), stock=0),
]


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "shop.sqlite3"


@pytest.fixture
def repo(db_path: Path) -> Repository:
    repository = Repository(db_path)
    repository.init_schema()
    for product in CATALOGUE:
        repository.add_product(product)
    return repository


@pytest.fixture
def gateway() -> FakeGateway:
    return FakeGateway()


@pytest.fixture
def app(repo: Repository, gateway: FakeGateway) -> Flask:
    application = create_app(repo.path, secret=SECRET, users=USERS, gateway=gateway)
    application.config["TESTING"] = True
    return application


@pytest.fixture
def client(app: Flask) -> Iterator[FlaskClient]:
    with app.test_client() as test_client:
        yield test_client
