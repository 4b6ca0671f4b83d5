"""Durable resource records (models, jobs, endpoints, ...) and their tags.

The store knows nothing of SageMaker semantics: records are JSON documents keyed by
(kind, case-insensitive name), with the columns listing and reconciliation need.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from typing import Any

from emulator.state.db import Database, dumps, loads

_TIME_COLUMNS = {"CreationTime": "created", "LastModifiedTime": "modified"}


class AlreadyExists(Exception):
    """A record with this kind and (case-insensitive) name exists."""

    def __init__(self, record: dict[str, Any]) -> None:
        super().__init__(record)
        self.record = record


class ResourceStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    # --- records ---------------------------------------------------------------------------------
    def insert(self, kind: str, name: str, arn: str, record: dict[str, Any], *,
               status: str | None = None, tags: list[dict[str, str]] | None = None) -> dict[str, Any]:
        """Insert a new record (and its tags) atomically; raise AlreadyExists on a name clash.
        The record carries its own CreationTime and LastModifiedTime (epoch seconds)."""
        with self.db.transaction() as conn:
            row = conn.execute("SELECT body FROM resources WHERE kind=? AND key=?",
                               (kind, name.lower())).fetchone()
            if row is not None:
                raise AlreadyExists(loads(row["body"]))
            conn.execute(
                "INSERT INTO resources (kind, key, name, arn, status, created, modified, body) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (kind, name.lower(), name, arn, status, record["CreationTime"],
                 record["LastModifiedTime"], dumps(record)))
            if tags:
                _put_tags(conn, arn, tags)
        return record

    def get(self, kind: str, name: str) -> dict[str, Any] | None:
        rows = self.db.query("SELECT body FROM resources WHERE kind=? AND key=?", (kind, name.lower()))
        return loads(rows[0]["body"]) if rows else None

    def get_text(self, kind: str, name: str) -> str | None:
        """The record's stored JSON text (``get`` parses it)."""
        rows = self.db.query("SELECT body FROM resources WHERE kind=? AND key=?", (kind, name.lower()))
        return str(rows[0]["body"]) if rows else None

    def get_many(self, kind: str, names: list[str]) -> dict[str, dict[str, Any]]:
        """Records of a kind by (case-insensitive) name, in one query; missing names are left out."""
        found: dict[str, dict[str, Any]] = {}
        keys = [n.lower() for n in names]
        for start in range(0, len(keys), 500):   # SQLite's limit on bound parameters
            chunk = keys[start:start + 500]
            rows = self.db.query(f"SELECT key, body FROM resources WHERE kind=? AND key IN "
                                 f"({','.join('?' * len(chunk))})", [kind, *chunk])
            found.update((r["key"], loads(r["body"])) for r in rows)
        return found

    def kind_of_arn(self, arn: str) -> str | None:
        rows = self.db.query("SELECT kind FROM resources WHERE arn=?", (arn,))
        return rows[0]["kind"] if rows else None

    def update(self, kind: str, name: str, change: Callable[[dict[str, Any]], Any], *,
               status_field: str | None = None, touch: bool = True) -> dict[str, Any] | None:
        """Read-modify-write one record in a transaction. ``change`` mutates the dict in place
        (and may raise to abort). Returns the new record, or None when it does not exist."""
        with self.db.transaction() as conn:
            row = conn.execute("SELECT body FROM resources WHERE kind=? AND key=?",
                               (kind, name.lower())).fetchone()
            if row is None:
                return None
            record = loads(row["body"])
            change(record)
            if touch:
                record["LastModifiedTime"] = time.time()
            status = record.get(status_field) if status_field else None
            conn.execute("UPDATE resources SET status=?, modified=?, body=? WHERE kind=? AND key=?",
                         (status, record.get("LastModifiedTime", 0), dumps(record), kind, name.lower()))
            return record

    def delete(self, kind: str, name: str) -> dict[str, Any] | None:
        """Delete a record and its tags; returns what was deleted."""
        with self.db.transaction() as conn:
            row = conn.execute("SELECT arn, body FROM resources WHERE kind=? AND key=?",
                               (kind, name.lower())).fetchone()
            if row is None:
                return None
            conn.execute("DELETE FROM resources WHERE kind=? AND key=?", (kind, name.lower()))
            conn.execute("DELETE FROM tags WHERE arn=?", (row["arn"],))
            return loads(row["body"])

    def all(self, kind: str, status_in: tuple[str, ...] = ()) -> list[dict[str, Any]]:
        """Every record of a kind, oldest first (optionally only with a given status column)."""
        sql = "SELECT body FROM resources WHERE kind=?"
        args: list[Any] = [kind]
        if status_in:
            sql += f" AND status IN ({','.join('?' * len(status_in))})"
            args += list(status_in)
        return [loads(r["body"]) for r in self.db.query(sql + " ORDER BY created, key", args)]

    def page(self, kind: str, *, name_contains: str | None = None, status: str | None = None,
             after: dict[str, float] | None = None, before: dict[str, float] | None = None,
             sort: str = "CreationTime", descending: bool = True, offset: int = 0, limit: int = 10
             ) -> list[str]:
        """One page of a kind's records as their stored JSON texts, filtered and sorted in SQL (only the
        page is read and parsed).

        The order is the one ``all`` followed by Python's stable sort gives: by (created, key) for
        CreationTime; by key for Name; by (status, created) for Status, ties by key ascending.
        ``name_contains`` is lower case; ``after``/``before`` map CreationTime/LastModifiedTime to
        exclusive bounds."""
        sql = "SELECT body FROM resources WHERE kind=?"
        args: list[Any] = [kind]
        if name_contains:
            sql += " AND instr(key, ?) > 0"
            args.append(name_contains)
        if status is not None:
            sql += " AND status=?"
            args.append(status)
        for bounds, op in ((after or {}, ">"), (before or {}, "<")):
            for field, bound in bounds.items():
                sql += f" AND {_TIME_COLUMNS[field]} {op} ?"
                args.append(bound)
        way = "DESC" if descending else "ASC"
        if sort == "Name":
            order = f"key {way}"
        elif sort == "Status":
            order = f"COALESCE(status, '') {way}, created {way}, key ASC"
        else:
            order = f"created {way}, key {way}"
        sql += f" ORDER BY {order} LIMIT ? OFFSET ?"
        args += [limit, offset]
        return [str(r["body"]) for r in self.db.query(sql, args)]

    # --- tags --------------------------------------------------------------------------------------
    def tags(self, arn: str) -> list[dict[str, str]]:
        rows = self.db.query("SELECT key, value FROM tags WHERE arn=? ORDER BY seq", (arn,))
        return [{"Key": r["key"], "Value": r["value"]} for r in rows]

    def add_tags(self, arn: str, tags: list[dict[str, str]], limit: int | None = None) -> int:
        """Add or overwrite tags; returns the resulting count. ``limit`` is checked atomically."""
        with self.db.transaction() as conn:
            _put_tags(conn, arn, tags)
            count = conn.execute("SELECT COUNT(*) FROM tags WHERE arn=?", (arn,)).fetchone()[0]
            if limit is not None and count > limit:
                raise TagLimitExceeded(count)
            return count

    def delete_tags(self, arn: str, keys: list[str]) -> None:
        with self.db.transaction() as conn:
            conn.executemany("DELETE FROM tags WHERE arn=? AND key=?", [(arn, k) for k in keys])


class TagLimitExceeded(Exception):
    def __init__(self, count: int) -> None:
        super().__init__(count)
        self.count = count


def _put_tags(conn: sqlite3.Connection, arn: str, tags: list[dict[str, str]]) -> None:
    seq = conn.execute("SELECT COALESCE(MAX(seq), 0) FROM tags WHERE arn=?", (arn,)).fetchone()[0]
    for offset, tag in enumerate(tags, start=1):
        conn.execute(
            "INSERT INTO tags (arn, key, value, seq) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (arn, key) DO UPDATE SET value=excluded.value",
            (arn, tag["Key"], tag.get("Value", ""), seq + offset))
