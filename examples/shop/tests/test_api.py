import pytest

from shop.auth import issue_token


def _token(client, username="alice", password="wonderland"):
    response = client.post("/login", json={"username": username, "password": password})
    assert response.status_code == 200
    return response.get_json()["token"]


def test_login_returns_a_token(client):
    assert _token(client).count(".") == 1


@pytest.mark.parametrize("body", [{"username": "alice", "password": "nope"}, {}, None])
def test_login_with_wrong_credentials_is_refused(client, body):
    response = client.post("/login", json=body)
    assert response.status_code == 401
    assert "error" in response.get_json()


def test_orders_need_a_bearer_token(client):
    assert client.get("/orders").status_code == 401
    forged = issue_token("alice", "not-the-secret")
    response = client.get("/orders", headers={"Authorization": f"Bearer {forged}"})
    assert response.status_code == 401
    assert response.get_json() == {"error": "bad signature"}


@pytest.mark.parametrize(
    "body", [{}, {"items": "WIDGET"}, {"items": [{"sku": "WIDGET"}]}, {"items": [{"quantity": 1}]}]
)
def test_malformed_orders_are_rejected(client, body):
    headers = {"Authorization": f"Bearer {_token(client)}"}
    response = client.post("/orders", json=body, headers=headers)
    assert response.status_code == 400


def test_product_lookup(client):
    response = client.get("/products/GADGET")
    assert response.status_code == 200
    assert response.get_json()["price"] == "19.99"
    assert client.get("/products/NOPE").status_code == 404
