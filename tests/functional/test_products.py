"""product-service through the gateway (API.md product section, DESIGN §5): admin-only writes,
per-field validation, id shapes, optimistic concurrency (409/412/428), stock edits that keep held
units, ETags, listing with filters, sorting and paging, categories, and search input that never
fails. Two product-service instances share one database behind nginx."""

from __future__ import annotations

import json
import os
import re
import urllib.parse

import pytest

from support.catalog import (assert_product, create_product, etag_of, get_product, internal, object_id,
                             product_body, release, reserve, stock_of, tag)
from support.client import assert_problem, body, error_fields
from support.stack import wait_for_gateway_record

pytestmark = pytest.mark.services("products")

PRODUCT_NOT_FOUND = "Product not found"


@pytest.fixture
def admin(admin_token) -> str:
    """The real first admin's token (user-service login); product-service verifies it with the
    shared public key."""
    return admin_token


@pytest.fixture
def product(client, admin) -> dict:
    return create_product(client, admin, price=19.99, stock=10)


# ---- who may write ---------------------------------------------------------------------------

def test_a_customer_cannot_create_update_or_delete_a_product(client, user, product):
    token = user["token"]
    pid = product["_id"]
    assert_problem(client.post("/api/products/create", token=token, json=product_body()), 403)
    assert_problem(client.post("/api/products", token=token, json=product_body()), 403)
    assert_problem(client.put(f"/api/products/{pid}", token=token, json={"price": 1}), 403)
    assert_problem(client.post(f"/api/products/{pid}/stock", token=token, json={"delta": 5}), 403)
    assert_problem(client.delete(f"/api/products/{pid}", token=token), 403)
    # Without a token: 401.
    assert_problem(client.post("/api/products", json=product_body()), 401)
    assert_problem(client.put(f"/api/products/{pid}", json={"price": 1}), 401)
    assert_problem(client.delete(f"/api/products/{pid}"), 401)
    # The internal token from outside is dropped by the gateway: still 401.
    assert_problem(client.delete(f"/api/products/{pid}", headers={"X-Internal-Token": "x" * 48}), 401)
    # Nothing changed.
    after = get_product(client, pid)
    assert (after["price"], after["stock"], after["__v"]) == (19.99, 10, product["__v"])


def test_an_admin_creates_updates_and_deletes_a_product(client, admin):
    name = f"Lamp {tag()}"
    resp = client.post("/api/products/create", token=admin, json={
        "name": f"  {name}  ", "description": "Bright", "price": 19.99, "category": "lighting", "stock": 3,
        "sku": "LAMP-1", "images": ["https://img.example/lamp.png"],
        # Server fields are never taken from a body.
        "_id": "0123456789abcdef01234567", "__v": 41, "createdAt": "2001-01-01T00:00:00.000Z"})
    assert resp.status_code == 201, resp.text
    doc = assert_product(body(resp))
    assert doc["_id"] != "0123456789abcdef01234567" and re.fullmatch(r"[0-9a-f]{24}", doc["_id"])
    assert doc["__v"] != 41 and not doc["createdAt"].startswith("2001")
    assert doc["name"] == name and doc["price"] == 19.99 and doc["currency"] == "usd"
    assert doc["category"] == "lighting" and doc["stock"] == 3 and doc["sku"] == "LAMP-1"
    assert doc["images"] == ["https://img.example/lamp.png"]
    assert resp.headers["ETag"] == etag_of(doc)

    # POST / creates too.
    second = create_product(client, admin, path="/api/products")
    assert second["_id"] != doc["_id"]

    resp = client.put(f"/api/products/{doc['_id']}", token=admin, json={"price": 21.5, "name": "Lamp II"})
    assert resp.status_code == 200, resp.text
    updated = body(resp)
    assert updated["price"] == 21.5 and updated["name"] == "Lamp II" and updated["stock"] == 3
    assert updated["__v"] == doc["__v"] + 1
    assert resp.headers["ETag"] == etag_of(updated)
    assert get_product(client, doc["_id"])["price"] == 21.5

    resp = client.delete(f"/api/products/{doc['_id']}", token=admin)
    assert resp.status_code == 200, resp.text
    assert body(resp) == {"msg": "Product deleted"}
    assert assert_problem(client.get(f"/api/products/{doc['_id']}"), 404)["detail"] == PRODUCT_NOT_FOUND
    assert_problem(client.delete(f"/api/products/{doc['_id']}", token=admin), 404)
    assert_problem(client.put(f"/api/products/{doc['_id']}", token=admin, json={"price": 1}), 404)


