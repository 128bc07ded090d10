"""The SQLite store: migration from feedback.jsonl, fifty concurrent writers, retention, a damaged file."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import threading
from datetime import datetime, timedelta, timezone

import pytest

from bot.database import Database, Listening, TurnRow, now
from bot.feedback import FeedbackStore, feedback_summary, hash_user, user_key
from embeddings.config import PROJECT_ROOT
from embeddings.errors import StoreCorrupt


def turn(answer_id: str, conversation: str | None = "c1", time: str | None = None, question: str = "Who sued Clarifai?"):
    return TurnRow(answer_id, conversation, question, question, "An answer. [1]", True, ["000_x/main#0"], ["T"],
                   "v1", "cli", time or now(), ["An answer."])


def test_schema_is_wal_and_a_turn_round_trips(tmp_path):
    db = Database.open(tmp_path / "casebot.db")
    db.add_turn(turn("a" * 16))
    assert db.turns("c1", 3) == [turn("a" * 16, time=db.turns("c1", 3)[0].time)]
    assert db.has_conversation("c1") and not db.has_conversation("c2")
    with sqlite3.connect(tmp_path / "casebot.db") as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_feedback_jsonl_is_migrated_once_and_nothing_is_lost(tmp_path):
    key = user_key(tmp_path / "feedback.jsonl")
    answers = [{"answer_id": f"{i:016x}", "question": f"Question {i}?", "answer": f"Answer {i}. [1]", "answered": True,
                "chunk_ids": [f"00{i}/main#0"], "index_version": "v1", "time": "2026-11-20T10:00:00+00:00",
                "surface": "slash"} for i in range(3)]
    votes = [dict(answers[i], vote=v, user=hash_user(u, key), time=f"2026-11-20T11:0{n}:00+00:00")
             for n, (i, v, u) in enumerate([(0, "up", 1), (0, "down", 1), (1, "down", 2), (2, "up", 3)])]
    for v in votes:
        v.pop("answered"), v.pop("surface")
    (tmp_path / "feedback.answers.jsonl").write_text("".join(json.dumps(a) + "\n" for a in answers))
    (tmp_path / "feedback.jsonl").write_text("".join(json.dumps(v) + "\n" for v in votes) + '{"torn')
    db = Database.open(tmp_path / "casebot.db", legacy_feedback=tmp_path / "feedback.jsonl")
    stored = db.votes()
    assert [(v["answer_id"], v["vote"], v["user"], v["time"], v["chunk_ids"]) for v in stored] == \
        [(v["answer_id"], v["vote"], v["user"], v["time"], v["chunk_ids"]) for v in votes]
    assert not (tmp_path / "feedback.jsonl").exists() and (tmp_path / "feedback.jsonl.migrated").exists()
    assert (tmp_path / "feedback.answers.jsonl.migrated").exists()
    assert db.migration()["votes"] == 4
    # the same key still hashes the same users: their earlier votes are theirs, and old answers take new votes
    store = FeedbackStore(db, tmp_path / "feedback.jsonl")
    assert store.previous_vote(answers[0]["answer_id"], 1) == "down"
    store.add_vote(answers[2]["answer_id"], "down", 4, note="  cites the wrong article ")
    text = feedback_summary(db)
    assert "4 votes (1 👍, 3 👎) on 3 answers to 3 questions from 4 users" in text
    assert "what was wrong: cites the wrong article" in text
    # opening again (another process, a restart) imports nothing twice, even if the old file comes back
    (tmp_path / "feedback.jsonl").write_text("".join(json.dumps(v) + "\n" for v in votes))
    again = Database.open(tmp_path / "casebot.db", legacy_feedback=tmp_path / "feedback.jsonl")
    assert len(again.votes()) == 5


WRITER = """
import sys
from bot.database import Database, TurnRow, now
from bot.feedback import FeedbackStore
db = Database.open(sys.argv[1], busy_timeout_ms=30000)
store = FeedbackStore(db, sys.argv[2])
w = int(sys.argv[3])
for i in range(10):
    answer_id = f"{w:08x}{i:08x}"
    db.add_turn(TurnRow(answer_id, f"thread-{w % 5}", f"q{w}-{i}", f"q{w}-{i}", "a", True, [], [], "v1", "discord", now(), []))
    store.add_vote(answer_id, "up" if i % 2 else "down", w * 100 + i, note="n" if i == 0 else None)
