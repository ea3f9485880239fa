"""Chat sessions and the ask log, in one SQLite file in the knowledge-base folder.

``chat.sqlite3`` holds three tables: ``sessions`` (id, title, times), ``turns`` (each chat
exchange, in order) and ``asks`` (every question answered: chunk ids retrieved, prompt
hash and tokens, answer, citations, flags, tool calls, timings, and the user's feedback).
Each call opens its own connection (WAL mode), so Streamlit's threads and a CLI in another
process can use the file at once.
"""

from __future__ import annotations

import json
import re
import sqlite3
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ragkit._types import Answer
from ragkit.errors import NotFoundError, ValidationError
from ragkit.prompt import Turn

CHAT_FILE = "chat.sqlite3"
_SESSION_ID = re.compile(r"^[\w.:@-]{1,100}$")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS sessions (
    id TEXT PRIMARY KEY, title TEXT NOT NULL, created REAL NOT NULL, updated REAL NOT NULL);
CREATE TABLE IF NOT EXISTS turns (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    session_id TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
    question TEXT NOT NULL, standalone TEXT NOT NULL, answer TEXT NOT NULL,
    ask_id TEXT, created REAL NOT NULL);
CREATE INDEX IF NOT EXISTS turns_by_session ON turns(session_id, seq);
CREATE TABLE IF NOT EXISTS asks (
    id TEXT PRIMARY KEY, created REAL NOT NULL, session_id TEXT,
    question TEXT NOT NULL, standalone TEXT, chunk_ids TEXT NOT NULL,
    prompt_hash TEXT, prompt_tokens INTEGER, answer TEXT NOT NULL, citations TEXT NOT NULL,
    flagged TEXT NOT NULL, tool_calls TEXT NOT NULL, timings TEXT NOT NULL,
    feedback INTEGER, comment TEXT);