def test_a_promoted_admin_can_write(stack, client, admin, user):
    """An admin made through user-service's role API (a fresh login carries the role)."""
    resp = client.put(f"/api/users/{user['user']['_id']}/role", token=admin, json={"role": "admin"})
    assert resp.status_code == 200, resp.text
    login = client.post("/api/users/login", json={"email": user["email"], "password": user["password"]})
    token = body(login)["token"]
    create_product(client, token)


# ---- validation --------------------------------------------------------------------------------

INVALID_FIELDS = [
    ("name", "", "name"),
    ("name", "   ", "name"),
    ("name", "n" * 201, "name"),
    ("name", 5, "name"),
    ("name", "bell\u0007", "name"),
    ("name", None, "name"),
    ("description", "d" * 5001, "description"),
    ("description", ["x"], "description"),
    ("price", -1, "price"),
    ("price", 1.234, "price"),
    ("price", 0.001, "price"),
    ("price", "9.99", "price"),
    ("price", 100000000, "price"),
    ("price", True, "price"),
    ("price", None, "price"),
    ("price", {"amount": 1}, "price"),
    ("category", "", "category"),
    ("category", "c" * 101, "category"),
    ("category", 3, "category"),
    ("category", None, "category"),
    ("stock", -1, "stock"),
    ("stock", 1.5, "stock"),
    ("stock", "3", "stock"),
    ("stock", 1000000001, "stock"),
    ("stock", None, "stock"),
    ("sku", "s" * 65, "sku"),
    ("sku", 12, "sku"),
    ("images", "https://img.example/a.png", "images"),
    ("images", ["ftp://img.example/a.png"], "images[0]"),
    ("images", ["https://img.example/a.png", 3], "images[1]"),
    ("images", ["not a url"], "images[0]"),
]


@pytest.mark.parametrize("field,value,named", INVALID_FIELDS,
                         ids=[f"{f}={str(v)[:20]!r}" for f, v, _ in INVALID_FIELDS])
def test_each_invalid_field_is_a_400_naming_it(client, admin, field, value, named):
    doc = product_body()
    doc[field] = value
    problem = assert_problem(client.post("/api/products", token=admin, json=doc), 400)
    assert named in error_fields(problem), f"{field}={value!r}: {problem}"


@pytest.mark.parametrize("price", [12345.678, 5000.001, 4999.999, 99999999.994, 1000.005, 250000.5001])
def test_more_than_two_decimals_is_400_at_any_magnitude(client, admin, price):
    """API.md: prices have at most two decimals (more → 400), large ones too: a tolerance relative to
    the amount lets 12345.678 through as 12345.68."""
    problem = assert_problem(client.post("/api/products", token=admin, json=product_body(price=price)), 400)
    assert "price" in error_fields(problem), problem


@pytest.mark.parametrize("raw", ["1e400", "-1e400", "1E999", "2e308"])
@pytest.mark.parametrize("field", ["price", "stock"])
def test_a_number_too_large_for_a_double_is_400_not_500(client, admin, raw, field):
    """Valid JSON syntax whose value overflows a double: bad input, never a 5xx (DESIGN §6)."""
    doc = product_body()
    doc[field] = "__RAW__"
    data = json.dumps(doc).replace('"__RAW__"', raw).encode()
    resp = client.post("/api/products", token=admin, data=data, headers={"Content-Type": "application/json"})
    assert_problem(resp, 400)


