"""Graceful drain (DESIGN §8): SIGTERM to one instance under load through the gateway. The
instance finishes what it has in flight and exits 0; clients see only 2xx. On a stack of its own
with the default argon2 cost, so logins are really in flight when the signal lands."""

from __future__ import annotations

import signal
import threading
import time
from collections import Counter

from support.api import register
from support.client import Client, assert_problem

LOAD_SECONDS = 3.0
SIGTERM_AFTER = 1.0


def test_sigterm_under_load_drops_nothing(make_stack):
    env = {"ARGON2_T": "2", "ARGON2_M_KIB": "19456", "ARGON2_P": "1", "WORKER_THREADS": "4"}
    with make_stack("drain", env=env) as stack:
        with Client(stack.url) as c:
            account = register(c)

        statuses: Counter = Counter()
        failures: list[str] = []
        after_signal = Counter()
        signalled = threading.Event()
        stop = threading.Event()
        lock = threading.Lock()

        def worker(kind: str) -> None:
            with Client(stack.url, timeout=30) as c:
                while not stop.is_set():
                    try:
                        if kind == "me":
                            resp = c.get("/api/users/me", token=account["token"], check=False)
                        else:
                            resp = c.post("/api/users/login", check=False,
                                          json={"email": account["email"], "password": account["password"]})
                    except Exception as exc:  # noqa: BLE001 - a dropped connection is a failure
                        with lock:
                            failures.append(f"{kind}: {exc!r}")
                        continue
                    with lock:
                        statuses[resp.status_code] += 1
                        if signalled.is_set():
                            after_signal[resp.status_code] += 1
                        if not 200 <= resp.status_code < 300:
                            failures.append(f"{kind}: {resp.status_code} {resp.text[:200]}")

        threads = [threading.Thread(target=worker, args=(k,), daemon=True) for k in ("me", "me", "login", "login")]
        for t in threads:
            t.start()
        time.sleep(SIGTERM_AFTER)
        victim = stack.instances[0]
        victim.proc.send(signal.SIGTERM)
        signalled.set()
        time.sleep(LOAD_SECONDS - SIGTERM_AFTER)
        stop.set()
        for t in threads:
            t.join(timeout=60)
        assert not any(t.is_alive() for t in threads), "a load thread hung"

        print(f"load: {dict(statuses)} in total, {dict(after_signal)} after SIGTERM")
        rc = stack.stop_instance(0, timeout=30, signalled=True)
        assert rc == 0, f"the drained instance exited with {rc}\n{victim.proc.tail()}"
        assert not victim.proc.killed
        assert not failures, f"{len(failures)} non-2xx answers or errors under drain: {failures[:10]}; {statuses}"
        assert sum(statuses.values()) > 20, f"too little load to mean anything: {statuses}"
        assert sum(after_signal.values()) > 5, f"no load after the signal: {after_signal}"

        # The remaining instance serves alone; with both gone the gateway answers 502 problem+json.
        with Client(stack.url) as c:
            assert c.get("/api/users/me", token=account["token"]).status_code == 200
            assert stack.stop_instance(1) == 0
            assert_problem(c.get("/api/users/me", token=account["token"], expect_5xx=True), 502)
