"""The product cache (issue 12, DESIGN §7): product-service answers GET /api/products/:id and the `ids`
listing from memory, and a change made through one instance — price, stock, delete, a reservation,
its commit or release, a deduct, the sweeper's expiry — is never served stale by the other instance
once the change was answered. Each check first makes the reading instance cache the old version
(and proves, by its hit counter, that it answers from memory), then changes the product through
the other instance and reads at once. Plus: the cache's size bound, and a PostgreSQL restart
(the feed's session is lost: the cache is dropped and refilled, never trusted across the gap)."""

from __future__ import annotations

import time
import urllib.parse

import pytest

from support.catalog import (admin_token, commit, create_product, get_product, internal, release, reserve, tag)
from support.client import Client, body
from support.delay_proxy import DelayProxy
from support.pg_cluster import temporary_cluster
from support.procs import wait_until
from support.stack import Stack

pytestmark = pytest.mark.services("products")

ROUNDS = 8


def metric(client: Client, name: str) -> float:
    resp = client.get("/metrics")
    assert resp.status_code == 200, resp.text[:200]
    total = 0.0
    for line in resp.text.splitlines():
        if line.startswith(name) and (line[len(name)] in " {"):
            total += float(line.rsplit(" ", 1)[1])
    return total


def hits(client: Client) -> float:
    return metric(client, "product_cache_hits_total")


def cached_read(reader: Client, product_id: str) -> dict:
    """Reads twice on `reader`: the second read must come from its cache."""
    get_product(reader, product_id)
    before = hits(reader)
    doc = get_product(reader, product_id)
    assert hits(reader) > before, "the second read of an unchanged product was not a cache hit"
    return doc


def listed(reader: Client, ids: list[str]) -> dict[str, dict]:
    resp = reader.get("/api/products", params={"ids": ",".join(ids), "limit": 100})
    assert resp.status_code == 200, resp.text[:300]
    return {p["_id"]: p for p in body(resp)}


@pytest.fixture
def pair(stack) -> tuple[Client, Client]:
    """(writer, reader): the two product-service instances, directly."""
    assert len(stack.products) == 2
    return stack.direct(0, "products"), stack.direct(1, "products")


def test_a_price_change_through_one_instance_is_served_at_once_by_the_other(stack, pair):
    writer, reader = pair
    admin = admin_token(stack)
    p = create_product(writer, admin, price=10.00, stock=5)
    for i in range(ROUNDS):
        old = cached_read(reader, p["_id"])
        assert listed(reader, [p["_id"]])[p["_id"]]["price"] == old["price"]
        price = round(11.00 + i, 2)
        resp = writer.put(f"/api/products/{p['_id']}", token=admin, json={"price": price, "__v": old["__v"]})
        assert resp.status_code == 200, resp.text[:300]
        now = get_product(reader, p["_id"])
        assert now["price"] == price and now["__v"] == old["__v"] + 1, (i, now)
        assert listed(reader, [p["_id"]])[p["_id"]]["price"] == price
        # The ETag of the new version: a conditional read with the old one is a 200, not a 304.
        resp = reader.get(f"/api/products/{p['_id']}", headers={"If-None-Match": f'"{p["_id"]}-{old["__v"]}"'})
        assert resp.status_code == 200 and body(resp)["price"] == price


def test_stock_changes_reservations_commits_releases_and_deducts_are_seen_at_once(stack, pair):
    writer, reader = pair
    admin = admin_token(stack)
    p = create_product(writer, admin, stock=1000)
    pid = p["_id"]
    stock = 1000
    for i in range(ROUNDS):
        cached_read(reader, pid)
        resp = writer.post(f"/api/products/{pid}/stock", token=admin, json={"delta": 5})
        assert resp.status_code == 200, resp.text[:300]
        stock += 5
        assert get_product(reader, pid)["stock"] == stock, f"round {i}: stock adjustment served stale"

        cached_read(reader, pid)
        rid = f"cache-{tag()}"
        assert reserve(writer, stack, rid, [(pid, 3)]).status_code == 201
        stock -= 3
        assert get_product(reader, pid)["stock"] == stock, f"round {i}: a reservation served stale"
        assert listed(reader, [pid])[pid]["stock"] == stock

        if i % 2 == 0:
            cached_read(reader, pid)
            assert commit(writer, stack, rid).status_code == 200
            assert get_product(reader, pid)["stock"] == stock  # held units leave: sellable unchanged
        else:
            cached_read(reader, pid)
            assert release(writer, stack, rid).status_code == 200
            stock += 3
            assert get_product(reader, pid)["stock"] == stock, f"round {i}: a release served stale"

        cached_read(reader, pid)
        resp = writer.put(f"/api/products/{pid}/deduct", headers=internal(stack),
                          json={"quantity": 2, "reservationId": f"deduct-{tag()}"})
        assert resp.status_code == 200, resp.text[:300]
        stock -= 2
        assert get_product(reader, pid)["stock"] == stock, f"round {i}: a deduct served stale"


