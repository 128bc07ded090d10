"""Scoring conversations: a dialogue set (tests/data/dialogues.jsonl) through the real pipeline.

Each dialogue's turns are asked in order in one conversation, every follow-up resolved against the
turns before it exactly as the CLI and Discord do (embeddings/conversation.py). Per turn:
- the standalone question is right when it holds one string of every ``must_contain`` group and none
  of ``must_not_contain`` (case-insensitive); first turns are not scored;
- a ``fact`` turn is answered right when the answer holds one string of every ``expect`` group and
  cites one of ``sources``; an ``out_of_scope`` turn is right when it is declined.
"""

from __future__ import annotations

import re
from pathlib import Path

from embeddings import conversation
from embeddings.text import missing_groups, plain, read_jsonl


def load(path: Path) -> list[dict]:
    return read_jsonl(Path(path))


def standalone_right(turn: dict, standalone: str) -> bool:
    text = plain(standalone)
    return (not missing_groups(turn["must_contain"], text)
            and not any(plain(s) in text for s in turn["must_not_contain"]))


def answer_right(turn: dict, answer) -> bool:
    if turn["kind"] == "out_of_scope":
        return not answer.answered
    text = plain(answer.answer)
    cited = {c.doc_id for c in answer.citations}
    return (answer.answered and not missing_groups(turn["expect"], text)
            and bool(cited & set(turn["sources"])))


def run(engine, dialogues: list[dict], mode: str = "condense") -> list[dict]:
    """One row per turn. ``mode``: "condense" (the pipeline), "raw" (each question alone, the baseline)
    or "gold" (the set's own standalone questions: what a perfect rewrite would get)."""
    rows = []
    for d in dialogues:
        history: list[conversation.Turn] = []
        for i, turn in enumerate(d["turns"]):
            if mode == "condense":
                answer, standalone = conversation.ask(engine, turn["question"], history, d["id"])
                searched = standalone.text
            else:
                searched = turn["question"] if mode == "raw" else turn["standalone"]
                answer = engine.ask(searched)
            history.append(conversation.Turn(turn["question"], searched, tuple(q.text for q in answer.quotes),
                                             answer.answered))
            rows.append({"id": d["id"], "turn": i + 1, "kind": turn["kind"], "topic_change": turn["topic_change"],
                         "question": turn["question"], "standalone": searched,
                         "standalone_right": standalone_right(turn, searched) if i else None,
                         "answer_right": answer_right(turn, answer), "answered": answer.answered,
                         "answer": answer.answer})
    return rows


def summary(rows: list[dict]) -> dict:
    followups = [r for r in rows if r["turn"] > 1]
    out = {"dialogues": len({r["id"] for r in rows}), "turns": len(rows),
           "standalone": [sum(r["standalone_right"] for r in followups), len(followups)],
           "topic_changes": [sum(r["standalone_right"] for r in followups if r["topic_change"]),
                             sum(1 for r in followups if r["topic_change"])]}
    for n in (1, 2, 3):
        facts = [r for r in rows if r["turn"] == n and r["kind"] == "fact"]
        if facts:
            out[f"facts_turn{n}"] = [sum(r["answer_right"] for r in facts), len(facts)]
    declines = [r for r in followups if r["kind"] == "out_of_scope"]
    out["declined_followups"] = [sum(r["answer_right"] for r in declines), len(declines)]
    return out


def split(dialogues: list[dict]) -> tuple[list[dict], list[dict]]:
    """Odd ids tune the rules, even ids test them."""
    tune = [d for d in dialogues if int(re.sub(r"\D", "", d["id"])) % 2 == 1]
    test = [d for d in dialogues if int(re.sub(r"\D", "", d["id"])) % 2 == 0]
    return tune, test
