"""Small API helpers shared by the tests."""

from __future__ import annotations

import ctypes
import os
import re
import secrets

from .client import Client, body


def unique_email(tag: str = "u") -> str:
    return f"{tag}-{secrets.token_hex(6)}@example.test"


def register(client: Client, **fields) -> dict:
    """Registers a fresh customer; returns the 200 body plus the password used."""
    payload = {"name": "Test User", "email": unique_email(), "password": "correct horse battery"}
    payload.update(fields)
    resp = client.post("/api/users/register", json=payload)
    assert resp.status_code == 200, f"register: {resp.status_code} {resp.text}"
    doc = body(resp)
    doc["password"] = payload["password"]
    doc["email"] = payload["email"]
    return doc


def login(client: Client, email: str, password: str) -> dict:
    resp = client.post("/api/users/login", json={"email": email, "password": password})
    assert resp.status_code == 200, f"login: {resp.status_code} {resp.text}"
    return body(resp)


HEX24 = re.compile(r"^[0-9a-f]{24}$")


def assert_user_document(user: dict, email: str | None = None, role: str | None = None) -> None:
    """The user document of API.md: never a hash, ids 24 hex, email lower-cased."""
    for key in ("_id", "name", "email", "role", "createdAt", "updatedAt", "__v"):
        assert key in user, f"user lacks {key}: {user}"
    assert HEX24.match(user["_id"]), user
    for forbidden in ("password", "password_hash", "passwordHash", "hash"):
        assert forbidden not in user, f"user document exposes {forbidden}: {user}"
    if email is not None:
        assert user["email"] == email.lower(), user
    if role is not None:
        assert user["role"] == role, user


def argon2id_encoded(password: bytes, t: int = 3, m_kib: int = 65536, p: int = 4,
                     salt: bytes | None = None, hash_len: int = 32) -> str:
    """An encoded argon2id hash made by libargon2 itself (the library the service links), e.g. the
    seed's format `$argon2id$v=19$m=65536,t=3,p=4$...`."""
    lib = ctypes.CDLL("libargon2.so.1")
    salt = salt if salt is not None else os.urandom(16)
    argon2_id = 2  # enum argon2_type: Argon2_d, Argon2_i, Argon2_id
    lib.argon2_encodedlen.restype = ctypes.c_size_t
    lib.argon2_encodedlen.argtypes = [ctypes.c_uint32] * 5 + [ctypes.c_int]
    size = lib.argon2_encodedlen(t, m_kib, p, len(salt), hash_len, argon2_id)
    out = ctypes.create_string_buffer(size)
    fn = lib.argon2id_hash_encoded
    fn.restype = ctypes.c_int
    fn.argtypes = [ctypes.c_uint32, ctypes.c_uint32, ctypes.c_uint32, ctypes.c_char_p, ctypes.c_size_t,
                   ctypes.c_char_p, ctypes.c_size_t, ctypes.c_size_t, ctypes.c_char_p, ctypes.c_size_t]
    rc = fn(t, m_kib, p, password, len(password), salt, len(salt), hash_len, out, size)
    assert rc == 0, f"argon2id_hash_encoded failed: {rc}"
    return out.value.decode()
