"""Raw HTTP over a socket, for requests no client library would send (a lowercase method, `%00` in
the path, a TLS hello on the plain port) or would rewrite (`requests` turns `?%zz` into `?%25zz`),
and the check every answer of the gateway's own must pass: problem+json with an X-Request-ID."""

from __future__ import annotations

import json
import socket
import time
from dataclasses import dataclass

from .client import REQUEST_ID_RE


@dataclass
class RawResponse:
    status: int
    reason: str
    headers: list[tuple[str, str]]
    body: bytes
    seconds: float  # from connect to the last byte read

    def header(self, name: str) -> str | None:
        for key, value in self.headers:
            if key.lower() == name.lower():
                return value
        return None

    def header_count(self, name: str) -> int:
        return sum(1 for key, _ in self.headers if key.lower() == name.lower())

    def json(self):
        return json.loads(self.body.decode("utf-8"))

    def describe(self) -> str:
        return f"{self.status} {self.reason!r} headers={self.headers} body={self.body[:300]!r}"


def raw_request(port: int, data: bytes, timeout: float = 10.0, host: str = "127.0.0.1",
                head: bool = False) -> RawResponse:
    """Sends `data` as is and reads one response: up to Content-Length, or to the close. Raises
    socket.timeout when no complete answer arrives within `timeout` seconds."""
    start = time.monotonic()
    with socket.create_connection((host, port), timeout=timeout) as sock:
        sock.sendall(data)
        buf = b""
        header_end = -1
        length = None
        while True:
            if header_end < 0:
                header_end = buf.find(b"\r\n\r\n")
                if header_end >= 0:
                    length = 0 if head else _content_length(buf[:header_end])
            if header_end >= 0 and length is not None and len(buf) - header_end - 4 >= length:
                break
            if time.monotonic() - start > timeout:
                raise socket.timeout(f"no complete answer within {timeout}s: {buf[:300]!r}")
            chunk = sock.recv(65536)
            if not chunk:
                break
            buf += chunk
    seconds = time.monotonic() - start
    if header_end < 0:
        raise AssertionError(f"no HTTP response head (connection closed after {buf[:300]!r})")
    head_lines = buf[:header_end].decode("latin-1").split("\r\n")
    version, _, rest = head_lines[0].partition(" ")
    assert version.startswith("HTTP/1."), f"not an HTTP/1.x status line: {head_lines[0]!r}"
    code, _, reason = rest.partition(" ")
    headers = []
    for line in head_lines[1:]:
        key, _, value = line.partition(":")
        headers.append((key.strip(), value.strip()))
    body = buf[header_end + 4:]
    if length is not None:
        body = body[:length]
    return RawResponse(int(code), reason, headers, body, seconds)


def _content_length(head: bytes) -> int | None:
    for line in head.split(b"\r\n")[1:]:
        key, _, value = line.partition(b":")
        if key.strip().lower() == b"content-length":
            return int(value.strip())
    return None


def assert_raw_problem(resp: RawResponse, status: int, request_id: str | None = None) -> dict:
    """The gateway's (or a service's) problem document: the status, problem+json, one X-Request-ID
    header of the accepted shape that the body repeats, and a detail saying what went wrong."""
    where = resp.describe()
    assert resp.status == status, f"expected {status}: {where}"
    ctype = resp.header("Content-Type") or ""
    assert ctype.split(";")[0].strip() == "application/problem+json", f"Content-Type {ctype!r}: {where}"
    rid = resp.header("X-Request-ID")
    assert rid and REQUEST_ID_RE.match(rid), f"X-Request-ID {rid!r}: {where}"
    assert resp.header_count("X-Request-ID") == 1, where
    if request_id is not None:
        assert rid == request_id, where
    doc = resp.json()
    assert isinstance(doc, dict), where
    assert doc["status"] == status, where
    assert isinstance(doc["detail"], str) and doc["detail"], where
    assert doc["msg"] == doc["detail"], where
    assert isinstance(doc["code"], str) and doc["code"], where
    assert isinstance(doc["errors"], list), where
    assert doc["requestId"] == rid, where
    return doc
