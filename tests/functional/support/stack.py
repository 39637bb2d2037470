"""A stack: the instances of one or more services (user-service; product-service and
shopping-cart-service when asked for), each service with its own database shared by its instances,
all with one signing key and one internal token, behind a real nginx rendered by gateway/render.py.
Built from the binaries of EMPORIUM_BUILD_DIR (never builds).

Stopping a stack checks what the suite promises about every run: no process died on its own,
each process exits 0 on SIGTERM (none needed SIGKILL), every log line is one JSON object, and no request got a 5xx that the
test did not ask for (service logs and the gateway's access log are both scanned).
"""

from __future__ import annotations

import getpass
import json
import hashlib
import hmac
import os
import random
import secrets
import shutil
import signal
import socket
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import requests

from .client import EXPECTED_5XX_PREFIX, Client
from .db import TestDatabase
from .nats import NatsServer
from .procs import Proc, wait_until
from .tokens import KeyPair

ROOT = Path(__file__).resolve().parents[3]
RENDER = ROOT / "gateway" / "render.py"
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"

# Every stack still alive, so a failing test can print their log tails.
LIVE_STACKS: list["Stack"] = []

_ports_lock = threading.Lock()
_ports_given: set[int] = set()


def free_port() -> int:
    """A port nothing listens on now and that this run has not handed out before. Drawn below
    Linux's ephemeral range (32768+), so the suite's own outgoing connections cannot hold it."""
    with _ports_lock:
        for _ in range(500):
            port = random.randrange(20000, 32000)
            if port in _ports_given:
                continue
            with socket.socket() as s:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                try:
                    s.bind(("127.0.0.1", port))
                except OSError:
                    continue
            _ports_given.add(port)
            return port
    raise RuntimeError("no free port")


def build_dir() -> Path:
    return Path(os.environ.get("EMPORIUM_BUILD_DIR", ROOT / "build" / "release")).resolve()


@dataclass(frozen=True)
class ServiceSpec:
    key: str        # the gateway's upstream name, as in EMPORIUM_SERVICES: users, products, cart
    directory: str  # services/<directory> in the source and build trees; also the process name prefix
    binary: str     # the executable's name


SERVICES: dict[str, ServiceSpec] = {
    "users": ServiceSpec("users", "user", "user-service"),
    "products": ServiceSpec("products", "product", "product-service"),
    "cart": ServiceSpec("cart", "cart", "shopping-cart-service"),
    "orders": ServiceSpec("orders", "order", "order-service"),
    "payments": ServiceSpec("payments", "payment", "payment-service"),
    "notification": ServiceSpec("notification", "notification", "notification-service"),
}


def service_binary(name: str) -> Path:
    """The executable of a service, by directory name (user, product, cart) or upstream name."""
    spec = SERVICES.get(name) or next((s for s in SERVICES.values() if s.directory == name), None)
    if spec is None:
        return build_dir() / "services" / name / f"{name}-service"
    return build_dir() / "services" / spec.directory / spec.binary


# Environment every user-service instance of the suite gets, before a stack's own overrides.
# argon2 is cheap here (the suite is about behaviour, not cost); limits are high except where a
# test lowers them.
USER_SERVICE_ENV = {
    "HOST": "127.0.0.1",
    "LOG_LEVEL": "info",
    "ACCESS_LOG": "true",
    "IO_THREADS": "1",
    "WORKER_THREADS": "4",
    "DB_POOL_SIZE": "4",
    "ARGON2_T": "1",
    "ARGON2_M_KIB": "1024",
    "ARGON2_P": "1",
    "REGISTER_MAX_PER_ADDR": "100000",
    "LOGIN_MAX_FAILURES_PER_EMAIL": "10",
    "LOGIN_MAX_FAILURES_PER_ADDR": "100000",
    "REFRESH_REUSE_GRACE_S": "2",
}

# What every instance of the other services gets before its own variables and a stack's overrides.
COMMON_SERVICE_ENV = {
    "HOST": "127.0.0.1",
    "LOG_LEVEL": "info",
    "ACCESS_LOG": "true",
    "IO_THREADS": "1",
    "WORKER_THREADS": "4",
    "DB_POOL_SIZE": "4",
}

