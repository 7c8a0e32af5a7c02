"""An order placed over HTTP is stored, listed and holds its stock."""


def test_placed_order_is_listed_and_reserves_stock(client):
    token = client.post("/login", json={"username": "alice", "password": "wonderland"})
    headers = {"Authorization": f"Bearer {token.get_json()['token']}"}

    created = client.post(
        "/orders", json={"items": [{"sku": "WIDGET", "quantity": 2}]}, headers=headers
    )
    assert created.status_code == 201
    order = created.get_json()
    assert order["total"] == "50.00"

    listed = client.get("/orders", headers=headers).get_json()["orders"]
    assert [o["id"] for o in listed] == [order["id"]]
    assert client.get("/products/WIDGET").get_json()["reserved"] == 2