def test_every_bad_field_is_named_at_once(client, admin):
    problem = assert_problem(client.post("/api/products", token=admin, json={}), 400)
    assert {"name", "price", "category", "stock"} <= error_fields(problem), problem
    problem = assert_problem(client.post("/api/products", token=admin, json=product_body(
        name="", price=-5, category="", stock=-1)), 400)
    assert {"name", "price", "category", "stock"} <= error_fields(problem), problem


def test_updates_are_validated_per_field(client, admin, product):
    pid = product["_id"]
    for field, value in (("price", -1), ("price", 2.345), ("name", ""), ("category", ""), ("images", "x"),
                         ("description", "d" * 5001)):
        problem = assert_problem(client.put(f"/api/products/{pid}", token=admin, json={field: value}), 400)
        assert field in error_fields(problem), f"{field}={value!r}: {problem}"
    assert get_product(client, pid)["__v"] == product["__v"]


@pytest.mark.parametrize("fields,expect", [
    ({"price": 0}, {"price": 0}),
    ({"price": 99999999.99}, {"price": 99999999.99}),
    ({"price": 0.1}, {"price": 0.1}),
    ({"price": 1.005}, None),  # three decimals: 400
    ({"stock": 2.0}, {"stock": 2}),  # quantities are JSON integers; 2.0 is one
    ({"stock": 1000000000}, {"stock": 1000000000}),
    ({"name": "n" * 200}, {"name": "n" * 200}),
    ({"name": "ü" * 200}, {"name": "ü" * 200}),  # characters, not bytes
    ({"description": ""}, {"description": ""}),
])
def test_bounds_are_inclusive(client, admin, fields, expect):
    resp = client.post("/api/products", token=admin, json=product_body(**fields))
    if expect is None:
        assert_problem(resp, 400)
        return
    assert resp.status_code == 201, resp.text
    doc = body(resp)
    for key, value in expect.items():
        assert doc[key] == value, (key, doc[key])


def test_malformed_json_and_wrong_content_type(client, admin):
    assert_problem(client.post("/api/products", token=admin, data=b'{"name": "x"',
                               headers={"Content-Type": "application/json"}), 400)
    assert_problem(client.post("/api/products", token=admin, data=b"name=x",
                               headers={"Content-Type": "application/x-www-form-urlencoded"}), 415)
    assert_problem(client.post("/api/products", token=admin, json=[product_body()]), 400)


# ---- ids ---------------------------------------------------------------------------------------

WRONG_SHAPES = ["123", "0123456789ABCDEF01234567", "0123456789abcdef0123456", "0123456789abcdef012345678",
                "zzzzzzzzzzzzzzzzzzzzzzzz", "%20", "0123456789abcdef01234567%20", "null"]


@pytest.mark.parametrize("bad", WRONG_SHAPES)
def test_an_id_of_the_wrong_shape_is_404(client, admin, user, bad):
    assert assert_problem(client.get(f"/api/products/{bad}"), 404)["detail"] == PRODUCT_NOT_FOUND
    assert_problem(client.put(f"/api/products/{bad}", token=admin, json={"price": 1}), 404)
    # 404 before 400: a bad body does not change it.
    assert_problem(client.put(f"/api/products/{bad}", token=admin, json={"price": -1}), 404)
    assert_problem(client.delete(f"/api/products/{bad}", token=admin), 404)
    assert_problem(client.post(f"/api/products/{bad}/stock", token=admin, json={"delta": 1}), 404)
    # 403 before 404.
    assert_problem(client.put(f"/api/products/{bad}", token=user["token"], json={"price": 1}), 403)


def test_an_unknown_id_is_404_even_with_a_bad_body(client, admin):
    unknown = object_id()
    assert assert_problem(client.get(f"/api/products/{unknown}"), 404)["detail"] == PRODUCT_NOT_FOUND
    assert_problem(client.put(f"/api/products/{unknown}", token=admin, json={"price": -1}), 404)
    assert_problem(client.post(f"/api/products/{unknown}/stock", token=admin, json={"delta": "x"}), 404)


# ---- concurrency -------------------------------------------------------------------------------

