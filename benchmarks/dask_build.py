"""`casebot index` locally against `casebot index --dask` on a two-worker LocalCluster: passages/s,
and whether the two indexes are the same.

    .venv/bin/python benchmarks/dask_build.py [--passages 100000] [--out benchmarks/results/dask_build.json]

The seeds are synthetic articles (benchmarks/scale.py's bigram text over the seeds' words, about 10
passages an article), written as .txt files and indexed by the real build twice: once with the
process's own encoder, once with [dask] scheduler pointed at a LocalCluster of two worker processes
(one thread each: this machine has two cores, so the cluster cannot be faster here; what is measured
is that it works at this size and what it costs). Reported: texts and passages per second each way,
the largest difference between the two indexes' vectors, and whether every question of a small set
gets the same answer from both.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from embeddings.config import load_config  # noqa: E402
from embeddings.index import store  # noqa: E402
from embeddings.index.build import build_index  # noqa: E402


def write_seeds(folder: Path, passages: int, seed: int = 0) -> None:
    """Articles of ~10 chunk-sized paragraphs each, from the seeds' own words."""
    from scale import bigram_sentences, seed_text

    rng = np.random.default_rng(seed)
    words = seed_text().split()
    folder.mkdir(parents=True)
    articles = max(1, passages // 10)
    for a in range(articles):
        paragraphs = [" ".join(s.rstrip(".") + "." for s in bigram_sentences(words, 6, rng)) for _ in range(10)]
        (folder / f"bench_{a:06d}.txt").write_text(f"Synthetic report {a}\n\n" + "\n\n".join(paragraphs) + "\n")


def loaded(config) -> store.IndexData:
    path, manifest = store.read_manifest(config.paths.index)
    return store.load_version(path, manifest)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--passages", type=int, default=100_000)
    parser.add_argument("--work", type=Path, default=Path("/tmp/casebot-dask-bench"))
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "dask_build.json")
    args = parser.parse_args(argv)
    from dask.distributed import LocalCluster

    from embeddings.models.encoder import Encoder
    from embeddings.engine import Engine
    from scale import QUESTION_STARTS

    shutil.rmtree(args.work, ignore_errors=True)
    seeds = args.work / "seeds"
    write_seeds(seeds, args.passages)
    env = {"CASEBOT_READER_BACKEND": "none", "CASEBOT_DECISION_WITH_JUDGE": ""}
    local = load_config(env=env, paths__seeds=str(seeds), paths__index=str(args.work / "local"))
    encoder = Encoder.from_config(local.model)
    result = {"machine": {"cpus": os.cpu_count(), "python": platform.python_version()}}
    t0 = time.perf_counter()
    report = build_index(local, encoder, log=lambda _: None)
    result["local"] = {"seconds": round(time.perf_counter() - t0, 1), "passages": report.chunks,
                       "texts": report.encoded}
    print(f"local: {result['local']}", file=sys.stderr, flush=True)
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        on_dask = load_config(env=env, paths__seeds=str(seeds), paths__index=str(args.work / "dask"),
                              dask__scheduler=cluster.scheduler_address)
        t0 = time.perf_counter()
        report = build_index(on_dask, encoder, log=lambda _: None)
        result["dask"] = {"seconds": round(time.perf_counter() - t0, 1), "passages": report.chunks,
                          "texts": report.encoded, "workers": 2, "threads_per_worker": 1}
    print(f"dask: {result['dask']}", file=sys.stderr, flush=True)
    for side in ("local", "dask"):
        r = result[side]
        r["passages_per_s"] = round(r["passages"] / r["seconds"], 1)
        r["texts_per_s"] = round(r["texts"] / r["seconds"], 1)
    a, b = loaded(local), loaded(on_dask)
    result["same_chunks"] = [c.chunk_id for c in a.chunks] == [c.chunk_id for c in b.chunks]
    result["max_abs_diff_chunk_vectors"] = float(np.abs(a.vectors - b.vectors).max())
    result["max_abs_diff_sentence_vectors"] = float(np.abs(a.sentence_vectors - b.sentence_vectors).max())
    del a, b
    rng = np.random.default_rng(5)
    words = [w for w in " ".join(p.read_text() for p in sorted(seeds.glob("*.txt"))[:50]).split() if w.isalpha()]
    questions = [f"{QUESTION_STARTS[i % len(QUESTION_STARTS)]} {' '.join(rng.choice(words, 5))}?" for i in range(30)]
    engines = [Engine.open(c, encoder=encoder, build_if_missing=False, log=lambda _: None) for c in (local, on_dask)]
    same = 0
    for q in questions:
        x, y = (e.ask(q).to_json() for e in engines)
        for d in (x, y):
            d.pop("timings_ms"), d.pop("index_version")
        same += x == y
    result["questions"], result["same_answers"] = len(questions), same
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
