"""shopping-cart-service through the gateway (API.md cart section): owner-only carts, concurrent
adds that never lose a line, current prices and unavailable lines, the 100-line limit and the
cart's removal; the internal deduct route order-service calls. The cart instance calls both
product-service instances."""

from __future__ import annotations

import os

import pytest

from support.api import register
from support.catalog import (CART_FIELDS, Concurrent, admin_token, create_product, internal, mint, object_id,
                             reserve, statuses, tag)
from support.client import assert_problem, body, error_fields
from support.stack import wait_for_gateway_record

pytestmark = pytest.mark.services("products", "cart")


@pytest.fixture
def admin(stack) -> str:
    return admin_token(stack)


@pytest.fixture
def shopper(client) -> dict:
    """A registered customer: {"id", "token"}."""
    doc = register(client)
    return {"id": doc["user"]["_id"], "token": doc["token"]}


def add(client, who: dict, product_id: str, quantity: int | None = None, owner: str | None = None, **kw):
    payload = {"productId": product_id}
    if quantity is not None:
        payload["quantity"] = quantity
    return client.post(f"/api/cart/{owner or who['id']}/add", token=who["token"], json=payload, **kw)


def cart_of(client, who: dict) -> dict:
    resp = client.get(f"/api/cart/{who['id']}", token=who["token"])
    assert resp.status_code == 200, resp.text
    doc = body(resp)
    missing = [k for k in CART_FIELDS if k not in doc]
    assert not missing, f"cart lacks {missing}: {doc}"
    return doc


def lines(cart: dict) -> dict[str, dict]:
    return {line["productId"]: line for line in cart["items"]}


def test_a_customer_adds_and_reads_their_cart(client, admin, shopper):
    p = create_product(client, admin, price=4.25, stock=10, name=f"Pen {tag()}")
    resp = add(client, shopper, p["_id"])
    assert resp.status_code == 201, resp.text
    doc = body(resp)
    assert doc["userId"] == shopper["id"]
    assert len(doc["items"]) == 1, doc
    line = doc["items"][0]
    assert (line["productId"], line["quantity"], line["name"], line["price"], line["available"]) == \
        (p["_id"], 1, p["name"], 4.25, True), line
    assert doc["subtotal"] == 4.25
    # Adding again merges into the line.
    resp = add(client, shopper, p["_id"], 3)
    assert resp.status_code == 201, resp.text
    cart = cart_of(client, shopper)
    assert lines(cart)[p["_id"]]["quantity"] == 4 and len(cart["items"]) == 1
    assert cart["subtotal"] == 17.0
    assert cart["userId"] == shopper["id"]


def test_another_user_cannot_read_or_change_a_cart(stack, client, admin, shopper):
    b = register(client)
    intruder = {"id": b["user"]["_id"], "token": b["token"]}
    p = create_product(client, admin, price=2.5)["_id"]
    assert add(client, shopper, p, 2).status_code == 201
    victim = shopper["id"]
    t = intruder["token"]
    assert_problem(client.get(f"/api/cart/{victim}", token=t), 403)
    assert_problem(client.post(f"/api/cart/{victim}/add", token=t, json={"productId": p}), 403)
    assert_problem(client.put(f"/api/cart/{victim}/update/{p}", token=t, json={"quantity": 9}), 403)
    assert_problem(client.delete(f"/api/cart/{victim}/remove/{p}", token=t), 403)
    assert_problem(client.delete(f"/api/cart/{victim}", token=t), 403)
    # 403 before 404 and before 400: against the raw path value.
    assert_problem(client.get("/api/cart/not-an-id", token=t), 403)
    assert_problem(client.post(f"/api/cart/{victim}/add", token=t, json={"productId": "bad", "quantity": -1}), 403)
    # Without a token: 401.
    assert_problem(client.get(f"/api/cart/{victim}"), 401)
    assert_problem(client.post(f"/api/cart/{victim}/add", json={"productId": p}), 401)
    # The internal token from outside is dropped: 401.
    assert_problem(client.get(f"/api/cart/{victim}", headers=internal(stack)), 401)
    # Nothing changed.
    cart = cart_of(client, shopper)
    assert [(x["productId"], x["quantity"]) for x in cart["items"]] == [(p, 2)]
    # An admin may read it; another service may read it directly with the internal token.
    assert client.get(f"/api/cart/{victim}", token=admin).status_code == 200
    direct = stack.direct(0, "cart")
    assert direct.get(f"/api/cart/{victim}", headers=internal(stack)).status_code == 200
    # Only order-service may: another service's valid token is 403.
    assert_problem(direct.get(f"/api/cart/{victim}", headers=internal(stack, caller="payment")), 403)
    assert_problem(direct.delete(f"/api/cart/{victim}", headers=internal(stack, caller="notification")), 403)
    # ... but not add to it (reads and removal only).
    resp = direct.post(f"/api/cart/{victim}/add", headers=internal(stack), json={"productId": p})
    assert resp.status_code in (401, 403), resp.text
    # An admin on a malformed id gets 404.
    assert_problem(client.get("/api/cart/not-an-id", token=admin), 404)


