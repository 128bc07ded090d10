"""Conversations for the edges: ask a question in a conversation, remember the turn, find the history.

The CLI and the Discord bot both answer through :class:`Conversations`. Turns are stored in the SQLite
database (bot/database.py); when it cannot be opened (a damaged file) answers keep working and each
conversation is remembered in memory for the life of the process instead.
"""

from __future__ import annotations

import logging
import sqlite3
from collections import OrderedDict, deque
from dataclasses import dataclass, replace

from bot.database import Database, TurnRow, now
from bot.feedback import new_answer_id
from embeddings import conversation
from embeddings.config import Config
from embeddings.errors import StoreCorrupt
from embeddings.results import Answer

log = logging.getLogger("casebot.conversations")
_MEMORY_CONVERSATIONS = 10_000


def open_database(config: Config) -> Database:
    """Open (or create) the database, import the old feedback.jsonl once, and apply the retention setting.

    Raises StoreCorrupt for a file that is not a readable database."""
    db = Database.open(config.paths.database, config.conversation.busy_timeout_ms, config.paths.feedback)
    pruned = db.prune(config.conversation.retention_days)
    if any(pruned):
        log.info("retention: removed %d conversations and %d older answers", *pruned)
    return db


@dataclass
class Asked:
    answer: Answer              # frozen: a turn recorded into a conversation gets a copy that says so
    answer_id: str
    standalone: conversation.Standalone


class Conversations:
    """Answers questions in conversations; ``db`` None means memory only (the database is unavailable)."""

    def __init__(self, config: Config, db: Database | None):
        self.config = config
        self.db = db
        self._memory: OrderedDict[str, deque] = OrderedDict()

    def known(self, conversation_id: str) -> bool:
        """Whether the conversation has turns (a thread the bot answered in, after restarts too)."""
        if conversation_id in self._memory:
            return True
        if self.db is None:
            return False
        try:
            return self.db.has_conversation(conversation_id)
        except (StoreCorrupt, sqlite3.Error) as exc:
            log.error("looking up conversation %s failed: %s", conversation_id, exc)
            return False

    def history(self, conversation_id: str | None) -> list[conversation.Turn]:
        if conversation_id is None:
            return []
        last = self.config.conversation.history_turns
        if self.db is not None:
            try:
                return [conversation.Turn(t.question, t.standalone, tuple(t.quotes), t.answered)
                        for t in self.db.turns(conversation_id, last)]
            except (StoreCorrupt, sqlite3.Error) as exc:
                log.error("reading conversation %s failed: %s", conversation_id, exc)
        return list(self._memory.get(conversation_id, ()))[-last:] if last > 0 else []

    def ask(self, engine, question: str, conversation_id: str | None, surface: str,
            answer_id: str | None = None, record: bool = True) -> Asked:
        """Answer ``question`` in its conversation (None: on its own) and, unless ``record`` is False,
        store the turn (see :meth:`record` for storing it later, e.g. once a thread id is known)."""
        answer, standalone = conversation.ask(engine, question, self.history(conversation_id), conversation_id)
        asked = Asked(answer, answer_id or new_answer_id(), standalone)
        if record:
            self.record(asked, conversation_id, surface)
        return asked

    def _remember(self, asked: Asked, conversation_id: str) -> None:
        turns = self._memory.setdefault(conversation_id, deque(maxlen=max(1, self.config.conversation.history_turns)))
        turns.append(conversation.turn_of(asked.answer))
        self._memory.move_to_end(conversation_id)
        while len(self._memory) > _MEMORY_CONVERSATIONS:
            self._memory.popitem(last=False)

    def attach(self, asked: Asked, conversation_id: str, surface: str) -> None:
        """Put a turn recorded outside any conversation into ``conversation_id`` (known once it was sent)."""
        asked.answer = replace(asked.answer, conversation=conversation_id)
        self._remember(asked, conversation_id)
        if self.db is not None:
            try:
                self.db.attach(asked.answer_id, conversation_id, surface)
            except (StoreCorrupt, sqlite3.Error) as exc:
                log.error("storing conversation %s failed: %s", conversation_id, exc)

    def record(self, asked: Asked, conversation_id: str | None, surface: str) -> bool:
        """Store the turn; False (logged) when the database refused it. Never raises for storage."""
        answer = asked.answer = replace(asked.answer, conversation=conversation_id)
        if conversation_id is not None:
            self._remember(asked, conversation_id)
        if self.db is None:
            return False
        row = TurnRow(
            answer_id=asked.answer_id, conversation_id=conversation_id, question=answer.question,
            standalone=answer.standalone_question or answer.question, answer=answer.answer,
            answered=answer.answered, chunk_ids=[c.chunk_id for c in answer.citations],
            titles=sorted({c.title for c in answer.citations}), index_version=answer.index_version,
            surface=surface, time=now(), quotes=[q.text for q in answer.quotes],
        )
        try:
            self.db.add_turn(row)
            return True
        except (StoreCorrupt, sqlite3.Error) as exc:
            log.error("storing answer %s failed: %s", asked.answer_id, exc)
            return False
