"""Answer quality on the tuning and test halves: fit the combiner, then report the split for each
ingredient (an ablation) and for the configured engine.

    .venv/bin/python benchmarks/answer_quality.py            # report with the configured weights
    .venv/bin/python benchmarks/answer_quality.py --fit      # fit on the tuning half, print the config lines

The reader's outputs are recorded in benchmarks/results/readings-<model>.jsonl, keyed by the exact
prompt, so refitting and the ablation replay what the real model said instead of running it again
(a 2-core machine reads a question in seconds). Delete the file to read everything afresh.

The decision threshold is chosen on the tuning half to maximize right answers minus --wrong-cost
times wrong ones (default 2: a wrong answer with a real citation is the worst failure; a refusal
costs the answer it withheld). The threshold that keeps wrong answers under --max-wrong of those
answered (the issue's bar, 5%) is reported beside it.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from embeddings.answer import combiner  # noqa: E402
from embeddings.config import load_config  # noqa: E402
from embeddings.engine import Engine  # noqa: E402
from embeddings.evaluation import judge, load_questions, seed_texts, summarize, table  # noqa: E402
from embeddings.answer.readers import GuardedReader, Reading  # noqa: E402

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
        row["reading"] = ([d.reading.p_none] + d.reading.p_sentences) if isinstance(d.reading, Reading) else None
        rows.append(row)
    return rows


def with_reader(config, **changes):
    """The config with some [decision] settings changed."""
    return replace(config, decision=replace(config.decision, **changes))


def pick_threshold(rows: list[dict], bias: float, weights: list[float], wrong_cost: float,
                   max_wrong: float | None = None) -> tuple[float, float]:
    """(threshold, utility): the threshold on P(right) that maximizes right - wrong_cost * wrong
    answers over ``rows`` (declining scores 0); with ``max_wrong``, the one answering the most right
    while wrong answers stay at or under that share of those answered."""
    scored = sorted(((combiner.probability(bias, weights, r["features"]), r) for r in rows if r["features"]),
                    key=lambda t: -t[0])
    best, best_value = 1.0, 0.0
    right = wrong = 0
    for p, r in scored:
        right += r["right_if_answered"]
        wrong += not r["right_if_answered"]
        if max_wrong is not None:
            value = right if wrong <= max_wrong * (right + wrong) else -1
        else:
            value = right - wrong_cost * wrong
        if value > best_value:
            best, best_value = p, value
    return round(best - 1e-6, 4), best_value


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
    ap.add_argument("--wrong-cost", type=float, default=2.0,
                    help="a wrong answer costs this many missed ones when the threshold is chosen")
    ap.add_argument("--max-wrong", type=float, default=0.05,
                    help="also report the threshold keeping wrong answers under this share (the issue's bar)")
    ap.add_argument("--l2", type=float, default=1.0, help="L2 penalty of the logistic fit (standardized features)")
    ap.add_argument("--halves", nargs="+", default=list(SETS), choices=list(SETS), help="which halves to report")
    ap.add_argument("--limit", type=int, default=0, help="only the first N questions of each half (a smoke run)")
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "answer_quality.json"))
    args = ap.parse_args()

    base = load_config(env={**os.environ, "CASEBOT_READER_BACKEND": "llama"})
    from embeddings.answer.readers.llama import LlamaReader

    model = Path(base.reader.llama.model)
    recorded = Recorded(LlamaReader(base.reader.llama, base.reader.timeout_s), ROOT / "benchmarks" / "results" / f"readings-{model.stem}.jsonl")
    reader = GuardedReader(recorded, timeout=3600)
    extractive = Engine.open(replace(base, reader=replace(base.reader, backend="none")), log=lambda _: None)
    seeds = seed_texts(Path(base.paths.seeds))
    items = {name: load_questions(path)[: args.limit or None] for name, path in SETS.items()
             if name in args.halves or (name == "tune" and args.fit)}

    def engine_for(config):
        return Engine(config, extractive.encoder, extractive.retriever, lambda _: None, reader)

    def open_rows(cfg, its):
        """Every candidate the checks let through is answered (threshold 0): its rightness is the label."""
        rows = run(engine_for(with_reader(cfg, answer_above=0.0)), its, seeds)
        for r in rows:
            r["right_if_answered"] = r["answered"] and r["kind"] == "fact" and r["outcome"] == "right"
        return rows

    def fit(rows, drop_reader=False):
        train = [r for r in rows if r["features"]]
        x = np.array([r["features"] for r in train])
        if drop_reader:
            x[:, 0] = 0.0
            train = [{**r, "features": [0.0] + r["features"][1:]} for r in train]
        y = np.array([float(r["right_if_answered"]) for r in train])
        b, w = combiner.fit(x, y, l2=args.l2)
        t, value = pick_threshold(train, b, w, args.wrong_cost)
        return b, w, t, value, train

    config = base
    fitted = {}
    if args.fit:
        # Which sentence to quote (choice_weight) and when to add a second (also_quote) are chosen
        # with the combiner: the pair whose fitted decision scores best on the tuning half.
        best = None
        for choice_weight in (0.0, 0.1, 0.2, 0.5, 1.0):
            for also_quote in (0.3, 0.5, 0.8, 1.01):
                cfg = with_reader(base, choice_weight=choice_weight, also_quote=also_quote)
                b, w, t, value, train = fit(open_rows(cfg, items["tune"]))
                print(f"choice_weight {choice_weight}, also_quote {also_quote}: tuning-half utility {value:.0f}")
                if best is None or value > best[0]:
                    best = (value, cfg, b, w, t, train)
        value, config, b, w, t, train = best
        config = with_reader(config, bias=b, weights=tuple(w), answer_above=t)
        eb, ew, et, _, _ = fit(train, drop_reader=True)
        bar_t, _ = pick_threshold(train, b, w, args.wrong_cost, max_wrong=args.max_wrong)
        fitted = {"combiner without reader confidence": with_reader(config, bias=eb, weights=tuple(ew), answer_above=et),
                  f"full, threshold for <= {args.max_wrong:.0%} wrong": with_reader(config, answer_above=bar_t)}
        r = config.decision
        print(f"choice_weight = {r.choice_weight}")
        print(f"also_quote = {r.also_quote}")
        print(f"# fitted on the tuning half ({len(train)} questions with a candidate); wrong answers cost {args.wrong_cost}")
        print(f"bias = {r.bias:.4f}")
        print(f"weights = [{', '.join(f'{x:.4f}' for x in r.weights)}]   # {', '.join(r.features)}")
        print(f"answer_above = {r.answer_above}")
        print(f"(for <= {args.max_wrong:.0%} wrong among answered on the tuning half: answer_above = {bar_t})")

    all_open = {name: open_rows(config, its) for name, its in items.items()}
    results: dict[str, dict] = {}
    for name, its in items.items():
        columns = {}
        columns["extractive (no reader)"] = summarize(run(extractive, its, seeds))
        for label in ("reader alone", "reader + checks"):
            columns[label] = summarize(ablation(all_open[name], label))
        for label, cfg in fitted.items():
            columns[label] = summarize(run(engine_for(cfg), its, seeds))
        final_rows = run(engine_for(config), its, seeds)
        columns["reader + checks + combiner"] = summarize(final_rows)
        read_secs = sorted(v[2] for v in recorded.seen.values() if v[2])
        tokens = sorted(v[1] for v in recorded.seen.values())
        columns["reader + checks + combiner"]["reader_seconds_p50"] = read_secs[len(read_secs) // 2] if read_secs else None
        columns["reader + checks + combiner"]["prompt_tokens_p50"] = tokens[len(tokens) // 2] if tokens else None
        curve = []
        for t in (0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8):
            sm = summarize(run(engine_for(with_reader(config, answer_above=t)), its, seeds))
            curve.append({"answer_above": t, **{k: sm[k] for k in ("answerable_right", "answerable_wrong",
                          "unanswerable_declined", "answered", "wrong_among_answered")}})
        columns["reader + checks + combiner"]["curve"] = curve
        print("threshold curve (answer_above: answerable right / unanswerable declined / wrong among answered):")
        for c in curve:
            print(f"  {c['answer_above']:.1f}: {c['answerable_right']}/{columns['reader + checks + combiner']['answerable']}"
                  f" / {c['unanswerable_declined']}/{columns['reader + checks + combiner']['unanswerable']}"
                  f" / {c['wrong_among_answered']}/{c['answered']}")
        results[name] = columns
        print(f"\n## {name} half ({len(its)} questions)")
        print(table(columns))
        misses = [r for r in final_rows if not r["right"]]
        print(f"wrong or declined with the full decision: {len(misses)}")
        for r in misses:
            print(f"  {r['id']} [{r['category']}] {r['outcome']}: {r['question']}")
    r = config.decision
    Path(args.out).write_text(json.dumps({"model": model.name, "choice_weight": r.choice_weight, "also_quote": r.also_quote,
                                          "bias": r.bias,
                                          "weights": list(r.weights), "answer_above": r.answer_above, "results": results}, indent=1))


if __name__ == "__main__":
    main()
