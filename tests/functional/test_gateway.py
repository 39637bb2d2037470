"""The nginx gateway (DESIGN §9): routing without redirects, internal routes refused, request ids,
problem documents for its own errors, services without instances, CORS, the internal token."""

from __future__ import annotations

import os

import pytest
import requests

from support.client import EXPECTED_5XX_PREFIX, assert_problem, body
from support.services import enabled
from support.stack import wait_for_gateway_record, wait_for_log


def reached_service(stack, rid: str) -> bool:
    return wait_for_log(stack, lambda r: r.get("requestId") == rid, timeout=3) is not None


def test_post_base_path_without_trailing_slash_reaches_the_service(stack, client):
    rid = "noslash-" + os.urandom(6).hex()
    resp = client.post("/api/users", json={}, headers={"X-Request-ID": rid})
    # A service answer (GET / is the admin list: POST there is 405, or 401 for want of a token),
    # never nginx's 301.
    assert resp.status_code in (401, 405), resp.text
    assert_problem(resp, resp.status_code)
    assert resp.headers["X-Request-ID"] == rid
    assert reached_service(stack, rid), "POST /api/users did not reach user-service"


def test_get_base_path_with_and_without_slash(client, admin_token):
    for path in ("/api/users", "/api/users/", "/api/users?limit=1"):
        resp = client.get(path, token=admin_token)
        assert resp.status_code == 200, f"{path}: {resp.text}"
        assert isinstance(body(resp), list)


def test_trailing_slash_on_a_route_is_tolerated(client, user):
    resp = client.get("/api/users/me/", token=user["token"])
    assert resp.status_code == 200, resp.text


@pytest.mark.parametrize("method,path", [
    ("GET", "/api/users/healthz"),
    ("GET", "/api/users/HEALTHZ"),
    ("GET", "/api/users/readyz"),
    ("GET", "/api/users/ReadyZ/"),
    ("GET", "/api/users/metrics"),
    ("GET", "/api/users/Metrics/"),
    ("GET", "/api/users/%6detrics"),
    ("GET", "/healthz"),
    ("GET", "/metrics"),
    ("GET", "/readyz"),
    ("PUT", "/api/products/0123456789abcdef01234567/deduct"),
    ("PUT", "/api/products/0123456789abcdef01234567/DEDUCT"),
    ("POST", "/api/products/reservations"),
    ("POST", "/api/products/Reservations/abc/commit"),
    ("DELETE", "/api/products/reservations/abc"),
    ("POST", "/api/cart/0123456789abcdef01234567/remove-ordered"),
    ("GET", "/api/orders/internal/0123456789abcdef01234567"),
    ("POST", "/api/orders/internal/0123456789abcdef01234567/payment-lease"),
    ("DELETE", "/api/orders/Internal/0123456789abcdef01234567/payment-lease/pay_1"),
    ("POST", "/api/orders/internal/0123456789abcdef01234567/paid"),
    ("POST", "/api/orders/INTERNAL/0123456789abcdef01234567/payment-failed"),
    ("GET", "/api/users/x/../metrics"),
])
def test_internal_routes_are_404_at_the_gateway(stack, client, method, path):
    rid = "internal-" + os.urandom(6).hex()
    resp = client.request(method, path, headers={"X-Request-ID": rid})
    doc = assert_problem(resp, 404)
    assert doc["requestId"] == rid
    rec = wait_for_gateway_record(stack, rid)
    assert rec is not None and rec["upstream"] == "", f"{path} was passed upstream: {rec}"


@pytest.mark.parametrize("method,path", [
    *([] if enabled("products") else [
        ("GET", "/api/products"),
        ("POST", "/api/products"),
        ("GET", "/api/products/0123456789abcdef01234567"),
    ]),
    *([] if enabled("cart") else [("GET", "/api/cart/0123456789abcdef01234567")]),
    *([] if enabled("orders") else [
        ("POST", "/api/orders/0123456789abcdef01234567"),
        ("GET", "/api/orders/x"),
    ]),
    *([] if enabled("payments") else [("POST", "/api/payments/x")]),
    *([] if enabled("notification") else [("POST", "/api/notification/email")]),
])
def test_services_without_instances_answer_503_problem(client, method, path):
    resp = client.request(method, path, json={}, expect_5xx=True)
    doc = assert_problem(resp, 503)
    assert doc["requestId"].startswith(EXPECTED_5XX_PREFIX)


@pytest.mark.parametrize("path", ["/", "/api", "/api/", "/api/unknown", "/API/users/me", "/api/usersx",
                                  "/api/Users/login"])
def test_unknown_paths_are_404_problem(client, path):
    assert_problem(client.get(path), 404)


def test_a_valid_incoming_request_id_is_echoed_and_passed_on(stack, client, user):
    rid = "Client_Req.42:" + os.urandom(4).hex()
    resp = client.get("/api/users/me", token=user["token"], headers={"X-Request-ID": rid})
    assert resp.status_code == 200
    assert resp.headers["X-Request-ID"] == rid
    # Exactly one X-Request-ID header (the service's own is hidden, the gateway's added).
    assert len([v for k, v in resp.raw.headers.items() if k.lower() == "x-request-id"]) == 1
    assert reached_service(stack, rid)


