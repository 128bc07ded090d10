"""Votes on answers, stored in the SQLite database (bot/database.py), and the ``casebot feedback`` summary.

Every answer the bot sends is a turn in the database, keyed by a short answer id carried in the vote
buttons' custom ids, so a vote cast after a restart still finds its answer. A vote row is complete in
itself: question, answer text, cited chunk ids, vote, index version, time, an optional "what was wrong?"
note, and the HMAC of the voter's user id under a local key (never the raw id). A user who votes again
on the same answer replaces their earlier vote in the summary.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import threading
from pathlib import Path

from bot.database import Database

VOTES = ("up", "down")
NOTE_MAX = 1000


def new_answer_id() -> str:
    """A short random id (16 hex digits) for one sent answer."""
    return secrets.token_hex(8)


def hash_user(user_id: int | str, key: bytes) -> str:
    """HMAC-SHA256 of the user id under a local secret: a plain hash of a Discord id (a snowflake,
    mostly a timestamp) could be reversed by trying the ids; without the key file it cannot."""
    return hmac.new(key, str(user_id).encode(), hashlib.sha256).hexdigest()


def user_key(feedback_path: Path) -> bytes:
    """The local secret for hashing user ids, created once beside the feedback file (mode 0600).

    The key file appears complete or not at all (written aside, then hard-linked into place), so a
    concurrent reader never sees it empty and hashes with another key."""
    path = Path(feedback_path).with_suffix(".key")
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_bytes(32).hex())
        try:
            os.link(tmp, path)
        except FileExistsError:  # another thread or process placed its key first: use that one
            pass
        finally:
            tmp.unlink()
    return bytes.fromhex(path.read_text().strip())


class UnknownAnswer(LookupError):
    """No record of the answer a vote refers to (e.g. pruned by the retention setting)."""


class FeedbackStore:
    """Votes with hashed user ids; the key file sits beside ``key_beside`` (today's feedback.jsonl path)."""

    def __init__(self, db: Database, key_beside: Path):
        self.db = db
        self.key_beside = Path(key_beside)
        self._lock = threading.Lock()
        self._key: bytes | None = None

    def user(self, user_id: int | str) -> str:
        if self._key is None:
            with self._lock:
                if self._key is None:
                    self._key = user_key(self.key_beside)
        return hash_user(user_id, self._key)

    def add_vote(self, answer_id: str, vote: str, user_id: int | str, note: str | None = None) -> dict:
        """Store one vote and return it; raises UnknownAnswer or ValueError for a bad vote."""
        if vote not in VOTES:
            raise ValueError(f"vote must be one of {VOTES}, not {vote!r}")
        try:
            return self.db.add_vote(answer_id, vote, self.user(user_id), _clean_note(note))
        except LookupError:
            raise UnknownAnswer(answer_id) from None

    def add_note(self, answer_id: str, user_id: int | str, note: str) -> bool:
        """Attach "what was wrong?" to the user's latest vote on the answer; False if there is none."""
        text = _clean_note(note)
        return bool(text) and self.db.add_note(answer_id, self.user(user_id), text)

    def previous_vote(self, answer_id: str, user_id: int | str) -> str | None:
        """The vote this user last cast on this answer, if any."""
        return self.db.last_vote(answer_id, self.user(user_id))


def _clean_note(note: str | None) -> str | None:
    text = " ".join((note or "").split())[:NOTE_MAX]
    return text or None


def feedback_summary(db: Database, limit: int = 10) -> str:
    """Counts of votes and the worst-rated questions first (with their latest notes), for the CLI."""
    votes = db.votes()
    if not votes:
        return f"No feedback yet ({db.path})."
    latest: dict[tuple[str, str], dict] = {}
    for v in votes:                         # a later vote by the same user on the same answer wins
        latest[(v["answer_id"], v.get("user", ""))] = v
    by_question: dict[str, dict] = {}
    for v in latest.values():
        key = " ".join(str(v.get("question", "")).split()).casefold()
        q = by_question.setdefault(key, {"question": " ".join(str(v.get("question", "")).split()),
                                         "up": 0, "down": 0, "last": "", "notes": []})
        q[v["vote"]] += 1
        q["last"] = max(q["last"], v.get("time", ""))
        if v.get("note") and v["vote"] == "down":
            q["notes"].append(v["note"])
    up = sum(q["up"] for q in by_question.values())
    down = sum(q["down"] for q in by_question.values())
    answers = len({a for a, _ in latest})
    voters = len({u for _, u in latest})
    lines = [
        f"Feedback in {db.path}",
        f"{up + down} votes ({up} 👍, {down} 👎) on {answers} answers to {len(by_question)} questions "
        f"from {voters} users.",
    ]
    if len(votes) != len(latest):
        lines.append(f"({len(votes) - len(latest)} earlier votes were changed or repeated and are not counted.)")
    ranked = sorted(by_question.values(), key=lambda q: (q["up"] - q["down"], -q["down"], q["question"]))
    lines.append("")
    lines.append("Worst-rated questions first (score = 👍 − 👎):")
    for q in ranked[:limit]:
        score = q["up"] - q["down"]
        question = q["question"] if len(q["question"]) <= 100 else q["question"][:99] + "…"
        lines.append(f"  {score:+d}  ({q['up']} 👍 / {q['down']} 👎)  {question}")
        for note in q["notes"][-3:]:
            lines.append(f"        what was wrong: {note if len(note) <= 100 else note[:99] + '…'}")
    if len(ranked) > limit:
        lines.append(f"  … and {len(ranked) - limit} more questions")
    return "\n".join(lines)
