"""A fake Twilio that speaks the Messages REST API wire protocol (DESIGN §12), for notification-service's
functional tests. The protocol itself is scripts/lib/twilio_wire.py, shared with scripts/sms-sink;
this file adds the HTTP server, the record of every request and fault injection. Standard library only.

    with FakeTwilio() as twilio:
        env.update(TWILIO_API_BASE=twilio.base_url, TWILIO_ACCOUNT_SID=twilio.account_sid,
                   TWILIO_AUTH_TOKEN=twilio.auth_token, TWILIO_PHONE_NUMBER=twilio.phone_number)
        ...
        [sms] = twilio.wait_for(1, timeout=10)
        assert sms["to"] == "+14155550100" and "order" in sms["body"]

Faults for tests (thread-safe, may change while a client is connected):
- fail_next(n, status=503, retry_after=None): the next `n` requests (None: all until heal()) answer
  `status` with Twilio's error body before any work: 500 → 20500, 503 → 20503, 429 → 20429 "Too Many
  Requests" (always with `Retry-After`, 1 s unless `retry_after` says otherwise); any other 4xx/5xx
  status is answered with code status*100 (e.g. 400 → 20400). "drop" closes the connection without an
  answer; "drop_after" creates the message and then closes without an answer (a send whose outcome
  the client cannot know). `method`/`path` restrict which requests count (default: POSTs only).
- fail_always(status) = fail_next(None, status); heal() clears faults and delays.
- delay(seconds): every request waits `seconds` before it is handled (0 clears).
Counters: `attempts` (POSTs to Messages.json), `failed` (answers replaced by a fault), `accepted`.
"""

from __future__ import annotations

import socket
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from .fake_http import FakeHandler, FakeServer

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "scripts" / "lib"))
import twilio_wire  # noqa: E402  (scripts/lib: shared with scripts/sms-sink)
from twilio_wire import TwilioApi, TwilioError, dumps  # noqa: E402

DEFAULT_ACCOUNT_SID = "AC" + "0123456789abcdef" * 2
DEFAULT_AUTH_TOKEN = "emporium_test_twilio_token"
DEFAULT_PHONE_NUMBER = "+15005550006"  # Twilio's magic test "From" number
FAULT_STATUSES = (429, 500, 502, 503, 504, "drop", "drop_after")
_REASONS = {500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable",
            504: "Gateway Timeout", 429: "Too Many Requests"}


@dataclass
class _Fault:
    remaining: int | None  # None: until heal()
    status: int | str
    retry_after: int | float | None
    method: str | None
    path: str | None

    def matches(self, method: str, path: str) -> bool:
        return ((self.method is None or self.method.upper() == method)
                and (self.path is None or path.startswith(self.path)))


