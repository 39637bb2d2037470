"""POST /api/users/login: one answer for every failure, seed hashes, the first admin."""

from __future__ import annotations

from support.api import argon2id_encoded, assert_user_document, login, register, unique_email
from support.client import assert_problem, body, error_fields
from support.db import literal
from support.tokens import decode_unverified


def test_login_returns_token_refresh_token_and_user(client, user):
    doc = login(client, user["email"], user["password"])
    assert set(doc) >= {"token", "refreshToken", "user"}
    assert_user_document(doc["user"], email=user["email"], role="customer")
    assert doc["refreshToken"] != user["refreshToken"]
    assert client.get("/api/users/me", token=doc["token"]).status_code == 200


def test_login_email_is_case_insensitive(client, user):
    doc = login(client, user["email"].upper(), user["password"])
    assert doc["user"]["_id"] == user["user"]["_id"]


def test_unknown_email_and_wrong_password_get_the_same_401(client, user):
    wrong_password = client.post("/api/users/login", json={"email": user["email"], "password": "not the password"})
    unknown_email = client.post("/api/users/login", json={"email": unique_email("nobody"), "password": "whatever1"})
    a = assert_problem(wrong_password, 401)
    b = assert_problem(unknown_email, 401)
    for key in ("type", "title", "status", "detail", "code", "errors", "msg", "error"):
        assert a[key] == b[key], f"{key} differs: {a[key]!r} vs {b[key]!r}"
    assert a["requestId"] != b["requestId"]


def test_login_missing_fields_is_400(client):
    resp = client.post("/api/users/login", json={})
    doc = assert_problem(resp, 400)
    assert {"email", "password"} <= error_fields(doc), doc


def test_login_malformed_json_is_400(client):
    resp = client.post("/api/users/login", data=b"{nope", headers={"Content-Type": "application/json"})
    assert_problem(resp, 400)


def test_seed_format_hash_logs_in_and_is_rehashed_with_the_stack_parameters(stack, client, user):
    """A hash in the seed's format (m=65536,t=3,p=4) verifies, and the next successful login
    stores it again with the configured parameters (ARGON2_M_KIB=1024, ARGON2_T=1, ARGON2_P=1)."""
    password = "seed-era password"
    seed_hash = argon2id_encoded(password.encode(), t=3, m_kib=65536, p=4)
    assert seed_hash.startswith("$argon2id$v=19$m=65536,t=3,p=4$")
    email = user["email"].lower()
    stack.db.execute(f"UPDATE users SET password_hash = {literal(seed_hash)} WHERE email = {literal(email)}")
    assert stack.db.query(f"SELECT password_hash FROM users WHERE email = {literal(email)}") == [(seed_hash,)]

    # The old password is gone with the old hash; the seed one works.
    assert_problem(client.post("/api/users/login", json={"email": email, "password": user["password"]}), 401)
    doc = login(client, email, password)
    assert doc["user"]["_id"] == user["user"]["_id"]

    [(stored,)] = stack.db.query(f"SELECT password_hash FROM users WHERE email = {literal(email)}")
    assert stored != seed_hash, "the seed hash was not replaced at login"
    assert stored.startswith("$argon2id$v=19$m=1024,t=1,p=1$"), stored
    # And the re-hashed password still logs in, on whichever instance.
    for _ in range(2):
        login(client, email, password)


def test_first_admin_comes_from_admin_email_and_password(stack, client):
    doc = login(client, stack.admin_email, stack.admin_password)
    assert_user_document(doc["user"], email=stack.admin_email, role="admin")
    _, claims = decode_unverified(doc["token"])
    assert claims["role"] == "admin"
    # Created once although two instances started together.
    rows = stack.db.query(f"SELECT count(*) FROM users WHERE email = {literal(stack.admin_email)}")
    assert rows == [("1",)], rows


def test_logged_in_user_is_the_registered_one(client):
    doc = register(client, name="Grace Hopper")
    again = login(client, doc["email"], doc["password"])
    me = body(client.get("/api/users/me", token=again["token"]))
    assert me["_id"] == doc["user"]["_id"] and me["name"] == "Grace Hopper"