def test_a_stale_version_is_409(client, admin, product):
    pid, v = product["_id"], product["__v"]
    resp = client.put(f"/api/products/{pid}", token=admin, json={"price": 1.25, "__v": v})
    assert resp.status_code == 200, resp.text
    assert body(resp)["__v"] == v + 1
    problem = assert_problem(client.put(f"/api/products/{pid}", token=admin, json={"price": 2.5, "__v": v}), 409)
    assert problem["detail"]
    after = get_product(client, pid)
    assert (after["price"], after["__v"]) == (1.25, v + 1)
    # A version from the future is not current either.
    assert_problem(client.put(f"/api/products/{pid}", token=admin, json={"price": 2.5, "__v": v + 5}), 409)
    # A malformed version is a field error.
    assert "__v" in error_fields(assert_problem(
        client.put(f"/api/products/{pid}", token=admin, json={"price": 2.5, "__v": "one"}), 400))


def test_a_stale_if_match_is_412(client, admin, product):
    pid = product["_id"]
    tag1 = etag_of(product)
    resp = client.put(f"/api/products/{pid}", token=admin, json={"price": 3.5}, headers={"If-Match": tag1})
    assert resp.status_code == 200, resp.text
    tag2 = resp.headers["ETag"]
    assert tag2 == etag_of(body(resp)) and tag2 != tag1
    assert_problem(client.put(f"/api/products/{pid}", token=admin, json={"price": 4.5},
                              headers={"If-Match": tag1}), 412)
    assert_problem(client.put(f"/api/products/{pid}", token=admin, json={"price": 4.5},
                              headers={"If-Match": f'"{object_id()}-0"'}), 412)
    after = get_product(client, pid)
    assert after["price"] == 3.5
    resp = client.put(f"/api/products/{pid}", token=admin, json={"price": 4.5}, headers={"If-Match": tag2})
    assert resp.status_code == 200, resp.text


def test_put_with_stock_needs_a_version(client, admin, product):
    pid, v = product["_id"], product["__v"]
    assert_problem(client.put(f"/api/products/{pid}", token=admin, json={"stock": 5}), 428)
    assert_problem(client.put(f"/api/products/{pid}", token=admin, json={"stock": 5, "price": 1}), 428)
    assert get_product(client, pid)["stock"] == 10
    resp = client.put(f"/api/products/{pid}", token=admin, json={"stock": 5, "__v": v})
    assert resp.status_code == 200, resp.text
    assert body(resp)["stock"] == 5
    current = body(resp)
    resp = client.put(f"/api/products/{pid}", token=admin, json={"stock": 7}, headers={"If-Match": etag_of(current)})
    assert resp.status_code == 200, resp.text
    assert body(resp)["stock"] == 7
    # A stale version with stock is 409, a stale If-Match 412.
    assert_problem(client.put(f"/api/products/{pid}", token=admin, json={"stock": 1, "__v": v}), 409)
    assert_problem(client.put(f"/api/products/{pid}", token=admin, json={"stock": 1},
                              headers={"If-Match": etag_of(current)}), 412)
    assert get_product(client, pid)["stock"] == 7


