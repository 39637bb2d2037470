"""HTTP details the review found (issue "Hardening" item 8): HEAD where GET works (RFC 9110), 431's own
problem code, the read deadline counted from a request's first byte, and /readyz as a list of checks."""

from __future__ import annotations

import socket
import time

import requests

from support.client import assert_problem


def test_head_is_answered_like_get_through_the_gateway(client, stack):
    get = client.get("/api/users/.well-known/jwks.json")
    assert get.status_code == 200
    head = requests.head(stack.url + "/api/users/.well-known/jwks.json", timeout=10)
    assert head.status_code == 200, head.text
    assert head.content == b""
    assert head.headers.get("Content-Type", "").startswith("application/json")
    assert head.headers.get("X-Request-ID")


def test_head_on_an_authenticated_route_checks_the_token_and_sends_no_body(stack, user):
    url = stack.url + "/api/users/me"
    assert requests.head(url, timeout=10).status_code == 401
    resp = requests.head(url, headers={"Authorization": f"Bearer {user['token']}"}, timeout=10)
    assert resp.status_code == 200
    assert resp.content == b""
    assert int(resp.headers["Content-Length"]) > 0


def test_allow_lists_head_wherever_get_works(stack):
    resp = requests.delete(stack.instances[0].url + "/api/users/.well-known/jwks.json", timeout=10)
    assert resp.status_code == 405
    assert [m.strip() for m in resp.headers["Allow"].split(",")] == ["GET", "HEAD"]


def test_oversized_headers_are_431_with_their_own_code(stack):
    resp = requests.get(stack.instances[0].url + "/healthz", headers={"X-Big": "a" * 9000}, timeout=10)
    doc = assert_problem(resp, 431)
    assert doc["code"] == "request_header_fields_too_large"


def test_a_stalled_request_is_closed_by_the_read_deadline_not_the_idle_one(make_stack):
    # The whole request must arrive within READ_TIMEOUT (30 s) of its first byte; the 60 s idle timeout
    # only covers a keep-alive connection waiting for the next request. Lowered here by configuration.
    with make_stack("read-deadline", env={"READ_TIMEOUT_MS": "500", "IDLE_TIMEOUT_MS": "60000"},
                    instances=1) as s:
        host, port = s.instances[0].url.removeprefix("http://").split(":")
        with socket.create_connection((host, int(port)), timeout=30) as sock:
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHo")
            start = time.monotonic()
            data = sock.recv(4096)
            elapsed = time.monotonic() - start
        assert elapsed < 10, f"stalled request held the connection {elapsed:.1f} s"
        assert data == b"" or data.startswith(b"HTTP/1.1 408"), data[:200]


def test_readyz_lists_its_checks(stack):
    resp = requests.get(stack.instances[0].url + "/readyz", timeout=10)
    assert resp.status_code == 200, resp.text
    # With events on (NATS_URL), the broker is a check too (issue 11).
    expected = {"database": "ok", "database-write": "ok"}
    if stack.nats is not None:
        expected["broker"] = "ok"
    assert resp.json()["checks"] == expected
