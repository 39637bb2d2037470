"""Stock that cannot be oversold (API.md reservations, DESIGN §5): directly on the two
product-service instances, alternating, with the internal token. All lines or none, retries that
change stock once, and expiry by the sweeper (on a stack of its own with a short TTL)."""

from __future__ import annotations

import time

import pytest

from support.catalog import (Concurrent, admin_token, commit, create_product, get_product, internal, object_id,
                             release, reserve, statuses, stock_of, tag)
from support.client import Client, assert_problem, body, error_fields
from support.procs import wait_until

pytestmark = pytest.mark.services("products")


@pytest.fixture
def admin(stack) -> str:
    return admin_token(stack)


@pytest.fixture
def instances(stack) -> list[Client]:
    """A client per product-service instance."""
    return [stack.direct(i, "products") for i in range(len(stack.products))]


def held_line(product: dict, quantity: int) -> dict:
    """A reservation line as product-service answers it: with the name and price held."""
    return {"productId": product["_id"], "quantity": quantity, "name": product["name"], "price": product["price"]}


def test_two_product_instances_run(stack):
    assert len(stack.products) == 2


def test_reservation_routes_need_the_internal_token(stack, client, admin, instances):
    p = create_product(client, admin, stock=5)
    d = instances[0]
    payload = {"reservationId": "tok-" + tag(), "items": [{"productId": p["_id"], "quantity": 1}]}
    assert_problem(d.post("/api/products/reservations", json=payload), 401)
    assert_problem(d.post("/api/products/reservations", json=payload, headers={"X-Internal-Token": "wrong" * 8}), 401)
    assert_problem(d.post("/api/products/reservations", json=payload, token=admin), 403)
    # The shared INTERNAL_TOKEN names no caller; another service's own token is refused.
    assert_problem(d.post("/api/products/reservations", json=payload,
                          headers={"X-Internal-Token": stack.internal_token}), 401)
    for other in ("payment", "notification", "cart", "user"):
        refused = assert_problem(d.post("/api/products/reservations", json=payload,
                                        headers=internal(stack, caller=other)), 403)
        assert f"{other}-service" in refused["detail"], refused
        assert_problem(d.delete("/api/products/reservations/x", headers=internal(stack, caller=other)), 403)
        assert_problem(d.put(f"/api/products/{p['_id']}/deduct", headers=internal(stack, caller=other),
                             json={"quantity": 1, "reservationId": "x"}), 403)
    assert_problem(d.post("/api/products/reservations/x/commit", token=admin), 403)
    assert_problem(d.delete("/api/products/reservations/x", token=admin), 403)
    assert_problem(d.put(f"/api/products/{p['_id']}/deduct", json={"quantity": 1, "reservationId": "x"},
                         token=admin), 403)
    assert stock_of(client, p["_id"]) == 5


def test_200_concurrent_one_unit_reservations_against_50_hold_exactly_50(stack, client, admin, instances):
    p = create_product(client, admin, stock=50)
    pid = p["_id"]
    run = tag()
    urls = [inst.url for inst in stack.products]
    headers = internal(stack)

    def call(i):
        rid = f"conc-{run}-{i}"
        return urls[i % 2], lambda c: c.post("/api/products/reservations", headers=headers, expect_5xx=True,
                                             json={"reservationId": rid,
                                                   "items": [{"productId": pid, "quantity": 1}]})

    runner = Concurrent()
    responses = runner.run([call(i) for i in range(200)])
    assert not runner.errors, runner.errors[:5]
    counts = statuses(responses)
    print(f"200 reservations: {dict(counts)}; 503s retried: {runner.unavailable}")
    assert set(counts) <= {201, 409}, counts
    assert counts[201] == 50, counts
    assert counts[409] == 150, counts
    held = [f"conc-{run}-{i}" for i, r in enumerate(responses) if r.status_code == 201]
    for i, r in enumerate(responses):
        doc = body(r)
        if r.status_code == 201:
            assert doc["reservationId"] == f"conc-{run}-{i}" and doc["items"] == [held_line(p, 1)]
        else:
            assert doc.get("code") == "out_of_stock", doc
            assert doc["shortLines"] == [{"productId": pid, "requested": 1, "available": 0}], doc
    # Both instances agree: nothing left to sell, the version untouched.
    for d in instances:
        doc = body(d.get(f"/api/products/{pid}"))
        assert doc["stock"] == 0 and doc["__v"] == p["__v"], doc
    # The 50 units are held, not gone: nothing can be taken off on-hand stock ...
    assert_problem(client.post(f"/api/products/{pid}/stock", token=admin, json={"delta": -1}), 409)
    # ... a 51st reservation is short ...
    assert_problem(reserve(instances[0], stack, f"conc-{run}-late", [(pid, 1)]), 409)
    # ... and releasing each success gives back exactly one unit.
    for n, rid in enumerate(held, start=1):
        resp = release(instances[n % 2], stack, rid)
        assert resp.status_code == 200 and body(resp) == {"released": True}, resp.text
        if n in (1, 25):
            assert stock_of(client, pid) == n
    assert stock_of(client, pid) == 50


