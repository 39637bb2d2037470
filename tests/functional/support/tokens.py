"""The test's own signing keys (DESIGN §11) and hand-made tokens, good and bad.

Tokens are assembled by hand where PyJWT would refuse to make them (alg none, HS256 keyed with a
PEM): the point is to send the service exactly what an attacker could.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import time
from pathlib import Path

import jwt
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature


# The order n of the P-256 group (FIPS 186-4).
P256_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def b64url_json(value: dict) -> str:
    return b64url(json.dumps(value, separators=(",", ":")).encode())


class KeyPair:
    """A P-256 key pair written as PKCS#8 / SubjectPublicKeyInfo PEM files."""

    def __init__(self, directory: Path, name: str = "jwt"):
        self.private_key = ec.generate_private_key(ec.SECP256R1())
        self.private_pem = self.private_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
        self.public_pem = self.private_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        self.public_der = self.private_key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
        directory.mkdir(parents=True, exist_ok=True)
        self.private_path = directory / f"{name}-private.pem"
        self.public_path = directory / f"{name}-public.pem"
        self.private_path.write_bytes(self.private_pem)
        os.chmod(self.private_path, 0o600)
        self.public_path.write_bytes(self.public_pem)

    def jwk(self) -> dict:
        numbers = self.private_key.public_key().public_numbers()
        return {
            "kty": "EC",
            "crv": "P-256",
            "x": b64url(numbers.x.to_bytes(32, "big")),
            "y": b64url(numbers.y.to_bytes(32, "big")),
        }

    @property
    def thumbprint(self) -> str:
        """RFC 7638: SHA-256 over the required members in lexical order, no whitespace."""
        jwk = self.jwk()
        canonical = json.dumps({k: jwk[k] for k in ("crv", "kty", "x", "y")}, separators=(",", ":"))
        return b64url(hashlib.sha256(canonical.encode()).digest())

    def sign_es256(self, signing_input: bytes) -> bytes:
        """Raw R||S with a low S (s <= n/2), the only form the services accept (no malleability)."""
        der = self.private_key.sign(signing_input, ec.ECDSA(hashes.SHA256()))
        r, s = decode_dss_signature(der)
        if s > P256_ORDER // 2:
            s = P256_ORDER - s
        return r.to_bytes(32, "big") + s.to_bytes(32, "big")


def claims(user_id: str, role: str = "customer", issuer: str = "emporium", ttl: int = 600,
           now: int | None = None, **extra) -> dict:
    now = int(time.time()) if now is None else now
    body = {"userId": user_id, "role": role, "iat": now, "exp": now + ttl, "iss": issuer,
            "jti": b64url(os.urandom(12))}
    body.update(extra)
    return {k: v for k, v in body.items() if v is not None}


def es256(keys: KeyPair, payload: dict, kid: str | None = None, header: dict | None = None) -> str:
    head = {"alg": "ES256", "typ": "JWT", "kid": kid if kid is not None else keys.thumbprint}
    head.update(header or {})
    head = {k: v for k, v in head.items() if v is not None}  # header={"kid": None} drops the kid
    signing_input = f"{b64url_json(head)}.{b64url_json(payload)}".encode()
    return f"{signing_input.decode()}.{b64url(keys.sign_es256(signing_input))}"


def hs256(secret: bytes, payload: dict, kid: str) -> str:
    head = {"alg": "HS256", "typ": "JWT", "kid": kid}
    signing_input = f"{b64url_json(head)}.{b64url_json(payload)}".encode()
    sig = hmac.new(secret, signing_input, hashlib.sha256).digest()
    return f"{signing_input.decode()}.{b64url(sig)}"


def alg_none(payload: dict, kid: str, alg: str = "none") -> str:
    head = {"alg": alg, "typ": "JWT", "kid": kid}
    return f"{b64url_json(head)}.{b64url_json(payload)}."


def tamper_payload(token: str, **changes) -> str:
    """Same header and signature, payload edited (e.g. role=admin)."""
    head, payload, sig = token.split(".")
    body = json.loads(b64url_decode(payload))
    body.update(changes)
    return f"{head}.{b64url_json(body)}.{sig}"


def decode_unverified(token: str) -> tuple[dict, dict]:
    head, payload, _ = token.split(".")
    return json.loads(b64url_decode(head)), json.loads(b64url_decode(payload))


def verify_with_jwks(token: str, jwks: dict, issuer: str = "emporium") -> dict:
    """Verifies an ES256 token against the JWKS entry its kid names; returns the claims."""
    header = jwt.get_unverified_header(token)
    assert header.get("alg") == "ES256", header
    entries = [k for k in jwks["keys"] if k.get("kid") == header.get("kid")]
    assert len(entries) == 1, f"kid {header.get('kid')!r} is not (exactly once) in the JWKS: {jwks}"
    key = jwt.algorithms.ECAlgorithm.from_jwk(json.dumps(entries[0]))
    return jwt.decode(token, key=key, algorithms=["ES256"], issuer=issuer,
                      options={"require": ["exp", "iat", "iss"]})