def test_50_concurrent_adds_of_different_products_all_end_up_in_the_cart(stack, client, admin, shopper):
    products = [create_product(client, admin, price=1.0 + i, stock=5)["_id"] for i in range(50)]
    uid, token = shopper["id"], shopper["token"]

    def call(pid):
        return stack.url, lambda c: c.post(f"/api/cart/{uid}/add", token=token, json={"productId": pid},
                                           expect_5xx=True)

    runner = Concurrent()
    responses = runner.run([call(pid) for pid in products])
    assert not runner.errors, runner.errors[:5]
    counts = statuses(responses)
    print(f"50 concurrent adds: {dict(counts)}; 503s retried: {runner.unavailable}")
    assert counts == {201: 50}, [r.text[:200] for r in responses if r.status_code != 201][:5]
    cart = cart_of(client, shopper)
    got = lines(cart)
    assert sorted(got) == sorted(products), f"lost lines: {set(products) - set(got)}"
    assert all(line["quantity"] == 1 and line["available"] for line in got.values())
    assert cart["subtotal"] == pytest.approx(sum(1.0 + i for i in range(50)))


def test_concurrent_adds_of_one_product_add_up(stack, client, admin, shopper):
    pid = create_product(client, admin, price=1.5, stock=5)["_id"]
    uid, token = shopper["id"], shopper["token"]

    def call(quantity):
        return stack.url, lambda c: c.post(f"/api/cart/{uid}/add", token=token, expect_5xx=True,
                                           json={"productId": pid, "quantity": quantity})

    runner = Concurrent()
    responses = runner.run([call(1 + i % 3) for i in range(30)])
    assert not runner.errors, runner.errors[:5]
    assert statuses(responses) == {201: 30}, [r.text[:200] for r in responses if r.status_code != 201][:5]
    print(f"30 concurrent adds of one product: 503s retried: {runner.unavailable}")
    cart = cart_of(client, shopper)
    assert len(cart["items"]) == 1
    assert cart["items"][0]["quantity"] == sum(1 + i % 3 for i in range(30))


def test_get_prices_lines_and_marks_deleted_and_sold_out_products(stack, client, admin, shopper):
    a = create_product(client, admin, price=10.0, stock=5)
    b = create_product(client, admin, price=3.5, stock=5)
    c = create_product(client, admin, price=1.25, stock=1)
    for pid, q in ((a["_id"], 2), (b["_id"], 1), (c["_id"], 4)):
        assert add(client, shopper, pid, q).status_code == 201
    cart = cart_of(client, shopper)
    assert cart["subtotal"] == 28.5
    assert cart.get("stale") in (None, False)
    # The price changes: GET shows the current one.
    resp = client.put(f"/api/products/{a['_id']}", token=admin, json={"price": 12.5, "name": "Renamed"})
    assert resp.status_code == 200
    cart = cart_of(client, shopper)
    got = lines(cart)
    assert got[a["_id"]]["price"] == 12.5 and got[a["_id"]]["available"] is True
    assert got[a["_id"]]["name"] == "Renamed"
    assert cart["subtotal"] == 25.0 + 3.5 + 5.0
    # A deleted product's line stays, marked unavailable and left out of the subtotal.
    assert client.delete(f"/api/products/{b['_id']}", token=admin).status_code == 200
    cart = cart_of(client, shopper)
    got = lines(cart)
    assert got[b["_id"]]["available"] is False and got[b["_id"]]["quantity"] == 1
    assert got[a["_id"]]["available"] is True
    assert cart["subtotal"] == 25.0 + 5.0
    # A sold-out product (its only unit held by a reservation) is unavailable too.
    assert reserve(stack.direct(0, "products"), stack, "cart-" + tag(), [(c["_id"], 1)]).status_code == 201
    cart = cart_of(client, shopper)
    assert lines(cart)[c["_id"]]["available"] is False
    assert cart["subtotal"] == 25.0


