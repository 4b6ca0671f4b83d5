"""SQLite (WAL) in the data directory: the only place durable state lives.

One connection, guarded by a lock: every public method is one short transaction, so a crash
never leaves a half-written record (the next start reconciles whatever state was committed).
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS resources (
    kind      TEXT NOT NULL,          -- 'model', 'training-job', ... (the ARN resource type)
    key       TEXT NOT NULL,          -- lower-cased name: SageMaker names are case-insensitive
    name      TEXT NOT NULL,          -- the name as the user wrote it
    arn       TEXT NOT NULL UNIQUE,
    status    TEXT,
    created   REAL NOT NULL,
    modified  REAL NOT NULL,
    body      TEXT NOT NULL,          -- the record as JSON
    PRIMARY KEY (kind, key)
);
CREATE INDEX IF NOT EXISTS resources_by_created ON resources (kind, created, key);
CREATE TABLE IF NOT EXISTS tags (
    arn   TEXT NOT NULL,
    key   TEXT NOT NULL,
    value TEXT NOT NULL,
    seq   INTEGER NOT NULL,
    PRIMARY KEY (arn, key)
);
CREATE TABLE IF NOT EXISTS log_groups (
    name     TEXT PRIMARY KEY,
    created  INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS log_streams (
    grp            TEXT NOT NULL,
    name           TEXT NOT NULL,
    created        INTEGER NOT NULL,
    first_event    INTEGER,
    last_event     INTEGER,
    last_ingestion INTEGER,
    stored_bytes   INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (grp, name)
);
CREATE TABLE IF NOT EXISTS log_events (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    grp       TEXT NOT NULL,
    stream    TEXT NOT NULL,
    ts        INTEGER NOT NULL,
    ingested  INTEGER NOT NULL,
    message   TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS log_events_by_stream ON log_events (grp, stream, id);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


class DatabaseClosed(RuntimeError):
    """The emulator is shutting down: background work still running stops here, and the work it was doing
    is picked up by restart recovery on the next start."""


def _private(path: Path) -> None:
    """Create ``path`` (and fix an existing one and its -wal/-shm files) as mode 0600."""
    os.close(os.open(path, os.O_CREAT | os.O_RDWR, 0o600))
    for candidate in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        try:
            if candidate.stat().st_mode & 0o077:
                os.chmod(candidate, 0o600)
        except FileNotFoundError:
            pass


class Database:
    """A thread-safe SQLite connection with the emulator's schema."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        _private(path)   # every record and log: the owner's alone (SQLite gives -wal/-shm the same mode)
        self.path = path
        self._lock = threading.RLock()
        self._conn = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None,
                                     timeout=30)
        self.closed = False
        self._conn.row_factory = sqlite3.Row
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=NORMAL")
        self._conn.execute("PRAGMA foreign_keys=ON")
        self._conn.executescript(_SCHEMA)  # idempotent; executescript commits by itself
        with self.transaction() as conn:
            conn.execute("INSERT OR IGNORE INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One atomic unit of work (BEGIN IMMEDIATE ... COMMIT, rolled back on error)."""
        with self._lock:
            if self.closed:
                raise DatabaseClosed(f"{self.path} is closed: smlocal is stopping")
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def query(self, sql: str, args: tuple | list = ()) -> list[sqlite3.Row]:
        with self._lock:
            if self.closed:
                raise DatabaseClosed(f"{self.path} is closed: smlocal is stopping")
            return self._conn.execute(sql, args).fetchall()

    def close(self) -> None:
        with self._lock:
            self.closed = True
            self._conn.close()


def dumps(record: dict[str, Any]) -> str:
    return json.dumps(record, separators=(",", ":"), sort_keys=False)


def loads(text: str) -> dict[str, Any]:
    return json.loads(text)
