"""Refresh tokens (DESIGN §6): rotated on use; a retry within REFRESH_REUSE_GRACE_S (2 s in the
suite) gets the same new pair once; reuse after that revokes the whole family. Logout always 204."""

from __future__ import annotations

import time

from support.api import login, register
from support.client import assert_problem, body


def refresh(client, token):
    return client.post("/api/users/refresh", json={"refreshToken": token})


def test_refresh_returns_a_new_pair_that_works(client, user):
    resp = refresh(client, user["refreshToken"])
    assert resp.status_code == 200, resp.text
    doc = body(resp)
    assert doc["refreshToken"] != user["refreshToken"]
    assert doc["token"] != user["token"]
    me = client.get("/api/users/me", token=doc["token"])
    assert me.status_code == 200 and body(me)["_id"] == user["user"]["_id"]
    # The new refresh token works in turn.
    assert refresh(client, doc["refreshToken"]).status_code == 200


def test_retry_within_the_grace_window_gets_the_same_pair(client, user):
    first = refresh(client, user["refreshToken"])
    assert first.status_code == 200, first.text
    retry = refresh(client, user["refreshToken"])
    assert retry.status_code == 200, f"a retry within the grace window must succeed: {retry.text}"
    a, b = body(first), body(retry)
    assert b["refreshToken"] == a["refreshToken"], "the retry must get the same new refresh token"
    assert b["token"] == a["token"], "the retry must get the same access token (the same pair)"
    me = client.get("/api/users/me", token=b["token"])
    assert me.status_code == 200 and body(me)["_id"] == user["user"]["_id"]
    # The family is intact: the new refresh token still rotates.
    assert refresh(client, a["refreshToken"]).status_code == 200


def test_reuse_after_the_grace_window_is_401_and_revokes_the_newer_token(client, user):
    first = refresh(client, user["refreshToken"])
    assert first.status_code == 200, first.text
    newer = body(first)["refreshToken"]
    time.sleep(3.2)  # REFRESH_REUSE_GRACE_S=2, with room for whole-second clocks
    assert_problem(refresh(client, user["refreshToken"]), 401)
    # Reuse means theft: the token the thief (or the victim) got from the rotation is dead too.
    assert_problem(refresh(client, newer), 401)


def test_unknown_or_malformed_refresh_token_is_401(client):
    assert_problem(refresh(client, "not-a-refresh-token"), 401)
    assert_problem(refresh(client, "A" * 43), 401)


def test_refresh_without_the_field_is_rejected(client):
    resp = client.post("/api/users/refresh", json={})
    assert resp.status_code in (400, 401), resp.text
    assert_problem(resp, resp.status_code)


def test_logout_is_204_and_revokes_the_refresh_token(client, user):
    resp = client.post("/api/users/logout", json={"refreshToken": user["refreshToken"]})
    assert resp.status_code == 204, resp.text
    assert resp.content == b""
    assert_problem(refresh(client, user["refreshToken"]), 401)


def test_logout_is_204_always(client, user):
    for payload in ({"refreshToken": "garbage"}, {"refreshToken": user["refreshToken"]},
                    {"refreshToken": user["refreshToken"]}, {}):
        resp = client.post("/api/users/logout", json=payload)
        assert resp.status_code == 204, f"{payload}: {resp.status_code} {resp.text}"
    # With a token in the header too, and with a bad one.
    assert client.post("/api/users/logout", json={}, token=user["token"]).status_code == 204
    assert client.post("/api/users/logout", json={}, token="bad.token.here").status_code == 204


def test_password_change_revokes_refresh_tokens(client):
    doc = register(client)
    other_session = login(client, doc["email"], doc["password"])
    resp = client.put("/api/users/me", token=doc["token"],
                      json={"password": "a brand new password", "currentPassword": doc["password"]})
    assert resp.status_code == 200, resp.text
    assert_problem(refresh(client, doc["refreshToken"]), 401)
    assert_problem(refresh(client, other_session["refreshToken"]), 401)
    # A fresh login gets a working family again.
    fresh = login(client, doc["email"], "a brand new password")
    assert refresh(client, fresh["refreshToken"]).status_code == 200