def test_add_validates_its_fields(client, admin, shopper):
    p = create_product(client, admin, stock=5)["_id"]
    for payload, field in (({"productId": p, "quantity": 0}, "quantity"),
                           ({"productId": p, "quantity": 1001}, "quantity"),
                           ({"productId": p, "quantity": "2"}, "quantity"),
                           ({"productId": p, "quantity": 1.5}, "quantity"),
                           ({"productId": "xyz"}, "productId"),
                           ({"quantity": 1}, "productId"),
                           ({"productId": 5}, "productId")):
        resp = client.post(f"/api/cart/{shopper['id']}/add", token=shopper["token"], json=payload)
        assert field in error_fields(assert_problem(resp, 400)), payload
    # A number that overflows a double is bad input too (never a 5xx).
    raw = ('{"productId": "%s", "quantity": 1e400}' % p).encode()
    assert_problem(client.post(f"/api/cart/{shopper['id']}/add", token=shopper["token"], data=raw,
                               headers={"Content-Type": "application/json"}), 400)
    # Unknown product: 404 Product not found.
    assert assert_problem(add(client, shopper, object_id()), 404)["detail"] == "Product not found"
    # 2.0 is an integer; the line's sum must stay <= 1000.
    assert add(client, shopper, p, 2.0).status_code == 201
    assert add(client, shopper, p, 998).status_code == 201
    assert "quantity" in error_fields(assert_problem(add(client, shopper, p, 1), 400))
    assert lines(cart_of(client, shopper))[p]["quantity"] == 1000


def test_update_and_remove_lines(client, admin, shopper):
    p = create_product(client, admin, price=2.0)["_id"]
    q = create_product(client, admin, price=3.0)["_id"]
    uid, token = shopper["id"], shopper["token"]
    # No cart yet.
    assert_problem(client.get(f"/api/cart/{uid}", token=token), 404)
    assert add(client, shopper, p, 1).status_code == 201
    assert add(client, shopper, q, 1).status_code == 201
    resp = client.put(f"/api/cart/{uid}/update/{p}", token=token, json={"quantity": 4})
    assert resp.status_code == 200, resp.text
    assert lines(body(resp))[p]["quantity"] == 4
    assert "quantity" in error_fields(assert_problem(
        client.put(f"/api/cart/{uid}/update/{p}", token=token, json={"quantity": 1001}), 400))
    assert "quantity" in error_fields(assert_problem(
        client.put(f"/api/cart/{uid}/update/{p}", token=token, json={"quantity": -1}), 400))
    assert_problem(client.put(f"/api/cart/{uid}/update/{object_id()}", token=token, json={"quantity": 1}), 404)
    assert_problem(client.put(f"/api/cart/{uid}/update/bad-id", token=token, json={"quantity": 1}), 404)
    # Quantity 0 removes the line.
    resp = client.put(f"/api/cart/{uid}/update/{p}", token=token, json={"quantity": 0})
    assert resp.status_code == 200 and p not in lines(body(resp)), resp.text
    resp = client.delete(f"/api/cart/{uid}/remove/{q}", token=token)
    assert resp.status_code == 200 and body(resp)["items"] == [], resp.text
    assert cart_of(client, shopper)["subtotal"] == 0


def test_delete_cart_then_get_is_404(client, admin, shopper):
    p = create_product(client, admin)["_id"]
    uid, token = shopper["id"], shopper["token"]
    assert add(client, shopper, p).status_code == 201
    resp = client.delete(f"/api/cart/{uid}", token=token)
    assert resp.status_code == 204 and resp.content == b"", resp.text
    assert assert_problem(client.get(f"/api/cart/{uid}", token=token), 404)["detail"] == "Cart not found"
    assert client.delete(f"/api/cart/{uid}", token=token).status_code == 204
    # A new cart starts empty of the old lines.
    q = create_product(client, admin)["_id"]
    assert add(client, shopper, q).status_code == 201
    assert list(lines(cart_of(client, shopper))) == [q]


def test_a_cart_holds_at_most_100_lines(client, admin, stack):
    who = {"id": object_id()}
    who["token"] = mint(stack, user_id=who["id"])
    products = [create_product(client, admin, stock=1)["_id"] for _ in range(101)]
    for pid in products[:100]:
        assert add(client, who, pid).status_code == 201
    assert_problem(add(client, who, products[100]), 409)
    # Adding to an existing line still works at the limit.
    assert add(client, who, products[0]).status_code == 201
    cart = cart_of(client, who)
    assert len(cart["items"]) == 100 and products[100] not in lines(cart)

# ---- the internal deduct route (DESIGN §12: a line added to the cart during checkout survives) ----
# order-service takes the ordered quantities off a cart, directly on the cart instance with the
# internal token. From outside, the gateway answers 404 for it and never passes it on.