def test_a_stock_delta_below_the_held_units_is_409(stack, client, admin):
    p = create_product(client, admin, stock=5)
    pid = p["_id"]
    direct = stack.direct(0, "products")
    rid = "hold-" + tag()
    resp = reserve(direct, stack, rid, [(pid, 3)])
    assert resp.status_code == 201, resp.text
    after_reserve = get_product(client, pid)
    assert after_reserve["stock"] == 2
    assert after_reserve["__v"] == p["__v"], "reserving must not change __v"

    # On hand 5, held 3: a delta of -3 would leave 2 on hand for 3 held units.
    assert_problem(client.post(f"/api/products/{pid}/stock", token=admin, json={"delta": -3}), 409)
    assert stock_of(client, pid) == 2
    resp = client.post(f"/api/products/{pid}/stock", token=admin, json={"delta": -2})
    assert resp.status_code == 200, resp.text
    assert body(resp)["stock"] == 0
    assert_problem(client.post(f"/api/products/{pid}/stock", token=admin, json={"delta": -1}), 409)
    resp = client.post(f"/api/products/{pid}/stock", token=admin, json={"delta": 4})
    assert resp.status_code == 200 and body(resp)["stock"] == 4, resp.text
    # A version-based PUT cannot take held units away either: stock is what can be sold.
    current = get_product(client, pid)
    resp = client.put(f"/api/products/{pid}", token=admin, json={"stock": 1, "__v": current["__v"]})
    assert resp.status_code == 200 and body(resp)["stock"] == 1, resp.text
    # Releasing gives the 3 held units back.
    assert body(release(direct, stack, rid)) == {"released": True}
    assert stock_of(client, pid) == 4
    # Field errors.
    for bad in ({"delta": 1.5}, {"delta": "3"}, {}, {"delta": None}):
        problem = assert_problem(client.post(f"/api/products/{pid}/stock", token=admin, json=bad), 400)
        assert "delta" in error_fields(problem), (bad, problem)


# ---- ETags -------------------------------------------------------------------------------------

def test_etag_and_if_none_match(client, admin, product):
    pid = product["_id"]
    resp = client.get(f"/api/products/{pid}")
    etag = resp.headers.get("ETag")
    assert etag == etag_of(product), resp.headers
    assert not etag.startswith("W/"), "ETags are strong"
    resp = client.get(f"/api/products/{pid}", headers={"If-None-Match": etag})
    assert resp.status_code == 304, resp.text
    assert resp.content == b"" and resp.headers.get("ETag") == etag
    resp = client.get(f"/api/products/{pid}", headers={"If-None-Match": f'"{pid}-999", {etag}'})
    assert resp.status_code == 304
    resp = client.get(f"/api/products/{pid}", headers={"If-None-Match": f'"{pid}-999"'})
    assert resp.status_code == 200 and body(resp)["_id"] == pid
    # Both instances answer the same tag (derived from stored data).
    tags = {client.get(f"/api/products/{pid}").headers["ETag"] for _ in range(4)}
    assert tags == {etag}
    # After an update the old tag no longer matches.
    client.put(f"/api/products/{pid}", token=admin, json={"description": "changed"})
    resp = client.get(f"/api/products/{pid}", headers={"If-None-Match": etag})
    assert resp.status_code == 200
    assert resp.headers["ETag"] == etag_of(body(resp)) != etag


# ---- listing -----------------------------------------------------------------------------------

@pytest.fixture
def listed(client, admin):
    """Five products in a category of their own."""
    category = f"list-{tag()}"
    specs = [("Alpha", 5, 3), ("Bravo", 1.5, 0), ("Charlie", 30, 7), ("Delta", 12.25, 1), ("Echo", 7, 2)]
    made = [create_product(client, admin, name=f"{n} {category}", price=p, stock=s, category=category)
            for n, p, s in specs]
    return category, made


def ids_of(docs) -> list[str]:
    return [d["_id"] for d in docs]


def page(client, **params):
    resp = client.get("/api/products", params=params)
    assert resp.status_code == 200, resp.text
    docs = body(resp)
    assert isinstance(docs, list)
    return docs, resp


def test_listing_filters(client, listed):
    category, made = listed
    docs, resp = page(client, category=category)
    assert sorted(ids_of(docs)) == sorted(ids_of(made))
    assert resp.headers["X-Total-Count"] == "5"
    for d in docs:
        assert_product(d)
    docs, _ = page(client, category=category, minPrice="5", maxPrice="12.25")
    assert sorted(d["price"] for d in docs) == [5, 7, 12.25]
    docs, _ = page(client, category=category, minPrice="12.26")
    assert sorted(d["price"] for d in docs) == [30]
    docs, _ = page(client, category=category, inStock="true")
    assert sorted(d["name"].split()[0] for d in docs) == ["Alpha", "Charlie", "Delta", "Echo"]
    page(client, category=category, inStock="false")
    pick = [made[0]["_id"], made[3]["_id"]]
    docs, _ = page(client, ids=",".join(pick + [object_id()]))
    assert sorted(ids_of(docs)) == sorted(pick)
    docs, resp = page(client, category=f"nothing-{tag()}")
    assert docs == [] and resp.headers["X-Total-Count"] == "0"
    # Category with surrounding spaces is the same category.
    docs, _ = page(client, category=f"  {category} ")
    assert len(docs) == 5


