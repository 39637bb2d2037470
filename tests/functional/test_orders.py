"""order-service (API.md orders, DESIGN §12) through the gateway, with two order-service and two
product-service instances: orders from the cart or from items, server-computed totals, stock held
by one reservation per order, idempotency keys, ownership, the status table, cancel, the internal
routes of payment-service, and (on stacks of their own) expiry, payment leases and kill -9."""

from __future__ import annotations

import random
import threading
import time

import pytest

from support.catalog import (Concurrent, admin_token, create_product, internal, mint, object_id, release,
                             statuses, stock_of, tag)
from support.client import Client, assert_problem, body, error_fields
from support.procs import wait_until
from support.services import enabled

pytestmark = pytest.mark.services("products", "cart", "orders")

ORDER_FIELDS = ("_id", "userId", "items", "totalAmount", "currency", "status", "history", "createdAt",
                "updatedAt", "__v")


def customer(stack) -> dict:
    uid = object_id()
    return {"id": uid, "token": mint(stack, user_id=uid)}


def add(client, who, product_id, quantity=1):
    resp = client.post(f"/api/cart/{who['id']}/add", token=who["token"],
                       json={"productId": product_id, "quantity": quantity})
    assert resp.status_code == 201, resp.text
    return body(resp)


def cart_lines(client, who) -> dict:
    resp = client.get(f"/api/cart/{who['id']}", token=who["token"])
    if resp.status_code == 404:
        return {}
    assert resp.status_code == 200, resp.text
    return {line["productId"]: line["quantity"] for line in body(resp)["items"]}


def place(client, who, payload=None, key=None, **kw):
    headers = {"Idempotency-Key": key} if key else None
    return client.post(f"/api/orders/{who['id']}", token=who["token"], json=payload if payload is not None else {},
                       headers=headers, **kw)


def placed(client, who, payload=None, key=None) -> dict:
    resp = place(client, who, payload, key)
    assert resp.status_code == 201, resp.text
    doc = body(resp)
    missing = [k for k in ORDER_FIELDS if k not in doc]
    assert not missing, f"order lacks {missing}: {doc}"
    assert resp.headers.get("ETag") == f'"{doc["_id"]}-{doc["__v"]}"'
    return doc


def get_order(client, who, order_id) -> dict:
    resp = client.get(f"/api/orders/{who['id']}/{order_id}", token=who["token"])
    assert resp.status_code == 200, resp.text
    return body(resp)


def set_status(client, token, order_id, status, **kw):
    return client.put(f"/api/orders/{order_id}/status", token=token, json={"status": status}, **kw)


@pytest.fixture
def admin(stack) -> str:
    return admin_token(stack)


def test_two_order_instances_run(stack):
    assert len(stack.orders) == 2


def test_an_order_from_the_cart_holds_stock_prices_on_the_server_and_empties_the_cart(stack, client, admin):
    a = create_product(client, admin, price=12.5, stock=10)
    b = create_product(client, admin, price=0.99, stock=5)
    who = customer(stack)
    add(client, who, a["_id"], 2)
    add(client, who, b["_id"], 3)
    order = placed(client, who, {"shippingAddress": {"city": "Lyon", "street": "1 rue X"}})
    assert order["status"] == "Pending"
    assert order["userId"] == who["id"]
    assert order["totalAmount"] == 27.97  # 2 × 12.50 + 3 × 0.99, computed by the server
    assert order["currency"] == "usd"
    assert sorted((i["productId"], i["quantity"], i["price"], i["name"]) for i in order["items"]) == sorted(
        [(a["_id"], 2, 12.5, a["name"]), (b["_id"], 3, 0.99, b["name"])])
    assert [h["status"] for h in order["history"]] == ["Pending"]
    assert order["shippingAddress"] == {"city": "Lyon", "street": "1 rue X"}
    # Stock held, ordered lines gone from the cart.
    assert (stock_of(client, a["_id"]), stock_of(client, b["_id"])) == (8, 2)
    assert cart_lines(client, who) == {}
    again = get_order(client, who, order["_id"])
    assert again["history"] == order["history"] and again["totalAmount"] == 27.97
    # The reservation is the order's: product-service knows it by the order id.
    d = stack.direct(0, "products")
    resp = d.post(f"/api/products/reservations", headers=internal(stack),
                  json={"reservationId": order["_id"], "items": [{"productId": a["_id"], "quantity": 2},
                                                                 {"productId": b["_id"], "quantity": 3}]})
    assert resp.status_code == 201, resp.text  # a replay of the same reservation
    assert (stock_of(client, a["_id"]), stock_of(client, b["_id"])) == (8, 2)


