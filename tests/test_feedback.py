"""Vote storage: self-contained JSON lines, hashed user ids, answers found after a restart, a summary."""

from __future__ import annotations

import hashlib
import json
import threading

import pytest

from bot.feedback import (
    AnswerRecord,
    FeedbackStore,
    UnknownAnswer,
    answers_path,
    feedback_summary,
    new_answer_id,
)
from embeddings.results import Answer, Citation

USER = 123456789012345678


def make_answer(question: str = "Why did Chicago police stop using Clearview?") -> Answer:
    cite = Citation(n=1, doc_id="003_x", title="T", outlet="Chicago Sun-Times", published="2021-03-11", url=None,
                    quote="Separately, the Chicago Police Department stopped using it.", chunk_id="003_x/related-1#0")
    return Answer(question, True, "Separately, the Chicago Police Department stopped using it. [1]", [cite], [], "v1")


def stored(store: FeedbackStore, question: str = "Why did Chicago police stop using Clearview?") -> str:
    answer_id = new_answer_id()
    store.record_answer(AnswerRecord.from_answer(answer_id, make_answer(question), "slash"))
    return answer_id


def lines(path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_vote_line_is_complete_and_never_holds_the_raw_user_id(tmp_path):
    store = FeedbackStore(tmp_path / "feedback.jsonl")
    answer_id = stored(store)
    store.add_vote(answer_id, "down", USER)
    (vote,) = lines(tmp_path / "feedback.jsonl")
    assert vote["vote"] == "down"
    assert vote["question"] == "Why did Chicago police stop using Clearview?"
    assert vote["answer"].endswith("[1]")
    assert vote["chunk_ids"] == ["003_x/related-1#0"]
    assert vote["index_version"] == "v1"
    assert vote["time"].endswith("+00:00")
    assert vote["user"] != hashlib.sha256(str(USER).encode()).hexdigest()  # keyed, not a plain hash
    assert len(vote["user"]) == 64
    again = FeedbackStore(tmp_path / "feedback.jsonl")  # the same key after a restart: same hash
    assert again.previous_vote(answer_id, USER) == "down"
    assert (tmp_path / "feedback.key").stat().st_mode & 0o777 == 0o600
    assert str(USER) not in (tmp_path / "feedback.jsonl").read_text()
    assert str(USER) not in answers_path(tmp_path / "feedback.jsonl").read_text()


def test_answer_is_found_by_a_new_store_after_a_restart(tmp_path):
    answer_id = stored(FeedbackStore(tmp_path / "fb.jsonl"))
    again = FeedbackStore(tmp_path / "fb.jsonl")            # empty memory, reads the answers file
    assert again.find_answer(answer_id).question.startswith("Why did Chicago")
    again.add_vote(answer_id, "up", 1)
    assert again.previous_vote(answer_id, 1) == "up"
    assert again.previous_vote(answer_id, 2) is None


def test_unknown_answer_and_bad_vote_are_refused(tmp_path):
    store = FeedbackStore(tmp_path / "fb.jsonl")
    with pytest.raises(UnknownAnswer):
        store.add_vote("0123456789abcdef", "up", 1)
    with pytest.raises(ValueError):
        store.add_vote(stored(store), "sideways", 1)
    assert not (tmp_path / "fb.jsonl").exists()


def test_summary_counts_and_puts_the_worst_questions_first(tmp_path):
    path = tmp_path / "fb.jsonl"
    store = FeedbackStore(path)
    good = stored(store, "What did Clearview agree to on May 9?")
    bad = stored(store, "Who sued Clearview in California?")
    meh = stored(store, "What is BIPA?")
    for user in (1, 2, 3):
        store.add_vote(good, "up", user)
        store.add_vote(bad, "down", user)
    store.add_vote(meh, "up", 1)
    store.add_vote(meh, "down", 1)          # changed its mind: only the last vote counts
    with open(path, "a", encoding="utf-8") as fh:
        fh.write('{"torn line')              # a crash mid-write must not break the summary
    text = feedback_summary(path)
    assert "7 votes (3 👍, 4 👎) on 3 answers to 3 questions from 3 users" in text
    assert "1 earlier votes were changed" in text
    order = [line for line in text.splitlines() if line.startswith("  ") and "(" in line]
    assert "Who sued Clearview in California?" in order[0] and order[0].strip().startswith("-3")
    assert "What is BIPA?" in order[1] and order[1].strip().startswith("-1")
    assert "May 9" in order[2] and order[2].strip().startswith("+3")


def test_summary_of_no_feedback(tmp_path):
    assert "No feedback yet" in feedback_summary(tmp_path / "missing.jsonl")


def test_concurrent_votes_leave_only_whole_lines(tmp_path):
    store = FeedbackStore(tmp_path / "fb.jsonl")
    answer_id = stored(store)

    def vote(user: int) -> None:
        for i in range(40):
            store.add_vote(answer_id, "up" if i % 2 else "down", user)

    threads = [threading.Thread(target=vote, args=(u,)) for u in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(lines(tmp_path / "fb.jsonl")) == 8 * 40
    assert "8 votes (8 👍, 0 👎)" in feedback_summary(tmp_path / "fb.jsonl")
