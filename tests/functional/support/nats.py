"""A real nats-server with JetStream (Debian's nats-server), owned by a test: started on a free
port with its store in a directory of the test, stopped by PID. kill() and start() again on the
same store simulate a broker crash and its return."""

from __future__ import annotations

import os
import shutil
import signal
import socket
from pathlib import Path

from .procs import Proc, wait_until

NATS_SERVER = shutil.which("nats-server") or "/usr/bin/nats-server"


class NatsServer:
    def __init__(self, base_dir: Path, port: int, name: str = "nats"):
        self.dir = base_dir / name
        self.store = self.dir / "store"
        self.store.mkdir(parents=True, exist_ok=True)
        self.log_dir = base_dir / "logs"
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.port = port
        self.name = name
        self.starts = 0
        self.proc: Proc | None = None

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    def start(self) -> "NatsServer":
        assert self.proc is None or not self.proc.alive(), "already running"
        self.starts += 1
        argv = [NATS_SERVER, "-js", "-a", "127.0.0.1", "-p", str(self.port), "-sd", str(self.store),
                "-n", self.name]
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
        self.proc = Proc(f"{self.name}.{self.starts}", argv, env, self.dir, self.log_dir).start()

        def up() -> bool:
            if not self.proc.alive():
                return True
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return True
            except OSError:
                return False

        if not wait_until(up, 15) or not self.proc.alive():
            raise RuntimeError(f"nats-server did not start\n{self.proc.tail()}")
        return self

    def alive(self) -> bool:
        return self.proc is not None and self.proc.alive()

    def kill(self) -> None:
        """SIGKILL: the broker crashes; its file store stays for the next start()."""
        assert self.proc is not None
        self.proc.stop(signal.SIGKILL, timeout=10)

    def stop(self) -> int | None:
        """SIGINT: nats-server's clean shutdown (it exits 1 on SIGTERM)."""
        if self.proc is None:
            return None
        return self.proc.stop(signal.SIGINT, timeout=15)


def publish(url: str, subject: str, payload: bytes, msg_id: str | None = None, timeout: float = 5.0) -> dict:
    """Publishes one message to JetStream over NATS's text protocol (HPUB with a reply inbox) and
    returns the stream's PubAck ({"stream", "seq", "duplicate"?}); raises on an error answer. What
    a producer's relay does, for tests that inject events of their own (a redelivery, a poison)."""
    import json as _json
    import secrets as _secrets

    host, port = url.removeprefix("nats://").split(":")
    inbox = "_INBOX." + _secrets.token_hex(8)
    headers = "NATS/1.0\r\n" + (f"Nats-Msg-Id: {msg_id}\r\n" if msg_id else "") + "\r\n"
    hdr = headers.encode()
    with socket.create_connection((host, int(port)), timeout=timeout) as sock:
        buf = b""

        def read_line() -> bytes:
            nonlocal buf
            while b"\r\n" not in buf:
                chunk = sock.recv(65536)
                if not chunk:
                    raise RuntimeError("nats closed the connection")
                buf += chunk
            line, _, buf = buf.partition(b"\r\n")
            return line

        def read_exact(n: int) -> bytes:
            nonlocal buf
            while len(buf) < n:
                chunk = sock.recv(65536)
                if not chunk:
                    raise RuntimeError("nats closed the connection")
                buf += chunk
            out, buf = buf[:n], buf[n:]
            return out

        assert read_line().startswith(b"INFO ")
        sock.sendall(b'CONNECT {"verbose":false,"pedantic":false,"headers":true,"no_responders":true}\r\n')
        sock.sendall(f"SUB {inbox} 1\r\n".encode())
        sock.sendall(f"HPUB {subject} {inbox} {len(hdr)} {len(hdr) + len(payload)}\r\n".encode()
                     + hdr + payload + b"\r\n")
        sock.sendall(b"PING\r\n")
        while True:
            line = read_line()
            if line.startswith(b"PING"):
                sock.sendall(b"PONG\r\n")
            elif line.startswith(b"-ERR"):
                raise RuntimeError(line.decode())
            elif line.startswith(b"MSG "):
                size = int(line.split()[-1])
                data = read_exact(size)
                read_exact(2)
                ack = _json.loads(data)
                if "error" in ack:
                    raise RuntimeError(f"JetStream refused the message: {ack}")
                return ack
            elif line.startswith(b"HMSG "):
                parts = line.split()
                total = int(parts[-1])
                data = read_exact(total)
                read_exact(2)
                raise RuntimeError(f"no stream answered: {data[:200]!r}")