def test_an_order_from_items_leaves_the_cart_and_checks_the_client_total(stack, client, admin):
    a = create_product(client, admin, price=10, stock=10)
    who = customer(stack)
    add(client, who, a["_id"], 1)
    wrong = place(client, who, {"items": [{"productId": a["_id"], "quantity": 2}], "totalAmount": 19.99})
    doc = assert_problem(wrong, 409)
    assert doc["code"] == "total_mismatch"
    assert doc["totalAmount"] == 20 and doc["clientTotalAmount"] == 19.99, doc
    assert "19.99" in doc["detail"] and "20" in doc["detail"]
    assert stock_of(client, a["_id"]) == 10  # given back at once
    order = placed(client, who, {"items": [{"productId": a["_id"], "quantity": 1},
                                           {"productId": a["_id"], "quantity": 1}], "totalAmount": 20})
    assert [(i["productId"], i["quantity"]) for i in order["items"]] == [(a["_id"], 2)]  # merged
    assert stock_of(client, a["_id"]) == 8
    assert cart_lines(client, who) == {a["_id"]: 1}  # not from the cart: untouched


def test_short_stock_and_unknown_products_are_409_with_short_lines(stack, client, admin):
    a = create_product(client, admin, stock=1)
    ghost = object_id()
    who = customer(stack)
    resp = place(client, who, {"items": [{"productId": a["_id"], "quantity": 2}, {"productId": ghost, "quantity": 1}]})
    doc = assert_problem(resp, 409)
    assert doc["code"] == "out_of_stock"
    short = {line["productId"]: line for line in doc["shortLines"]}
    assert short[ghost]["available"] == 0
    assert short[a["_id"]]["available"] == 1 and short[a["_id"]]["requested"] == 2
    assert stock_of(client, a["_id"]) == 1  # all lines or none
    assert body(client.get(f"/api/orders/{who['id']}", token=who["token"])) == []


def test_an_empty_cart_and_bad_bodies_are_400_naming_the_field(stack, client, admin):
    a = create_product(client, admin, stock=5)
    who = customer(stack)
    empty = assert_problem(place(client, who), 400)
    assert "items" in error_fields(empty)
    cases = [
        ({"items": []}, "items"),
        ({"items": "x"}, "items"),
        ({"items": [{"productId": "nope", "quantity": 1}]}, "items[0].productId"),
        ({"items": [{"productId": a["_id"], "quantity": 0}]}, "items[0].quantity"),
        ({"items": [{"productId": a["_id"], "quantity": 1001}]}, "items[0].quantity"),
        ({"items": [{"productId": a["_id"], "quantity": 1.5}]}, "items[0].quantity"),
        ({"items": [{"productId": a["_id"]}]}, "items[0].quantity"),
        ({"items": [{"productId": a["_id"], "quantity": 600}, {"productId": a["_id"], "quantity": 600}]}, "items"),
        ({"items": [{"productId": object_id(), "quantity": 1} for _ in range(101)]}, "items"),
        ({"items": [{"productId": a["_id"], "quantity": 1}], "totalAmount": 1.234}, "totalAmount"),
        ({"items": [{"productId": a["_id"], "quantity": 1}], "totalAmount": -1}, "totalAmount"),
        ({"items": [{"productId": a["_id"], "quantity": 1}], "shippingAddress": 7}, "shippingAddress"),
    ]
    for payload, field in cases:
        doc = assert_problem(place(client, who, payload), 400)
        assert field in error_fields(doc), (payload, doc)
    assert_problem(client.post(f"/api/orders/{who['id']}", token=who["token"], data="[1]",
                               headers={"Content-Type": "application/json"}), 400)
    for query in ("status=Lost", "page=0", "limit=101", "limit=x"):
        assert_problem(client.get(f"/api/orders/{who['id']}?{query}", token=who["token"]), 400)
    assert stock_of(client, a["_id"]) == 5


