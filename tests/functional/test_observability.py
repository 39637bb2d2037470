"""Logs, metrics and health endpoints of an instance (DESIGN §4 obs)."""

from __future__ import annotations

import json
import os
import re

from support.client import body
from support.stack import wait_for_log

_SAMPLE = re.compile(r'^(?P<name>[a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(?P<labels>.*)\})?\s+(?P<value>\S+)')
_LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')


def samples(text: str, name: str) -> list[tuple[dict, float]]:
    out = []
    for line in text.splitlines():
        if line.startswith("#") or not line.strip():
            continue
        m = _SAMPLE.match(line)
        if m and m.group("name") == name:
            out.append((dict(_LABEL.findall(m.group("labels") or "")), float(m.group("value"))))
    return out


def request_count(direct, method: str, route: str, status: int) -> float:
    resp = direct.get("/metrics")
    assert resp.status_code == 200, resp.text
    total = 0.0
    for labels, value in samples(resp.text, "http_requests_total"):
        if labels.get("method") == method and labels.get("route") == route and labels.get("status") == str(status):
            total += value
    return total


def test_health_endpoints_on_each_instance(stack):
    for i in range(len(stack.instances)):
        d = stack.direct(i)
        assert d.get("/healthz").status_code == 200
        assert d.get("/readyz").status_code == 200


def test_metrics_count_requests_by_route_template_and_status(stack, admin_token):
    d = stack.direct(0)
    before_401 = request_count(d, "GET", "/api/users/me", 401)
    for _ in range(3):
        assert d.get("/api/users/me").status_code == 401
    assert request_count(d, "GET", "/api/users/me", 401) == before_401 + 3

    raw_id = os.urandom(12).hex()
    before_404 = request_count(d, "GET", "/api/users/:id", 404)
    assert d.get(f"/api/users/{raw_id}", token=admin_token).status_code == 404
    assert request_count(d, "GET", "/api/users/:id", 404) == before_404 + 1

    text = d.get("/metrics").text
    assert "# TYPE http_requests_total counter" in text
    assert raw_id not in text, "metrics must label routes by template, never by raw path"
    routes = {labels.get("route") for labels, _ in samples(text, "http_requests_total")}
    assert "/api/users/me" in routes and "/api/users/:id" in routes, routes


def test_metrics_label_unmatched_paths_without_the_raw_path(stack):
    d = stack.direct(1)
    junk = "/api/users/no/such/route/" + os.urandom(6).hex()
    assert d.get(junk).status_code == 404
    text = d.get("/metrics").text
    assert junk not in text and junk.rsplit("/", 1)[1] not in text


def test_logs_are_json_lines_carrying_the_request_id(stack, client, user):
    rid = "logline-" + os.urandom(6).hex()
    resp = client.get("/api/users/me", token=user["token"], headers={"X-Request-ID": rid})
    assert resp.status_code == 200
    rec = wait_for_log(stack, lambda r: r.get("requestId") == rid)
    assert rec is not None, f"no service log line carries requestId {rid}"
    for key in ("ts", "level", "msg"):
        assert key in rec, f"log record lacks {key}: {rec}"
    # Every line every instance wrote so far is one JSON object.
    for path, line in stack.service_log_lines():
        value = json.loads(line)
        assert isinstance(value, dict), f"{path.name}: {line}"


def test_service_generates_a_request_id_when_called_directly_without_one(stack):
    d = stack.direct(0)
    resp = d.get("/api/users/.well-known/jwks.json")
    assert resp.status_code == 200
    rid = resp.headers["X-Request-ID"]
    assert body(resp)["keys"]
    assert wait_for_log(stack, lambda r: r.get("requestId") == rid) is not None