def test_a_multi_line_reservation_with_one_short_line_holds_nothing(stack, client, admin, instances):
    a_doc = create_product(client, admin, stock=5)
    b_doc = create_product(client, admin, stock=2)
    a, b = a_doc["_id"], b_doc["_id"]
    c = create_product(client, admin, stock=9)["_id"]
    ghost = object_id()
    resp = reserve(instances[0], stack, "multi-" + tag(), [(a, 2), (b, 3), (c, 1)])
    doc = assert_problem(resp, 409)
    assert doc["shortLines"] == [{"productId": b, "requested": 3, "available": 2}], doc
    assert [stock_of(client, x) for x in (a, b, c)] == [5, 2, 9]

    # Lines are merged before checking: 1 + 1 + 1 of b is 3.
    doc = assert_problem(reserve(instances[1], stack, "multi-" + tag(), [(b, 1), (a, 1), (b, 1), (b, 1)]), 409)
    assert doc["shortLines"] == [{"productId": b, "requested": 3, "available": 2}], doc
    # An unknown product is short with available 0; two short lines are both listed.
    doc = assert_problem(reserve(instances[0], stack, "multi-" + tag(), [(a, 6), (ghost, 1), (c, 1)]), 409)
    short = sorted(doc["shortLines"], key=lambda x: x["productId"])
    assert short == sorted([{"productId": a, "requested": 6, "available": 5},
                            {"productId": ghost, "requested": 1, "available": 0}], key=lambda x: x["productId"])
    assert [stock_of(client, x) for x in (a, b, c)] == [5, 2, 9]

    # Merged lines that fit are held together, once each.
    rid = "multi-" + tag()
    resp = reserve(instances[1], stack, rid, [(b, 1), (a, 2), (b, 1)])
    assert resp.status_code == 201, resp.text
    doc = body(resp)
    assert doc["items"] == sorted([held_line(b_doc, 2), held_line(a_doc, 2)], key=lambda x: x["productId"])
    assert doc["reservationId"] == rid and doc["expiresAt"]
    assert [stock_of(client, x) for x in (a, b, c)] == [3, 0, 9]


@pytest.mark.parametrize("items,field", [
    ([], "items"),
    ("x", "items"),
    ([{"productId": "nothex", "quantity": 1}], "items[0].productId"),
    ([{"quantity": 1}], "items[0].productId"),
    ([{"productId": "0123456789abcdef01234567", "quantity": 0}], "items[0].quantity"),
    ([{"productId": "0123456789abcdef01234567", "quantity": 1.5}], "items[0].quantity"),
    ([{"productId": "0123456789abcdef01234567", "quantity": "1"}], "items[0].quantity"),
    ([{"productId": "0123456789abcdef01234567", "quantity": 1}, 5], "items[1]"),
])
def test_reservation_fields_are_validated(stack, instances, items, field):
    resp = instances[0].post("/api/products/reservations", headers=internal(stack),
                             json={"reservationId": "val-" + tag(), "items": items})
    assert field in error_fields(assert_problem(resp, 400))


def test_a_quantity_that_overflows_a_double_is_400(stack, instances):
    raw = ('{"reservationId": "big-%s", "items": [{"productId": "%s", "quantity": 1e400}]}'
           % (tag(), object_id())).encode()
    resp = instances[0].post("/api/products/reservations", data=raw,
                             headers=internal(stack, {"Content-Type": "application/json"}))
    assert_problem(resp, 400)


