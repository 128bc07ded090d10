"""Warm answer latency with the local reader, with the prompt size of every question.

    .venv/bin/python benchmarks/reader_latency.py [--queries 60] [--out benchmarks/results/reader_latency.json]

The model is loaded once and warmed on three questions (the first evaluates the fixed system text
and examples, which later prompts reuse from the KV cache). Each question is then answered through
Engine.ask; the reader generates nothing: it reads one next-token distribution over the labels.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from embeddings.config import load_config  # noqa: E402
from embeddings.engine import Engine  # noqa: E402


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, max(0, round(p / 100 * (len(values) - 1))))]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--queries", type=int, default=60)
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "reader_latency.json"))
    args = ap.parse_args()

    questions = [json.loads(line)["question"] for name in ("dev.jsonl", "calibration.jsonl")
                 for line in (ROOT / "tests" / "data" / name).read_text().splitlines() if line.strip()]
    config = load_config(env={**os.environ, "CASEBOT_READER_BACKEND": "llama"})
    t0 = time.perf_counter()
    engine = Engine.open(config, log=lambda _: None)
    load_s = time.perf_counter() - t0
    if engine.reader is None:
        sys.exit("the reader did not load; run scripts/setup")
    for q in questions[:3]:
        engine.ask(q)
    rows = []
    for q in questions[3: 3 + args.queries]:
        t0 = time.perf_counter()
        answer = engine.ask(q)
        total = time.perf_counter() - t0
        reading = answer.decision.reading if answer.decision is not None else None
        rows.append({"total_s": total, "reader_s": reading.seconds if reading else 0.0,
                     "prompt_tokens": reading.prompt_tokens if reading else 0, "read": reading is not None})
    read = [r for r in rows if r["read"]]
    summary = {
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs",
        "model": Path(config.reader.llama.model).name, "threads": config.reader.llama.threads,
        "engine_open_s": round(load_s, 2), "questions": len(rows), "read_by_reader": len(read),
        "answer_s": {"p50": pct([r["total_s"] for r in rows], 50), "p90": pct([r["total_s"] for r in rows], 90)},
        "reader_s": {"p50": pct([r["reader_s"] for r in read], 50), "p90": pct([r["reader_s"] for r in read], 90)},
        "prompt_tokens": {"p50": pct([r["prompt_tokens"] for r in read], 50),
                          "max": max(r["prompt_tokens"] for r in read)},
        "generated_tokens": 0,
    }
    print(f"reader {summary['model']} ({summary['threads']} threads); engine open {load_s:.1f} s")
    print(f"answer, warm: p50 {summary['answer_s']['p50']:.2f} s, p90 {summary['answer_s']['p90']:.2f} s "
          f"over {len(rows)} questions ({len(read)} reached the reader)")
    print(f"reader alone: p50 {summary['reader_s']['p50']:.2f} s; prompt tokens p50 "
          f"{summary['prompt_tokens']['p50']}, max {summary['prompt_tokens']['max']} "
          "(the shared system text and examples come from the KV cache); generated tokens 0")
    Path(args.out).write_text(json.dumps({"summary": summary, "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