def test_a_deleted_product_is_gone_at_once_on_the_other_instance(stack, pair):
    writer, reader = pair
    admin = admin_token(stack)
    for _ in range(ROUNDS):
        p = create_product(writer, admin)
        cached_read(reader, p["_id"])
        assert p["_id"] in listed(reader, [p["_id"]])
        assert writer.delete(f"/api/products/{p['_id']}", token=admin).status_code == 200
        assert reader.get(f"/api/products/{p['_id']}").status_code == 404
        assert listed(reader, [p["_id"]]) == {}


def test_a_product_created_after_a_miss_is_found_at_once(stack, pair):
    """A 404 is not cached: a product made through the other instance is there on the next read."""
    writer, reader = pair
    admin = admin_token(stack)
    p = create_product(writer, admin)
    assert get_product(reader, p["_id"])["_id"] == p["_id"]


def test_the_ids_listing_filters_sorts_and_pages_as_the_database_does(stack, pair):
    """The `ids` listing (how the cart prices its lines) is served from the cached documents; the
    same filters on the category listing, which the database answers, give the same page."""
    writer, reader = pair
    admin = admin_token(stack)
    category = f"cache-{tag()}"
    made = [create_product(writer, admin, price=price, stock=stock, category=category, name=f"N{n} {tag()}")
            for n, (price, stock) in enumerate([(5.0, 0), (1.0, 3), (9.5, 7), (1.0, 1), (7.25, 0)])]
    ids = [p["_id"] for p in made]
    cached_read(reader, ids[0])  # some cached, some not: both paths feed one answer
    for params in ({}, {"sort": "price"}, {"sort": "-price"}, {"sort": "-createdAt"}, {"sort": "name"},
                   {"inStock": "true"}, {"inStock": "false"}, {"minPrice": "2", "maxPrice": "9"},
                   {"limit": "2", "page": "2"}, {"sort": "price", "limit": "2", "page": "3"}):
        from_db = writer.get("/api/products", params={"category": category, **params})
        cached = reader.get("/api/products", params={"ids": ",".join(ids), **params})
        assert cached.status_code == 200 and from_db.status_code == 200
        assert [p["_id"] for p in body(cached)] == [p["_id"] for p in body(from_db)], params
        assert body(cached) == body(from_db), params
        for header in ("X-Total-Count", "Link"):
            expected = (from_db.headers.get(header) or "").replace(f"category={category}&", "")
            got = (cached.headers.get(header) or "")
            assert (got == "") == (expected == ""), (header, params, got, expected)
        assert cached.headers.get("X-Total-Count") == from_db.headers.get("X-Total-Count"), params
    other = reader.get("/api/products", params={"ids": ",".join(ids), "category": "other"})
    assert other.status_code == 200 and body(other) == [] and other.headers.get("X-Total-Count") == "0"


def test_an_expiry_by_the_sweeper_is_seen_at_once(make_stack):
    with make_stack("cachesweep", services=("products",),
                    service_env={"products": {"RESERVATION_TTL": "1", "RESERVATION_SWEEP_MS": "200"}}) as s:
        writer, reader = s.direct(0, "products"), s.direct(1, "products")
        admin = admin_token(s)
        p = create_product(writer, admin, stock=10)
        rid = f"sweep-{tag()}"
        assert reserve(writer, s, rid, [(p["_id"], 4)]).status_code == 201
        assert cached_read(reader, p["_id"])["stock"] == 6

        def released() -> bool:
            rows = s.dbs["products"].query(f"SELECT state FROM reservations WHERE id = '{rid}'")
            return rows == [("released",)]

        assert wait_until(released, 15, interval=0.02), "the sweeper did not release the reservation"
        assert get_product(reader, p["_id"])["stock"] == 10, "the sweeper's release was served stale"