# Passed through from the caller's environment (sanitizer settings for asan builds).
PASS_THROUGH = ("ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS", "TSAN_OPTIONS", "TZ", "LANG")


@dataclass
class Instance:
    index: int
    port: int
    env: dict[str, str]
    proc: Proc
    starts: int = 1
    exit_codes: list = field(default_factory=list)
    service: str = "users"
    deliberate_exit: bool = False  # the current process was stopped or killed by the suite

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


class Stack:
    """`services` lists what runs (upstream names, see SERVICES); `instances` is the number of
    user-service instances, `product_instances`, `cart_instances` and `order_instances` and
    `payment_instances` those of the others. `env`
    overrides user-service variables, `service_env={"products": {...}, "cart": {...}}` the others'."""

    def __init__(self, base_dir: Path, name: str, db_kind: str, pg_url: str | None = None,
                 env: dict[str, str] | None = None, instances: int = 2,
                 cors_origins: str = "http://shop.example", services: tuple[str, ...] | list[str] = ("users",),
                 service_env: dict[str, dict[str, str]] | None = None, product_instances: int = 2,
                 cart_instances: int = 1, order_instances: int = 2, payment_instances: int = 2,
                 notification_instances: int = 2, events: bool | None = None):
        self.name = name
        self.dir = base_dir
        self.dir.mkdir(parents=True, exist_ok=True)
        self.log_dir = self.dir / "logs"
        self.log_dir.mkdir(exist_ok=True)
        self.db_kind = db_kind
        self.pg_url = pg_url
        self.extra_env = dict(env or {})
        self.instance_count = instances
        unknown = [s for s in services if s not in SERVICES]
        if unknown:
            raise ValueError(f"unknown services {unknown}; known: {', '.join(SERVICES)}")
        if "cart" in services and "products" not in services:
            raise ValueError("cart needs products in the same stack (PRODUCT_SERVICE_URLS)")
        if "orders" in services and not {"products", "cart"} <= set(services):
            raise ValueError("orders needs products and cart in the same stack")
        if "payments" in services and "orders" not in services:
            raise ValueError("payments needs orders in the same stack")
        # In dependency order: what a service calls starts in the same batch, its URLs known first.
        self.services = [s for s in SERVICES if s in services]
        self.service_env = {k: dict(v) for k, v in (service_env or {}).items()}
        self.counts = {"users": instances, "products": product_instances, "cart": cart_instances,
                       "orders": order_instances, "payments": payment_instances,
                       "notification": notification_instances}
        # Events (NATS_URL for every service) by default when notification-service runs.
        self.events = ("notification" in services) if events is None else events
        self.nats: NatsServer | None = None
        self.webhook_secret = "whsec_" + secrets.token_hex(16)
        self.cors_origins = cors_origins
        self.internal_token = secrets.token_hex(24)  # the shared INTERNAL_TOKEN
        self.admin_email = "admin@emporium.test"
        self.admin_password = "Adm1n-" + secrets.token_urlsafe(12)
        self.keys = KeyPair(self.dir / "keys")
        self.db: TestDatabase | None = None  # user-service's
        self.dbs: dict[str, TestDatabase] = {}
        self.groups: dict[str, list[Instance]] = {s: [] for s in SERVICES}
        self.gateway: Proc | None = None
        self.gateway_port = 0
        self.gateway_prefix = self.dir / "gateway"
        self.problems: list[str] = []
        self._clients: list[Client] = []

    # ---- life cycle -------------------------------------------------------------------------

    def __enter__(self) -> "Stack":
        try:
            self.start()
        except BaseException:
            self.stop(check=False)
            raise
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        problems = self.stop(check=exc_type is None)
        if problems and exc_type is None:
            raise AssertionError(self.describe_problems(problems))

    @property
    def instances(self) -> list[Instance]:
        """user-service's instances (the stack's original meaning of the word)."""
        return self.groups["users"]

    @property
    def products(self) -> list[Instance]:
        return self.groups["products"]

    @property
    def carts(self) -> list[Instance]:
        return self.groups["cart"]

    @property
    def orders(self) -> list[Instance]:
        return self.groups["orders"]

    @property
    def payments(self) -> list[Instance]:
        return self.groups["payments"]

    @property
    def notifications(self) -> list[Instance]:
        return self.groups["notification"]

    def all_instances(self) -> list[Instance]:
        return [inst for s in SERVICES for inst in self.groups[s]]

    def start(self) -> None:
        binaries = {s: service_binary(s) for s in self.services}
        missing = [str(b) for b in binaries.values() if not b.exists()]
        if missing:
            raise RuntimeError(f"{', '.join(missing)} not built: build first (cmake --preset release && "
                               f"cmake --build --preset release; services under construction need "
                               f"-DEMPORIUM_EXTRA_SERVICES=...) or set EMPORIUM_BUILD_DIR")
        LIVE_STACKS.append(self)
        if self.events:
            self.nats = NatsServer(self.dir, free_port()).start()
        for s in self.services:
            db_name = self.name if s == "users" else f"{self.name}_{s}"
            self.dbs[s] = TestDatabase(self.db_kind, self.dir, db_name, self.pg_url)
        self.db = self.dbs.get("users")
        # Every port first: calls go both ways (order-service asks payment-service for refunds).
        self.ports = {s: [free_port() for _ in range(self.counts[s])] for s in self.services}
        for s in self.services:
            prefix = SERVICES[s].directory
            for i in range(self.counts[s]):
                port = self.ports[s][i]
                env = self._service_env(s, port)
                proc = Proc(f"{prefix}-{i}", [str(binaries[s])], env, self.dir, self.log_dir)
                self.groups[s].append(Instance(i, port, env, proc, service=s))
        # Start them together: migrations and the first admin must cope with that (DESIGN §7).
        for inst in self.all_instances():
            inst.proc.start()
        for inst in self.all_instances():
            self.wait_ready(inst)
        self._start_gateway()

    def _service_env(self, service: str, port: int) -> dict[str, str]:
        if service == "users":
            return self._instance_env(port)
        env = {k: os.environ[k] for k in PASS_THROUGH if k in os.environ}
        env["PATH"] = os.environ.get("PATH", "/usr/bin:/bin")
        env.update(COMMON_SERVICE_ENV)
        env.update({
            "PORT": str(port),
            "DATABASE_URL": self.dbs[service].url,
            "INTERNAL_TOKEN": self.internal_token,
            "JWT_PUBLIC_KEY_FILE": str(self.keys.public_path),
        })
        if self.nats is not None:
            # Quick relays and redeliveries: the suite waits for events, not for production pacing.
            env.update({"NATS_URL": self.nats.url, "EVENTS_RELAY_POLL_MS": "100",
                        "EVENTS_RETRY_BASE_MS": "200", "EVENTS_RETRY_MAX_MS": "1000",
                        "EVENTS_ACK_WAIT_MS": "5000"})
        if service in ("cart", "orders"):
            env["PRODUCT_SERVICE_URLS"] = ",".join(i.url for i in self.products)
        if service == "orders":
            env["CART_SERVICE_URLS"] = ",".join(i.url for i in self.carts)
            env["ORDER_WORKER_POLL_MS"] = "200"
            if "users" in self.services:
                env["USER_SERVICE_URLS"] = ",".join(f"http://127.0.0.1:{p}" for p in self.ports["users"])
            if "payments" in self.services:
                env["PAYMENT_SERVICE_URLS"] = ",".join(f"http://127.0.0.1:{p}" for p in self.ports["payments"])
        if service == "payments":
            env["ORDER_SERVICE_URLS"] = ",".join(i.url for i in self.orders)
            env["STRIPE_WEBHOOK_SECRET"] = self.webhook_secret
            env["PAYMENT_WORKER_POLL_MS"] = "200"
        if service == "notification":
            env.update({"NOTIFICATION_WORKER_POLL_MS": "100", "NOTIFICATION_RETRY_BASE_MS": "300",
                        "NOTIFICATION_RETRY_MAX_MS": "1500", "NOTIFICATION_LEASE_MS": "6000",
                        "SMTP_TIMEOUT_MS": "4000", "TWILIO_TIMEOUT_MS": "2000"})
        env.update(self.service_env.get(service, {}))
        return env

    def _instance_env(self, port: int) -> dict[str, str]:
        env = {k: os.environ[k] for k in PASS_THROUGH if k in os.environ}
        env["PATH"] = os.environ.get("PATH", "/usr/bin:/bin")
        env.update(USER_SERVICE_ENV)
        env.update({
            "PORT": str(port),
            "DATABASE_URL": self.db.url,
            "INTERNAL_TOKEN": self.internal_token,
            "JWT_PRIVATE_KEY_FILE": str(self.keys.private_path),
            "ADMIN_EMAIL": self.admin_email,
            "ADMIN_PASSWORD": self.admin_password,
        })
        if self.nats is not None:
            env.update({"NATS_URL": self.nats.url, "EVENTS_RELAY_POLL_MS": "100"})
        env.update(self.extra_env)
        return env

    def wait_ready(self, inst: Instance, timeout: float = 30.0) -> None:
        def ready() -> bool:
            if not inst.proc.alive():
                return True
            try:
                return requests.get(inst.url + "/readyz", timeout=1).status_code == 200
            except requests.RequestException:
                return False

        ok = wait_until(ready, timeout)
        if not inst.proc.alive():
            raise RuntimeError(f"{inst.proc.name} exited with {inst.proc.popen.returncode} before it was "
                               f"ready\n{inst.proc.tail()}")
        if not ok:
            raise RuntimeError(f"{inst.proc.name} not ready after {timeout}s\n{inst.proc.tail()}")

    def _start_gateway(self) -> None:
        self.gateway_port = free_port()
        conf = self.gateway_prefix / "nginx.conf"
        argv = ["/usr/bin/python3", str(RENDER), "--listen", f"127.0.0.1:{self.gateway_port}",
                "--prefix", str(self.gateway_prefix), "--out", str(conf), "--workers", "1",
                "--cors-origins", self.cors_origins]
        for s in self.services:
            argv += ["--upstream", f"{s}=" + ",".join(f"127.0.0.1:{i.port}" for i in self.groups[s])]
        if os.geteuid() == 0:
            # Workers as the caller: the prefix sits in a private temp directory.
            argv += ["--user", getpass.getuser()]
        result = subprocess.run(argv, capture_output=True, text=True)
        if result.returncode != 0:
            raise RuntimeError(f"render.py failed: {result.stderr}")
        check = subprocess.run([NGINX, "-t", "-q", "-p", f"{self.gateway_prefix}/", "-c", str(conf),
                                "-e", str(self.gateway_prefix / "logs" / "error.log")],
                               capture_output=True, text=True)
        if check.returncode != 0:
            raise RuntimeError(f"nginx -t failed: {check.stderr}")
        self.gateway = Proc("nginx", [NGINX, "-p", f"{self.gateway_prefix}/", "-c", str(conf),
                                      "-e", str(self.gateway_prefix / "logs" / "error.log")],
                            {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}, self.dir, self.log_dir)
        self.gateway.start()

        def up() -> bool:
            if not self.gateway.alive():
                return True
            try:
                with socket.create_connection(("127.0.0.1", self.gateway_port), timeout=0.5):
                    return True
            except OSError:
                return False

        if not wait_until(up, 15) or not self.gateway.alive():
            raise RuntimeError(f"nginx did not start\n{self.gateway.tail()}\n{self.gateway_error_log()}")

    def stop(self, check: bool = True) -> list[str]:
        """Stops everything by PID; returns the problems found (also kept in self.problems)."""
        for c in self._clients:
            c.close()
        if self.gateway is not None:
            rc = self.gateway.stop(signal.SIGQUIT, timeout=15)
            if rc != 0 or self.gateway.killed:
                self.problems.append(f"nginx exited with {rc}{' after SIGKILL' if self.gateway.killed else ''}")
        # A process that exited although no test stopped or killed it died: that is a problem.
        for inst in self.all_instances():
            if inst.proc.popen is not None and not inst.proc.alive() and not inst.deliberate_exit:
                self.problems.append(f"{inst.proc.name} died during the run with exit code "
                                     f"{inst.proc.popen.returncode}")
        # SIGTERM every running instance at once (a stopped one is continued first, or it could not
        # act on it), then collect.
        running = [i for i in self.all_instances() if i.proc.alive()]
        for inst in running:
            inst.proc.send(signal.SIGCONT)
        for inst in running:
            inst.proc.send(signal.SIGTERM)
        for inst in running:
            self._collect(inst, signalled=True, timeout=30)
        if self.nats is not None and self.nats.alive():
            rc = self.nats.stop()
            if rc != 0:
                self.problems.append(f"nats-server exited with {rc} on SIGTERM")
        if check:
            self.problems.extend(self.scan_logs())
        for s, db in self.dbs.items():
            try:
                db.drop()
            except Exception as exc:  # noqa: BLE001 - reported, not hidden
                self.problems.append(f"could not drop the {s} test database: {exc}")
        if self in LIVE_STACKS:
            LIVE_STACKS.remove(self)
        return self.problems

    # ---- instances ----------------------------------------------------------------------------

    def stop_instance(self, index: int, timeout: float = 30.0, signalled: bool = False,
                      service: str = "users") -> int | None:
        """SIGTERM (unless the test sent it already: a second one is not sent), wait, SIGKILL
        after `timeout`. Returns the exit code; a non-zero one is also a stack problem."""
        return self._collect(self.groups[service][index], signalled, timeout)

    def kill_instance(self, service: str, index: int) -> None:
        """SIGKILL, on purpose (a crash the test simulates): not a stack problem."""
        inst = self.groups[service][index]
        assert inst.proc.alive(), f"{inst.proc.name} is not running"
        inst.deliberate_exit = True
        inst.proc.send(signal.SIGCONT)
        inst.proc.stop(signal.SIGKILL, timeout=10)
        inst.exit_codes.append(inst.proc.returncode)

    def pause_instance(self, service: str, index: int) -> None:
        """SIGSTOP: the process hangs with its sockets open. stop() continues it before SIGTERM;
        tests resume it themselves with resume_instance (in a finally)."""
        self.groups[service][index].proc.send(signal.SIGSTOP)

    def resume_instance(self, service: str, index: int) -> None:
        self.groups[service][index].proc.send(signal.SIGCONT)

    def _collect(self, inst: Instance, signalled: bool, timeout: float) -> int | None:
        # One SIGTERM only: a second one is not what an orchestrator sends.
        inst.deliberate_exit = True
        if signalled:
            rc = inst.proc.wait(timeout)
            if rc is None:
                inst.proc.stop(signal.SIGKILL, timeout=10)
                inst.proc.killed = True
                rc = inst.proc.returncode
        else:
            rc = inst.proc.stop(signal.SIGTERM, timeout=timeout)
        inst.exit_codes.append(rc)
        if rc != 0 or inst.proc.killed:
            self.problems.append(f"{inst.proc.name} exited with {rc} on SIGTERM"
                                 f"{' (needed SIGKILL)' if inst.proc.killed else ''}")
        return rc

    def restart_instance(self, index: int, service: str = "users") -> None:
        inst = self.groups[service][index]
        assert not inst.proc.alive(), "stop it first"
        inst.starts += 1
        inst.deliberate_exit = False
        inst.proc = Proc(f"{SERVICES[service].directory}-{index}.{inst.starts}", inst.proc.argv, inst.env,
                         self.dir, self.log_dir)
        inst.proc.start()
        self.wait_ready(inst)

    # ---- access -----------------------------------------------------------------------------

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.gateway_port}"

    def client(self, source_address: str | None = None) -> Client:
        c = Client(self.url, source_address=source_address)
        self._clients.append(c)
        return c

    def caller_token(self, caller: str) -> str:
        """The X-Internal-Token `caller` ("order", "payment", ...) presents: derived from the shared
        INTERNAL_TOKEN as core/src/auth/callers.cpp derives it."""
        return hmac.new(self.internal_token.encode(), f"emporium-caller:{caller}".encode(),
                        hashlib.sha256).hexdigest()

    def direct(self, index: int = 0, service: str = "users", timeout: float = 30.0) -> Client:
        c = Client(self.groups[service][index].url, timeout=timeout)
        self._clients.append(c)
        return c

    # ---- logs -------------------------------------------------------------------------------

    def _log_globs(self, suffix: str) -> list[Path]:
        paths: set[Path] = set()
        for spec in SERVICES.values():
            paths.update(self.log_dir.glob(f"{spec.directory}-*.{suffix}"))
        return sorted(paths)

    def service_log_files(self) -> list[Path]:
        return self._log_globs("out")

    def service_log_lines(self) -> list[tuple[Path, str]]:
        lines = []
        for path in self.service_log_files():
            for line in path.read_text(errors="replace").splitlines():
                if line.strip():
                    lines.append((path, line))
        return lines

    def service_log_records(self) -> list[dict]:
        records = []
        for _, line in self.service_log_lines():
            try:
                value = json.loads(line)
            except ValueError:
                continue
            if isinstance(value, dict):
                records.append(value)
        return records

    def gateway_access_records(self) -> list[dict]:
        path = self.gateway_prefix / "logs" / "access.log"
        if not path.exists():
            return []
        return [json.loads(line) for line in path.read_text(errors="replace").splitlines() if line.strip()]

    def gateway_error_log(self) -> str:
        path = self.gateway_prefix / "logs" / "error.log"
        return path.read_text(errors="replace")[-4000:] if path.exists() else ""

    def scan_logs(self) -> list[str]:
        problems = []
        for path, line in self.service_log_lines():
            try:
                value = json.loads(line)
            except ValueError:
                problems.append(f"{path.name}: not a JSON line: {line[:300]}")
                continue
            if not isinstance(value, dict):
                problems.append(f"{path.name}: not a JSON object: {line[:300]}")
                continue
            status = value.get("status")
            rid = str(value.get("requestId", ""))
            if isinstance(status, int) and status >= 500 and not rid.startswith(EXPECTED_5XX_PREFIX):
                problems.append(f"{path.name}: a {status}: {line[:400]}")
        for path in self._log_globs("err"):
            text = path.read_text(errors="replace")
            for marker in ("AddressSanitizer", "runtime error:", "LeakSanitizer", "terminate called"):
                if marker in text:
                    problems.append(f"{path.name}: {marker} reported:\n{text[-3000:]}")
                    break
        try:
            records = self.gateway_access_records()
        except ValueError as exc:
            problems.append(f"gateway access log has a line that is not JSON: {exc}")
            records = []
        for rec in records:
            if rec.get("status", 0) >= 500 and not str(rec.get("requestId", "")).startswith(EXPECTED_5XX_PREFIX):
                problems.append(f"gateway answered {rec['status']}: {json.dumps(rec)}")
        return problems

    def tails(self, lines: int = 15) -> str:
        parts = [f"===== stack {self.name} ({self.dir}) ====="]
        for inst in self.all_instances():
            parts.append(inst.proc.tail(lines))
        if self.gateway is not None:
            parts.append(self.gateway.tail(lines))
            parts.append("--- gateway error.log (tail) ---")
            parts.append("\n".join(self.gateway_error_log().splitlines()[-lines:]))
        return "\n".join(parts)

    def describe_problems(self, problems: list[str]) -> str:
        return (f"stack {self.name}: {len(problems)} problem(s)\n  - " + "\n  - ".join(problems)
                + "\n" + self.tails())


def wait_for_log(stack: Stack, predicate, timeout: float = 5.0) -> dict | None:
    """The first service log record matching `predicate`, waiting for it to be flushed."""
    found: list[dict] = []

    def look() -> bool:
        for rec in stack.service_log_records():
            if predicate(rec):
                found.append(rec)
                return True
        return False

    wait_until(look, timeout, interval=0.1)
    return found[0] if found else None


def now() -> float:
    return time.time()


def wait_for_gateway_record(stack: Stack, request_id: str, timeout: float = 5.0) -> dict | None:
    """The gateway's access-log record of a request (nginx writes it when the connection is done
    with the request, e.g. after a lingering close)."""
    found: list[dict] = []

    def look() -> bool:
        found[:] = [r for r in stack.gateway_access_records() if r.get("requestId") == request_id]
        return bool(found)

    wait_until(look, timeout, interval=0.05)
    return found[0] if found else None
