"""Answer quality on the tuning and test halves: fit the combiner, then report the split for each
ingredient (an ablation) and for the configured engine.

    .venv/bin/python benchmarks/answer_quality.py            # report with the configured weights
    .venv/bin/python benchmarks/answer_quality.py --fit      # fit on the tuning half, print the config lines

The reader's outputs are recorded in benchmarks/results/readings-<model>.jsonl, keyed by the exact
prompt, so refitting and the ablation replay what the real model said instead of running it again
(a 2-core machine reads a question in seconds). Delete the file to read everything afresh.

The decision threshold is chosen on the tuning half as the one that answers the most questions
right while keeping wrong answers at or under --max-wrong of those answered (the bar is 5%).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from embeddings import combiner  # noqa: E402
from embeddings.config import load_config  # noqa: E402
from embeddings.engine import Engine  # noqa: E402
from embeddings.evaluation import judge, load_questions, seed_texts, summarize, table  # noqa: E402
from embeddings.reader import GuardedReader  # noqa: E402

SETS = {"tune": ROOT / "tests" / "data" / "questions_tune.jsonl",
        "test": ROOT / "tests" / "data" / "questions_test.jsonl"}


class Recorded:
    """A reader backend whose every answer is recorded, and replayed for the same prompt."""

    def __init__(self, backend, path: Path):
        self.backend, self.path, self.name = backend, path, backend.name
        self.seen: dict[str, list] = {}
        if path.exists():
            for line in path.read_text().splitlines():
                row = json.loads(line)
                self.seen[row["key"]] = [row["probs"], row["prompt_tokens"], row.get("seconds", 0.0)]

    def label_probabilities(self, msgs, labels):
        key = hashlib.sha256(json.dumps([msgs, labels]).encode()).hexdigest()
        if key not in self.seen:
            import time

            t0 = time.perf_counter()
            probs, tokens = self.backend.label_probabilities(msgs, labels)
            self.seen[key] = [probs, tokens, time.perf_counter() - t0]
            with open(self.path, "a") as fh:
                fh.write(json.dumps({"key": key, "probs": probs, "prompt_tokens": tokens,
                                     "seconds": self.seen[key][2]}) + "\n")
        return self.seen[key][0], self.seen[key][1]


def run(engine, items, seeds) -> list[dict]:
    rows = []
    for item in items:
        answer = engine.ask(item["question"])
        row = judge(item, answer.to_json(), seeds)
        d = answer.decision
        row["features"] = d.features if d is not None else None
        row["reading"] = ([d.reading.p_none] + d.reading.p_sentences) if d is not None and d.reading else None
        rows.append(row)
    return rows


def with_reader(config, **changes):
    return replace(config, reader=replace(config.reader, **changes))


def pick_threshold(rows: list[dict], bias: float, weights: list[float], max_wrong: float) -> float:
    """The lowest threshold (most answers) whose wrong share among answered stays ≤ max_wrong."""
    scored = sorted(((combiner.probability(bias, weights, r["features"]), r) for r in rows if r["features"]),
                    key=lambda t: -t[0])
    best, best_right = 1.0, -1
    right = wrong = 0
    for p, r in scored:
        right += r["right"]
        wrong += not r["right"]
        if wrong <= max_wrong * (right + wrong) and right > best_right:
            best, best_right = p, right
    return round(best - 1e-6, 4)


def ablation(rows: list[dict], name: str) -> list[dict]:
    """Outcomes if only part of the decision ran, from the same candidates and reader output."""
    out = []
    for r in rows:
        reading = r["reading"]
        if name == "reader alone":  # answer whenever the reader's top label is a sentence
            answered = reading is not None and max(reading[1:]) > reading[0]
        elif name == "reader + checks":  # ...and the chosen sentence passed the code checks
            answered = reading is not None and r["features"] is not None and r["features"][0] > 0
        else:
            raise ValueError(name)
        right = answered and r["right_if_answered"]
        outcome = ("right" if right else "wrong" if answered else "declined") if r["kind"] == "fact" else \
            ("answered" if answered else "declined")
        out.append({**r, "answered": answered, "right": right if r["kind"] == "fact" else not answered,
                    "outcome": outcome})
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--fit", action="store_true", help="fit the combiner on the tuning half and print config lines")
    ap.add_argument("--max-wrong", type=float, default=0.05, help="largest share of wrong answers among answered")
    ap.add_argument("--l2", type=float, default=1.0, help="L2 penalty of the logistic fit (standardized features)")
    ap.add_argument("--limit", type=int, default=0, help="only the first N questions of each half (a smoke run)")
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "answer_quality.json"))
    args = ap.parse_args()

    base = load_config(env={**os.environ, "CASEBOT_READER_BACKEND": "llama"})
    from embeddings.reader_llama import LlamaReader

    model = Path(base.reader.model)
    recorded = Recorded(LlamaReader(base.reader), ROOT / "benchmarks" / "results" / f"readings-{model.stem}.jsonl")
    reader = GuardedReader(recorded, timeout=3600)
    extractive = Engine.open(replace(base, reader=replace(base.reader, backend="none")), log=lambda _: None)
    seeds = seed_texts(Path(base.paths.seeds))
    items = {name: load_questions(path)[: args.limit or None] for name, path in SETS.items()}

    def engine_for(config):
        return Engine(config, extractive.encoder, extractive.data, lambda _: None, reader)

    # Every candidate the checks let through is answered (threshold 0): its rightness is the label.
    open_rows = {name: run(engine_for(with_reader(base, answer_above=0.0)), its, seeds) for name, its in items.items()}
    for rows in open_rows.values():
        for r in rows:
            r["right_if_answered"] = r["answered"] and (r["kind"] == "fact") and r["outcome"] == "right"

    bias, weights, threshold = base.reader.bias, list(base.reader.weights), base.reader.answer_above
    fitted = {}
    if args.fit:
        train = [r for r in open_rows["tune"] if r["features"]]
        x = np.array([r["features"] for r in train])
        y = np.array([float(r["right_if_answered"]) for r in train])
        bias, weights = combiner.fit(x, y, l2=args.l2)
        threshold = pick_threshold(train, bias, weights, args.max_wrong)
        only_x = x.copy()
        only_x[:, 0] = 0.0  # the same fit without the reader's confidence
        eb, ew = combiner.fit(only_x, y, l2=args.l2)
        et = pick_threshold([{**r, "features": [0.0] + r["features"][1:]} for r in train], eb, ew, args.max_wrong)
        fitted = {"without reader confidence": (eb, ew, et)}
        print("# fitted on the tuning half "
              f"({len(train)} questions with a candidate; {int(y.sum())} answered right at threshold 0)")
        print(f"bias = {bias:.4f}")
        print(f"weights = [{', '.join(f'{w:.4f}' for w in weights)}]   # {', '.join(combiner.FEATURES)}")
        print(f"answer_above = {threshold}")

    results: dict[str, dict] = {}
    for name, its in items.items():
        columns = {}
        columns["extractive (no reader)"] = summarize(run(extractive, its, seeds))
        for label in ("reader alone", "reader + checks"):
            columns[label] = summarize(ablation(open_rows[name], label))
        for label, (b, w, t) in fitted.items():
            cfg = with_reader(base, bias=b, weights=tuple(w), answer_above=t)
            rows = run(engine_for(cfg), its, seeds)
            columns[f"combiner {label}"] = summarize(rows)
        cfg = with_reader(base, bias=bias, weights=tuple(weights), answer_above=threshold)
        final_rows = run(engine_for(cfg), its, seeds)
        columns["reader + checks + combiner"] = summarize(final_rows)
        read_secs = sorted(v[2] for v in recorded.seen.values() if v[2])
        tokens = sorted(v[1] for v in recorded.seen.values())
        columns["reader + checks + combiner"]["reader_seconds_p50"] = read_secs[len(read_secs) // 2] if read_secs else None
        columns["reader + checks + combiner"]["prompt_tokens_p50"] = tokens[len(tokens) // 2] if tokens else None
        results[name] = columns
        print(f"\n## {name} half ({len(its)} questions)")
        print(table(columns))
        misses = [r for r in final_rows if not r["right"]]
        print(f"wrong or declined with the full decision: {len(misses)}")
        for r in misses:
            print(f"  {r['id']} [{r['category']}] {r['outcome']}: {r['question']}")
    Path(args.out).write_text(json.dumps({"model": model.name, "bias": bias, "weights": weights,
                                          "answer_above": threshold, "results": results}, indent=1))


if __name__ == "__main__":
    main()