def test_the_cache_stays_within_its_bound_while_every_product_is_read(make_stack):
    """PRODUCT_CACHE_MB=1 and a catalog of several megabytes of documents, all read through the ids
    listing: the cache evicts, and its byte count never passes the bound (core behaviour under a
    1,000,000-id scan is in product_tests ProductCache.StaysWithinItsBoundUnderAMillionIdScan)."""
    with make_stack("cachebound", services=("products",), product_instances=1,
                    service_env={"products": {"PRODUCT_CACHE_MB": "1"}}) as s:
        c = s.direct(0, "products")
        admin = admin_token(s)
        description = "d" * 1500
        ids = [create_product(c, admin, description=description)["_id"] for _ in range(900)]
        for start in range(0, len(ids), 100):
            assert len(listed(c, ids[start:start + 100])) == 100
        for pid in ids[-50:]:
            get_product(c, pid)

        def gauges_updated() -> bool:
            return metric(c, "product_cache_entries") > 0

        assert wait_until(gauges_updated, 5)
        time.sleep(1.2)  # the gauges are refreshed every second
        size = metric(c, "product_cache_bytes")
        bound = metric(c, "product_cache_max_bytes")
        assert bound == 1024 * 1024
        assert 0 < size <= bound, (size, bound)
        assert metric(c, "product_cache_evictions_total") > 0
        assert metric(c, "product_cache_entries") < 900


# ---- PostgreSQL restart ---------------------------------------------------------------------------


def test_a_postgres_restart_drops_the_cache_and_changes_are_still_seen_at_once(db_kind, tmp_path_factory):
    if db_kind != "postgres":
        pytest.skip("PostgreSQL only (EMPORIUM_DB=postgres)")
    with temporary_cluster() as cluster:
        stack = Stack(tmp_path_factory.mktemp("cachepg"), "cachepg", "postgres", cluster.url,
                      services=("products",))
        with stack as s:
            writer, reader = s.direct(0, "products"), s.direct(1, "products")
            admin = admin_token(s)
            p = create_product(writer, admin, stock=50, price=9.99)
            cached_read(reader, p["_id"])
            resets = metric(reader, "product_cache_resets_total")

            cluster.restart()
            # Straight after the restart, before the feed may have made its session again: a change
            # through the database itself (no instance involved), then a read.
            s.dbs["products"].execute(f"UPDATE products SET price_minor = price_minor + 100, "
                                      f"version = version + 1 WHERE id = '{p['_id']}'")

            def fresh() -> bool:
                resp = reader.get(f"/api/products/{p['_id']}", expect_5xx=True)
                if resp.status_code >= 500:
                    return False  # the service's own pool is reconnecting
                assert resp.status_code == 200
                doc = body(resp)
                assert doc["price"] == 10.99, f"served from a cache that missed a change: {doc}"
                return True

            assert wait_until(fresh, 20, interval=0.05)
            assert metric(reader, "product_cache_resets_total") > resets, "the cache was not dropped"

            # The feed is back: the cache serves again and still sees every change.
            def serving() -> bool:
                before = hits(reader)
                get_product(reader, p["_id"])
                return hits(reader) > before

            assert wait_until(serving, 20, interval=0.1), "the cache never served again after the restart"

            def database_back(c: Client) -> bool:  # each instance's own pool has made new sessions
                return c.get("/api/products", params={"category": "none"}, expect_5xx=True).status_code == 200

            assert wait_until(lambda: database_back(writer) and database_back(reader), 20, interval=0.1)
            for price in (21.0, 22.0):
                current = cached_read(reader, p["_id"])
                resp = writer.put(f"/api/products/{p['_id']}", token=admin,
                                  json={"price": price, "__v": current["__v"]})
                assert resp.status_code == 200, resp.text[:300]
                assert get_product(reader, p["_id"])["price"] == price


def test_a_slow_network_to_postgres_does_not_make_the_reader_serve_stale(db_kind, make_stack):
    """The reading instance's database traffic, LISTEN session included, arrives 200 ms late: a
    notification comes long after the write was answered. The read must still wait for its
    barrier (a cache trusting notifications alone would answer the old price here)."""
    if db_kind != "postgres":
        pytest.skip("PostgreSQL only (EMPORIUM_DB=postgres)")
    with make_stack("cacheslow", services=("products",)) as s:
        writer = s.direct(0, "products")
        admin = admin_token(s)
        url = urllib.parse.urlsplit(s.dbs["products"].url)
        with DelayProxy(url.hostname, url.port, 0.2) as proxy:
            s.stop_instance(1, service="products")
            slow = url._replace(netloc=f"{url.username}@127.0.0.1:{proxy.port}").geturl()
            s.products[1].env["DATABASE_URL"] = slow
            s.restart_instance(1, "products")
            reader = s.direct(1, "products")
            p = create_product(writer, admin, price=10.00)
            for price in (11.0, 12.0, 13.0, 14.0):
                current = cached_read(reader, p["_id"])
                resp = writer.put(f"/api/products/{p['_id']}", token=admin,
                                  json={"price": price, "__v": current["__v"]})
                assert resp.status_code == 200, resp.text[:300]
                assert get_product(reader, p["_id"])["price"] == price, "served stale"
            s.stop_instance(1, service="products")