def test_listing_sorts(client, listed):
    category, made = listed
    by_price = [d["price"] for d in page(client, category=category, sort="price")[0]]
    assert by_price == sorted(by_price) and len(by_price) == 5
    assert [d["price"] for d in page(client, category=category, sort="-price")[0]] == sorted(by_price, reverse=True)
    names = [d["name"] for d in page(client, category=category, sort="name")[0]]
    assert names == sorted(names)
    # Created one after another, but two may share a millisecond (ties break on _id).
    oldest = page(client, category=category, sort="createdAt")[0]
    keys = [(d["createdAt"], d["_id"]) for d in oldest]
    assert keys == sorted(keys) and len(keys) == 5
    newest = page(client, category=category, sort="-createdAt")[0]
    stamps = [d["createdAt"] for d in newest]
    assert stamps == sorted(stamps, reverse=True) and sorted(ids_of(newest)) == sorted(ids_of(made))
    if len(set(d["createdAt"] for d in made)) == 5:
        assert ids_of(oldest) == ids_of(made) and ids_of(newest) == ids_of(made)[::-1]


def parse_links(header: str) -> dict[str, str]:
    links = {}
    for part in header.split(","):
        m = re.match(r'\s*<([^>]*)>\s*;\s*rel="([a-z]+)"', part)
        assert m, f"bad Link part {part!r} in {header!r}"
        links[m.group(2)] = m.group(1)
    return links


def test_listing_pages_with_total_count_and_links(client, listed):
    category, made = listed
    cheapest = sorted(made, key=lambda d: d["price"])
    docs, resp = page(client, category=category, sort="price", limit="2")
    assert ids_of(docs) == ids_of(cheapest[:2])
    assert resp.headers["X-Total-Count"] == "5"
    links = parse_links(resp.headers["Link"])
    assert set(links) == {"next"}, links
    nxt = links["next"]
    assert nxt.startswith("/api/products?"), f"Link must be relative: {nxt}"
    # Following next gives page 2, which has both neighbours.
    resp = client.get(nxt)
    assert resp.status_code == 200
    assert ids_of(body(resp)) == ids_of(cheapest[2:4])
    links = parse_links(resp.headers["Link"])
    assert set(links) == {"next", "prev"}, links
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(links["next"]).query)
    assert query.get("page") == ["3"] and query.get("limit") == ["2"] and query.get("category") == [category]
    resp = client.get(links["next"])
    assert ids_of(body(resp)) == ids_of(cheapest[4:])
    assert set(parse_links(resp.headers["Link"])) == {"prev"}
    # Beyond the end: an empty page, the total still counted.
    docs, resp = page(client, category=category, limit="2", page="9")
    assert docs == [] and resp.headers["X-Total-Count"] == "5"
    # No next link when everything fits.
    _, resp = page(client, category=category)
    assert "Link" not in resp.headers or "next" not in parse_links(resp.headers["Link"]), resp.headers


def test_default_limit_is_20_and_the_maximum_100(client):
    docs, _ = page(client)
    assert len(docs) <= 20
    docs, _ = page(client, limit="100")
    assert len(docs) <= 100


BAD_PARAMETERS = [
    ("limit", "0"), ("limit", "101"), ("limit", "abc"), ("limit", "-1"), ("limit", "2.0"),
    ("page", "0"), ("page", "-1"), ("page", "x"),
    ("sort", "bogus"), ("sort", "PRICE"), ("sort", "-name"),
    ("minPrice", "abc"), ("minPrice", "-1"), ("minPrice", "1.234"), ("maxPrice", "x"), ("maxPrice", "100000000"),
    ("inStock", "yes"), ("inStock", "1"),
    ("ids", "nothex"), ("ids", "0123456789abcdef01234567,zz"), ("ids", ",".join(object_id() for _ in range(101))),
    ("q", "x" * 501), ("category", "c" * 101),
]


