"""casebot's SQLite store: conversations, their turns, votes on answers, and per-server listening settings.

One file (``config.paths.database``) in WAL mode, opened by every process that needs it (the bot, the CLI,
``casebot feedback``). Each operation opens its own short-lived connection and writes inside one
``BEGIN IMMEDIATE`` transaction: the write lock is taken up front, so waiting writers queue on
``busy_timeout`` instead of failing with "database is locked" (a deferred transaction that reads and
then writes cannot be retried by SQLite and fails at once).

Votes before this store lived in ``feedback.jsonl`` and ``feedback.answers.jsonl``; :meth:`Database.open`
imports them once (inside one transaction, recorded in ``meta``) and renames them to ``*.migrated``.
User ids are stored only as the keyed HMAC of ``bot/feedback.py``.
"""

from __future__ import annotations

import json
import os
import secrets
import sqlite3
from contextlib import closing, contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Iterator

from embeddings.errors import StoreCorrupt

SCHEMA_VERSION = 1

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS conversations (
    id TEXT PRIMARY KEY,                 -- "discord:<thread id>", "cli:<id given on stdin>", random otherwise
    surface TEXT NOT NULL,
    created TEXT NOT NULL,
    updated TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS turns (
    answer_id TEXT PRIMARY KEY,          -- carried in the vote buttons' custom ids
    conversation_id TEXT REFERENCES conversations(id) ON DELETE CASCADE,
    question TEXT NOT NULL,
    standalone TEXT NOT NULL,            -- the question actually searched
    answer TEXT NOT NULL,
    answered INTEGER NOT NULL,
    chunk_ids TEXT NOT NULL,             -- JSON list of the cited chunk ids
    titles TEXT NOT NULL DEFAULT '[]',   -- JSON list of the cited documents' titles
    index_version TEXT NOT NULL,
    surface TEXT NOT NULL,
    time TEXT NOT NULL,
    quotes TEXT NOT NULL DEFAULT '[]'    -- JSON list of the quoted sentences (follow-ups take names from them)
);
CREATE INDEX IF NOT EXISTS turns_by_conversation ON turns (conversation_id, time);
CREATE INDEX IF NOT EXISTS turns_by_time ON turns (time);
CREATE TABLE IF NOT EXISTS votes (
    id INTEGER PRIMARY KEY,
    answer_id TEXT NOT NULL,
    vote TEXT NOT NULL CHECK (vote IN ('up', 'down')),
    question TEXT NOT NULL,
    answer TEXT NOT NULL,
    chunk_ids TEXT NOT NULL,
    index_version TEXT NOT NULL,
    time TEXT NOT NULL,
    user TEXT NOT NULL,                  -- HMAC-SHA256 of the user id under the local key
    note TEXT                            -- "what was wrong?" (optional, with a 👎)
);
CREATE INDEX IF NOT EXISTS votes_by_answer ON votes (answer_id, user);
CREATE TABLE IF NOT EXISTS listening (
    guild_id TEXT PRIMARY KEY,
    mode TEXT NOT NULL CHECK (mode IN ('everywhere', 'channels')),
    channels TEXT NOT NULL DEFAULT '[]',  -- JSON list of channel ids (mode 'channels')
    updated TEXT NOT NULL
);
"""


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="microseconds")


@dataclass(frozen=True)
class TurnRow:
    answer_id: str
    conversation_id: str | None
    question: str
    standalone: str
    answer: str
    answered: bool
    chunk_ids: list[str]
    titles: list[str]
    index_version: str
    surface: str
    time: str
    quotes: list[str]           # the answer's quoted sentences, verbatim


_TURN_COLUMNS = "answer_id, conversation_id, question, standalone, answer, answered, chunk_ids, titles, " \
                "index_version, surface, time, quotes"


def _turn(row: tuple) -> TurnRow:
    values = list(row)
    values[5] = bool(values[5])
    values[6] = json.loads(values[6])
    values[7] = json.loads(values[7])
    values[11] = json.loads(values[11])
    return TurnRow(*values)


@dataclass(frozen=True)
class Listening:
    mode: str                   # "everywhere": mentions answered in every channel; "channels": only in these
    channels: tuple[int, ...] = ()

    def allows(self, channel_id: int) -> bool:
        return self.mode == "everywhere" or channel_id in self.channels


class Database:
    """The store; safe to share between threads (a connection per operation) and processes (SQLite locks)."""

    def __init__(self, path: Path, busy_timeout_ms: int, legacy_feedback: Path | None = None):
        self.path = Path(path)
        self.busy_timeout_ms = int(busy_timeout_ms)
        self.legacy_feedback = Path(legacy_feedback) if legacy_feedback else None

    @classmethod
    def open(cls, path: Path, busy_timeout_ms: int = 10_000, legacy_feedback: Path | None = None) -> "Database":
        """Create or check the file and its tables, and migrate the old JSONL votes once.

        A file that is not a readable SQLite database raises StoreCorrupt (and is left untouched)."""
        db = cls(path, busy_timeout_ms, legacy_feedback)
        db.path.parent.mkdir(parents=True, exist_ok=True)
        with closing(db._connect()) as conn:
            try:
                conn.executescript(f"BEGIN IMMEDIATE; {SCHEMA} INSERT OR IGNORE INTO meta VALUES "
                                   f"('schema', '{SCHEMA_VERSION}'); COMMIT;")
                if "quotes" not in {row[1] for row in conn.execute("PRAGMA table_info(turns)")}:
                    # a database from before answers kept their quotes: its turns have none
                    conn.execute("ALTER TABLE turns ADD COLUMN quotes TEXT NOT NULL DEFAULT '[]'")
            except sqlite3.DatabaseError as exc:
                if "locked" in str(exc) or "busy" in str(exc):
                    raise
                raise db._corrupt(exc) from None
        if db.legacy_feedback is not None:
            db._migrate_jsonl(db.legacy_feedback)
        return db

    # -- connections ----------------------------------------------------------------------------------

    def _connect(self) -> sqlite3.Connection:
        try:
            conn = sqlite3.connect(self.path, timeout=self.busy_timeout_ms / 1000, isolation_level=None)
            conn.execute(f"PRAGMA busy_timeout = {self.busy_timeout_ms}")
            mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            conn.execute("PRAGMA foreign_keys = ON")
            conn.execute("PRAGMA synchronous = NORMAL")    # WAL: durable at checkpoints, never corrupt
        except sqlite3.DatabaseError as exc:
            raise self._corrupt(exc) from None
        if mode.lower() != "wal":
            conn.close()
            raise StoreCorrupt(f"{self.path}: could not switch to WAL mode (journal mode is {mode})")
        return conn

    def _corrupt(self, exc: Exception) -> StoreCorrupt:
        return StoreCorrupt(f"{self.path} is not a readable casebot database ({exc}); move it aside and a new "
                            "one is created (conversations and votes in it are then not available)")

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        with closing(self._connect()) as conn:
            try:
                conn.execute("BEGIN IMMEDIATE")
                yield conn
                conn.execute("COMMIT")
            except sqlite3.OperationalError as exc:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                if "locked" in str(exc) or "busy" in str(exc):
                    raise
                raise self._corrupt(exc) from None
            except sqlite3.DatabaseError as exc:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise self._corrupt(exc) from None
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise

    @contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        with closing(self._connect()) as conn:
            try:
                yield conn
            except sqlite3.DatabaseError as exc:
                raise self._corrupt(exc) from None

    # -- conversations and turns ----------------------------------------------------------------------

    def add_turn(self, turn: TurnRow) -> None:
        """Store one answered question; its conversation is created or touched in the same transaction."""
        with self._write() as conn:
            if turn.conversation_id is not None:
                conn.execute("INSERT INTO conversations VALUES (?, ?, ?, ?) "
                             "ON CONFLICT(id) DO UPDATE SET updated = excluded.updated",
                             (turn.conversation_id, turn.surface, turn.time, turn.time))
            conn.execute(f"INSERT INTO turns ({_TURN_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                         (turn.answer_id, turn.conversation_id, turn.question, turn.standalone, turn.answer,
                          int(turn.answered), json.dumps(turn.chunk_ids), json.dumps(turn.titles, ensure_ascii=False),
                          turn.index_version, turn.surface, turn.time, json.dumps(turn.quotes, ensure_ascii=False)))

    def attach(self, answer_id: str, conversation_id: str, surface: str) -> None:
        """Put a stored turn into a conversation (one whose id is known only once the answer was sent)."""
        with self._write() as conn:
            time = now()
            conn.execute("INSERT INTO conversations VALUES (?, ?, ?, ?) "
                         "ON CONFLICT(id) DO UPDATE SET updated = excluded.updated",
                         (conversation_id, surface, time, time))
            conn.execute("UPDATE turns SET conversation_id = ? WHERE answer_id = ?", (conversation_id, answer_id))

    def turns(self, conversation_id: str, last: int) -> list[TurnRow]:
        """The conversation's last ``last`` turns, oldest first."""
        with self._read() as conn:
            rows = conn.execute(f"SELECT {_TURN_COLUMNS} FROM turns WHERE conversation_id = ? "
                                "ORDER BY time DESC, rowid DESC LIMIT ?", (conversation_id, last)).fetchall()
        return [_turn(r) for r in reversed(rows)]

    def find_turn(self, answer_id: str) -> TurnRow | None:
        with self._read() as conn:
            row = conn.execute(f"SELECT {_TURN_COLUMNS} FROM turns WHERE answer_id = ?", (answer_id,)).fetchone()
        return _turn(row) if row else None

    def has_conversation(self, conversation_id: str) -> bool:
        with self._read() as conn:
            return conn.execute("SELECT 1 FROM conversations WHERE id = ?", (conversation_id,)).fetchone() is not None

    def prune(self, days: float) -> tuple[int, int]:
        """Delete conversations idle for more than ``days`` (with their turns), and turns outside any
        conversation older than that; votes keep their own copy of question and answer. 0 keeps all."""
        if days <= 0:
            return 0, 0
        cutoff = (datetime.now(timezone.utc) - timedelta(days=days)).isoformat(timespec="microseconds")
        with self._write() as conn:
            conversations = conn.execute("DELETE FROM conversations WHERE updated < ?", (cutoff,)).rowcount
            loose = conn.execute("DELETE FROM turns WHERE conversation_id IS NULL AND time < ?", (cutoff,)).rowcount
        return conversations, loose

    # -- votes ----------------------------------------------------------------------------------------

    def add_vote(self, answer_id: str, vote: str, user: str, note: str | None = None) -> dict:
        """Store a vote with a copy of what it is about; raises LookupError for an unknown answer."""
        with self._write() as conn:
            row = conn.execute("SELECT question, answer, chunk_ids, index_version FROM turns WHERE answer_id = ?",
                               (answer_id,)).fetchone()
            if row is None:
                raise LookupError(answer_id)
            entry = {"answer_id": answer_id, "vote": vote, "question": row[0], "answer": row[1],
                     "chunk_ids": row[2], "index_version": row[3], "time": now(), "user": user, "note": note}
            conn.execute("INSERT INTO votes (answer_id, vote, question, answer, chunk_ids, index_version, time, "
                         "user, note) VALUES (:answer_id, :vote, :question, :answer, :chunk_ids, :index_version, "
                         ":time, :user, :note)", entry)
        entry["chunk_ids"] = json.loads(entry["chunk_ids"])
        return entry

    def add_note(self, answer_id: str, user: str, note: str) -> bool:
        """Attach a note to this user's latest vote on the answer; False if they have none."""
        with self._write() as conn:
            row = conn.execute("SELECT id FROM votes WHERE answer_id = ? AND user = ? ORDER BY id DESC LIMIT 1",
                               (answer_id, user)).fetchone()
            if row is None:
                return False
            conn.execute("UPDATE votes SET note = ? WHERE id = ?", (note, row[0]))
        return True

    def last_vote(self, answer_id: str, user: str) -> str | None:
        with self._read() as conn:
            row = conn.execute("SELECT vote FROM votes WHERE answer_id = ? AND user = ? ORDER BY id DESC LIMIT 1",
                               (answer_id, user)).fetchone()
        return row[0] if row else None

    def votes(self) -> list[dict]:
        with self._read() as conn:
            conn.row_factory = sqlite3.Row
            rows = conn.execute("SELECT * FROM votes ORDER BY id").fetchall()
        out = []
        for r in rows:
            d = dict(r)
            d["chunk_ids"] = json.loads(d["chunk_ids"])
            out.append(d)
        return out

    # -- where the bot listens ------------------------------------------------------------------------

    def listening(self, guild_id: int) -> Listening:
        with self._read() as conn:
            row = conn.execute("SELECT mode, channels FROM listening WHERE guild_id = ?", (str(guild_id),)).fetchone()
        if row is None:
            return Listening("everywhere")
        return Listening(row[0], tuple(int(c) for c in json.loads(row[1])))

    def set_listening(self, guild_id: int, listening: Listening) -> None:
        with self._write() as conn:
            conn.execute("INSERT INTO listening VALUES (?, ?, ?, ?) ON CONFLICT(guild_id) DO UPDATE SET "
                         "mode = excluded.mode, channels = excluded.channels, updated = excluded.updated",
                         (str(guild_id), listening.mode, json.dumps([str(c) for c in listening.channels]), now()))

    # -- the one-time import of feedback.jsonl --------------------------------------------------------

    def _migrate_jsonl(self, votes_file: Path) -> None:
        answers_file = votes_file.with_name(votes_file.stem + ".answers.jsonl")
        if not votes_file.exists() and not answers_file.exists():
            return
        answers = _jsonl(answers_file)
        votes = _jsonl(votes_file)
        with self._write() as conn:
            for a in answers:
                if not a.get("answer_id"):
                    continue
                conn.execute(f"INSERT OR IGNORE INTO turns ({_TURN_COLUMNS}) VALUES (?, NULL, ?, ?, ?, ?, ?, '[]', "
                             "?, ?, ?, '[]')",
                             (a["answer_id"], str(a.get("question", "")), str(a.get("question", "")),
                              str(a.get("answer", "")), int(bool(a.get("answered", True))),
                              json.dumps(a.get("chunk_ids") or []), str(a.get("index_version", "")),
                              str(a.get("surface", "discord")), str(a.get("time") or now())))
            migrated = 0
            for v in votes:
                if v.get("vote") not in ("up", "down") or not v.get("answer_id"):
                    continue
                row = (v["answer_id"], v["vote"], str(v.get("question", "")), str(v.get("answer", "")),
                       json.dumps(v.get("chunk_ids") or []), str(v.get("index_version", "")),
                       str(v.get("time") or now()), str(v.get("user", "")))
                # A line already imported (a second process racing this one) is not imported twice.
                migrated += conn.execute(
                    "INSERT INTO votes (answer_id, vote, question, answer, chunk_ids, index_version, time, user) "
                    "SELECT ?, ?, ?, ?, ?, ?, ?, ? WHERE NOT EXISTS (SELECT 1 FROM votes WHERE answer_id = ?1 "
                    "AND vote = ?2 AND time = ?7 AND user = ?8)", row).rowcount
            conn.execute("INSERT OR REPLACE INTO meta VALUES ('migrated_feedback', ?)",
                         (json.dumps({"votes": migrated, "answers": len(answers), "time": now()}),))
        for path in (votes_file, answers_file):     # after the commit: a crash before this re-imports nothing
            if path.exists():
                os.replace(path, path.with_name(path.name + ".migrated"))

    def migration(self) -> dict | None:
        with self._read() as conn:
            row = conn.execute("SELECT value FROM meta WHERE key = 'migrated_feedback'").fetchone()
        return json.loads(row[0]) if row else None


def _jsonl(path: Path) -> list[dict]:
    """Every well-formed object line of ``path`` (a torn last line is skipped)."""
    out = []
    try:
        with open(path, encoding="utf-8") as fh:
            for line in fh:
                try:
                    data = json.loads(line)
                except ValueError:
                    continue
                if isinstance(data, dict):
                    out.append(data)
    except FileNotFoundError:
        pass
    return out


def new_conversation_id() -> str:
    return secrets.token_hex(8)
