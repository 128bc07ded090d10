"""Votes on answers: two append-only JSON Lines files and a summary for ``casebot feedback``.

``feedback.jsonl`` (``config.paths.feedback``) holds one line per vote, complete in itself: the question,
the answer text, the cited chunk ids, the vote, the index version, the time and the sha256 of the voter's
user id (never the raw id). ``feedback.answers.jsonl`` beside it holds every answer the bot sent, keyed by
a short answer id carried in the vote buttons' custom ids, so a vote cast after a restart still finds its
answer. A user who votes again on the same answer replaces their earlier vote in the summary.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import threading
from collections import OrderedDict
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path

from embeddings.results import Answer

VOTES = ("up", "down")
_CACHE_SIZE = 2048


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


def answers_path(feedback_path: Path) -> Path:
    feedback_path = Path(feedback_path)
    return feedback_path.with_name(feedback_path.stem + ".answers.jsonl")


@dataclass(frozen=True)
class AnswerRecord:
    answer_id: str
    question: str
    answer: str
    answered: bool
    chunk_ids: list[str]
    index_version: str
    time: str
    surface: str = "discord"              # "slash" or "mention"

    @classmethod
    def from_answer(cls, answer_id: str, answer: Answer, surface: str = "discord") -> "AnswerRecord":
        return cls(
            answer_id=answer_id,
            question=answer.question,
            answer=answer.answer,
            answered=answer.answered,
            chunk_ids=[c.chunk_id for c in answer.citations],
            index_version=answer.index_version,
            time=_now(),
            surface=surface,
        )


@dataclass(frozen=True)
class Vote:
    answer_id: str
    vote: str
    question: str
    answer: str
    chunk_ids: list[str]
    index_version: str
    time: str
    user: str                              # HMAC-SHA256 of the Discord user id (see hash_user)


_ANSWER_FIELDS = tuple(AnswerRecord.__dataclass_fields__)


class UnknownAnswer(LookupError):
    """No record of the answer a vote refers to (e.g. the answers file was deleted)."""


class FeedbackStore:
    """Thread-safe appends to the answers and votes files; recent answers are also kept in memory."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.answers_file = answers_path(self.path)
        self._lock = threading.Lock()
        self._recent: OrderedDict[str, AnswerRecord] = OrderedDict()
        self._key: bytes | None = None

    def _hash(self, user_id: int | str) -> str:
        if self._key is None:
            with self._lock:
                if self._key is None:
                    self._key = user_key(self.path)
        return hash_user(user_id, self._key)

    def record_answer(self, record: AnswerRecord) -> None:
        with self._lock:
            self._append(self.answers_file, asdict(record))
            self._remember(record)

    def find_answer(self, answer_id: str) -> AnswerRecord:
        with self._lock:
            if answer_id in self._recent:
                return self._recent[answer_id]
        found = None
        needle = f'"answer_id": "{answer_id}"'
        try:
            with open(self.answers_file, encoding="utf-8") as fh:
                for line in fh:
                    if needle in line:
                        try:
                            data = json.loads(line)
                            found = AnswerRecord(**{k: data[k] for k in _ANSWER_FIELDS if k in data})
                        except (ValueError, TypeError):
                            continue
        except FileNotFoundError:
            pass
        if found is None:
            raise UnknownAnswer(answer_id)
        with self._lock:
            self._remember(found)
        return found

    def add_vote(self, answer_id: str, vote: str, user_id: int | str) -> Vote:
        """Store one vote and return it; raises UnknownAnswer or ValueError for a bad vote."""
        if vote not in VOTES:
            raise ValueError(f"vote must be one of {VOTES}, not {vote!r}")
        record = self.find_answer(answer_id)
        entry = Vote(
            answer_id=answer_id,
            vote=vote,
            question=record.question,
            answer=record.answer,
            chunk_ids=list(record.chunk_ids),
            index_version=record.index_version,
            time=_now(),
            user=self._hash(user_id),
        )
        with self._lock:
            self._append(self.path, asdict(entry))
        return entry

    def previous_vote(self, answer_id: str, user_id: int | str) -> str | None:
        """The vote this user last cast on this answer, if any."""
        user = self._hash(user_id)
        last = None
        for v in read_votes(self.path):
            if v.get("answer_id") == answer_id and v.get("user") == user:
                last = v.get("vote")
        return last

    def _remember(self, record: AnswerRecord) -> None:
        self._recent[record.answer_id] = record
        self._recent.move_to_end(record.answer_id)
        while len(self._recent) > _CACHE_SIZE:
            self._recent.popitem(last=False)

    @staticmethod
    def _append(path: Path, data: dict) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        line = json.dumps(data, ensure_ascii=False) + "\n"
        # One write of one line with O_APPEND: lines from concurrent processes do not interleave.
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, line.encode("utf-8"))
        finally:
            os.close(fd)


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def read_votes(path: Path) -> list[dict]:
    """Every well-formed vote line of ``path`` (a missing file has none; a torn last line is skipped)."""
    votes = []
    try:
        with open(path, encoding="utf-8") as fh:
            for line in fh:
                try:
                    data = json.loads(line)
                except ValueError:
                    continue
                if isinstance(data, dict) and data.get("vote") in VOTES and data.get("answer_id"):
                    votes.append(data)
    except FileNotFoundError:
        pass
    return votes


def feedback_summary(path: Path, limit: int = 10) -> str:
    """Counts of votes and the worst-rated questions first, as plain text for the CLI."""
    path = Path(path)
    votes = read_votes(path)
    if not votes:
        return f"No feedback yet ({path})."
    latest: dict[tuple[str, str], dict] = {}
    for v in votes:                         # a later vote by the same user on the same answer wins
        latest[(v["answer_id"], v.get("user", ""))] = v
    by_question: dict[str, dict] = {}
    for v in latest.values():
        key = " ".join(str(v.get("question", "")).split()).casefold()
        q = by_question.setdefault(key, {"question": " ".join(str(v.get("question", "")).split()),
                                         "up": 0, "down": 0, "last": ""})
        q[v["vote"]] += 1
        q["last"] = max(q["last"], v.get("time", ""))
    up = sum(q["up"] for q in by_question.values())
    down = sum(q["down"] for q in by_question.values())
    answers = len({a for a, _ in latest})
    voters = len({u for _, u in latest})
    lines = [
        f"Feedback in {path}",
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
    if len(ranked) > limit:
        lines.append(f"  … and {len(ranked) - limit} more questions")
    return "\n".join(lines)
