"""Durable CloudWatch-Logs-like storage: groups, streams and events in SQLite.

Jobs append container output here (``append``); the Logs API reads it. Timestamps are epoch
milliseconds and never decrease within a stream (the SDK's log tailer depends on it: it restarts
from the last timestamp it saw and skips events it already printed with that timestamp).
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

from emulator.state.db import Database

MAX_MESSAGE_BYTES = 256 * 1024  # CloudWatch's event size limit; longer lines are truncated


def now_ms() -> int:
    return int(time.time() * 1000)


class LogStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    # --- writers -----------------------------------------------------------------------------------
    def create_group(self, group: str) -> bool:
        """Create a group; False when it already existed."""
        with self.db.transaction() as conn:
            cur = conn.execute("INSERT OR IGNORE INTO log_groups (name, created) VALUES (?, ?)",
                               (group, now_ms()))
            return cur.rowcount == 1

    def create_stream(self, group: str, stream: str) -> bool:
        with self.db.transaction() as conn:
            conn.execute("INSERT OR IGNORE INTO log_groups (name, created) VALUES (?, ?)",
                         (group, now_ms()))
            cur = conn.execute("INSERT OR IGNORE INTO log_streams (grp, name, created) VALUES (?, ?, ?)",
                               (group, stream, now_ms()))
            return cur.rowcount == 1

    def append(self, group: str, stream: str, events: Iterable[tuple[int, str]]) -> int:
        """Append (timestamp_ms, message) events, creating the group and stream if needed.
        Timestamps are clamped so they never go backwards within the stream."""
        ingested = now_ms()
        with self.db.transaction() as conn:
            conn.execute("INSERT OR IGNORE INTO log_groups (name, created) VALUES (?, ?)", (group, ingested))
            conn.execute("INSERT OR IGNORE INTO log_streams (grp, name, created) VALUES (?, ?, ?)",
                         (group, stream, ingested))
            row = conn.execute("SELECT first_event, last_event FROM log_streams WHERE grp=? AND name=?",
                               (group, stream)).fetchone()
            first, last = row["first_event"], row["last_event"] or 0
            count = size = 0
            for ts, message in events:
                ts = max(int(ts), last)
                message = _truncate(message)
                conn.execute("INSERT INTO log_events (grp, stream, ts, ingested, message) VALUES (?,?,?,?,?)",
                             (group, stream, ts, ingested, message))
                first = ts if first is None else first
                last = ts
                count += 1
                size += len(message.encode()) + 26
            if count:
                conn.execute(
                    "UPDATE log_streams SET first_event=?, last_event=?, last_ingestion=?, "
                    "stored_bytes=stored_bytes+? WHERE grp=? AND name=?",
                    (first, last, ingested, size, group, stream))
            return count

    def delete_group(self, group: str) -> bool:
        with self.db.transaction() as conn:
            conn.execute("DELETE FROM log_events WHERE grp=?", (group,))
            conn.execute("DELETE FROM log_streams WHERE grp=?", (group,))
            return conn.execute("DELETE FROM log_groups WHERE name=?", (group,)).rowcount == 1

    def delete_stream(self, group: str, stream: str) -> bool:
        with self.db.transaction() as conn:
            conn.execute("DELETE FROM log_events WHERE grp=? AND stream=?", (group, stream))
            return conn.execute("DELETE FROM log_streams WHERE grp=? AND name=?",
                                (group, stream)).rowcount == 1

    # --- readers -----------------------------------------------------------------------------------
    def group(self, group: str) -> dict[str, Any] | None:
        rows = self.db.query(
            "SELECT g.name, g.created, COALESCE(SUM(s.stored_bytes), 0) AS bytes FROM log_groups g "
            "LEFT JOIN log_streams s ON s.grp = g.name WHERE g.name=? GROUP BY g.name", (group,))
        return dict(rows[0]) if rows else None

    def groups(self, prefix: str = "") -> list[dict[str, Any]]:
        rows = self.db.query(
            "SELECT g.name, g.created, COALESCE(SUM(s.stored_bytes), 0) AS bytes FROM log_groups g "
            "LEFT JOIN log_streams s ON s.grp = g.name WHERE substr(g.name, 1, ?) = ? "
            "GROUP BY g.name ORDER BY g.name", (len(prefix), prefix))
        return [dict(r) for r in rows]

    def streams(self, group: str, prefix: str = "") -> list[dict[str, Any]]:
        rows = self.db.query(
            "SELECT * FROM log_streams WHERE grp=? AND substr(name, 1, ?) = ? ORDER BY name",
            (group, len(prefix), prefix))
        return [dict(r) for r in rows]

    def last_event(self, group: str, stream: str) -> tuple[int, list[str]] | None:
        """(timestamp, messages at that timestamp) of a stream's newest events, or None."""
        rows = self.db.query("SELECT last_event FROM log_streams WHERE grp=? AND name=?", (group, stream))
        if not rows or rows[0]["last_event"] is None:
            return None
        ts = rows[0]["last_event"]
        messages = self.db.query("SELECT message FROM log_events WHERE grp=? AND stream=? AND ts=? ORDER BY id",
                                 (group, stream, ts))
        return ts, [m["message"] for m in messages]

    def stream_exists(self, group: str, stream: str) -> bool:
        return bool(self.db.query("SELECT 1 FROM log_streams WHERE grp=? AND name=?", (group, stream)))

    def events(self, group: str, streams: list[str] | None, *, after_id: int = 0,
               before_id: int | None = None, start: int | None = None, end: int | None = None,
               limit: int = 10000, newest_first: bool = False) -> list[dict[str, Any]]:
        """Events ordered by id (== time order within a stream), filtered by time and position."""
        sql = "SELECT id, stream, ts, ingested, message FROM log_events WHERE grp=? AND id>?"
        args: list[Any] = [group, after_id]
        if streams is not None:
            sql += f" AND stream IN ({','.join('?' * len(streams))})"
            args += streams
        if before_id is not None:
            sql += " AND id<?"
            args.append(before_id)
        if start is not None:
            sql += " AND ts>=?"
            args.append(start)
        if end is not None:
            sql += " AND ts<?"
            args.append(end)
        sql += f" ORDER BY id {'DESC' if newest_first else 'ASC'} LIMIT ?"
        args.append(limit)
        rows = [dict(r) for r in self.db.query(sql, args)]
        return rows[::-1] if newest_first else rows


def _truncate(message: str) -> str:
    raw = message.encode("utf-8", "replace")
    if len(raw) <= MAX_MESSAGE_BYTES:
        return message
    return raw[:MAX_MESSAGE_BYTES].decode("utf-8", "ignore")
