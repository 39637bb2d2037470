"""The HTTP client every test uses. It never follows redirects and checks, on every response, what
must hold for all of them: no 3xx (but 304), an X-Request-ID header, and no 5xx unless the test says it
expects one (those requests carry an `expected5xx-` request id, which the log scan at teardown
skips)."""

from __future__ import annotations

import json as jsonlib
import os
import re

import requests
from requests.adapters import HTTPAdapter

EXPECTED_5XX_PREFIX = "expected5xx-"
REQUEST_ID_RE = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
PROBLEM_FIELDS = ("type", "title", "status", "detail", "code", "errors", "requestId", "msg")
# user-service also repeats the message as `error`, as the seed did (API.md conventions).
USER_SERVICE_PREFIX = "/api/users"


class _SourceAddressAdapter(HTTPAdapter):
    """Connects from a chosen loopback address (127.0.0.2, ...), so tests can be several clients."""

    def __init__(self, source: str, **kwargs):
        self._source = source
        super().__init__(**kwargs)

    def init_poolmanager(self, connections, maxsize, block=False, **kwargs):
        kwargs["source_address"] = (self._source, 0)
        super().init_poolmanager(connections, maxsize, block=block, **kwargs)


class Client:
    def __init__(self, base_url: str, source_address: str | None = None, timeout: float = 30.0):
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.session = requests.Session()
        self.session.trust_env = False  # no proxies from the environment
        if source_address:
            adapter = _SourceAddressAdapter(source_address)
            self.session.mount("http://", adapter)

    def close(self) -> None:
        self.session.close()

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def request(self, method: str, path: str, *, token: str | None = None, json=None, data=None, params=None,
                headers: dict | None = None, expect_5xx: bool = False, check: bool = True,
                timeout: float | None = None) -> requests.Response:
        headers = dict(headers or {})
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        if expect_5xx and not any(k.lower() == "x-request-id" for k in headers):
            headers["X-Request-ID"] = EXPECTED_5XX_PREFIX + os.urandom(8).hex()
        resp = self.session.request(method, self.base_url + path, json=json, data=data, params=params, headers=headers,
                                    allow_redirects=False, timeout=timeout or self.timeout)
        if check:
            where = f"{method} {path} -> {resp.status_code} {resp.text[:300]!r}"
            # 304 Not Modified answers a conditional GET; it is not a redirect.
            assert not 300 <= resp.status_code < 400 or resp.status_code == 304, \
                f"redirect: {where} Location={resp.headers.get('Location')}"
            rid = resp.headers.get("X-Request-ID")
            assert rid, f"no X-Request-ID: {where}"
            assert REQUEST_ID_RE.match(rid), f"bad X-Request-ID {rid!r}: {where}"
            if not expect_5xx:
                assert resp.status_code < 500, f"unexpected 5xx: {where}"
        return resp

    def get(self, path: str, **kw) -> requests.Response:
        return self.request("GET", path, **kw)

    def post(self, path: str, **kw) -> requests.Response:
        return self.request("POST", path, **kw)

    def put(self, path: str, **kw) -> requests.Response:
        return self.request("PUT", path, **kw)

    def delete(self, path: str, **kw) -> requests.Response:
        return self.request("DELETE", path, **kw)


def body(resp: requests.Response):
    try:
        return resp.json()
    except ValueError as exc:
        raise AssertionError(f"{resp.status_code} body is not JSON: {resp.text[:300]!r}") from exc


def assert_problem(resp: requests.Response, status: int) -> dict:
    """A problem+json answer with the given status, carrying every field of the contract and the
    same request id as the header."""
    text = f"{resp.request.method} {resp.request.path_url} -> {resp.status_code} {resp.text[:400]!r}"
    assert resp.status_code == status, f"expected {status}: {text}"
    ctype = resp.headers.get("Content-Type", "")
    assert ctype.split(";")[0].strip() == "application/problem+json", f"Content-Type {ctype!r}: {text}"
    doc = body(resp)
    assert isinstance(doc, dict), text
    required = PROBLEM_FIELDS + (("error",) if resp.request.path_url.startswith(USER_SERVICE_PREFIX) else ())
    missing = [f for f in required if f not in doc]
    assert not missing, f"problem lacks {missing}: {text}"
    assert doc["status"] == status, text
    assert isinstance(doc["detail"], str) and doc["detail"], text
    assert doc["msg"] == doc["detail"], text
    assert isinstance(doc["errors"], list), text
    assert doc["requestId"] == resp.headers.get("X-Request-ID"), f"requestId differs from header: {text}"
    return doc


def error_fields(doc: dict) -> set[str]:
    return {e.get("field") for e in doc.get("errors", []) if isinstance(e, dict)}


def dumps(value) -> str:
    return jsonlib.dumps(value, separators=(",", ":"))