"""


#: columns added to ``asks`` after the first release (added on open when missing)
_ADDED_COLUMNS = (("support", "TEXT"), ("supported_share", "REAL"), ("reasoning", "TEXT"))
_JSON_COLUMNS = ("chunk_ids", "citations", "flagged", "tool_calls", "timings", "support")


@dataclass(frozen=True)
class Session:
    id: str
    title: str
    created: float
    updated: float
    turns: int


def check_session_id(session_id: str) -> str:
    if not isinstance(session_id, str) or not _SESSION_ID.match(session_id):
        raise ValidationError(
            f"Session id {session_id!r} must be 1-100 letters, digits or . _ : @ -."
        )
    return session_id


def new_session_id() -> str:
    return time.strftime("%Y%m%d-%H%M%S-") + uuid.uuid4().hex[:6]


class ChatStore:
    """Sessions, turns and the ask log of one knowledge base."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        with self._db() as db:
            db.executescript(_SCHEMA)
            have = {r[1] for r in db.execute("PRAGMA table_info(asks)")}
            for column, kind in _ADDED_COLUMNS:  # logs written before these existed
                if column not in have:
                    db.execute(f"ALTER TABLE asks ADD COLUMN {column} {kind}")

    @contextmanager
    def _db(self) -> Iterator[sqlite3.Connection]:
        db = sqlite3.connect(self.path, timeout=30)
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA foreign_keys=ON")
            with db:
                yield db
        finally:
            db.close()

    # -- sessions ----------------------------------------------------------------------------
    def ensure_session(self, session_id: str, title: str = "") -> None:
        check_session_id(session_id)
        now = time.time()
        with self._db() as db:
            db.execute("INSERT OR IGNORE INTO sessions VALUES (?, ?, ?, ?)",
                       (session_id, title[:80], now, now))

    def sessions(self) -> list[Session]:
        """Every session, most recently used first."""
        with self._db() as db:
            rows = db.execute(
                "SELECT s.id, s.title, s.created, s.updated, COUNT(t.seq) FROM sessions s "
                "LEFT JOIN turns t ON t.session_id = s.id GROUP BY s.id "
                "ORDER BY s.updated DESC, s.created DESC").fetchall()
        return [Session(*r) for r in rows]

    def turns(self, session_id: str) -> list[Turn]:
        """The session's exchanges, oldest first (empty for an unknown session)."""
        with self._db() as db:
            rows = db.execute("SELECT question, answer FROM turns WHERE session_id = ? "
                              "ORDER BY seq", (session_id,)).fetchall()
        return [Turn(q, a) for q, a in rows]

    def messages(self, session_id: str) -> list[dict[str, Any]]:
        """The session as rows: question, standalone question, answer, ask id."""
        with self._db() as db:
            rows = db.execute("SELECT question, standalone, answer, ask_id, created FROM turns "
                              "WHERE session_id = ? ORDER BY seq", (session_id,)).fetchall()
        return [dict(zip(("question", "standalone", "answer", "ask_id", "created"), r,
                         strict=True)) for r in rows]

    def add_turn(self, session_id: str, answer: Answer) -> None:
        now = time.time()
        with self._db() as db:
            title = answer.question[:80]
            db.execute("INSERT OR IGNORE INTO sessions VALUES (?, ?, ?, ?)",
                       (session_id, title, now, now))
            db.execute("UPDATE sessions SET updated = ?, title = CASE WHEN title = '' THEN ? "
                       "ELSE title END WHERE id = ?", (now, title, session_id))
            db.execute("INSERT INTO turns (session_id, question, standalone, answer, ask_id, "
                       "created) VALUES (?, ?, ?, ?, ?, ?)",
                       (session_id, answer.question, answer.standalone_question or
                        answer.question, answer.text, answer.id, now))

    def delete_session(self, session_id: str) -> None:
        with self._db() as db:
            db.execute("DELETE FROM sessions WHERE id = ?", (session_id,))

    # -- the ask log -------------------------------------------------------------------------
    def log_ask(self, answer: Answer) -> str:
        ask_id = uuid.uuid4().hex
        prompt = answer.prompt
        with self._db() as db:
            db.execute(
                "INSERT INTO asks (id, created, session_id, question, standalone, chunk_ids, "
                "prompt_hash, prompt_tokens, answer, citations, flagged, tool_calls, timings, "
                "support, supported_share, reasoning) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (ask_id, time.time(), answer.session_id, answer.question,
                 answer.standalone_question,
                 json.dumps([h.chunk.id for h in answer.hits]),
                 prompt.hash if prompt is not None else None,
                 prompt.tokens if prompt is not None else None,
                 answer.text,
                 json.dumps([c.to_dict() for c in answer.citations], ensure_ascii=False),
                 json.dumps(answer.flagged, ensure_ascii=False),
                 json.dumps([t.to_dict() for t in answer.tool_calls], ensure_ascii=False),
                 json.dumps(answer.timings),
                 json.dumps([x.to_dict() for x in answer.support], ensure_ascii=False),
                 answer.supported_share, answer.reasoning))
        return ask_id

    def feedback(self, ask_id: str, rating: int, comment: str = "") -> None:
        """Record 👍 (``1``) or 👎 (``-1``) and an optional comment on a logged ask."""
        if rating not in (1, -1):
            raise ValidationError(f"Feedback rating must be 1 or -1, got {rating!r}.")
        with self._db() as db:
            cur = db.execute("UPDATE asks SET feedback = ?, comment = ? WHERE id = ?",
                             (rating, comment[:2000] or None, ask_id))
            if cur.rowcount == 0:
                raise NotFoundError(f"No logged ask with id {ask_id!r} (is log_asks off?).")

    def asks(self, limit: int = 100, ids: Sequence[str] | None = None) -> list[dict[str, Any]]:
        """The latest logged asks (or those with these ``ids``), newest first, JSON columns
        decoded."""
        with self._db() as db:
            db.row_factory = sqlite3.Row
            if ids is None:
                rows = db.execute("SELECT * FROM asks ORDER BY created DESC LIMIT ?",
                                  (limit,)).fetchall()
            else:
                marks = ",".join("?" * len(ids))
                rows = db.execute(f"SELECT * FROM asks WHERE id IN ({marks}) "
                                  "ORDER BY created DESC", list(ids)).fetchall()
        out = []
        for r in rows:
            d = dict(r)
            for key in _JSON_COLUMNS:
                d[key] = json.loads(d[key]) if d.get(key) is not None else (
                    [] if key == "support" else d.get(key))
            out.append(d)
        return out
