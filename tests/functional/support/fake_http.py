"""What the HTTP fakes of third parties (fake_stripe.py, fake_twilio.py) share: a threaded server
that does not drop connections under a burst, and a request handler that tracks its open
connections on the fake (so stop() can close them), answers as `nginx`, stays quiet, and sends
every method to `_handle(method)`."""

from __future__ import annotations

import socket
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class FakeServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 1024  # socketserver's 5 drops SYNs under a burst: a 1 s retransmit per connection


class FakeHandler(BaseHTTPRequestHandler):
    """`fake` (set by a subclass) has `_lock` and `_open`, the set of open connections."""

    fake = None
    protocol_version = "HTTP/1.1"
    server_version = "nginx"
    sys_version = ""
    timeout = 30

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with self.fake._lock:
            self.fake._open.add(self.connection)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            with self.fake._lock:
                self.fake._open.discard(self.connection)

    def log_message(self, format, *args) -> None:  # noqa: A002
        pass

    def version_string(self) -> str:
        return "nginx"

    def do_GET(self) -> None:  # noqa: N802
        self._handle("GET")

    def do_POST(self) -> None:  # noqa: N802
        self._handle("POST")

    def do_DELETE(self) -> None:  # noqa: N802
        self._handle("DELETE")

    def do_PUT(self) -> None:  # noqa: N802
        self._handle("PUT")

    def _handle(self, method: str) -> None:
        raise NotImplementedError