def test_customers_cannot_place_read_list_or_cancel_others_orders(stack, client, admin):
    a = create_product(client, admin, stock=5)
    alice, bob = customer(stack), customer(stack)
    order = placed(client, alice, {"items": [{"productId": a["_id"], "quantity": 1}]})
    oid = order["_id"]
    assert_problem(place(client, {"id": alice["id"], "token": bob["token"]},
                         {"items": [{"productId": a["_id"], "quantity": 1}]}), 403)
    assert_problem(client.get(f"/api/orders/{alice['id']}", token=bob["token"]), 403)
    assert_problem(client.get(f"/api/orders/{alice['id']}/{oid}", token=bob["token"]), 403)
    assert_problem(client.post(f"/api/orders/{alice['id']}/{oid}/cancel", token=bob["token"]), 403)
    # Under his own path, her order does not exist for him.
    assert_problem(client.get(f"/api/orders/{bob['id']}/{oid}", token=bob["token"]), 404)
    assert_problem(client.post(f"/api/orders/{bob['id']}/{oid}/cancel", token=bob["token"]), 404)
    assert_problem(client.get("/api/orders", token=bob["token"]), 403)
    assert_problem(set_status(client, bob["token"], oid, "Cancelled"), 403)
    assert_problem(set_status(client, alice["token"], oid, "Shipped"), 403)  # not even the owner
    assert_problem(client.get(f"/api/orders/{alice['id']}"), 401)
    assert_problem(client.get(f"/api/orders/{alice['id']}/{'z' * 24}", token=alice["token"]), 404)
    assert stock_of(client, a["_id"]) == 4
    assert get_order(client, alice, oid)["status"] == "Pending"
    # The admin sees and lists it.
    resp = client.get(f"/api/orders?userId={alice['id']}", token=admin)
    assert resp.status_code == 200 and [o["_id"] for o in body(resp)] == [oid]
    assert resp.headers["X-Total-Count"] == "1"
    resp = client.get(f"/api/orders/{alice['id']}/{oid}", token=admin)
    assert resp.status_code == 200


def test_lists_are_newest_first_filtered_and_paged(stack, client, admin):
    a = create_product(client, admin, stock=50)
    who = customer(stack)
    ids = [placed(client, who, {"items": [{"productId": a["_id"], "quantity": 1}]})["_id"] for _ in range(5)]
    resp = client.post(f"/api/orders/{who['id']}/{ids[0]}/cancel", token=who["token"])
    assert resp.status_code == 200, resp.text
    resp = client.get(f"/api/orders/{who['id']}?limit=2&page=2", token=who["token"])
    assert resp.status_code == 200
    assert [o["_id"] for o in body(resp)] == [ids[2], ids[1]]
    assert resp.headers["X-Total-Count"] == "5"
    assert 'rel="next"' in resp.headers["Link"] and 'rel="prev"' in resp.headers["Link"]
    pending = body(client.get(f"/api/orders/{who['id']}?status=Pending", token=who["token"]))
    assert [o["_id"] for o in pending] == ids[:0:-1]
    cancelled = body(client.get(f"/api/orders?status=Cancelled&userId={who['id']}", token=admin))
    assert [o["_id"] for o in cancelled] == [ids[0]]
    assert [h["status"] for h in cancelled[0]["history"]] == ["Pending", "Cancelled"]


def test_one_key_sent_20_times_at_once_then_20_times_makes_one_order(stack, client, admin):
    a = create_product(client, admin, price=3, stock=100)
    who = customer(stack)
    key = "checkout-" + tag()
    payload = {"items": [{"productId": a["_id"], "quantity": 2}]}

    def call(_):
        return stack.url, lambda c: place(c, who, payload, key, expect_5xx=True)

    runner = Concurrent()
    responses = runner.run([call(i) for i in range(20)])
    assert not runner.errors, runner.errors[:3]
    counts = statuses(responses)
    assert set(counts) <= {201, 409}, counts
    firsts = [body(r) for r in responses if r.status_code == 201]
    assert firsts, counts
    for r in responses:
        if r.status_code == 409:
            assert body(r)["code"] == "idempotency_key_in_use", r.text
            assert r.headers.get("Retry-After")
    order_id = firsts[0]["_id"]
    assert all(doc == firsts[0] for doc in firsts)
    for _ in range(20):
        resp = place(client, who, payload, key)
        assert resp.status_code == 201 and body(resp) == firsts[0], resp.text
        assert resp.headers.get("Idempotent-Replayed") == "true"
    assert stock_of(client, a["_id"]) == 98  # one reservation
    orders = body(client.get(f"/api/orders/{who['id']}", token=who["token"]))
    assert [o["_id"] for o in orders] == [order_id]
    other = assert_problem(place(client, who, {"items": [{"productId": a["_id"], "quantity": 3}]}, key), 422)
    assert other["code"] == "idempotency_key_reused"
    # The same key of another customer is another key.
    stranger = customer(stack)
    assert place(client, stranger, payload, key).status_code == 201
    assert stock_of(client, a["_id"]) == 96


