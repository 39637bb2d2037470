"""A throwaway PostgreSQL cluster of one test (scripts/pg-temp), which the test may freeze (SIGSTOP
every process of it) or restart."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
SCRIPT = str(ROOT / "scripts" / "pg-temp")


class Cluster:
    def __init__(self, directory: Path, url: str):
        self.dir = directory
        self.url = url
        self.stopped: list[int] = []

    def pids(self) -> list[int]:
        postmaster = int((self.dir / "data" / "postmaster.pid").read_text().split()[0])
        children = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == postmaster:
                children.append(int(entry.name))
        return [postmaster] + children

    def freeze(self) -> None:
        # The postmaster first, so that it forks no new backend meanwhile.
        for pid in self.pids():
            os.kill(pid, signal.SIGSTOP)
            self.stopped.append(pid)

    def resume(self) -> None:
        for pid in set(self.stopped):
            try:
                os.kill(pid, signal.SIGCONT)
            except ProcessLookupError:
                pass
        self.stopped.clear()

    def restart(self) -> None:
        """A fast shutdown (every session is ended) and a start on the same data and port."""
        done = subprocess.run([SCRIPT, "restart", str(self.dir)], capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr


@contextmanager
def temporary_cluster():
    # Short: the socket path must fit in sun_path.
    directory = Path(tempfile.mkdtemp(prefix="pgf", dir="/tmp"))
    started = subprocess.run([SCRIPT, "start", str(directory)], capture_output=True, text=True, timeout=120)
    assert started.returncode == 0, started.stderr
    cluster = Cluster(directory, started.stdout.strip())
    try:
        yield cluster
    finally:
        cluster.resume()
        subprocess.run([SCRIPT, "stop", str(directory)], capture_output=True, text=True, timeout=120)
        shutil.rmtree(directory, ignore_errors=True)
