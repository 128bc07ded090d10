"""Replay every question of tests/data through the engine and write the JSON answers (timings aside).

    .venv/bin/python benchmarks/replay.py --out /tmp/replay.jsonl            # record
    .venv/bin/python benchmarks/replay.py --out /tmp/new.jsonl --check /tmp/replay.jsonl

Two passes over every question: the extractive engine (``[reader] backend = "none"``, as the tests
run), and the engine with the reader's recorded outputs (benchmarks/results/readings-<model>.jsonl,
replayed the way benchmarks/answer_quality.py replays them; a prompt that was never recorded reads
as a failed reader, so the answer is the fallback). Dialogues are asked turn by turn in their
conversation, follow-ups resolved as the CLI and Discord resolve them. ``--check`` compares with an
earlier recording, fields listed in ``--ignore`` aside, and exits 1 on any difference: a refactor of
the answer stage must give the same answers byte for byte.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from embeddings import conversation  # noqa: E402
from embeddings.config import load_config  # noqa: E402
from embeddings.engine import Engine  # noqa: E402
from embeddings.answer.readers import GuardedReader  # noqa: E402
from embeddings.errors import ReaderUnavailable  # noqa: E402

DATA = ROOT / "tests" / "data"
READINGS = ROOT / "benchmarks" / "results" / "readings-qwen2.5-coder-1.5b-instruct-q4_k_m.jsonl"


class Replayed:
    """A reader backend that only replays recorded outputs, keyed by the exact prompt."""

    def __init__(self, path: Path, name: str):
        self.name = name
        self.seen = {}
        for line in path.read_text().splitlines():
            row = json.loads(line)
            self.seen[row["key"]] = (row["probs"], row["prompt_tokens"])

    def label_probabilities(self, msgs, labels):
        key = hashlib.sha256(json.dumps([msgs, labels]).encode()).hexdigest()
        if key not in self.seen:
            raise ReaderUnavailable("no recorded reading for this prompt")
        return self.seen[key]


def questions() -> list[tuple[str, str, list[str]]]:
    """(set, id, the questions in order: one, or a dialogue's turns)."""
    out = []
    for path in sorted(DATA.glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if not line.strip():
                continue
            item = json.loads(line)
            turns = [t["question"] for t in item["turns"]] if "turns" in item else [item["question"]]
            out.append((path.stem, item["id"], turns))
    return out


def replay(engine, mode: str, ignore: set[str]):
    for name, item_id, turns in questions():
        history: list[conversation.Turn] = []
        for i, question in enumerate(turns):
            answer, _ = conversation.ask(engine, question, history, item_id if len(turns) > 1 else None)
            history.append(conversation.turn_of(answer))
            row = {k: v for k, v in answer.to_json().items() if k not in ignore}
            yield {"mode": mode, "set": name, "id": item_id, "turn": i + 1, "answer": row}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True, help="where to write the answers (JSON lines)")
    ap.add_argument("--check", help="an earlier recording to compare with")
    ap.add_argument("--ignore", nargs="*", default=["timings_ms", "quotes"],
                    help="answer fields left out of the recording and the comparison")
    ap.add_argument("--index", default="/tmp/casebot-replay-index",
                    help="index folder (built once from the seeds; kept so recordings share one version)")
    args = ap.parse_args()
    ignore = set(args.ignore)

    config = load_config(env={**os.environ, "CASEBOT_READER_BACKEND": "none"}, paths__index=args.index)
    extractive = Engine.open(config, log=lambda _: None)
    model = READINGS.stem.removeprefix("readings-") + ".gguf"
    reader = GuardedReader(Replayed(READINGS, f"llama:{model}"), timeout=3600)
    with_reader = Engine(config, extractive.encoder, extractive.retriever, lambda _: None, reader)
    rows = [*replay(extractive, "extractive", ignore), *replay(with_reader, "reader", ignore)]
    with open(args.out, "w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False, sort_keys=True) + "\n")
    print(f"{len(rows)} answers written to {args.out}")
    if args.check:
        old = [json.loads(line) for line in Path(args.check).read_text(encoding="utf-8").splitlines()]
        strip = lambda r: {**r, "answer": {k: v for k, v in r["answer"].items() if k not in ignore}}  # noqa: E731
        differ = [(a, b) for a, b in zip(map(strip, old), map(strip, rows)) if a != b]
        if len(old) != len(rows):
            print(f"DIFFERENT: {len(old)} answers recorded, {len(rows)} now")
        for a, b in differ[:10]:
            print(f"DIFFERENT {a['mode']} {a['set']} {a['id']} turn {a['turn']}:")
            for k in sorted(set(a["answer"]) | set(b["answer"])):
                if a["answer"].get(k) != b["answer"].get(k):
                    print(f"  {k}: {a['answer'].get(k)!r}\n   -> {b['answer'].get(k)!r}")
        if differ or len(old) != len(rows):
            print(f"{len(differ)} of {len(rows)} answers differ")
            sys.exit(1)
        print(f"identical: all {len(rows)} answers match {args.check} ({', '.join(sorted(ignore))} aside)")


if __name__ == "__main__":
    main()