@pytest.mark.parametrize("name,value", BAD_PARAMETERS, ids=[f"{n}={v[:12]}" for n, v in BAD_PARAMETERS])
def test_a_bad_list_parameter_is_a_400_naming_it(client, name, value):
    problem = assert_problem(client.get("/api/products", params={name: value}), 400)
    assert name in error_fields(problem), problem


def test_max_price_below_min_price_is_400(client):
    problem = assert_problem(client.get("/api/products", params={"minPrice": "10", "maxPrice": "5"}), 400)
    assert error_fields(problem) & {"minPrice", "maxPrice"}, problem


def test_categories_with_counts(client, admin):
    category = f"cat-{tag()}"
    made = [create_product(client, admin, category=category) for _ in range(3)]
    other = f"cat-{tag()}"
    create_product(client, admin, category=other)
    resp = client.get("/api/products/categories")
    assert resp.status_code == 200, resp.text
    cats = body(resp)
    assert isinstance(cats, list) and all(set(c) >= {"name", "count"} for c in cats), cats
    counts = {c["name"]: c["count"] for c in cats}
    assert counts.get(category) == 3 and counts.get(other) == 1, counts
    assert client.delete(f"/api/products/{made[0]['_id']}", token=admin).status_code == 200
    counts = {c["name"]: c["count"] for c in body(client.get("/api/products/categories"))}
    assert counts.get(category) == 2


# ---- search ------------------------------------------------------------------------------------

@pytest.fixture
def searchable(client, admin):
    category = f"search-{tag()}"
    specs = {
        "shirt": ("Classic T-Shirt", "Soft cotton tee"),
        "hoodie": ("Red Hoodie", "Warm and classic"),
        "mug": ("Red Mug", "Ceramic, dishwasher safe"),
        "dress": ("Tshirtdress", "Summer wear"),
        "bag": ("Reduced Price Bag", "Leather"),
    }
    made = {k: create_product(client, admin, name=n, description=d, category=category)["_id"]
            for k, (n, d) in specs.items()}
    return category, made


def search(client, category, q) -> set[str]:
    resp = client.get("/api/products", params={"q": q, "category": category, "limit": "100"})
    assert resp.status_code == 200, f"q={q!r}: {resp.status_code} {resp.text[:300]}"
    return {d["_id"] for d in body(resp)}


@pytest.mark.parametrize("q,expect", [
    ("t-shirt", {"shirt"}),
    ('"classic', {"shirt", "hoodie"}),
    ("red AND", {"hoodie"}),
    ("red", {"hoodie", "mug", "bag"}),   # word prefix: Reduced
    ("RED", {"hoodie", "mug", "bag"}),
    ("cla", {"shirt", "hoodie"}),
    ("lassic", set()),                    # not a word prefix
    ("hood red", {"hoodie"}),             # every token, any order
    ("mug ceramic", {"mug"}),             # name and description together
    ("dish", {"mug"}),
    ("shirt", {"shirt"}),
    ("tshirt", {"dress"}),
    ("red OR leather", set()),            # OR is a word, not an operator
    ("NOT red", set()),
    ("red*", {"hoodie", "mug", "bag"}),
    ("-red", {"hoodie", "mug", "bag"}),
    ("cotton   tee", {"shirt"}),
])
def test_search_matches_word_prefixes(client, searchable, q, expect):
    category, made = searchable
    assert search(client, category, q) == {made[k] for k in expect}, q


