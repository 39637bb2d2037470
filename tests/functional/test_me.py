"""PUT /api/users/me: name and phone; password only with the right currentPassword."""

from __future__ import annotations

from support.api import login, register
from support.client import assert_problem, body, error_fields


def test_put_me_changes_the_name_and_bumps_the_version(client, user):
    before = body(client.get("/api/users/me", token=user["token"]))
    resp = client.put("/api/users/me", token=user["token"], json={"name": "Renamed"})
    assert resp.status_code == 200, resp.text
    after = body(resp)
    assert after["name"] == "Renamed"
    assert after["__v"] == before["__v"] + 1
    assert after["_id"] == before["_id"] and after["email"] == before["email"]
    assert body(client.get("/api/users/me", token=user["token"]))["name"] == "Renamed"


def test_put_me_ignores_server_fields(client, user):
    resp = client.put("/api/users/me", token=user["token"],
                      json={"name": "Still Customer", "role": "admin", "_id": "0" * 24, "email": "x@example.test"})
    assert resp.status_code == 200, resp.text
    doc = body(resp)
    assert doc["role"] == "customer"
    assert doc["_id"] == user["user"]["_id"]


def test_put_me_rejects_a_bad_name(client, user):
    doc = assert_problem(client.put("/api/users/me", token=user["token"], json={"name": ""}), 400)
    assert "name" in error_fields(doc), doc


def test_put_me_password_with_wrong_current_password_is_400_naming_it(client, user):
    resp = client.put("/api/users/me", token=user["token"],
                      json={"password": "new password 123", "currentPassword": "not the current one"})
    doc = assert_problem(resp, 400)
    assert "currentPassword" in error_fields(doc), doc
    # Nothing changed: the old password still logs in.
    login(client, user["email"], user["password"])


def test_put_me_password_without_current_password_is_400(client, user):
    resp = client.put("/api/users/me", token=user["token"], json={"password": "new password 123"})
    doc = assert_problem(resp, 400)
    assert "currentPassword" in error_fields(doc), doc


def test_put_me_password_change_takes_effect(client):
    doc = register(client)
    resp = client.put("/api/users/me", token=doc["token"],
                      json={"password": "the new password", "currentPassword": doc["password"]})
    assert resp.status_code == 200, resp.text
    assert_problem(client.post("/api/users/login", json={"email": doc["email"], "password": doc["password"]}), 401)
    login(client, doc["email"], "the new password")


def test_put_me_without_token_is_401(client):
    assert_problem(client.put("/api/users/me", json={"name": "x"}), 401)
