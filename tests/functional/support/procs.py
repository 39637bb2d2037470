"""A child process owned by the test run: started with its output in files, stopped by PID."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path


class Proc:
    def __init__(self, name: str, argv: list[str], env: dict[str, str], cwd: Path, log_dir: Path):
        self.name = name
        self.argv = argv
        self.env = env
        self.cwd = cwd
        self.stdout_path = log_dir / f"{name}.out"
        self.stderr_path = log_dir / f"{name}.err"
        self.popen: subprocess.Popen | None = None
        self.killed = False
        self.returncode: int | None = None

    @property
    def pid(self) -> int:
        assert self.popen is not None
        return self.popen.pid

    def start(self) -> "Proc":
        with open(self.stdout_path, "ab") as out, open(self.stderr_path, "ab") as err:
            # Own session: a Ctrl-C on pytest does not reach the children; teardown stops them.
            self.popen = subprocess.Popen(self.argv, env=self.env, cwd=self.cwd, stdin=subprocess.DEVNULL,
                                          stdout=out, stderr=err, start_new_session=True)
        self.returncode = None
        self.killed = False
        return self

    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def send(self, sig: int) -> None:
        if self.alive():
            os.kill(self.pid, sig)

    def wait(self, timeout: float) -> int | None:
        """The exit code, or None when still running after `timeout` seconds."""
        if self.popen is None:
            return None
        try:
            self.returncode = self.popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None
        return self.returncode

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30.0) -> int | None:
        """Sends `sig`, waits up to `timeout`, then SIGKILL. Returns the exit code (None if never
        started); `killed` tells whether SIGKILL was needed."""
        if self.popen is None:
            return None
        if self.popen.poll() is None:
            self.send(sig)
            if self.wait(timeout) is None:
                self.killed = True
                self.popen.kill()
                self.wait(10)
        self.returncode = self.popen.returncode
        return self.returncode

    def tail(self, lines: int = 40) -> str:
        parts = []
        for path in (self.stdout_path, self.stderr_path):
            try:
                data = path.read_bytes()[-64 * 1024:].decode("utf-8", "replace").splitlines()
            except OSError:
                data = []
            parts.append(f"--- {path.name} (last {min(lines, len(data))} of its lines) ---")
            parts.extend(data[-lines:])
        return "\n".join(parts)


def wait_until(predicate, timeout: float, interval: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()