@pytest.mark.parametrize("bad", ["has space", "x" * 129, "semi;colon", "slash/id", "ünïcode", "tab\there", ""])
def test_an_invalid_incoming_request_id_is_replaced(stack, client, user, bad):
    try:
        resp = client.get("/api/users/me", token=user["token"], headers={"X-Request-ID": bad.encode("utf-8")})
    except requests.exceptions.InvalidHeader:
        pytest.fail("requests refused the header")
    assert resp.status_code == 200
    rid = resp.headers["X-Request-ID"]
    assert rid != bad
    # The service logged the replacement, not the bad value.
    assert reached_service(stack, rid)


def test_every_kind_of_response_has_a_request_id(client, user):
    """Also checked on every response of the suite by the client; here one of each kind."""
    big = b"x" * (1024 * 1024 + 1)
    cases = [
        client.get("/api/users/me", token=user["token"]),                 # 200 from the service
        client.get("/api/users/me"),                                      # 401 from the service
        client.post("/api/users/logout", json={}),                        # 204 from the service
        client.get("/api/users/healthz"),                                 # 404 from the gateway
        client.post("/api/users/register", data=big,
                    headers={"Content-Type": "application/json"}),        # 413 from the gateway
        client.request("OPTIONS", "/api/users/login",
                       headers={"Origin": "http://shop.example",
                                "Access-Control-Request-Method": "POST"}),  # 204 preflight
    ]
    expected = [200, 401, 204, 404, 413, 204]
    # A 503 from the gateway needs a service without instances (none when all six run).
    absent = [path for name, path in (("products", "/api/products/x"), ("cart", "/api/cart/x"),
                                      ("orders", "/api/orders/x"), ("payments", "/api/payments/x"),
                                      ("notification", "/api/notification/x")) if not enabled(name)]
    if absent:
        cases.append(client.get(absent[0], expect_5xx=True))
        expected.append(503)
    assert [r.status_code for r in cases] == expected
    for r in cases:
        assert r.headers.get("X-Request-ID")


def test_cors_preflight_is_answered_at_the_gateway(client):
    resp = client.request("OPTIONS", "/api/users/login",
                          headers={"Origin": "http://shop.example", "Access-Control-Request-Method": "POST",
                                   "Access-Control-Request-Headers": "content-type,authorization"})
    assert resp.status_code == 204
    assert resp.headers["Access-Control-Allow-Origin"] == "http://shop.example"
    assert "POST" in resp.headers["Access-Control-Allow-Methods"]
    assert "authorization" in resp.headers["Access-Control-Allow-Headers"].lower()
    # An origin not on the list gets no grant.
    resp = client.request("OPTIONS", "/api/users/login",
                          headers={"Origin": "http://evil.example", "Access-Control-Request-Method": "POST"})
    assert "Access-Control-Allow-Origin" not in resp.headers


def test_cors_headers_on_actual_responses(client, user):
    resp = client.get("/api/users/me", token=user["token"], headers={"Origin": "http://shop.example"})
    assert resp.status_code == 200
    assert resp.headers["Access-Control-Allow-Origin"] == "http://shop.example"
    assert "X-Request-ID" in resp.headers["Access-Control-Expose-Headers"]
    resp = client.get("/api/users/me", token=user["token"], headers={"Origin": "http://evil.example"})
    assert "Access-Control-Allow-Origin" not in resp.headers


def test_the_internal_token_is_dropped_from_outside(stack, client, user):
    uid = user["user"]["_id"]
    headers = {"X-Internal-Token": stack.caller_token("order")}
    # Direct on an instance, the token is an internal caller (GET /:id is admin or internal) ...
    direct = stack.direct(0).get(f"/api/users/{uid}", headers=headers)
    assert direct.status_code == 200, direct.text
    # ... through the gateway it never arrives.
    assert_problem(client.get(f"/api/users/{uid}", headers=headers), 401)
    assert_problem(client.get(f"/api/users/{uid}", headers=headers, token=user["token"]), 403)


def test_service_problem_bodies_pass_through_unchanged(stack, client):
    """proxy_intercept_errors is off: a 401 from the service is its own document, not nginx's."""
    rid = "passthrough-" + os.urandom(4).hex()
    via_gateway = assert_problem(client.get("/api/users/me", headers={"X-Request-ID": rid}), 401)
    direct = assert_problem(stack.direct(1).get("/api/users/me", headers={"X-Request-ID": rid}), 401)
    for key in ("type", "title", "detail", "code", "msg", "error"):
        assert via_gateway[key] == direct[key], key
    assert via_gateway["code"] != "not_found"


def test_both_instances_serve_traffic(stack, client, user):
    rids = ["rr-" + os.urandom(6).hex() for _ in range(8)]
    for rid in rids:
        assert client.get("/api/users/me", token=user["token"], headers={"X-Request-ID": rid}).status_code == 200
    assert wait_for_gateway_record(stack, rids[-1]) is not None
    served = {r["upstream"] for r in stack.gateway_access_records() if r.get("requestId") in rids}
    assert len(served) == 2, f"round robin should reach both instances: {served}"


def test_gateway_access_log_is_json_with_request_ids(stack, client):
    rid = "gwlog-" + os.urandom(4).hex()
    client.get("/api/users/me", headers={"X-Request-ID": rid})
    rec = wait_for_gateway_record(stack, rid)
    assert rec is not None and rec["status"] == 401 and rec["method"] == "GET", rec
    assert rec["upstream"].startswith("127.0.0.1:"), rec
