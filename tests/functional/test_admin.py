"""Admin routes of user-service: list, get, role change; customers get 403; the last admin stays."""

from __future__ import annotations

import pytest

from support.api import assert_user_document, login, register
from support.client import assert_problem, body, error_fields


def test_admin_lists_users(client, admin_token):
    mine = register(client)
    resp = client.get("/api/users?limit=100", token=admin_token)
    assert resp.status_code == 200, resp.text
    users = body(resp)
    assert isinstance(users, list) and users
    for u in users:
        assert_user_document(u)
    assert int(resp.headers["X-Total-Count"]) >= len(users)
    # Searching finds the user just registered.
    found = body(client.get("/api/users", token=admin_token, params={"q": mine["email"], "limit": 100}))
    assert mine["user"]["_id"] in {u["_id"] for u in found}, found


def test_admin_list_is_paged(client, admin_token):
    for _ in range(3):
        register(client)
    page1 = client.get("/api/users?limit=2&page=1", token=admin_token)
    page2 = client.get("/api/users?limit=2&page=2", token=admin_token)
    assert page1.status_code == 200 and page2.status_code == 200
    a, b = body(page1), body(page2)
    assert len(a) == 2 and len(b) >= 1
    assert not {u["_id"] for u in a} & {u["_id"] for u in b}
    assert 'rel="next"' in page1.headers.get("Link", "")
    link = page1.headers["Link"]
    assert "://" not in link, f"Link must be relative: {link}"


@pytest.mark.parametrize("query", ["limit=0", "limit=101", "limit=abc", "page=0"])
def test_admin_list_rejects_bad_paging(client, admin_token, query):
    doc = assert_problem(client.get(f"/api/users?{query}", token=admin_token), 400)
    assert error_fields(doc) & {"limit", "page"}, doc


def test_admin_gets_one_user(client, admin_token, user):
    resp = client.get(f"/api/users/{user['user']['_id']}", token=admin_token)
    assert resp.status_code == 200, resp.text
    assert_user_document(body(resp), email=user["email"], role="customer")


def test_get_user_with_bad_or_unknown_id_is_404(client, admin_token):
    assert_problem(client.get("/api/users/not-a-hex-id", token=admin_token), 404)
    assert_problem(client.get("/api/users/" + "f" * 24, token=admin_token), 404)


def test_admin_changes_a_role(client, admin_token):
    doc = register(client)
    uid = doc["user"]["_id"]
    resp = client.put(f"/api/users/{uid}/role", token=admin_token, json={"role": "admin"})
    assert resp.status_code == 200, resp.text
    assert body(resp)["role"] == "admin"
    # A new login carries the new role, and that token can use admin routes.
    promoted = login(client, doc["email"], doc["password"])
    assert promoted["user"]["role"] == "admin"
    assert client.get("/api/users?limit=1", token=promoted["token"]).status_code == 200
    # Back to customer (there are other admins).
    resp = client.put(f"/api/users/{uid}/role", token=admin_token, json={"role": "customer"})
    assert resp.status_code == 200, resp.text
    assert body(resp)["role"] == "customer"


def test_role_change_validates_the_role(client, admin_token, user):
    doc = assert_problem(client.put(f"/api/users/{user['user']['_id']}/role", token=admin_token,
                                    json={"role": "superuser"}), 400)
    assert "role" in error_fields(doc), doc
    assert_problem(client.put("/api/users/" + "e" * 24 + "/role", token=admin_token, json={"role": "admin"}), 404)


def test_customer_gets_403_on_admin_routes(client, user):
    other = register(client)
    token = user["token"]
    assert_problem(client.get("/api/users", token=token), 403)
    assert_problem(client.get(f"/api/users/{other['user']['_id']}", token=token), 403)
    assert_problem(client.get(f"/api/users/{user['user']['_id']}", token=token), 403)
    assert_problem(client.put(f"/api/users/{user['user']['_id']}/role", token=token, json={"role": "admin"}), 403)


def test_admin_routes_without_token_are_401(client, user):
    assert_problem(client.get("/api/users"), 401)
    assert_problem(client.get(f"/api/users/{user['user']['_id']}"), 401)
    assert_problem(client.put(f"/api/users/{user['user']['_id']}/role", json={"role": "admin"}), 401)


def all_users(client, token) -> list[dict]:
    users, page = [], 1
    while True:
        batch = body(client.get(f"/api/users?limit=100&page={page}", token=token))
        users += batch
        if len(batch) < 100:
            return users
        page += 1


def test_demoting_the_last_admin_is_409(stack, client, admin_token):
    me = body(client.get("/api/users/me", token=admin_token))
    # Leave exactly one admin: the first one.
    for u in all_users(client, admin_token):
        if u["role"] == "admin" and u["_id"] != me["_id"]:
            resp = client.put(f"/api/users/{u['_id']}/role", token=admin_token, json={"role": "customer"})
            assert resp.status_code == 200, resp.text
    assert_problem(client.put(f"/api/users/{me['_id']}/role", token=admin_token, json={"role": "customer"}), 409)
    assert body(client.get("/api/users/me", token=admin_token))["role"] == "admin"
