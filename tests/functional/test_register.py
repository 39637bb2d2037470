"""POST /api/users/register through the gateway (API.md user-service; issue 3)."""

from __future__ import annotations

import time

from support.api import assert_user_document, register, unique_email
from support.client import assert_problem, body, error_fields
from support.stack import wait_for_gateway_record
from support.tokens import decode_unverified, verify_with_jwks


def test_register_returns_token_refresh_token_and_user(client):
    email = unique_email()
    resp = client.post("/api/users/register",
                       json={"name": "Ada Lovelace", "email": email, "password": "analytical engine",
                             "phone": "+14155550123"})
    assert resp.status_code == 200, resp.text
    assert resp.headers["Content-Type"].startswith("application/json")
    doc = body(resp)
    assert set(doc) >= {"token", "refreshToken", "user"}, doc
    assert isinstance(doc["token"], str) and doc["token"].count(".") == 2
    assert isinstance(doc["refreshToken"], str) and len(doc["refreshToken"]) >= 32
    assert_user_document(doc["user"], email=email, role="customer")
    assert doc["user"]["name"] == "Ada Lovelace"
    assert doc["user"]["phone"] == "+14155550123"


def test_token_verifies_es256_against_the_jwks(stack, client):
    doc = register(client)
    jwks_resp = client.get("/api/users/.well-known/jwks.json")
    assert jwks_resp.status_code == 200, jwks_resp.text
    jwks = body(jwks_resp)
    assert isinstance(jwks.get("keys"), list) and jwks["keys"], jwks

    header, _ = decode_unverified(doc["token"])
    assert header["alg"] == "ES256"
    assert header["kid"] == stack.keys.thumbprint, "kid must default to the RFC 7638 thumbprint"
    entry = next(k for k in jwks["keys"] if k["kid"] == header["kid"])
    ours = stack.keys.jwk()
    assert (entry["kty"], entry["crv"], entry["x"], entry["y"]) == (ours["kty"], ours["crv"], ours["x"], ours["y"])
    for secret in ("d", "p", "q"):
        assert secret not in entry, f"JWKS exposes private member {secret}"

    claims = verify_with_jwks(doc["token"], jwks)
    now = time.time()
    assert claims["userId"] == doc["user"]["_id"]
    assert claims["role"] == "customer"
    assert claims["iss"] == "emporium"
    assert claims["jti"]
    assert claims["iat"] <= now + 5
    # ACCESS_TOKEN_TTL defaults to 15 minutes.
    assert 800 <= claims["exp"] - claims["iat"] <= 1000


def test_every_instance_signs_with_the_shared_key(stack):
    """Both instances serve the same JWKS (they load the same key file)."""
    sets = [body(stack.direct(i).get("/api/users/.well-known/jwks.json")) for i in range(len(stack.instances))]
    assert all(s == sets[0] for s in sets), sets


def test_role_admin_in_body_still_yields_a_customer(client):
    doc = register(client, role="admin", _id="0123456789abcdef01234567", __v=42)
    assert doc["user"]["role"] == "customer"
    assert doc["user"]["_id"] != "0123456789abcdef01234567"
    _, claims = decode_unverified(doc["token"])
    assert claims["role"] == "customer"
    me = client.get("/api/users/me", token=doc["token"])
    assert me.status_code == 200, me.text
    assert body(me)["role"] == "customer"


def test_same_email_in_other_letter_case_is_409(client):
    email = unique_email("Case")
    register(client, email=email.lower())
    resp = client.post("/api/users/register",
                       json={"name": "Twin", "email": email.upper(), "password": "another password"})
    assert_problem(resp, 409)


def test_email_is_stored_lower_case(client):
    email = unique_email("MiXeD")
    doc = register(client, email=email)
    assert doc["user"]["email"] == email.lower()


def test_malformed_json_is_400_problem(client):
    resp = client.post("/api/users/register", data=b'{"name": "x", "email": ',
                       headers={"Content-Type": "application/json"})
    assert_problem(resp, 400)


def test_invalid_utf8_is_400_problem(client):
    resp = client.post("/api/users/register",
                       data=b'{"name":"\xff\xfe","email":"a@example.test","password":"12345678901"}',
                       headers={"Content-Type": "application/json"})
    assert_problem(resp, 400)


def test_non_json_body_is_415(client):
    resp = client.post("/api/users/register", data=b"name=x&email=y",
                       headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert_problem(resp, 415)


def test_invalid_fields_are_400_naming_each_field(client):
    resp = client.post("/api/users/register", json={"name": "", "email": "not-an-email", "password": "short"})
    doc = assert_problem(resp, 400)
    assert {"name", "email", "password"} <= error_fields(doc), doc


def test_two_mib_body_is_413_problem_from_the_gateway(stack, client):
    big = b'{"name":"' + b"a" * (2 * 1024 * 1024) + b'"}'
    resp = client.post("/api/users/register", data=big, headers={"Content-Type": "application/json"})
    doc = assert_problem(resp, 413)
    assert resp.headers.get("X-Request-ID") == doc["requestId"]
    # The gateway's own answer: nginx refused it without asking an instance.
    record = wait_for_gateway_record(stack, doc["requestId"])
    assert record is not None and record["status"] == 413 and record["upstream"] == "", record