def deduct(cart_instance, stack, user_id: str, items: list[tuple[str, int]] | list, **kw):
    lines = [{"productId": i[0], "quantity": i[1]} if isinstance(i, tuple) else i for i in items]
    return cart_instance.post(f"/api/cart/{user_id}/remove-ordered", headers=internal(stack), json={"items": lines},
                              **kw)


def quantities(cart: dict) -> dict[str, int]:
    return {line["productId"]: line["quantity"] for line in cart["items"]}


def added(client, who: dict, product_id: str, quantity: int) -> dict:
    resp = add(client, who, product_id, quantity)
    assert resp.status_code == 201, resp.text
    return body(resp)


def test_deduct_takes_the_ordered_units_and_keeps_the_rest(stack, client, admin, shopper):
    cart_instance = stack.direct(0, "cart")
    a = create_product(client, admin, price=4.25, stock=50)["_id"]
    b = create_product(client, admin, price=10, stock=50)["_id"]
    c = create_product(client, admin, price=1.5, stock=50)["_id"]
    added(client, shopper, a, 5)
    added(client, shopper, b, 2)
    before = added(client, shopper, c, 1)

    # The cart has 5 of a, the order took 2 (sent as 1 + 1): 3 remain. b is ordered whole and goes;
    # a product the cart does not hold is ignored.
    resp = deduct(cart_instance, stack, shopper["id"], [(a, 1), (b, 2), (object_id(), 4), (a, 1)])
    assert resp.status_code == 200, resp.text
    doc = body(resp)
    assert quantities(doc) == {a: 3, c: 1}, doc
    assert [line["productId"] for line in doc["items"]] == [a, c]
    assert doc["subtotal"] == 14.25
    assert doc["__v"] == before["__v"] + 1
    assert doc["userId"] == shopper["id"]
    # The owner reads the same cart through the gateway.
    seen = body(client.get(f"/api/cart/{shopper['id']}", token=shopper["token"]))
    assert seen["items"] == doc["items"] and seen["subtotal"] == 14.25

    # More than a line holds removes it; the cart stays, empty.
    resp = deduct(cart_instance, stack, shopper["id"], [(a, 1000), (c, 1)])
    assert resp.status_code == 200, resp.text
    assert body(resp)["items"] == [] and body(resp)["subtotal"] == 0
    assert client.get(f"/api/cart/{shopper['id']}", token=shopper["token"]).status_code == 200


def test_deduct_without_a_cart_is_404_and_fields_are_named(stack, client, admin, shopper):
    cart_instance = stack.direct(0, "cart")
    p = create_product(client, admin, stock=5)["_id"]
    # No cart: 404 Cart not found (order-service reads it as nothing to remove), before any 400.
    doc = assert_problem(deduct(cart_instance, stack, shopper["id"], [(p, 1)]), 404)
    assert doc["detail"] == "Cart not found"
    assert_problem(deduct(cart_instance, stack, shopper["id"], [(p, 0)]), 404)
    assert_problem(deduct(cart_instance, stack, "not-an-id", [(p, 1)]), 404)

    added(client, shopper, p, 4)
    cases = [
        ([], {"items"}),
        ([(p, 0)], {"items[0].quantity"}),
        ([(p, 1001)], {"items[0].quantity"}),
        ([(p, 1), {"productId": "nothex", "quantity": "2"}], {"items[1].productId", "items[1].quantity"}),
        ([5], {"items[0]"}),
        ([(p, 1)] * 101, {"items"}),
    ]
    for items, fields in cases:
        doc = assert_problem(deduct(cart_instance, stack, shopper["id"], items), 400)
        assert error_fields(doc) == fields, (items[:2], doc)
    resp = cart_instance.post(f"/api/cart/{shopper['id']}/remove-ordered", headers=internal(stack), json={})
    assert error_fields(assert_problem(resp, 400)) == {"items"}
    # Nothing above changed the cart.
    assert quantities(body(client.get(f"/api/cart/{shopper['id']}", token=shopper["token"]))) == {p: 4}