def test_300_concurrent_one_unit_orders_against_100_units_sell_exactly_100(stack, client, admin):
    a = create_product(client, admin, stock=100)
    buyers = [customer(stack) for _ in range(300)]

    def call(i):
        who = buyers[i]
        return stack.url, lambda c: place(c, who, {"items": [{"productId": a["_id"], "quantity": 1}]},
                                          expect_5xx=True)

    runner = Concurrent(retries=10)
    responses = runner.run([call(i) for i in range(300)])
    assert not runner.errors, runner.errors[:3]
    counts = statuses(responses)
    print(f"300 orders: {dict(counts)}; 503s retried: {runner.unavailable}")
    assert counts[201] == 100 and counts[409] == 200, counts
    for r in responses:
        if r.status_code == 409:
            assert body(r)["code"] == "out_of_stock", r.text
    ids = {body(r)["_id"] for r in responses if r.status_code == 201}
    assert len(ids) == 100
    assert stock_of(client, a["_id"]) == 0
    for i, r in enumerate(responses):
        if r.status_code == 201:
            assert get_order(client, buyers[i], body(r)["_id"])["status"] == "Pending"
    # Nothing held twice: cancelling every order gives back exactly 100 units.
    for i, r in enumerate(responses):
        if r.status_code == 201:
            resp = client.post(f"/api/orders/{buyers[i]['id']}/{body(r)['_id']}/cancel", token=buyers[i]["token"])
            assert resp.status_code == 200, resp.text
    assert stock_of(client, a["_id"]) == 100


def test_units_added_to_the_cart_during_checkout_stay_in_it(stack, client, admin):
    a = create_product(client, admin, stock=1000)
    b = create_product(client, admin, stock=1000)
    for _ in range(3):
        who = customer(stack)
        add(client, who, a["_id"], 2)
        added = {"a": 0, "b": 0}
        stop = threading.Event()

        def keep_adding():
            with Client(stack.url) as c:
                while not stop.is_set():
                    for key, p in (("b", b), ("a", a)):
                        if c.post(f"/api/cart/{who['id']}/add", token=who["token"],
                                  json={"productId": p["_id"], "quantity": 1}).status_code == 201:
                            added[key] += 1

        adder = threading.Thread(target=keep_adding)
        adder.start()
        time.sleep(0.05)
        try:
            order = placed(client, who)
        finally:
            time.sleep(0.05)
            stop.set()
            adder.join()
        ordered = {i["productId"]: i["quantity"] for i in order["items"]}
        left = cart_lines(client, who)
        # Every unit the customer put in the cart is either in the order or still in the cart.
        assert left.get(a["_id"], 0) == 2 + added["a"] - ordered.get(a["_id"], 0), (added, ordered, left)
        assert left.get(b["_id"], 0) == added["b"] - ordered.get(b["_id"], 0), (added, ordered, left)
        assert added["b"] > ordered.get(b["_id"], 0), (added, ordered)  # some were added after the read


def test_the_status_table_is_enforced(stack, client, admin):
    a = create_product(client, admin, stock=10)
    who = customer(stack)
    order = placed(client, who, {"items": [{"productId": a["_id"], "quantity": 2}]})
    oid = order["_id"]
    assert_problem(set_status(client, admin, oid, "Lost"), 400)
    assert_problem(client.put(f"/api/orders/{oid}/status", token=admin, json={}), 400)
    assert_problem(set_status(client, admin, object_id(), "Shipped"), 404)
    refused = assert_problem(set_status(client, admin, oid, "Shipped"), 409)
    assert "Pending" in refused["detail"] and "Shipped" in refused["detail"]
    assert_problem(set_status(client, admin, oid, "Expired"), 409)
    for status in ("Paid", "Shipped", "Delivered"):
        resp = set_status(client, admin, oid, status)
        assert resp.status_code == 200 and body(resp)["status"] == status, resp.text
    doc = assert_problem(set_status(client, admin, oid, "Pending"), 409)
    assert doc["code"] == "transition_not_allowed" and "Delivered" in doc["detail"] and "Pending" in doc["detail"]
    for status in ("Paid", "Cancelled", "Shipped"):
        assert_problem(set_status(client, admin, oid, status), 409)
    final = get_order(client, who, oid)
    assert [h["status"] for h in final["history"]] == ["Pending", "Paid", "Shipped", "Delivered"]
    assert final["__v"] == 3
    # Paid committed the held stock: it is sold, nothing to release.
    assert stock_of(client, a["_id"]) == 8
    resp = release(stack.direct(0, "products"), stack, oid)
    assert resp.status_code == 200 and body(resp)["released"] is False, resp.text
    assert stock_of(client, a["_id"]) == 8


