"""Follow-up questions, measured: tests/data/dialogues.jsonl through the real pipeline.

    CASEBOT_READER_BACKEND=none .venv/bin/python benchmarks/dialogues.py [--verbose] [--json OUT] [--modes condense]

(CASEBOT_READER_BACKEND=none: the extractive answer stage alone, as the tests run it; without it the
configured reader answers.) Prints, for the tune half (odd ids), the test half (even ids) and both: standalone-question accuracy,
answer accuracy per turn and declines on unanswerable follow-ups, for the pipeline ("condense") and for
two references: each question asked alone ("raw") and the set's own standalone questions ("gold").
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from embeddings import dialogues  # noqa: E402
from embeddings.config import load_config  # noqa: E402
from embeddings.engine import Engine  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--set", default=str(ROOT / "tests" / "data" / "dialogues.jsonl"))
    parser.add_argument("--verbose", action="store_true")
    parser.add_argument("--json", help="write the figures here")
    parser.add_argument("--modes", default="condense,raw,gold", help="comma-separated: condense, raw, gold")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        config = load_config(paths__seeds=str(ROOT / "seeds"), paths__index=str(Path(tmp) / "index"))
        engine = Engine.open(config, log=lambda _: None)
        data = dialogues.load(Path(args.set))
        tune, test = dialogues.split(data)
        figures = {}
        for mode in args.modes.split(","):
            for name, part in (("tune", tune), ("test", test), ("all", data)):
                rows = dialogues.run(engine, part, mode)
                figures[f"{mode}/{name}"] = dialogues.summary(rows)
                if args.verbose and mode == "condense" and name == "tune":
                    for r in rows:
                        bad = r["standalone_right"] is False or not r["answer_right"]
                        if bad:
                            print(f"{r['id']}.{r['turn']} {'S-BAD' if r['standalone_right'] is False else 'S-ok '} "
                                  f"{'A-ok ' if r['answer_right'] else 'A-BAD'} {r['kind']}: {r['question']}\n"
                                  f"      -> {r['standalone']}\n      => {r['answer'][:160]}")
    for key, value in figures.items():
        print(key, json.dumps(value))
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