def test_deduct_needs_the_internal_token(stack, client, admin, shopper):
    cart_instance = stack.direct(0, "cart")
    p = create_product(client, admin, stock=5)["_id"]
    added(client, shopper, p, 3)
    path = f"/api/cart/{shopper['id']}/remove-ordered"
    payload = {"items": [{"productId": p, "quantity": 1}]}
    assert_problem(cart_instance.post(path, json=payload), 401)
    assert_problem(cart_instance.post(path, json=payload, headers={"X-Internal-Token": "wrong" * 8}), 401)
    # Not even the owner or an admin, on the instance itself.
    assert_problem(cart_instance.post(path, json=payload, token=shopper["token"]), 403)
    assert_problem(cart_instance.post(path, json=payload, token=admin), 403)
    assert quantities(body(client.get(path.removesuffix("/remove-ordered"), token=shopper["token"]))) == {p: 3}


@pytest.mark.parametrize("suffix", ["remove-ordered", "remove-ordered/", "REMOVE-ORDERED", "Remove-Ordered",
                                    "%72emove-ordered", "deduct"])
def test_the_gateway_refuses_remove_ordered_from_outside(stack, client, admin, shopper, suffix):
    p = create_product(client, admin, stock=5)["_id"]
    added(client, shopper, p, 3)
    path = f"/api/cart/{shopper['id']}/{suffix}"
    payload = {"items": [{"productId": p, "quantity": 3}]}
    # With the internal token (blanked by the gateway anyway), the owner's or an admin's token.
    for headers, token in ((internal(stack), None), ({}, shopper["token"]), ({}, admin)):
        rid = "deduct-" + os.urandom(6).hex()
        resp = client.post(path, json=payload, token=token, headers={**headers, "X-Request-ID": rid})
        doc = assert_problem(resp, 404)
        assert doc["requestId"] == rid
        rec = wait_for_gateway_record(stack, rid)
        assert rec is not None and rec["upstream"] == "", f"{path} was passed upstream: {rec}"
    assert quantities(body(client.get(f"/api/cart/{shopper['id']}", token=shopper["token"]))) == {p: 3}


def test_adds_racing_deducts_keep_every_added_unit(stack, client, admin, shopper):
    """The shopper keeps adding while orders deduct: no added unit is lost, no deducted unit comes
    back (the line never reaches 0, so the interleaving cannot change the result)."""
    a = create_product(client, admin, price=2, stock=1000)["_id"]
    added(client, shopper, a, 100)
    uid, token = shopper["id"], shopper["token"]
    cart_url = stack.carts[0].url
    headers = internal(stack)

    def adding(c):
        return c.post(f"/api/cart/{uid}/add", token=token, json={"productId": a, "quantity": 2}, expect_5xx=True)

    def deducting(c):
        return c.post(f"/api/cart/{uid}/remove-ordered", headers=headers, expect_5xx=True,
                      json={"items": [{"productId": a, "quantity": 1}]})

    runner = Concurrent()
    calls = [(stack.url, adding) if i % 2 == 0 else (cart_url, deducting) for i in range(40)]
    responses = runner.run(calls)
    assert not runner.errors, runner.errors[:5]
    counts = statuses(responses[0::2])
    assert counts == {201: 20}, counts
    assert statuses(responses[1::2]) == {200: 20}
    cart = body(client.get(f"/api/cart/{uid}", token=token))
    assert quantities(cart) == {a: 100 + 2 * 20 - 20}, cart


def test_the_product_client_counts_its_calls_on_metrics(stack, client, admin, shopper):
    """The cart's calls to product-service (the internal policy of core's HTTP client) are on the
    cart instance's /metrics, labelled with the policy and the upstream."""
    from test_observability import samples

    def calls() -> float:
        resp = stack.direct(0, "cart").get("/metrics")
        assert resp.status_code == 200, resp.text
        return sum(v for labels, v in samples(resp.text, "http_client_calls_total")
                   if labels.get("policy") == "internal" and labels.get("upstream") == "product-service")

    before = calls()
    p = create_product(client, admin, stock=5)["_id"]
    added(client, shopper, p, 1)
    assert calls() >= before + 1


def test_remove_ordered_with_an_order_id_removes_once(stack, client, admin, shopper):
    """A retried removal of one order (same orderId) subtracts nothing again: units the customer
    added in between stay."""
    p = create_product(client, admin, stock=20)["_id"]
    added(client, shopper, p, 5)
    cart_instance = stack.direct(0, "cart")
    payload = {"orderId": object_id(), "items": [{"productId": p, "quantity": 2}]}
    path = f"/api/cart/{shopper['id']}/remove-ordered"
    first = cart_instance.post(path, headers=internal(stack), json=payload)
    assert first.status_code == 200, first.text
    assert quantities(body(first)) == {p: 3}
    added(client, shopper, p, 1)
    again = cart_instance.post(path, headers=internal(stack), json=payload)
    assert again.status_code == 200, again.text
    assert quantities(body(again)) == {p: 4}
