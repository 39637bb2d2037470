"""Helpers for the product-service and shopping-cart-service tests: tokens minted with the stack's
own key (DESIGN §11), products made through the admin API, reservations made directly on a
product-service instance with the internal token, and concurrent calls that honour Retry-After."""

from __future__ import annotations

import secrets
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import requests

from .client import Client, assert_problem, body
from .tokens import claims, es256

PRODUCT_FIELDS = ("_id", "name", "description", "price", "currency", "category", "stock", "sku", "images",
                  "createdAt", "updatedAt", "__v")
CART_FIELDS = ("_id", "userId", "items", "subtotal", "updatedAt", "__v")


def object_id() -> str:
    return secrets.token_hex(12)


def tag() -> str:
    return secrets.token_hex(4)


def mint(stack, role: str = "customer", user_id: str | None = None) -> str:
    """An access token the services accept (signed with the stack's key, right kid and issuer)."""
    return es256(stack.keys, claims(user_id or object_id(), role=role))


def admin_token(stack) -> str:
    return mint(stack, role="admin")


def internal(stack, headers: dict | None = None, caller: str = "order") -> dict:
    """Headers of a call by another service (`caller`) with its own token."""
    out = {"X-Internal-Token": stack.caller_token(caller)}
    out.update(headers or {})
    return out


def product_body(**fields) -> dict:
    doc = {"name": f"Widget {tag()}", "description": "A useful thing", "price": 9.99,
           "category": f"misc-{tag()}", "stock": 10}
    doc.update(fields)
    return doc


def etag_of(product: dict) -> str:
    return f'"{product["_id"]}-{product["__v"]}"'


def assert_product(doc: dict) -> dict:
    missing = [k for k in PRODUCT_FIELDS if k not in doc]
    assert not missing, f"product lacks {missing}: {doc}"
    assert isinstance(doc["_id"], str) and len(doc["_id"]) == 24, doc
    return doc


def create_product(client: Client, token: str, path: str = "/api/products", headers: dict | None = None,
                   **fields) -> dict:
    resp = client.post(path, token=token, json=product_body(**fields), headers=headers)
    assert resp.status_code == 201, f"create product: {resp.status_code} {resp.text[:400]}"
    doc = assert_product(body(resp))
    assert resp.headers.get("ETag") == etag_of(doc), resp.headers
    return doc


def get_product(client: Client, product_id: str) -> dict:
    resp = client.get(f"/api/products/{product_id}")
    assert resp.status_code == 200, f"get product: {resp.status_code} {resp.text[:300]}"
    return body(resp)


def stock_of(client: Client, product_id: str) -> int:
    return get_product(client, product_id)["stock"]


def reserve(client: Client, stack, reservation_id: str, items: list[tuple[str, int]] | list[dict],
            **kw) -> requests.Response:
    lines = [i if isinstance(i, dict) else {"productId": i[0], "quantity": i[1]} for i in items]
    return client.post("/api/products/reservations", headers=internal(stack),
                       json={"reservationId": reservation_id, "items": lines}, **kw)


def commit(client: Client, stack, reservation_id: str, **kw) -> requests.Response:
    return client.post(f"/api/products/reservations/{reservation_id}/commit", headers=internal(stack), **kw)


def release(client: Client, stack, reservation_id: str, **kw) -> requests.Response:
    return client.delete(f"/api/products/reservations/{reservation_id}", headers=internal(stack), **kw)


def retry_after_seconds(resp: requests.Response) -> float:
    value = resp.headers.get("Retry-After")
    assert value is not None and value.isdigit() and int(value) >= 1, \
        f"a 503 must carry Retry-After (seconds): {resp.headers} {resp.text[:200]}"
    return float(value)


class Concurrent:
    """Runs `calls` at once, each a function (client) -> response, on their own clients (one
    connection each; base URLs may differ per call). A 503 must carry Retry-After and is retried
    after it (up to `retries` times), like a well-behaved client; every 503 seen is counted."""

    def __init__(self, retries: int = 5, timeout: float = 60.0):
        self.retries = retries
        self.timeout = timeout
        self.unavailable = 0
        self.errors: list[str] = []
        self._lock = threading.Lock()

    def run(self, calls: list[tuple[str, object]]) -> list[requests.Response | None]:
        """`calls`: (base_url, fn(client) -> response). Returns the final responses in order."""
        barrier = threading.Barrier(len(calls))

        def one(item):
            base_url, fn = item
            with Client(base_url, timeout=self.timeout) as c:
                try:
                    barrier.wait(timeout=30)
                except threading.BrokenBarrierError:
                    pass
                for attempt in range(self.retries + 1):
                    try:
                        resp = fn(c)
                    except Exception as exc:  # noqa: BLE001 - reported by the test
                        with self._lock:
                            self.errors.append(repr(exc))
                        return None
                    if resp.status_code != 503 or attempt == self.retries:
                        return resp
                    with self._lock:
                        self.unavailable += 1
                    time.sleep(min(retry_after_seconds(resp), 2.0))
                return None

        with ThreadPoolExecutor(max_workers=len(calls)) as pool:
            return list(pool.map(one, calls))


def statuses(responses) -> Counter:
    return Counter(r.status_code if r is not None else None for r in responses)


def problem(resp: requests.Response, status: int) -> dict:
    return assert_problem(resp, status)
