"""The database a stack's services share: a SQLite file or a fresh PostgreSQL database made with
CREATE DATABASE in the cluster of EMPORIUM_TEST_PG_URL (through the psql CLI; no driver needed).

Tests read and write it directly only where the contract is about stored state (e.g. the seed's
password hashes)."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import urllib.parse
from pathlib import Path


def literal(value) -> str:
    """An SQL literal, valid on both backends (standard_conforming_strings is on in PostgreSQL)."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int):
        return str(value)
    return "'" + str(value).replace("'", "''") + "'"


class TestDatabase:
    __test__ = False  # not a pytest class

    def __init__(self, kind: str, directory: Path, name: str, pg_url: str | None = None):
        self.kind = kind
        self.name = name
        self._pg_admin_url = pg_url
        if kind == "sqlite":
            self.path = directory / f"{name}.db"
            self.url = f"sqlite://{self.path}"  # sqlite:///abs/path.db
        elif kind == "postgres":
            if not pg_url:
                raise RuntimeError("EMPORIUM_DB=postgres needs EMPORIUM_TEST_PG_URL "
                                   "(scripts/pg-temp start DIR prints one)")
            self.dbname = f"emporium_{name}_{os.urandom(4).hex()}"
            self._psql(pg_url, f'CREATE DATABASE "{self.dbname}"')
            parts = urllib.parse.urlsplit(pg_url)
            self.url = urllib.parse.urlunsplit(parts._replace(path=f"/{self.dbname}"))
        else:
            raise RuntimeError(f"EMPORIUM_DB must be sqlite or postgres, not {kind!r}")

    @staticmethod
    def _psql(url: str, sql: str) -> str:
        result = subprocess.run(["psql", url, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-A", "-t", "-F", "\t",
                                 "-c", sql], capture_output=True, text=True, timeout=60)
        if result.returncode != 0:
            raise RuntimeError(f"psql failed ({result.returncode}) for {sql!r}: {result.stderr.strip()}")
        return result.stdout

    def query(self, sql: str) -> list[tuple[str, ...]]:
        """Rows as tuples of strings (NULL as None on SQLite, '' on PostgreSQL)."""
        if self.kind == "sqlite":
            with sqlite3.connect(self.path, timeout=15) as conn:
                rows = conn.execute(sql).fetchall()
            conn.close()
            return [tuple(None if v is None else str(v) for v in row) for row in rows]
        out = self._psql(self.url, sql)
        return [tuple(line.split("\t")) for line in out.splitlines() if line != ""]

    def execute(self, sql: str) -> None:
        if self.kind == "sqlite":
            conn = sqlite3.connect(self.path, timeout=15, isolation_level=None)
            try:
                conn.execute("BEGIN IMMEDIATE")
                conn.execute(sql)
                conn.execute("COMMIT")
            finally:
                conn.close()
        else:
            self._psql(self.url, sql)

    def drop(self) -> None:
        if self.kind == "postgres" and self._pg_admin_url:
            self._psql(self._pg_admin_url, f'DROP DATABASE IF EXISTS "{self.dbname}" WITH (FORCE)')
