"""Votes: complete rows, keyed user hashes, answers found after a restart, notes, and the summary."""

from __future__ import annotations

import hashlib

import pytest

from bot.database import Database, TurnRow, now
from bot.feedback import FeedbackStore, UnknownAnswer, feedback_summary, new_answer_id

USER = 123456789012345678


def stored(db: Database, question: str = "Why did Chicago police stop using Clearview?") -> str:
    answer_id = new_answer_id()
    db.add_turn(TurnRow(answer_id, None, question, question, "Separately, the Chicago Police Department stopped "
                        "using it. [1]", True, ["003_x/related-1#0"], ["T"], "v1", "slash", now(),
                        ["Separately, the Chicago Police Department stopped using it."]))
    return answer_id


@pytest.fixture
def db(tmp_path) -> Database:
    return Database.open(tmp_path / "casebot.db")


def test_vote_row_is_complete_and_never_holds_the_raw_user_id(db, tmp_path):
    store = FeedbackStore(db, tmp_path / "feedback.jsonl")
    answer_id = stored(db)
    store.add_vote(answer_id, "down", USER)
    (vote,) = db.votes()
    assert vote["vote"] == "down" and vote["question"] == "Why did Chicago police stop using Clearview?"
    assert vote["answer"].endswith("[1]") and vote["chunk_ids"] == ["003_x/related-1#0"]
    assert vote["index_version"] == "v1" and vote["time"].endswith("+00:00")
    assert vote["user"] != hashlib.sha256(str(USER).encode()).hexdigest() and len(vote["user"]) == 64
    again = FeedbackStore(Database.open(db.path), tmp_path / "feedback.jsonl")   # a restart: same key, same hash
    assert again.previous_vote(answer_id, USER) == "down"
    assert (tmp_path / "feedback.key").stat().st_mode & 0o777 == 0o600
    assert all(str(USER).encode() not in f.read_bytes() for f in tmp_path.glob("casebot.db*"))


def test_unknown_answer_and_bad_vote_are_refused(db, tmp_path):
    store = FeedbackStore(db, tmp_path / "feedback.jsonl")
    with pytest.raises(UnknownAnswer):
        store.add_vote("0123456789abcdef", "up", 1)
    with pytest.raises(ValueError):
        store.add_vote(stored(db), "sideways", 1)
    assert db.votes() == []


def test_a_note_is_attached_to_the_users_latest_vote(db, tmp_path):
    store = FeedbackStore(db, tmp_path / "feedback.jsonl")
    answer_id = stored(db)
    assert not store.add_note(answer_id, 1, "no vote yet")
    store.add_vote(answer_id, "down", 1)
    assert store.add_note(answer_id, 1, "  quotes the   wrong outlet ")
    assert not store.add_note(answer_id, 1, "   ")
    assert db.votes()[0]["note"] == "quotes the wrong outlet"


def test_summary_counts_and_puts_the_worst_questions_first(db, tmp_path):
    store = FeedbackStore(db, tmp_path / "feedback.jsonl")
    good = stored(db, "What did Clearview agree to on May 9?")
    bad = stored(db, "Who sued Clearview in California?")
    meh = stored(db, "What is BIPA?")
    for user in (1, 2, 3):
        store.add_vote(good, "up", user)
        store.add_vote(bad, "down", user)
    store.add_vote(meh, "up", 1)
    store.add_vote(meh, "down", 1)          # changed its mind: only the last vote counts
    text = feedback_summary(db)
    assert "7 votes (3 👍, 4 👎) on 3 answers to 3 questions from 3 users" in text
    assert "1 earlier votes were changed" in text
    order = [line for line in text.splitlines() if line.startswith("  ") and "(" in line]
    assert "Who sued Clearview in California?" in order[0] and order[0].strip().startswith("-3")
    assert "What is BIPA?" in order[1] and order[1].strip().startswith("-1")
    assert "May 9" in order[2] and order[2].strip().startswith("+3")


def test_summary_of_no_feedback(db):
    assert "No feedback yet" in feedback_summary(db)
