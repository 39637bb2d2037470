"""GET /api/users/me and token verification (DESIGN §6): everything but a valid ES256 token with a
known kid, a future exp, our issuer, a 24-hex userId and a known role is 401."""

from __future__ import annotations

import json
import time

import pytest

from support.api import assert_user_document
from support.client import Client, assert_problem, body
from support.tokens import KeyPair, alg_none, claims, es256, hs256, tamper_payload


@pytest.fixture(scope="module")
def jwks_text(stack) -> str:
    with Client(stack.url) as c:
        resp = c.get("/api/users/.well-known/jwks.json")
        assert resp.status_code == 200
        return resp.text


def me(client, token):
    return client.get("/api/users/me", token=token)


def test_me_with_the_issued_token(client, user):
    resp = me(client, user["token"])
    assert resp.status_code == 200, resp.text
    assert_user_document(body(resp), email=user["email"], role="customer")


def test_me_with_a_token_minted_by_the_test_key(stack, client, user):
    """The control for the 401 cases below: a token the test signs correctly is accepted, so each
    of them fails for the one thing it changes."""
    token = es256(stack.keys, claims(user["user"]["_id"]))
    resp = me(client, token)
    assert resp.status_code == 200, resp.text
    assert body(resp)["_id"] == user["user"]["_id"]


def test_me_without_token_is_401(client):
    assert_problem(client.get("/api/users/me"), 401)


@pytest.mark.parametrize("value", ["", "Bearer", "Bearer ", "Basic dXNlcjpwYXNz", "Bearer a.b.c", "Bearer ..."])
def test_me_with_a_malformed_authorization_header_is_401(client, value):
    assert_problem(client.get("/api/users/me", headers={"Authorization": value}), 401)


def test_me_with_a_tampered_token_is_401(client, user):
    assert_problem(me(client, tamper_payload(user["token"], role="admin")), 401)
    assert_problem(me(client, tamper_payload(user["token"], exp=int(time.time()) + 86400 * 365)), 401)
    # A flipped signature byte.
    head, payload, sig = user["token"].split(".")
    flipped = sig[:-2] + ("A" if sig[-2] != "A" else "B") + sig[-1]
    assert_problem(me(client, f"{head}.{payload}.{flipped}"), 401)


@pytest.mark.parametrize("alg", ["none", "None", "NONE"])
def test_me_with_alg_none_is_401(stack, client, user, alg):
    assert_problem(me(client, alg_none(claims(user["user"]["_id"]), stack.keys.thumbprint, alg=alg)), 401)


def test_me_with_hs256_keyed_by_the_public_key_file_is_401(stack, client, user):
    payload = claims(user["user"]["_id"], role="admin")
    kid = stack.keys.thumbprint
    # The exact bytes of the PEM file (as `openssl pkey -pubout` writes it), with and without the
    # final newline, the DER form, and the private key file the service actually loads.
    pem = stack.keys.public_pem
    for secret in (pem, pem.rstrip(b"\n"), stack.keys.public_der, stack.keys.private_path.read_bytes()):
        assert_problem(me(client, hs256(secret, payload, kid)), 401)


def test_me_with_hs256_keyed_by_the_jwks_entry_is_401(stack, client, user, jwks_text):
    payload = claims(user["user"]["_id"], role="admin")
    kid = stack.keys.thumbprint
    jwks = json.loads(jwks_text)
    entry = next(k for k in jwks["keys"] if k["kid"] == kid)
    secrets = {
        json.dumps(entry).encode(),
        json.dumps(entry, separators=(",", ":")).encode(),
        json.dumps(entry, separators=(",", ":"), sort_keys=True).encode(),
        jwks_text.encode(),
    }
    # The entry exactly as it appears in the served document.
    start = jwks_text.find("{", jwks_text.find("["))
    depth = 0
    for i in range(start, len(jwks_text)):
        depth += {"{": 1, "}": -1}.get(jwks_text[i], 0)
        if depth == 0:
            secrets.add(jwks_text[start:i + 1].encode())
            break
    for secret in secrets:
        assert_problem(me(client, hs256(secret, payload, kid)), 401)


def test_me_with_an_expired_token_is_401(stack, client, user):
    now = int(time.time())
    # Past the 30 s leeway.
    token = es256(stack.keys, claims(user["user"]["_id"], now=now - 1000, ttl=1000 - 120))
    assert_problem(me(client, token), 401)


def test_me_with_another_issuer_is_401(stack, client, user):
    for issuer in ("not-emporium", "Emporium", "emporium ", ""):
        assert_problem(me(client, es256(stack.keys, claims(user["user"]["_id"], issuer=issuer))), 401)


def test_me_with_a_foreign_key_under_our_kid_is_401(stack, client, user, tmp_path):
    other = KeyPair(tmp_path)
    token = es256(other, claims(user["user"]["_id"]), kid=stack.keys.thumbprint)
    assert_problem(me(client, token), 401)


def test_me_with_an_unknown_kid_is_401(stack, client, user):
    assert_problem(me(client, es256(stack.keys, claims(user["user"]["_id"]), kid="not-a-known-kid")), 401)
    # No kid at all.
    token = es256(stack.keys, claims(user["user"]["_id"]), header={"kid": None})
    assert_problem(me(client, token), 401)


@pytest.mark.parametrize("change", [
    {"exp": None},
    {"exp": "9999999999"},
    {"exp": 1e12 + 0.5},
    {"iss": None},
    {"userId": "not-hex"},
    {"userId": "0123456789ABCDEF01234567"},
    {"userId": None},
    {"role": "superuser"},
    {"role": None},
])
def test_me_with_bad_claims_is_401(stack, client, user, change):
    payload = claims(user["user"]["_id"])
    payload.update(change)
    payload = {k: v for k, v in payload.items() if v is not None}
    assert_problem(me(client, es256(stack.keys, payload)), 401)


def test_me_with_es256_header_but_other_alg_is_401(stack, client, user):
    token = es256(stack.keys, claims(user["user"]["_id"]), header={"alg": "ES384"})
    assert_problem(me(client, token), 401)