class FakeTwilio:
    """Fake Twilio REST API on 127.0.0.1 (a free port) for the duration of a `with` block."""

    def __init__(self, account_sid: str = DEFAULT_ACCOUNT_SID, auth_token: str = DEFAULT_AUTH_TOKEN,
                 phone_number: str = DEFAULT_PHONE_NUMBER, *, phone_numbers=(), host: str = "127.0.0.1",
                 port: int = 0):
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.phone_number = phone_number
        self._lock = threading.RLock()
        self._cond = threading.Condition(self._lock)
        self.api = TwilioApi(account_sid, auth_token, phone_numbers={phone_number, *phone_numbers},
                             on_message=self._on_message)
        self._host, self._port = host, port
        self._requests: list[dict] = []
        self._faults: list[_Fault] = []
        self._delay = 0.0
        self._attempts = 0
        self._failed = 0
        self._server: FakeServer | None = None
        self._thread: threading.Thread | None = None
        self._open: set[socket.socket] = set()

    # --- life cycle -----------------------------------------------------------------------------

    def __enter__(self) -> "FakeTwilio":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def start(self) -> "FakeTwilio":
        if self._server is not None:
            return self

        class Handler(_Handler):
            fake = self

        self._server = FakeServer((self._host, self._port), Handler)
        self._port = self._server.server_address[1]  # a restart after stop() keeps the port and the state
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="fake-twilio", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stops answering (connections are refused until start() again, same port, same state)."""
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        with self._lock:
            conns = list(self._open)
        for conn in conns:  # idle keep-alive connections end now, not at their timeout
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self._thread.join(timeout=2)
        self._server = None

    @property
    def port(self) -> int:
        assert self._port, "never started"
        return self._port

    @property
    def base_url(self) -> str:
        """TWILIO_API_BASE for the service: http://127.0.0.1:PORT (no trailing slash)."""
        return f"http://{self._host}:{self.port}"

    url = base_url

    @property
    def messages_path(self) -> str:
        return f"/{twilio_wire.API_VERSION}/Accounts/{self.account_sid}/Messages.json"

    @property
    def messages_url(self) -> str:
        return self.base_url + self.messages_path

    # --- what was received ------------------------------------------------------------------------

    def messages(self) -> list[dict]:
        """Accepted messages (Twilio's Message resources as answered), oldest first."""
        return self.api.messages()

    def wait_for(self, count: int = 1, timeout: float = 10.0) -> list[dict]:
        """Waits until at least `count` messages were accepted and returns all of them."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while len(self.api.messages()) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    reqs = [f"  {r['method']} {r['path']} -> {r['status']} {r.get('error') or ''}"
                            for r in self._requests[-10:]]
                    raise AssertionError(
                        f"fake Twilio {self.base_url}: expected at least {count} message(s) within {timeout}s, got "
                        f"{len(self.api.messages())} (attempts={self._attempts}, failed={self._failed}, "
                        f"faults={self._faults}); last requests:" + ("\n" + "\n".join(reqs) if reqs else " none"))
                self._cond.wait(left)
            return self.api.messages()

    def requests(self, method: str | None = None, path: str | None = None) -> list[dict]:
        """Every request, oldest first: method, path (with query), headers (dict), form (dict), body
        (bytes), status (None when the connection was dropped), error (Twilio's error body or None),
        fault (the injected fault or None), time."""
        with self._lock:
            return [dict(r) for r in self._requests
                    if (method is None or r["method"] == method.upper())
                    and (path is None or r["path"].startswith(path))]

    def clear(self) -> None:
        """Forgets messages, requests and counters (faults stay)."""
        with self._lock:
            self.api.clear()
            self._requests.clear()
            self._attempts = self._failed = 0

    @property
    def attempts(self) -> int:
        with self._lock:
            return self._attempts

    @property
    def failed(self) -> int:
        with self._lock:
            return self._failed

    @property
    def accepted(self) -> int:
        return len(self.api.messages())

    # --- fault injection ----------------------------------------------------------------------------

    def fail_next(self, n: int | None = 1, status: int | str = 503, retry_after: int | float | None = None, *,
                  method: str | None = "POST", path: str | None = None) -> None:
        if status not in FAULT_STATUSES and not (isinstance(status, int) and 400 <= status <= 599):
            raise ValueError(f"status must be a 4xx/5xx code, 'drop' or 'drop_after', not {status!r}")
        if n is not None and n <= 0:
            return
        with self._lock:
            self._faults.append(_Fault(n, status, retry_after, method, path))

    def fail_always(self, status: int | str = 503, retry_after: int | float | None = None, **kw) -> None:
        self.fail_next(None, status, retry_after, **kw)

    def heal(self) -> None:
        with self._lock:
            self._faults.clear()
            self._delay = 0.0

    def delay(self, seconds: float) -> None:
        with self._lock:
            self._delay = max(0.0, float(seconds))

    def _take_fault(self, method: str, path: str) -> _Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault.matches(method, path):
                    if fault.remaining is not None:
                        fault.remaining -= 1
                        if fault.remaining <= 0:
                            self._faults.remove(fault)
                    return fault
        return None

    def _on_message(self, message: dict) -> None:
        with self._cond:
            self._cond.notify_all()




class _Handler(FakeHandler):
    fake: FakeTwilio

    def _handle(self, method: str) -> None:
        fake = self.fake
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        path = self.path
        try:
            form = twilio_wire.parse_form(body, self.headers.get("Content-Type"))
        except TwilioError:
            form = {}
        entry = {"method": method, "path": path, "headers": dict(self.headers.items()), "form": form,
                 "body": body, "status": None, "error": None, "fault": None, "time": time.time()}
        with fake._lock:
            fake._requests.append(entry)
            if method == "POST" and path.split("?")[0].endswith("/Messages.json"):
                fake._attempts += 1
            delay = fake._delay
        if delay:
            time.sleep(delay)
        fault = fake._take_fault(method, path)
        if fault is not None:
            entry["fault"] = fault.status
            with fake._lock:
                fake._failed += 1
            if fault.status == "drop":
                self._drop()
                return
            if fault.status == "drop_after":
                fake.api.handle(method, path, self.headers, body)
                self._drop()
                return
            status = int(fault.status)
            headers = {}
            if status == 429:
                message = "Too Many Requests"
                headers["Retry-After"] = _seconds(fault.retry_after if fault.retry_after is not None else 1)
            else:
                message = _REASONS.get(status, "Error")
                if fault.retry_after is not None:
                    headers["Retry-After"] = _seconds(fault.retry_after)
            err = TwilioError(status, 20000 + status, message, headers)
            entry["status"], entry["error"] = status, err.body()
            self._send(status, dumps(err.body()), headers)
            return
        resp = fake.api.handle(method, path, self.headers, body)
        entry["status"], entry["error"] = resp.status, resp.error
        self._send(resp.status, resp.body, resp.headers)

    def _send(self, status: int, body: bytes, headers: dict[str, str]) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Twilio-Request-Id", "RQ" + twilio_wire.secrets.token_hex(16))
        for k, v in headers.items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def _drop(self) -> None:
        self.close_connection = True
        try:
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


def _seconds(value: int | float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


__all__ = ["FakeTwilio", "DEFAULT_ACCOUNT_SID", "DEFAULT_AUTH_TOKEN", "DEFAULT_PHONE_NUMBER", "FAULT_STATUSES"]