def test_reservation_id_is_required_and_shaped(stack, instances):
    items = [{"productId": object_id(), "quantity": 1}]
    for rid in (None, "", "has space", "x" * 65, 12):
        payload = {"items": items} if rid is None else {"reservationId": rid, "items": items}
        resp = instances[1].post("/api/products/reservations", headers=internal(stack), json=payload)
        assert "reservationId" in error_fields(assert_problem(resp, 400)), rid


def test_a_retried_reserve_gets_the_same_answer_and_changes_stock_once(stack, client, admin, instances):
    p = create_product(client, admin, stock=10)["_id"]
    q = create_product(client, admin, stock=10)["_id"]
    rid = "retry-" + tag()
    first = reserve(instances[0], stack, rid, [(p, 2), (q, 1)])
    assert first.status_code == 201, first.text
    # Same lines (in another order, split differently), on the other instance.
    again = reserve(instances[1], stack, rid, [(q, 1), (p, 1), (p, 1)])
    assert again.status_code == 201, again.text
    assert body(again) == body(first)
    assert (stock_of(client, p), stock_of(client, q)) == (8, 9)
    # Same id, other lines: 422, nothing changes.
    for other in ([(p, 3), (q, 1)], [(p, 2)], [(p, 2), (q, 1), (object_id(), 1)]):
        assert_problem(reserve(instances[0], stack, rid, other), 422)
    assert (stock_of(client, p), stock_of(client, q)) == (8, 9)
    # After release, the id still names that reservation: same lines do not hold again.
    assert body(release(instances[1], stack, rid)) == {"released": True}
    assert (stock_of(client, p), stock_of(client, q)) == (10, 10)
    resp = reserve(instances[0], stack, rid, [(p, 2), (q, 1)])
    assert resp.status_code in (201, 409), resp.text
    assert (stock_of(client, p), stock_of(client, q)) == (10, 10), "a released reservation came back"


def test_the_price_held_survives_a_price_change(stack, client, admin, instances):
    """DESIGN §12: the price charged is the price held. A replay of the reservation and its commit,
    on either instance, answer with the name and price read when the units were held."""
    p = create_product(client, admin, price=19.99, stock=10, name=f"Mug {tag()}")
    q = create_product(client, admin, price=1050, stock=10)
    rid = "price-" + tag()
    first = reserve(instances[0], stack, rid, [(q["_id"], 1), (p["_id"], 2)])
    assert first.status_code == 201, first.text
    held = sorted([held_line(p, 2), held_line(q, 1)], key=lambda x: x["productId"])
    assert body(first)["items"] == held
    assert body(first)["currency"] == p["currency"]

    resp = client.put(f"/api/products/{p['_id']}", token=admin,
                      json={"price": 24.5, "name": "Renamed " + tag(), "__v": p["__v"]})
    assert resp.status_code == 200, resp.text
    assert body(resp)["price"] == 24.5
    again = reserve(instances[1], stack, rid, [(p["_id"], 2), (q["_id"], 1)])
    assert again.status_code == 201, again.text
    assert body(again) == body(first)
    # A new reservation holds at the new price.
    other = reserve(instances[1], stack, "price-" + tag(), [(p["_id"], 1)])
    assert other.status_code == 201 and body(other)["items"][0]["price"] == 24.5, other.text
    for d in instances:
        committed = commit(d, stack, rid)
        assert committed.status_code == 200, committed.text
        assert body(committed)["items"] == held and body(committed)["state"] == "committed"


def test_commit_twice_changes_stock_once(stack, client, admin, instances):
    p = create_product(client, admin, stock=10)["_id"]
    rid = "commit-" + tag()
    assert reserve(instances[0], stack, rid, [(p, 3)]).status_code == 201
    assert stock_of(client, p) == 7
    first = commit(instances[1], stack, rid)
    assert first.status_code == 200, first.text
    second = commit(instances[0], stack, rid)
    assert second.status_code == 200, second.text
    assert body(second)["reservationId"] == rid
    assert stock_of(client, p) == 7
    # The units left on-hand stock exactly once: 7 are on hand, none held.
    assert_problem(client.post(f"/api/products/{p}/stock", token=admin, json={"delta": -8}), 409)
    resp = client.post(f"/api/products/{p}/stock", token=admin, json={"delta": -7})
    assert resp.status_code == 200 and body(resp)["stock"] == 0, resp.text
    # A committed reservation is not released.
    resp = release(instances[1], stack, rid)
    assert resp.status_code in (200, 409), resp.text
    if resp.status_code == 200:
        assert body(resp) == {"released": False}
    assert stock_of(client, p) == 0
    assert_problem(commit(instances[0], stack, "unknown-" + tag()), 404)