def test_cancel_releases_stock_and_a_paid_order_needs_the_refund_path(stack, client, admin):
    a = create_product(client, admin, stock=10)
    who = customer(stack)
    order = placed(client, who, {"items": [{"productId": a["_id"], "quantity": 3}]})
    resp = client.post(f"/api/orders/{who['id']}/{order['_id']}/cancel", token=who["token"])
    assert resp.status_code == 200 and body(resp)["status"] == "Cancelled", resp.text
    assert stock_of(client, a["_id"]) == 10
    assert_problem(client.post(f"/api/orders/{who['id']}/{order['_id']}/cancel", token=who["token"]), 409)
    paid = placed(client, who, {"items": [{"productId": a["_id"], "quantity": 1}]})
    assert set_status(client, admin, paid["_id"], "Paid").status_code == 200  # paid offline
    assert_problem(client.post(f"/api/orders/{who['id']}/{paid['_id']}/cancel", token=who["token"]), 409)
    assert get_order(client, who, paid["_id"])["status"] == "Paid"
    assert stock_of(client, a["_id"]) == 9
    resp = client.post(f"/api/orders/{who['id']}/{paid['_id']}/cancel", token=admin)
    if enabled("payments"):
        # payment-service has no payment of it to refund (paid offline): the cancel goes through.
        assert resp.status_code == 200 and body(resp)["status"] == "Cancelled", resp.text
    else:
        doc = assert_problem(resp, 409)
        assert doc["code"] == "refund_unavailable" and "refund" in doc["detail"], doc
        assert get_order(client, who, paid["_id"])["status"] == "Paid"


def test_without_payment_service_a_paid_order_cannot_be_cancelled(make_stack):
    with make_stack("orders_nopay", services=("products", "cart", "orders"), order_instances=1) as s:
        client = s.client()
        admin = admin_token(s)
        a = create_product(client, admin, stock=10)
        who = customer(s)
        paid = placed(client, who, {"items": [{"productId": a["_id"], "quantity": 1}]})
        assert set_status(client, admin, paid["_id"], "Paid").status_code == 200
        doc = assert_problem(client.post(f"/api/orders/{who['id']}/{paid['_id']}/cancel", token=admin), 409)
        assert doc["code"] == "refund_unavailable" and "PAYMENT_SERVICE_URLS" in doc["detail"], doc
        assert get_order(client, who, paid["_id"])["status"] == "Paid"