HOSTILE = ["t-shirt", '"classic', "red AND", "%", "%%", "_", "*", "'", "''", "\\", '"', '""', "NEAR(red", "NEAR",
           "red:blue", "name:red", "()", "(", ")", "^red", "{red}", "[red]", "red;DROP TABLE products", "AND",
           "OR", "NOT", "   ", "", "ünïcode", "é", "日本語", "emoji 🙂", "x" * 255,
           "$1", "?1", ":a", "@a", "#", "a/b", "a.b", "0", "-", "+", "&", "|", "~", "<>", "e\u0301", "a\u00a0b",
           "%25", "%00", "\t", "\r\n"]


@pytest.mark.parametrize("q", HOSTILE, ids=[f"q{i}" for i in range(len(HOSTILE))])
def test_search_input_never_fails(client, searchable, q):
    category, made = searchable
    found = search(client, category, q)
    assert found <= set(made.values())
    # Also without a category (the whole catalog) and combined with sorting and paging.
    resp = client.get("/api/products", params={"q": q, "sort": "-price", "limit": "5", "page": "2"})
    assert resp.status_code == 200, f"q={q!r}: {resp.text[:300]}"


def test_search_without_tokens_does_not_filter_out_everything_silently(client, searchable):
    """`%` has no alphanumeric token: either no filter (all five) or nothing; never an error."""
    category, made = searchable
    assert search(client, category, "%") in (set(made.values()), set())


# ---- internal routes from outside ----------------------------------------------------------------

INTERNAL_PATHS = [
    ("PUT", "/api/products/{id}/deduct"),
    ("PUT", "/api/products/{id}/DEDUCT"),
    ("PUT", "/api/products/{id}/Deduct/"),
    ("PUT", "/api/products/x/DEDUCT"),
    ("POST", "/api/products/reservations"),
    ("POST", "/api/products/Reservations"),
    ("POST", "/api/products/RESERVATIONS/"),
    ("POST", "/api/products/reservations/r1/commit"),
    ("POST", "/api/products/ReServations/r1/commit"),
    ("DELETE", "/api/products/reservations/r1"),
    ("DELETE", "/api/products/RESERVATIONS/r1"),
    ("GET", "/api/products/reservations"),
    ("PUT", "/api/products/{id}/%64educt"),
    ("POST", "/api/products/%52eservations"),
]


@pytest.mark.parametrize("method,path", INTERNAL_PATHS)
def test_internal_routes_are_404_through_the_gateway(stack, client, product, method, path):
    rid = "int-" + os.urandom(6).hex()
    url = path.format(id=product["_id"])
    payload = {"quantity": 1, "reservationId": "r1", "items": [{"productId": product["_id"], "quantity": 1}]}
    resp = client.request(method, url, json=payload,
                          headers={"X-Request-ID": rid, "X-Internal-Token": stack.caller_token("order")})
    assert_problem(resp, 404)
    rec = wait_for_gateway_record(stack, rid)
    assert rec is not None and rec["upstream"] == "", f"{url} was passed upstream: {rec}"
    assert stock_of(client, product["_id"]) == 10


def test_no_service_token_writes_the_catalog(stack, client, product):
    """Catalog writes are for admins: no service writes products, so no service token is accepted."""
    pid = product["_id"]
    assert_problem(client.put(f"/api/products/{pid}", json={"price": 2}, headers=internal(stack)), 401)
    direct = stack.direct(1, "products")
    for caller in ("order", "payment", "cart"):
        assert_problem(direct.put(f"/api/products/{pid}", json={"price": 2}, headers=internal(stack, caller=caller)),
                       401)
        assert_problem(direct.delete(f"/api/products/{pid}", headers=internal(stack, caller=caller)), 401)
    assert get_product(client, pid)["price"] == product["price"]


def test_both_instances_serve_products(stack, client, product):
    rids = ["prr-" + os.urandom(6).hex() for _ in range(8)]
    for rid in rids:
        assert client.get(f"/api/products/{product['_id']}", headers={"X-Request-ID": rid}).status_code == 200
    assert wait_for_gateway_record(stack, rids[-1]) is not None
    served = {r["upstream"] for r in stack.gateway_access_records() if r.get("requestId") in rids}
    assert served == {f"127.0.0.1:{i.port}" for i in stack.products}, served