"""


def test_fifty_concurrent_writer_processes_lose_nothing_and_never_see_a_locked_database(tmp_path):
    db_path, key_beside = tmp_path / "casebot.db", tmp_path / "feedback.jsonl"
    Database.open(db_path)
    env = dict(os.environ, PYTHONPATH=str(PROJECT_ROOT))
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, str(db_path), str(key_beside), str(w)], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for w in range(50)]
    results = [(p.wait(timeout=300), p.stderr.read()) for p in procs]
    for p in procs:
        p.stdout.close(), p.stderr.close()
    assert [r for r in results if r[0] != 0] == [], results[0][1]
    assert not any("locked" in err for _, err in results)
    db = Database.open(db_path)
    votes = db.votes()
    assert len(votes) == 500 and len({v["answer_id"] for v in votes}) == 500
    assert sum(len(db.turns(f"thread-{t}", 1000)) for t in range(5)) == 500
    assert sum(1 for v in votes if v["note"] == "n") == 50


def test_fifty_threads_sharing_one_store(tmp_path):
    db = Database.open(tmp_path / "casebot.db")
    store = FeedbackStore(db, tmp_path / "feedback.jsonl")
    errors = []

    def work(w: int) -> None:
        try:
            for i in range(10):
                answer_id = f"{w:08x}{i:08x}"
                db.add_turn(turn(answer_id, conversation=f"t{w % 3}"))
                store.add_vote(answer_id, "up", w)
        except Exception as exc:               # collected, so a failure names itself
            errors.append(repr(exc))

    threads = [threading.Thread(target=work, args=(w,)) for w in range(50)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(db.votes()) == 500


def test_retention_prunes_idle_conversations_and_keeps_votes(tmp_path):
    db = Database.open(tmp_path / "casebot.db")
    old = (datetime.now(timezone.utc) - timedelta(days=40)).isoformat(timespec="microseconds")
    db.add_turn(turn("1" * 16, "old", time=old))
    db.add_turn(turn("2" * 16, None, time=old))
    db.add_turn(turn("3" * 16, "recent"))
    store = FeedbackStore(db, tmp_path / "feedback.jsonl")
    store.add_vote("1" * 16, "down", 7)
    assert db.prune(0) == (0, 0)                   # 0 keeps everything
    assert db.prune(30) == (1, 1)
    assert db.turns("old", 5) == [] and not db.has_conversation("old")
    assert len(db.turns("recent", 5)) == 1
    assert db.find_turn("2" * 16) is None
    assert [v["question"] for v in db.votes()] == ["Who sued Clarifai?"]      # the vote keeps its own copy


def test_a_damaged_file_is_refused_with_a_clear_message_and_left_alone(tmp_path):
    path = tmp_path / "casebot.db"
    path.write_bytes(b"this is not a database, just some bytes\n" * 200)
    before = path.read_bytes()
    with pytest.raises(StoreCorrupt, match="not a readable casebot database.*move it aside"):
        Database.open(path)
    assert path.read_bytes() == before


def test_listening_settings_survive_a_reopen(tmp_path):
    db = Database.open(tmp_path / "casebot.db")
    assert db.listening(5) == Listening("everywhere")
    db.set_listening(5, Listening("channels", (11, 12)))
    again = Database.open(tmp_path / "casebot.db")
    assert again.listening(5).allows(12) and not again.listening(5).allows(13)
    assert again.listening(6).allows(13)