def test_internal_routes_serve_payment_service_only(stack, client, admin):
    a = create_product(client, admin, price=5, stock=10)
    who = customer(stack)
    order = placed(client, who, {"items": [{"productId": a["_id"], "quantity": 2}]})
    oid = order["_id"]
    d = stack.direct(0, "orders")
    pay = internal(stack, caller="payment")
    view = d.get(f"/api/orders/internal/{oid}", headers=pay)
    assert view.status_code == 200, view.text
    assert body(view)["amount"] == 1000 and body(view)["userId"] == who["id"]
    for other in ("order", "cart", "notification", "user", "product"):
        assert_problem(d.get(f"/api/orders/internal/{oid}", headers=internal(stack, caller=other)), 403)
        assert_problem(d.post(f"/api/orders/internal/{oid}/paid", headers=internal(stack, caller=other),
                              json={"paymentId": "pay_x"}), 403)
    assert_problem(d.get(f"/api/orders/internal/{oid}", token=admin), 403)
    assert_problem(d.get(f"/api/orders/internal/{oid}"), 401)
    # The gateway never routes them.
    assert client.get(f"/api/orders/internal/{oid}", headers=pay).status_code == 404
    assert client.post(f"/api/orders/internal/{oid}/paid", headers=pay, json={"paymentId": "pay_1"}).status_code == 404
    # A failed payment, then a new attempt takes the lease: back to Pending.
    resp = d.post(f"/api/orders/internal/{oid}/payment-failed", headers=pay,
                  json={"paymentId": "pay_1", "reason": "card_declined"})
    assert resp.status_code == 200 and body(resp)["status"] == "PaymentFailed", resp.text
    assert d.post(f"/api/orders/internal/{oid}/payment-failed", headers=pay,
                  json={"paymentId": "pay_1"}).status_code == 200
    resp = d.post(f"/api/orders/internal/{oid}/payment-lease", headers=pay, json={"paymentId": "pay_2"})
    assert resp.status_code == 200 and body(resp)["status"] == "Pending", resp.text
    assert body(resp)["paymentLease"]["paymentId"] == "pay_2"
    busy = assert_problem(d.post(f"/api/orders/internal/{oid}/payment-lease", headers=pay,
                                 json={"paymentId": "pay_3"}), 409)
    assert busy["code"] == "payment_in_flight"
    # Paid by pay_2 exactly once, from either instance.
    for inst in (0, 1, 0):
        resp = stack.direct(inst, "orders").post(f"/api/orders/internal/{oid}/paid", headers=pay,
                                                 json={"paymentId": "pay_2"})
        assert resp.status_code == 200 and body(resp)["status"] == "Paid", resp.text
    doc = assert_problem(d.post(f"/api/orders/internal/{oid}/paid", headers=pay, json={"paymentId": "pay_9"}), 409)
    assert doc["code"] == "already_paid"
    final = get_order(client, who, oid)
    assert [h["status"] for h in final["history"]] == ["Pending", "PaymentFailed", "Pending", "Paid"]
    assert stock_of(client, a["_id"]) == 8
    # A payment landing on a cancelled order is refused, so that payment-service refunds it.
    gone = placed(client, who, {"items": [{"productId": a["_id"], "quantity": 1}]})
    assert client.post(f"/api/orders/{who['id']}/{gone['_id']}/cancel", token=who["token"]).status_code == 200
    doc = assert_problem(d.post(f"/api/orders/internal/{gone['_id']}/paid", headers=pay,
                                json={"paymentId": "pay_late"}), 409)
    assert doc["code"] == "order_not_payable" and doc["orderStatus"] == "Cancelled"
    assert_problem(d.post(f"/api/orders/internal/{gone['_id']}/paid", headers=pay, json={}), 400)
    assert_problem(d.post(f"/api/orders/internal/{object_id()}/paid", headers=pay, json={"paymentId": "p"}), 404)


@pytest.fixture(scope="module")
def short_ttl_stack(make_stack):
    """Orders expire after 2 s; an orphan reservation after 6 s."""
    env = {"products": {"RESERVATION_TTL": "6", "RESERVATION_SWEEP_MS": "200"},
           "orders": {"ORDER_TTL": "2", "ORDER_WORKER_POLL_MS": "100"}}
    with make_stack("orders_ttl", services=("products", "cart", "orders"), service_env=env) as s:
        yield s


def test_an_unpaid_order_expires_and_its_stock_comes_back(short_ttl_stack):
    s = short_ttl_stack
    client = s.client()
    admin = admin_token(s)
    a = create_product(client, admin, stock=5)
    who = customer(s)
    order = placed(client, who, {"items": [{"productId": a["_id"], "quantity": 3}]})
    assert stock_of(client, a["_id"]) == 2
    assert wait_until(lambda: get_order(client, who, order["_id"])["status"] == "Expired", 30)
    assert wait_until(lambda: stock_of(client, a["_id"]) == 5, 30)  # released right after the change
    history = get_order(client, who, order["_id"])["history"]
    assert [h["status"] for h in history] == ["Pending", "Expired"]
    assert_problem(client.post(f"/api/orders/{who['id']}/{order['_id']}/cancel", token=who["token"]), 409)


