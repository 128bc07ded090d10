"""Query latency, build throughput, cold start and memory of casebot on the bundled seeds.

    .venv/bin/python benchmarks/latency.py [--queries 300] [--out benchmarks/results/latency.json]

Prints a table and writes JSON. Warm latency is measured in this process after warm-up; the cold
figure is a new `casebot ask` process on an existing index, timed from spawn to exit.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from embeddings.config import load_config  # noqa: E402
from embeddings.engine import Engine  # noqa: E402
from embeddings.index.build import build_index  # noqa: E402
from embeddings.models.encoder import Encoder  # noqa: E402


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    k = min(len(values) - 1, max(0, round(p / 100 * (len(values) - 1))))
    return values[k]


def questions() -> list[str]:
    out = []
    for path in (ROOT / "tests" / "data" / "dev.jsonl", ROOT / "tests" / "data" / "calibration.jsonl"):
        if path.exists():
            out += [json.loads(line)["question"] for line in path.read_text().splitlines() if line.strip()]
    return out or ["How much did Facebook agree to pay over facial recognition in Illinois?"]


def machine() -> dict:
    import torch

    cpu = next((ln.split(":", 1)[1].strip() for ln in open("/proc/cpuinfo") if ln.startswith("model name")), "?")
    return {"cpu": cpu, "cores": os.cpu_count(), "python": platform.python_version(), "torch": torch.__version__,
            "torch_threads": torch.get_num_threads(), "date": time.strftime("%Y-%m-%d")}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--queries", type=int, default=300)
    ap.add_argument("--cold-runs", type=int, default=5)
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "latency.json"))
    args = ap.parse_args()

    work = Path(tempfile.mkdtemp(prefix="casebot-bench-"))
    try:
        # The default answer stage (the judge, no reader); benchmarks/reader_latency.py measures the reader.
        config = load_config(env={"CASEBOT_READER_BACKEND": "none"}, paths__seeds=str(ROOT / "seeds"),
                             paths__index=str(work / "index"))
        encoder = Encoder.from_config(config.model)
        encoder.model  # load outside the timings

        # Build throughput (a second full build: the first also makes the one-time ONNX export),
        # then the raw encode throughput of the very same texts.
        build_index(config, encoder, full=True, log=lambda _: None)
        t0 = time.perf_counter()
        report = build_index(config, encoder, full=True, log=lambda _: None)
        build_s = time.perf_counter() - t0
        engine = Engine.open(config, encoder=encoder, log=lambda _: None)
        data = engine.data
        texts = [c.embed_text for c in data.chunks] + [s.text for s in data.sentences]
        t0 = time.perf_counter()
        encoder.encode(texts)
        encode_s = time.perf_counter() - t0

        # Warm queries.
        qs = questions()
        for q in qs[:10]:
            engine.ask(q)
        rows, bare = [], []
        for i in range(args.queries):  # interleaved, so both see the same machine state
            q = qs[i % len(qs)]
            rows.append(engine.ask(q).timings_ms)
            t0 = time.perf_counter()
            engine.query_encoder.encode_query(q)
            bare.append((time.perf_counter() - t0) * 1e3)
        warm = {k: {"p50": pct([r[k] for r in rows], 50), "p99": pct([r[k] for r in rows], 99)}
                for k in ("embed", "lexical", "vector", "judge", "compose", "total")}
        warm["bare_query_encode"] = {"p50": pct(bare, 50), "p99": pct(bare, 99)}

        # Cold `casebot ask` on the existing index, as a new process.
        casebot = Path(sys.executable).with_name("casebot")
        cold, cold_rss = [], []
        timer = ["/usr/bin/time", "-f", "maxrss_kb=%M"] if Path("/usr/bin/time").exists() else []
        for _ in range(args.cold_runs):
            t0 = time.perf_counter()
            proc = subprocess.run([*timer, str(casebot), "--seeds", str(ROOT / "seeds"), "--index",
                                   str(work / "index"), "ask", "Who is David Mutnick?"], capture_output=True, text=True,
                                  env={**os.environ, "CASEBOT_READER_BACKEND": "none"})
            cold.append(time.perf_counter() - t0)
            assert proc.returncode == 0, proc.stderr
            rss = [ln for ln in proc.stderr.splitlines() if ln.startswith("maxrss_kb=")]
            if rss:
                cold_rss.append(int(rss[-1].split("=")[1]) / 1024)
        child_rss = max(cold_rss) if cold_rss else float("nan")

        result = {
            "machine": machine(),
            "corpus": {"documents": report.documents, "passages": report.chunks, "sentences": len(data.sentences)},
            "build": {"seconds": build_s, "texts_embedded": report.encoded,
                      "texts_per_s": report.encoded / build_s,
                      "raw_encode_texts_per_s": len(texts) / encode_s,
                      "pipeline_overhead_ratio": (len(texts) / encode_s) / (report.encoded / build_s)},
            "warm_ms": warm,
            "warm_total_over_bare_encode_p50": warm["total"]["p50"] / warm["bare_query_encode"]["p50"],
            "cold_ask_s": {"median": statistics.median(cold), "min": min(cold), "max": max(cold), "runs": len(cold)},
            "peak_rss_mb": {"benchmark_process": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                            "cold_ask_process_max": child_rss},
            "query_encoder": type(engine.query_encoder).__name__,
        }
    finally:
        shutil.rmtree(work, ignore_errors=True)

    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2))
    m = result["machine"]
    print(f"casebot latency benchmark — {m['date']}, {m['cpu']}, {m['cores']} cores, torch {m['torch']}")
    print(f"corpus: {result['corpus']}")
    print(f"{'stage':<22}{'p50 ms':>10}{'p99 ms':>10}")
    for k, v in warm.items():
        print(f"{k:<22}{v['p50']:>10.2f}{v['p99']:>10.2f}")
    print(f"warm total / bare query encode (p50): {result['warm_total_over_bare_encode_p50']:.2f}x")
    b = result["build"]
    print(f"build: {b['texts_embedded']} texts in {b['seconds']:.1f} s = {b['texts_per_s']:.0f}/s; "
          f"raw encode {b['raw_encode_texts_per_s']:.0f}/s; overhead ratio {b['pipeline_overhead_ratio']:.2f}")
    c = result["cold_ask_s"]
    print(f"cold `casebot ask` (new process, existing index): median {c['median']:.2f} s "
          f"(min {c['min']:.2f}, max {c['max']:.2f}, {c['runs']} runs)")
    print(f"peak RSS: benchmark {result['peak_rss_mb']['benchmark_process']:.0f} MB, "
          f"cold ask process {result['peak_rss_mb']['cold_ask_process_max']:.0f} MB")
    print(f"query encoder: {result['query_encoder']}; JSON: {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
