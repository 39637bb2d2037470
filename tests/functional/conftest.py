"""Functional suite: real user-service processes behind a real nginx, on SQLite or PostgreSQL.

    EMPORIUM_DB=sqlite|postgres      (default sqlite)
    EMPORIUM_TEST_PG_URL=postgresql://postgres@127.0.0.1:PORT/postgres   (postgres: the cluster in
                                     which each stack gets its own CREATE DATABASE)
    EMPORIUM_BUILD_DIR=build/release (where the binaries are; the suite never builds)
    EMPORIUM_SERVICES=users          (comma list of users, products, cart, orders: what the shared stack
                                     runs; tests marked services(...) for others are skipped)

Run with the Debian interpreter: /usr/bin/python3 -m pytest tests/functional
"""

from __future__ import annotations

import os

import pytest

from support.api import register
from support.client import Client, body
from support.services import SKIP_REASON, ServicesError, enabled_services
from support.stack import LIVE_STACKS, Stack


def pytest_report_header(config):
    return [f"emporium: EMPORIUM_DB={db_kind_from_env()} build={os.environ.get('EMPORIUM_BUILD_DIR', 'build/release')} "
            f"EMPORIUM_SERVICES={os.environ.get('EMPORIUM_SERVICES', '(default) users')}"]


def pytest_configure(config):
    config.addinivalue_line("markers", "services(*names): needs these services (EMPORIUM_SERVICES) in the stack")
    try:
        enabled_services()
    except ServicesError as exc:
        pytest.exit(str(exc), returncode=2)


def pytest_collection_modifyitems(config, items):
    have = set(enabled_services())
    for item in items:
        for mark in item.iter_markers("services"):
            if not set(mark.args) <= have:
                item.add_marker(pytest.mark.skip(reason=SKIP_REASON))
                break


def db_kind_from_env() -> str:
    return os.environ.get("EMPORIUM_DB", "sqlite")


@pytest.fixture(scope="session")
def db_kind() -> str:
    kind = db_kind_from_env()
    if kind not in ("sqlite", "postgres"):
        pytest.exit(f"EMPORIUM_DB must be sqlite or postgres, not {kind!r}", returncode=2)
    if kind == "postgres" and not os.environ.get("EMPORIUM_TEST_PG_URL"):
        pytest.exit("EMPORIUM_DB=postgres needs EMPORIUM_TEST_PG_URL", returncode=2)
    return kind


@pytest.fixture(scope="session")
def pg_url(db_kind) -> str | None:
    return os.environ.get("EMPORIUM_TEST_PG_URL") if db_kind == "postgres" else None


@pytest.fixture(scope="session")
def make_stack(tmp_path_factory, db_kind, pg_url):
    """Factory for extra stacks (own instances, own database, own gateway): use as a context
    manager; leaving it stops the stack and fails on any problem it found."""

    def factory(name: str, env: dict[str, str] | None = None, instances: int = 2, **kwargs) -> Stack:
        return Stack(tmp_path_factory.mktemp(name), name, db_kind, pg_url, env=env, instances=instances, **kwargs)

    return factory


@pytest.fixture(scope="session")
def stack(make_stack):
    """The shared stack: two user-service instances behind nginx; with EMPORIUM_SERVICES naming them,
    also two product-service instances, one shopping-cart-service instance calling both, and two
    order-service instances calling product-service and shopping-cart-service."""
    with make_stack("main", services=enabled_services()) as s:
        yield s


@pytest.fixture
def client(stack):
    """A client of the gateway."""
    with Client(stack.url) as c:
        yield c


@pytest.fixture
def admin_token(stack, client) -> str:
    resp = client.post("/api/users/login", json={"email": stack.admin_email, "password": stack.admin_password})
    assert resp.status_code == 200, resp.text
    return body(resp)["token"]


@pytest.fixture
def user(client) -> dict:
    return register(client)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.failed and LIVE_STACKS:
        report.sections.append(("emporium process logs", "\n\n".join(s.tails() for s in LIVE_STACKS)))