def test_a_payment_lease_holds_off_expiry_until_it_ends(short_ttl_stack):
    s = short_ttl_stack
    client = s.client()
    admin = admin_token(s)
    a = create_product(client, admin, stock=5)
    who = customer(s)
    order = placed(client, who, {"items": [{"productId": a["_id"], "quantity": 1}]})
    d = s.direct(1, "orders")
    pay = internal(s, caller="payment")
    resp = d.post(f"/api/orders/internal/{order['_id']}/payment-lease", headers=pay,
                  json={"paymentId": "pay_slow", "ttlSeconds": 5})
    assert resp.status_code == 200, resp.text
    leased_at = time.monotonic()
    time.sleep(3.5)  # past the 2 s TTL, inside the lease
    assert get_order(client, who, order["_id"])["status"] == "Pending"
    assert stock_of(client, a["_id"]) == 4
    assert wait_until(lambda: get_order(client, who, order["_id"])["status"] == "Expired", 30)
    assert time.monotonic() - leased_at >= 4.5
    assert wait_until(lambda: stock_of(client, a["_id"]) == 5, 30)
    # Too late now: a payment that still lands is refused (payment-service refunds it).
    doc = assert_problem(d.post(f"/api/orders/internal/{order['_id']}/paid", headers=pay,
                                json={"paymentId": "pay_slow"}), 409)
    assert doc["code"] == "order_not_payable"


def test_kill_9_of_an_order_instance_under_load_loses_nothing(short_ttl_stack):
    s = short_ttl_stack
    client = s.client()
    admin = admin_token(s)
    stock = 100_000  # more than a fast build can sell in the run: every refusal is then a fault
    a = create_product(client, admin, stock=stock)
    results: list[tuple[dict, object]] = []
    lock = threading.Lock()
    stop = threading.Event()

    def shopper(index: int):
        with Client(s.orders[index % 2].url, timeout=30) as c:
            while not stop.is_set():
                who = customer(s)
                try:
                    resp = place(c, who, {"items": [{"productId": a["_id"], "quantity": random.randint(1, 3)}]},
                                 check=False)
                except Exception as exc:  # noqa: BLE001 - the killed instance drops connections
                    resp = exc
                with lock:
                    results.append((who, resp))

    threads = [threading.Thread(target=shopper, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    time.sleep(1.0)
    s.kill_instance("orders", 0)
    time.sleep(0.5)
    stop.set()
    for t in threads:
        t.join()
    s.restart_instance(0, "orders")
    ok = [(who, body(r)) for who, r in results if not isinstance(r, Exception) and r.status_code == 201]
    assert len(ok) >= 5, f"too few orders placed: {len(ok)} of {len(results)}"
    for _, r in results:
        if not isinstance(r, Exception):
            assert r.status_code in (201, 503), (r.status_code, r.text[:300])
    # Every 201 is an order with its stock held (or already expired and given back).
    held = sum(i["quantity"] for _, doc in ok for i in doc["items"])
    for who, doc in ok:
        assert get_order(client, who, doc["_id"])["status"] in ("Pending", "Expired")
    # Once the TTLs pass nothing is held: the orders expired, the orphan reservations were swept.
    assert wait_until(lambda: stock_of(client, a["_id"]) == stock, 60), stock_of(client, a["_id"])
    for who, doc in ok:
        assert get_order(client, who, doc["_id"])["status"] == "Expired"
    print(f"{len(ok)} orders placed ({held} units) across the kill; {len(results) - len(ok)} refused or cut")


def test_status_changes_honour_if_match(stack, client, admin):
    a = create_product(client, admin, stock=5)
    who = customer(stack)
    order = placed(client, who, {"items": [{"productId": a["_id"], "quantity": 1}]})
    oid = order["_id"]
    stale = f'"{oid}-{order["__v"] + 1}"'
    assert_problem(client.put(f"/api/orders/{oid}/status", token=admin, json={"status": "Paid"},
                              headers={"If-Match": stale}), 412)
    assert_problem(client.post(f"/api/orders/{who['id']}/{oid}/cancel", token=who["token"],
                               headers={"If-Match": stale}), 412)
    assert get_order(client, who, oid)["status"] == "Pending"
    resp = client.put(f"/api/orders/{oid}/status", token=admin, json={"status": "Paid"},
                      headers={"If-Match": f'"{oid}-{order["__v"]}"'})
    assert resp.status_code == 200 and body(resp)["status"] == "Paid", resp.text
    resp = client.put(f"/api/orders/{oid}/status", token=admin, json={"status": "Shipped"},
                      headers={"If-Match": "*"})
    assert resp.status_code == 200 and resp.headers["ETag"] == f'"{oid}-2"', resp.text
