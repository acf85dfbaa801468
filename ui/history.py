"""Saved conversations: one SQLite file in the data dir (`chats.sqlite3`, stdlib sqlite3).

Safe under concurrent sessions and processes: WAL journal (readers never block the writer), a
fresh connection per call (no connection shared between threads), a busy timeout so a second
writer waits for the lock instead of failing, and every write in one `BEGIN IMMEDIATE`
transaction. A turn is stored as its JSON record (ui/records.py), keyed by (chat, render id),
so saving the same turn twice (Stop racing the answer's own end) is harmless."""

from __future__ import annotations

import contextlib
import json
import secrets
import sqlite3
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rag.errors import HistoryError

FILE_NAME = "chats.sqlite3"
TITLE_CHARS = 80
SCHEMA = """
CREATE TABLE IF NOT EXISTS chats (
  id TEXT PRIMARY KEY, title TEXT NOT NULL, created REAL NOT NULL, updated REAL NOT NULL);
CREATE TABLE IF NOT EXISTS turns (
  chat_id TEXT NOT NULL REFERENCES chats(id) ON DELETE CASCADE,
  rid TEXT NOT NULL, seq INTEGER NOT NULL, record TEXT NOT NULL,
  PRIMARY KEY (chat_id, rid));
CREATE INDEX IF NOT EXISTS turns_by_seq ON turns (chat_id, seq);
"""


def _prepare(conn: sqlite3.Connection) -> None:
    """WAL and the tables, racing other processes safely: switching the journal mode or
    creating a table in autocommit can fail at once with "database is locked" (SQLite skips
    the busy handler there), so the mode is set only when it is not WAL yet and the tables are
    created inside BEGIN IMMEDIATE, which waits for the other writer."""
    conn.execute("PRAGMA foreign_keys=ON")
    if conn.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
        for attempt in range(50):
            try:
                conn.execute("PRAGMA journal_mode=WAL")
                break
            except sqlite3.OperationalError:
                if attempt == 49:
                    raise
                time.sleep(0.05)
    ready = conn.execute("SELECT count(*) FROM sqlite_master WHERE name = 'turns_by_seq'")
    if ready.fetchone()[0]:
        return
    conn.execute("BEGIN IMMEDIATE")
    for statement in filter(str.strip, SCHEMA.split(";")):
        conn.execute(statement)
    conn.execute("COMMIT")


@dataclass(frozen=True)
class ChatSummary:
    id: str
    title: str
    created: float
    updated: float
    turns: int


def title_for(question: str) -> str:
    """A new chat's title: its first question on one line, cut at a word."""
    flat = " ".join(question.split())
    if len(flat) <= TITLE_CHARS:
        return flat or "Untitled chat"
    return flat[:TITLE_CHARS].rsplit(" ", 1)[0] + "…"


class History:
    def __init__(self, path: Path, timeout_s: float = 10.0) -> None:
        self.path = path
        self.timeout_s = timeout_s

    @contextlib.contextmanager
    def _db(self, write: bool = False) -> Iterator[sqlite3.Connection]:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(self.path, timeout=self.timeout_s, isolation_level=None)
        except (OSError, sqlite3.Error) as e:
            raise HistoryError(f"cannot open the chat history {self.path}: {e}") from e
        try:
            _prepare(conn)
            if write:
                conn.execute("BEGIN IMMEDIATE")
            yield conn
            if write:
                conn.execute("COMMIT")
        except sqlite3.Error as e:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise HistoryError(
                f"the chat history {self.path} failed ({e}); check the disk and file permissions"
            ) from e
        finally:
            conn.close()

    def create(self, title: str) -> str:
        chat_id = secrets.token_hex(8)
        now = time.time()
        with self._db(write=True) as db:
            db.execute(
                "INSERT INTO chats VALUES (?, ?, ?, ?)", (chat_id, title_for(title), now, now)
            )
        return chat_id

    def save_turn(self, chat_id: str, seq: int, record: dict[str, Any]) -> None:
        """Insert or replace turn `seq` (the same render id replaces, later turns stay)."""
        data = json.dumps(record, ensure_ascii=False)
        with self._db(write=True) as db:
            db.execute(
                "INSERT INTO turns VALUES (?, ?, ?, ?) ON CONFLICT (chat_id, rid) "
                "DO UPDATE SET seq = excluded.seq, record = excluded.record",
                (chat_id, record["rid"], seq, data),
            )
            db.execute("UPDATE chats SET updated = ? WHERE id = ?", (time.time(), chat_id))

    def truncate(self, chat_id: str, keep: int) -> None:
        """Drop turns from position `keep` on (an edited or regenerated turn replaces them)."""
        with self._db(write=True) as db:
            db.execute("DELETE FROM turns WHERE chat_id = ? AND seq >= ?", (chat_id, keep))
            db.execute("UPDATE chats SET updated = ? WHERE id = ?", (time.time(), chat_id))

    def rename(self, chat_id: str, title: str) -> None:
        with self._db(write=True) as db:
            db.execute("UPDATE chats SET title = ? WHERE id = ?", (title_for(title), chat_id))

    def delete(self, chat_id: str) -> None:
        with self._db(write=True) as db:
            db.execute("DELETE FROM chats WHERE id = ?", (chat_id,))

    def chats(self, limit: int = 200) -> list[ChatSummary]:
        """Most recently updated first."""
        with self._db() as db:
            rows = db.execute(
                "SELECT c.id, c.title, c.created, c.updated, COUNT(t.rid) FROM chats c "
                "LEFT JOIN turns t ON t.chat_id = c.id GROUP BY c.id "
                "ORDER BY c.updated DESC LIMIT ?",
                (limit,),
            ).fetchall()
        return [ChatSummary(*row) for row in rows]

    def load(self, chat_id: str) -> tuple[ChatSummary, list[dict[str, Any]]] | None:
        with self._db() as db:
            chat = db.execute(
                "SELECT id, title, created, updated FROM chats WHERE id = ?", (chat_id,)
            ).fetchone()
            rows = db.execute(
                "SELECT record FROM turns WHERE chat_id = ? ORDER BY seq", (chat_id,)
            ).fetchall()
        if chat is None:
            return None
        cid, title, created, updated = chat
        return ChatSummary(cid, title, created, updated, len(rows)), [
            json.loads(r[0]) for r in rows
        ]