def test_release_twice_changes_stock_once(stack, client, admin, instances):
    p = create_product(client, admin, stock=10)["_id"]
    rid = "release-" + tag()
    assert reserve(instances[1], stack, rid, [(p, 4)]).status_code == 201
    assert stock_of(client, p) == 6
    resp = release(instances[0], stack, rid)
    assert resp.status_code == 200 and body(resp) == {"released": True}, resp.text
    assert stock_of(client, p) == 10
    resp = release(instances[1], stack, rid)
    assert resp.status_code == 200 and body(resp) == {"released": False}, resp.text
    assert stock_of(client, p) == 10
    # A released reservation cannot be committed.
    assert_problem(commit(instances[0], stack, rid), 409)
    assert stock_of(client, p) == 10
    assert_problem(release(instances[0], stack, "unknown-" + tag()), 404)


def test_deduct_commits_a_one_line_reservation_once(stack, client, admin, instances):
    p = create_product(client, admin, stock=10)["_id"]
    rid = "deduct-" + tag()
    path = f"/api/products/{p}/deduct"
    first = instances[0].put(path, headers=internal(stack), json={"quantity": 2, "reservationId": rid})
    assert first.status_code == 200, first.text
    assert body(first) == {"_id": p, "stock": 8}
    again = instances[1].put(path, headers=internal(stack), json={"quantity": 2, "reservationId": rid})
    assert again.status_code == 200 and body(again) == body(first), again.text
    assert stock_of(client, p) == 8
    assert_problem(instances[0].put(path, headers=internal(stack), json={"quantity": 9, "reservationId": "d-" + tag()}),
                   409)
    assert "reservationId" in error_fields(assert_problem(
        instances[0].put(path, headers=internal(stack), json={"quantity": 1}), 400))
    assert "quantity" in error_fields(assert_problem(
        instances[0].put(path, headers=internal(stack), json={"quantity": 0, "reservationId": "d-" + tag()}), 400))
    assert_problem(instances[1].put(f"/api/products/{object_id()}/deduct", headers=internal(stack),
                                    json={"quantity": 1, "reservationId": "d-" + tag()}), 404)
    assert stock_of(client, p) == 8


def test_an_expired_reservation_is_released_by_the_sweeper(make_stack):
    env = {"products": {"RESERVATION_TTL": "1", "RESERVATION_SWEEP_MS": "200"}}
    with make_stack("sweeper", services=("products",), service_env=env) as s:
        d0, d1 = s.direct(0, "products"), s.direct(1, "products")
        p = create_product(d0, admin_token(s), stock=10)["_id"]
        rid = "sweep-" + tag()
        resp = reserve(d1, s, rid, [(p, 3)])
        assert resp.status_code == 201, resp.text
        started = time.monotonic()
        assert stock_of(d0, p) in (7, 10)
        assert wait_until(lambda: stock_of(d0, p) == 10, timeout=30, interval=0.2), \
            f"the expired reservation was not released after 30 s: stock {stock_of(d0, p)}"
        print(f"released {time.monotonic() - started:.1f}s after reserving (TTL 1 s, sweep every 0.2 s)")
        # Released exactly once: both instances sweep, stock does not overshoot.
        time.sleep(1.0)
        assert stock_of(d1, p) == 10 and stock_of(d0, p) == 10
        # An expired reservation cannot be committed.
        assert_problem(commit(d0, s, rid), 409)
        assert stock_of(d0, p) == 10
        # Released by expiry: a release now has nothing to give back.
        resp = release(d1, s, rid)
        assert resp.status_code == 200 and body(resp) == {"released": False}, resp.text
        assert stock_of(d0, p) == 10
        assert get_product(d1, p)["__v"] == get_product(d0, p)["__v"]
