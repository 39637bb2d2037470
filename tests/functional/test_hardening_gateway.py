"""Issue 7 item 6: every answer the gateway makes itself is problem+json with an X-Request-ID,
including requests nginx refuses while it reads the request line (those used to be a 500 HTML page,
"empty URI in redirect to named location"), 414, 431, 501, 502, 504 and 505.

Raw requests over a socket, to a gateway rendered by gateway/render.py: the shared stack's (real
services behind it) for what a client can cause there, and a gateway of this module's own for what
needs broken upstreams (one that refuses connections, one that never answers) or would be a 5xx
without a request id the log scan could recognise (505 is refused before any header is read)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import threading

import pytest

from support.procs import Proc, wait_until
from support.raw_http import assert_raw_problem, raw_request
from support.stack import NGINX, RENDER, free_port

RID = "hardening-gw-"

# name -> (raw request, status). The request line is the first thing nginx reads: none of these
# reaches a service.
REQUEST_LINE_REFUSED = {
    "nul-escape": (b"GET /api/users/%00 HTTP/1.1\r\nHost: x\r\n\r\n", 400),
    "bad-escape": (b"GET /api/users/%zz HTTP/1.1\r\nHost: x\r\n\r\n", 400),
    "control-character": (b"GET /api/users/a\x01b HTTP/1.1\r\nHost: x\r\n\r\n", 400),
    "lowercase-method": (b"get /api/users/me HTTP/1.1\r\nHost: x\r\n\r\n", 400),
    "options-star": (b"OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n", 400),
    "no-leading-slash": (b"GET api/users/me HTTP/1.1\r\nHost: x\r\n\r\n", 400),
    "pri-star": (b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 400),
    "connect": (b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com\r\n\r\n", 400),
    "above-the-root": (b"GET /../api/users HTTP/1.1\r\nHost: x\r\n\r\n", 400),
    "tls-hello": (b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03" + b"\x00" * 32, 400),
    "uri-9kb": (b"GET /api/users/" + b"a" * 9000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", 414),
}


def with_rid(rid: str, head: bytes) -> bytes:
    """A request whose headers nginx does read: it carries our request id."""
    return head.replace(b"\r\n", f"\r\nX-Request-ID: {rid}\r\n".encode(), 1) + b"\r\n"


# Refused after the headers were read (so the id is the caller's). name -> (head, status).
HEADERS_REFUSED = {
    "no-host": (b"GET /api/users/me HTTP/1.1\r\n", 400),
    "two-hosts": (b"GET /api/users/me HTTP/1.1\r\nHost: x\r\nHost: y\r\n", 400),
    "space-in-header-name": (b"GET /api/users/me HTTP/1.1\r\nHost: x\r\nBad Header: 1\r\n", 400),
    "length-and-chunked": (b"POST /api/users/login HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n"
                           b"Transfer-Encoding: chunked\r\n", 400),
    "bad-content-length": (b"POST /api/users/login HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n", 400),
    "body-over-1mib": (b"POST /api/users/login HTTP/1.1\r\nHost: x\r\nContent-Length: 2000000\r\n", 413),
    "trace": (b"TRACE /api/users/me HTTP/1.1\r\nHost: x\r\n", 405),
    "unknown-path": (b"GET /nope HTTP/1.1\r\nHost: x\r\nConnection: close\r\n", 404),
    "internal-route": (b"GET /api/users/metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n", 404),
    "problem-location-from-outside": (b"GET /_emporium/problem/500 HTTP/1.1\r\nHost: x\r\n"
                                      b"Connection: close\r\n", 404),
}


# ---- a gateway of our own, in front of broken upstreams ----------------------------------------

class SilentUpstream:
    """Accepts connections and never answers (a hung service)."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.held: list[socket.socket] = []
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.held.append(conn)

    def close(self):
        self.sock.close()
        for conn in self.held:
            conn.close()


class OwnGateway:
    def __init__(self, base, users_port: int, products_port: int):
        self.prefix = base / "gateway"
        self.port = free_port()
        conf = self.prefix / "nginx.conf"
        argv = ["/usr/bin/python3", str(RENDER), "--listen", f"127.0.0.1:{self.port}",
                "--prefix", str(self.prefix), "--out", str(conf), "--workers", "1",
                "--upstream", f"users=127.0.0.1:{users_port}",
                "--upstream", f"products=127.0.0.1:{products_port}",
                "--proxy-read-timeout", "1", "--check"]
        if os.geteuid() == 0:
            import getpass
            argv += ["--user", getpass.getuser()]
        result = subprocess.run(argv, capture_output=True, text=True)
        assert result.returncode == 0, result.stderr
        (base / "logs").mkdir(exist_ok=True)
        self.proc = Proc("own-nginx", [NGINX, "-p", f"{self.prefix}/", "-c", str(conf),
                                       "-e", str(self.prefix / "logs" / "error.log")],
                         {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}, base, base / "logs")
        self.proc.start()

        def up() -> bool:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return True
            except OSError:
                return not self.proc.alive()

        assert wait_until(up, 15) and self.proc.alive(), self.proc.tail()

    def error_log(self) -> str:
        path = self.prefix / "logs" / "error.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop(self) -> int | None:
        return self.proc.stop(signal.SIGQUIT, timeout=15)


