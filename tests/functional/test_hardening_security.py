"""Issue 7, user-service security and token checks, through the gateway on the suite's database:

- item 2: admin power follows the STORED role at once: a demoted admin's old (unexpired) token gets
  403 on every admin route of user-service and cannot re-promote itself;
- item 3: the per-email login limit holds under a parallel burst (counted before argon2);
- item 4: wrong `currentPassword` guesses on PUT /me are limited per user (429 + Retry-After);
- item 5: the refresh_tokens table holds no value that works as a refresh or an access token;
- item 8: token responses are `no-store`; high-S signatures and `iat`/`nbf` in the future are 401;
  logout answers 204 to any body.

The shared stack runs LOGIN_MAX_FAILURES_PER_EMAIL=10 and the default PASSWORD_MAX_FAILURES_PER_USER
(10), both with 15-minute windows.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from support.api import login, register
from support.client import Client, assert_problem, body
from support.tokens import P256_ORDER, b64url, b64url_decode, claims, es256

LOGIN_LIMIT = 10
PASSWORD_LIMIT = 10
BURST = 30


def retry_after(resp) -> int:
    value = resp.headers.get("Retry-After")
    assert value is not None, f"429 without Retry-After: {resp.text}"
    assert value.isdigit() and int(value) > 0, f"Retry-After {value!r}"
    return int(value)


def burst(stack, n: int, send) -> list:
    """`n` requests at once, each on its own connection; returns the responses."""
    clients = [Client(stack.url) for _ in range(n)]
    try:
        with ThreadPoolExecutor(max_workers=n) as pool:
            return list(pool.map(send, clients))
    finally:
        for c in clients:
            c.close()


# ---- item 2: a demoted admin's old token --------------------------------------------------------


def test_demoted_admin_old_token_gets_403_on_every_admin_route(stack, client, admin_token):
    x = register(client)
    x_id = x["user"]["_id"]
    promoted = client.put(f"/api/users/{x_id}/role", json={"role": "admin"}, token=admin_token)
    assert promoted.status_code == 200, promoted.text
    x_admin_token = login(client, x["email"], x["password"])["token"]
    # The control: while X is an admin, its token works on the admin routes.
    assert client.get("/api/users", token=x_admin_token).status_code == 200
    assert client.get(f"/api/users/{x_id}", token=x_admin_token).status_code == 200

    demoted = client.put(f"/api/users/{x_id}/role", json={"role": "customer"}, token=admin_token)
    assert demoted.status_code == 200, demoted.text

    # The old token is unexpired and still says role=admin; the stored role says customer.
    other = register(client)["user"]["_id"]
    assert_problem(client.put(f"/api/users/{x_id}/role", json={"role": "admin"}, token=x_admin_token), 403)
    assert_problem(client.put(f"/api/users/{other}/role", json={"role": "admin"}, token=x_admin_token), 403)
    assert_problem(client.get("/api/users", token=x_admin_token), 403)
    assert_problem(client.get(f"/api/users/{other}", token=x_admin_token), 403)
    # 403 comes before 404 and 400 (DESIGN §4 check order), as for any customer.
    assert_problem(client.get("/api/users/000000000000000000000000", token=x_admin_token), 403)
    assert_problem(client.put(f"/api/users/{x_id}/role", json={"role": "root"}, token=x_admin_token), 403)

    stored = client.get(f"/api/users/{x_id}", token=admin_token)
    assert stored.status_code == 200 and body(stored)["role"] == "customer", stored.text
    assert body(client.get(f"/api/users/{other}", token=admin_token))["role"] == "customer"
    # X itself is still a working customer.
    assert client.get("/api/users/me", token=x_admin_token).status_code == 200


# ---- item 3: the login limit under a parallel burst -----------------------------------------------


def test_parallel_wrong_passwords_get_at_most_the_limit_of_real_checks(stack, client):
    account = register(client)
    wrong = {"email": account["email"], "password": "wrong guess 1"}
    answers = burst(stack, BURST, lambda c: c.post("/api/users/login", json=wrong))
    statuses = sorted(r.status_code for r in answers)
    checked = [r for r in answers if r.status_code == 401]
    limited = [r for r in answers if r.status_code == 429]
    # Every 401 is a real argon2 verification; the limit allows LOGIN_LIMIT of them per window.
    assert len(checked) == LOGIN_LIMIT, f"{len(checked)} real checks for {BURST} parallel guesses: {statuses}"
    assert len(limited) == BURST - LOGIN_LIMIT, statuses
    for resp in limited:
        assert_problem(resp, 429)
        assert retry_after(resp) <= 900
    # The window is used up: the right password waits too.
    right = {"email": account["email"], "password": account["password"]}
    assert_problem(client.post("/api/users/login", json=right), 429)


# ---- item 4: currentPassword guesses --------------------------------------------------------------


def test_current_password_guesses_are_limited_per_user(stack, client):
    account = register(client)
    token = account["token"]

    def guess(c):
        return c.put("/api/users/me", token=token,
                     json={"password": "new password 123", "currentPassword": "not it at all"})

    answers = burst(stack, BURST, guess)
    statuses = sorted(r.status_code for r in answers)
    wrong = [r for r in answers if r.status_code == 400]
    limited = [r for r in answers if r.status_code == 429]
    assert len(wrong) == PASSWORD_LIMIT, f"{len(wrong)} checked guesses of {BURST}: {statuses}"
    assert len(limited) == BURST - PASSWORD_LIMIT, statuses
    for resp in wrong:
        doc = assert_problem(resp, 400)
        assert {e["field"] for e in doc["errors"]} == {"currentPassword"}, doc
    for resp in limited:
        assert_problem(resp, 429)
        assert retry_after(resp) <= 900
    # Limited means limited: the right current password waits as well, and nothing changed.
    right = client.put("/api/users/me", token=token,
                       json={"password": "new password 123", "currentPassword": account["password"]})
    assert_problem(right, 429)
    login(client, account["email"], account["password"])
    # A name change needs no password and is not limited.
    assert client.put("/api/users/me", token=token, json={"name": "Still Me"}).status_code == 200


def test_current_password_limit_is_per_user(stack, client):
    a = register(client)
    b = register(client)
    for _ in range(PASSWORD_LIMIT):
        resp = client.put("/api/users/me", token=a["token"],
                          json={"password": "new password 123", "currentPassword": "wrong one"})
        assert_problem(resp, 400)
    assert_problem(client.put("/api/users/me", token=a["token"],
                              json={"password": "new password 123", "currentPassword": "wrong one"}), 429)
    ok = client.put("/api/users/me", token=b["token"],
                    json={"password": "new password 123", "currentPassword": b["password"]})
    assert ok.status_code == 200, ok.text


# ---- item 5: no usable token at rest --------------------------------------------------------------


def stored_values(stack, user_id: str) -> list[str]:
    rows = stack.db.query(f"SELECT * FROM refresh_tokens WHERE user_id = '{user_id}'")
    return [v for row in rows for v in row if v not in (None, "")]


def test_refresh_tokens_table_holds_no_usable_token(stack, client, user):
    first = client.post("/api/users/refresh", json={"refreshToken": user["refreshToken"]})
    assert first.status_code == 200, first.text
    pair = body(first)
    # Right after a rotation: the retry grace is open, the successor pair must be recoverable by
    # the holder of the old token, and by no one who only reads the table.
    values = stored_values(stack, user["user"]["_id"])
    assert len(values) >= 10, f"expected the rotated and the new row: {values}"
    assert pair["refreshToken"] not in values and pair["token"] not in values
    assert not any(pair["refreshToken"] in v or pair["token"] in v for v in values)
    for value in values:
        resp = client.post("/api/users/refresh", json={"refreshToken": value})
        assert_problem(resp, 401)
        assert_problem(client.get("/api/users/me", token=value), 401)
    # The issued pair still works (the probing above did not revoke the family).
    assert client.get("/api/users/me", token=pair["token"]).status_code == 200
    assert client.post("/api/users/refresh", json={"refreshToken": pair["refreshToken"]}).status_code == 200


# ---- item 8: token responses, signatures, clocks, logout -----------------------------------------


def assert_no_store(resp) -> None:
    assert resp.status_code == 200, resp.text
    assert "no-store" in resp.headers.get("Cache-Control", ""), dict(resp.headers)
    assert resp.headers.get("Pragma") == "no-cache", dict(resp.headers)


def test_token_responses_are_not_cacheable(client):
    account = register(client)
    reg = client.post("/api/users/register",
                      json={"name": "Cache", "email": "nc-" + account["email"], "password": "correct horse 1"})
    assert_no_store(reg)
    logged_in = client.post("/api/users/login", json={"email": account["email"], "password": account["password"]})
    assert_no_store(logged_in)
    refreshed = client.post("/api/users/refresh", json={"refreshToken": body(logged_in)["refreshToken"]})
    assert_no_store(refreshed)


def with_s_negated(token: str) -> str:
    head, payload, sig = token.split(".")
    raw = b64url_decode(sig)
    s = int.from_bytes(raw[32:], "big")
    return f"{head}.{payload}.{b64url(raw[:32] + (P256_ORDER - s).to_bytes(32, 'big'))}"


def test_high_s_signature_is_401(client, user):
    assert client.get("/api/users/me", token=user["token"]).status_code == 200
    assert_problem(client.get("/api/users/me", token=with_s_negated(user["token"])), 401)


@pytest.mark.parametrize("claim", ["iat", "nbf"])
def test_iat_or_nbf_in_the_future_is_401(stack, client, user, claim):
    now = int(time.time())
    uid = user["user"]["_id"]
    # Controls: now, and 10 s ahead (clock skew inside the 30 s leeway), are accepted.
    assert client.get("/api/users/me", token=es256(stack.keys, claims(uid, **{claim: now}))).status_code == 200
    assert client.get("/api/users/me", token=es256(stack.keys, claims(uid, **{claim: now + 10}))).status_code == 200
    for ahead in (120, 86400):
        token = es256(stack.keys, claims(uid, **{claim: now + ahead}))
        assert_problem(client.get("/api/users/me", token=token), 401)


@pytest.mark.parametrize("raw, content_type", [
    (b"[]", "application/json"),
    (b'"x"', "application/json"),
    (b"1", "application/json"),
    (b"null", "application/json"),
    (b"{", "application/json"),
    (b"{\"refreshToken\": ", "application/json"),
    (b"\xff\xfe", "application/json"),
    (b"refreshToken=abc", "application/x-www-form-urlencoded"),
    (b"hello", "text/plain"),
    (b"{}", None),
    (b"", None),
])
def test_logout_is_204_for_any_body(client, raw, content_type):
    headers = {"Content-Type": content_type} if content_type else {}
    resp = client.post("/api/users/logout", data=raw, headers=headers)
    assert resp.status_code == 204, f"{raw!r} ({content_type}): {resp.status_code} {resp.text}"
    assert resp.content == b""


def test_logout_with_a_valid_token_still_revokes_it(client, user):
    resp = client.post("/api/users/logout", data=f'{{"refreshToken": "{user["refreshToken"]}"}}',
                       headers={"Content-Type": "application/json"})
    assert resp.status_code == 204
    assert_problem(client.post("/api/users/refresh", json={"refreshToken": user["refreshToken"]}), 401)
