"""Login and registration limits (DESIGN §6), on a stack of their own with the numbers lowered by
configuration. Counters live in the database, so the two instances behind the gateway share them;
the client address is the X-Real-IP nginx sets (clients here connect from 127.0.0.2, .3, ...)."""

from __future__ import annotations

import pytest

from support.api import register, unique_email
from support.client import Client, assert_problem, body

LIMITS = {
    "LOGIN_MAX_FAILURES_PER_EMAIL": "3",
    "LOGIN_EMAIL_WINDOW_S": "900",
    "LOGIN_MAX_FAILURES_PER_ADDR": "6",
    "LOGIN_ADDR_WINDOW_S": "60",
    "REGISTER_MAX_PER_ADDR": "3",
    "REGISTER_WINDOW_S": "3600",
}


@pytest.fixture(scope="module")
def limited(make_stack):
    with make_stack("limits", env=LIMITS) as s:
        yield s


def from_address(stack, address: str) -> Client:
    return stack.client(source_address=address)


def retry_after(resp) -> int:
    value = resp.headers.get("Retry-After")
    assert value is not None, f"429 without Retry-After: {resp.text}"
    assert value.isdigit() and int(value) > 0, f"Retry-After {value!r}"
    return int(value)


def test_repeated_wrong_logins_for_one_email_get_429_with_retry_after(limited):
    owner = from_address(limited, "127.0.0.10")
    account = register(owner)
    attacker = from_address(limited, "127.0.0.2")
    wrong = {"email": account["email"], "password": "wrong guess"}
    for _ in range(3):
        assert_problem(attacker.post("/api/users/login", json=wrong), 401)
    resp = attacker.post("/api/users/login", json=wrong)
    assert_problem(resp, 429)
    assert retry_after(resp) <= 900
    # While limited, even the right password is refused from there ...
    right = {"email": account["email"], "password": account["password"]}
    assert_problem(attacker.post("/api/users/login", json=right), 429)
    # ... but the limit is per (email, address): the owner elsewhere still logs in.
    assert owner.post("/api/users/login", json=right).status_code == 200


def test_success_resets_the_email_count(limited):
    c = from_address(limited, "127.0.0.4")
    account = register(from_address(limited, "127.0.0.11"))
    wrong = {"email": account["email"], "password": "wrong guess"}
    right = {"email": account["email"], "password": account["password"]}
    for _ in range(2):
        assert_problem(c.post("/api/users/login", json=wrong), 401)
    assert c.post("/api/users/login", json=right).status_code == 200
    for _ in range(2):
        assert_problem(c.post("/api/users/login", json=wrong), 401)
    assert c.post("/api/users/login", json=right).status_code == 200


def test_many_wrong_logins_from_one_address_get_429(limited):
    c = from_address(limited, "127.0.0.3")
    for i in range(6):
        # Different emails each time, and a forged X-Real-IP the gateway must overwrite.
        resp = c.post("/api/users/login", json={"email": unique_email("spray"), "password": "password1"},
                      headers={"X-Real-IP": f"10.9.8.{i}", "X-Forwarded-For": f"10.9.8.{i}"})
        assert_problem(resp, 401)
    resp = c.post("/api/users/login", json={"email": unique_email("spray"), "password": "password1"},
                  headers={"X-Real-IP": "10.9.8.99"})
    assert_problem(resp, 429)
    retry_after(resp)
    # Another address is not affected.
    other = from_address(limited, "127.0.0.5")
    assert_problem(other.post("/api/users/login", json={"email": unique_email(), "password": "password1"}), 401)


def test_registration_is_limited_per_address(limited):
    c = from_address(limited, "127.0.0.6")
    for _ in range(3):
        register(c)
    resp = c.post("/api/users/register", json={"name": "One Too Many", "email": unique_email(),
                                               "password": "long enough password"})
    assert_problem(resp, 429)
    retry_after(resp)
    # Another address still registers.
    doc = register(from_address(limited, "127.0.0.7"))
    assert body(from_address(limited, "127.0.0.7").get("/api/users/me", token=doc["token"]))["email"] == doc["email"]