@pytest.fixture(scope="module")
def own(tmp_path_factory):
    silent = SilentUpstream()
    refused_port = free_port()  # nothing listens there
    gw = OwnGateway(tmp_path_factory.mktemp("own-gateway"), refused_port, silent.port)
    try:
        yield gw
    finally:
        rc = gw.stop()
        silent.close()
        assert rc == 0, f"nginx exited with {rc}"


def test_no_error_page_needs_a_uri(own):
    """The cause of the 500s: an error_page to a named location fails for a request without URI."""
    for request, status in REQUEST_LINE_REFUSED.values():
        assert raw_request(own.port, request).status == status
    assert "empty URI in redirect to named location" not in own.error_log()


@pytest.mark.parametrize("name", sorted(REQUEST_LINE_REFUSED))
def test_request_line_refusals_are_problem_json(own, name):
    request, status = REQUEST_LINE_REFUSED[name]
    doc = assert_raw_problem(raw_request(own.port, request), status)
    if status == 400:
        # Says what to look at, not only "bad request".
        assert "request line" in doc["detail"], doc


@pytest.mark.parametrize("name", sorted(HEADERS_REFUSED))
def test_header_refusals_are_problem_json_with_the_callers_id(own, name):
    head, status = HEADERS_REFUSED[name]
    rid = RID + name
    assert_raw_problem(raw_request(own.port, with_rid(rid, head)), status, request_id=rid)


def test_a_header_line_over_8kib_is_431(own):
    head = b"GET /api/users/me HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 9000 + b"\r\n"
    doc = assert_raw_problem(raw_request(own.port, head + b"\r\n"), 431)
    assert doc["code"] == "request_header_fields_too_large"


def test_an_unsupported_transfer_encoding_is_501(own):
    rid = RID + "gzip"
    head = b"POST /api/users/login HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n"
    assert_raw_problem(raw_request(own.port, with_rid(rid, head)), 501, request_id=rid)


def test_http_2_0_on_the_request_line_is_505(own):
    doc = assert_raw_problem(raw_request(own.port, b"GET /api/users/me HTTP/2.0\r\nHost: x\r\n\r\n"), 505)
    assert "HTTP/1.1" in doc["detail"]


def test_a_service_refusing_connections_is_502(own):
    rid = RID + "refused"
    resp = raw_request(own.port, with_rid(rid, b"GET /api/users/me HTTP/1.1\r\nHost: x\r\n"))
    assert_raw_problem(resp, 502, request_id=rid)


def test_a_service_that_never_answers_is_504_within_the_proxy_timeout(own):
    rid = RID + "silent"
    resp = raw_request(own.port, with_rid(rid, b"GET /api/products HTTP/1.1\r\nHost: x\r\n"), timeout=20)
    assert_raw_problem(resp, 504, request_id=rid)
    # --proxy-read-timeout 1: generous bound on the hang.
    assert resp.seconds < 15, resp.seconds


def test_a_service_without_instances_is_503(own):
    rid = RID + "none"
    resp = raw_request(own.port, with_rid(rid, b"POST /api/orders/x HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n"))
    assert_raw_problem(resp, 503, request_id=rid)


def test_head_gets_the_problem_headers_without_a_body(own):
    rid = RID + "head"
    resp = raw_request(own.port, with_rid(rid, b"HEAD /nope HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"),
                       head=True)
    assert resp.status == 404
    assert resp.header("Content-Type").startswith("application/problem+json")
    assert resp.header("X-Request-ID") == rid


# ---- the shared stack's gateway, real services behind it ---------------------------------------

@pytest.mark.parametrize("name", sorted(REQUEST_LINE_REFUSED))
def test_the_stack_gateway_refuses_bad_request_lines_with_problem_json(stack, name):
    request, status = REQUEST_LINE_REFUSED[name]
    assert_raw_problem(raw_request(stack.gateway_port, request), status)


@pytest.mark.parametrize("name", sorted(HEADERS_REFUSED))
def test_the_stack_gateway_refuses_bad_headers_with_problem_json(stack, name):
    head, status = HEADERS_REFUSED[name]
    rid = RID + "stack-" + name
    assert_raw_problem(raw_request(stack.gateway_port, with_rid(rid, head)), status, request_id=rid)


def test_the_stack_gateway_answers_431_and_501_as_problems(stack):
    head = b"GET /api/users/me HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 9000 + b"\r\n"
    assert_raw_problem(raw_request(stack.gateway_port, head + b"\r\n"), 431)
    # A 5xx the suite expects: its id tells the teardown log scan so.
    rid = "expected5xx-" + os.urandom(6).hex()
    head = b"POST /api/users/login HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n"
    assert_raw_problem(raw_request(stack.gateway_port, with_rid(rid, head)), 501, request_id=rid)
