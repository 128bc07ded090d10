"""What a serving process costs in each mode: FAISS (the version loaded in the process) against
Milvus (everything per question from Milvus Lite, served on loopback), at several corpus sizes.

    .venv/bin/python benchmarks/serving.py [--sizes 10000 100000 1000000] [--out benchmarks/results/serving.json]

Per size, a synthetic version is written the way a build writes one (benchmarks/scale.py's
passages: real-embedding structure, text from the seeds' vocabulary; 10 passages a document, 3
sentences a passage, sentence vectors near their passage's), then published both ways:
FAISS (vectors, IVF above [index] exact_max, BM25 files) and Milvus (MilvusPublisher: rows/s).
Then, for each mode, a fresh process (`--serve`) opens the engine as `casebot ask` does (default
configuration: the judge on) and answers the queries one by one: its resident memory (VmRSS after
the questions, VmHWM peak), its open time, ask p50/p99, and dense recall@10 of what the retriever
returned against an exact search over the same vectors. The Milvus server's own memory is reported
beside it (it is the engine, not the serving process). Results are written after every size.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from embeddings.config import load_config  # noqa: E402

PER_DOC = 10
PER_PASSAGE = 3


def proc_memory(pid: int | str = "self") -> dict:
    out = {}
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            if line.startswith(("VmRSS:", "VmHWM:")):
                out[line.split(":")[0]] = int(line.split()[1]) * 1024
    return {"rss_mib": round(out.get("VmRSS", 0) / 2**20, 1), "peak_rss_mib": round(out.get("VmHWM", 0) / 2**20, 1)}


def synthetic_version(n: int, base, config, encoder):
    """An IndexData of n passages in the shape a build makes."""
    from embeddings.index import store
    from embeddings.index.build import chunking_identity, model_identity
    from embeddings.documents import Document
    from scale import passage_texts, synth_vectors

    x, parents = synth_vectors(base, n)
    texts = passage_texts(base, parents)
    rng = np.random.default_rng(3)
    documents, chunks, sentences, sentence_vectors = {}, [], [], []
    for d in range(0, n, PER_DOC):
        doc_id = f"bench_{d // PER_DOC:07d}"
        rows = range(d, min(n, d + PER_DOC))
        doc = Document(doc_id=doc_id, part="", title=f"Synthetic report {d // PER_DOC}", source_file=f"{doc_id}.txt",
                       text=" ".join(texts[i] for i in rows), outlet="Bench Wire", published="2026-01-01",
                       url=f"https://bench.example/{doc_id}")
        documents[doc.key] = doc
        for k, i in enumerate(rows):
            words = texts[i].split()
            cut = np.linspace(0, len(words), PER_PASSAGE + 1).astype(int)
            ids = []
            for j in range(PER_PASSAGE):
                ids.append(len(sentences))
                sentences.append(store.SentenceRecord(doc.key, " ".join(words[cut[j]:cut[j + 1]]) + "."))
                v = x[i] + 0.3 * rng.standard_normal(x.shape[1]).astype(np.float32) / np.sqrt(x.shape[1])
                sentence_vectors.append((v / np.linalg.norm(v)).astype(np.float16))
            chunks.append(store.ChunkRecord(f"{doc.key}#{k}", doc.key, doc_id, ids,
                                            f"Bench Wire · 1 January 2026\n{texts[i]}"))
    manifest = {"format": store.FORMAT, "version": store.new_version({"n": n}), "created": "",
                "model": model_identity(config, encoder), "chunking": chunking_identity(config, encoder),
                "seeds": {}, "counts": {"documents": len(documents), "chunks": len(chunks), "sentences": len(sentences)},
                "duplicates": {}}
    return store.IndexData(manifest, documents, chunks, sentences, x, np.vstack(sentence_vectors))  # float16, as stored


def publish(data, config, root: Path) -> dict:
    """Publish ``data`` with the configured backend and write its version folder; seconds and rows/s."""
    from embeddings import lexical
    from embeddings.index import store
    from embeddings.index.backend import open_publisher

    publisher = open_publisher(config)
    t0 = time.perf_counter()
    entry = data.manifest["backend"] = publisher.publish(data, None)
    publish_s = time.perf_counter() - t0
    data.manifest["vector_index"] = entry["index_type"].lower()
    t1 = time.perf_counter()
    store.write_version(root, data, publisher.save,
                        lambda folder: lexical.build_bm25([c.embed_text for c in data.chunks], folder))
    publisher.swap(entry)
    write_s = time.perf_counter() - t1
    query_encoder(config, root)
    n = len(data.chunks)
    return {"publish_s": round(publish_s, 1), "write_folder_s": round(write_s, 1),
            "rows_per_s": round(n / publish_s, 1), "index_type": entry["index_type"]}


def query_encoder(config, root: Path) -> None:
    """The ONNX query encoder a build exports beside the versions (copied from this checkout's index
    when it has one): without it the engine would answer through torch."""
    import dataclasses

    from embeddings.index.build import ensure_onnx_export, onnx_dir
    from embeddings.models.encoder import Encoder

    here = onnx_dir(config)
    there = onnx_dir(dataclasses.replace(config, paths=dataclasses.replace(config.paths, index=root)))
    if here is not None and here.is_dir() and there is not None:
        shutil.copytree(here, there, dirs_exist_ok=True)
    else:
        ensure_onnx_export(dataclasses.replace(config, paths=dataclasses.replace(config.paths, index=root)),
                           Encoder.from_config(config.model), lambda _: None)


def serve(index: Path, queries: Path, settings: dict) -> dict:
    """In a fresh process: open the engine like `casebot ask`, answer every query, report."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CASEBOT_")}
    env.update({f"CASEBOT_{k.replace('__', '_').upper()}": str(v) for k, v in settings.items()})
    env["CASEBOT_PATHS_INDEX"] = str(index)
    proc = subprocess.run([sys.executable, __file__, "--serve", str(queries)], capture_output=True, text=True,
                          env=env, timeout=3600)
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr[-2000:])
    return json.loads(proc.stdout.strip().splitlines()[-1])


def serve_main(queries: Path) -> int:
    from embeddings.answer.question import Question
    from embeddings.engine import Engine

    config = load_config()
    before = proc_memory()
    t0 = time.perf_counter()
    engine = Engine.open(config, build_if_missing=False, log=lambda _: None)
    open_s = time.perf_counter() - t0
    opened = proc_memory()
    items = json.loads(queries.read_text())
    ms, search_ms, found = [], [], []
    for item in items:
        t = time.perf_counter()
        answer = engine.ask(item["text"])
        ms.append((time.perf_counter() - t) * 1e3)
        search_ms.append(answer.timings_ms["search"])
        q = Question.make(item["text"], np.asarray(item["vector"], dtype=np.float32), engine.retriever.lexicon)
        got = engine.retriever.candidates(q, config.retrieval.candidates)
        dense = sorted(got.hits, key=lambda h: -h.dense)[:10]
        found.append([got.passages.chunks[h.row].chunk_id for h in dense])
    ms, search_ms = np.array(ms[2:]), np.array(search_ms[2:])  # the first questions warm caches
    print(json.dumps({"open_s": round(open_s, 2), "python_rss_mib": before["rss_mib"], "opened": opened,
                      **proc_memory(), "ask_p50_ms": round(float(np.median(ms)), 1),
                      "ask_p99_ms": round(float(np.percentile(ms, 99)), 1),
                      "search_p50_ms": round(float(np.median(search_ms)), 1),
                      "search_p99_ms": round(float(np.percentile(search_ms, 99)), 1), "dense_top10": found}))
    return 0


def served(index: Path, queries: Path, settings: dict, truth: list[list[str]]) -> dict:
    out = serve(index, queries, settings)
    out["dense_recall_at_10"] = round(recall(out.pop("dense_top10"), truth), 4)
    return out


def recall(found: list[list[str]], truth: list[list[str]]) -> float:
    return float(np.mean([len(set(f) & set(t)) / len(t) for f, t in zip(found, truth)]))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--queries", type=int, default=60)
    parser.add_argument("--generated", type=int, default=2000, help="base texts encoded for real")
    parser.add_argument("--work", type=Path, default=Path("/tmp/casebot-serving-bench"))
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "serving.json")
    parser.add_argument("--serve", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        return serve_main(args.serve)

    from embeddings.index import milvus_backend
    from embeddings.models.encoder import Encoder
    from scale import make_base

    config = load_config()
    encoder = Encoder.from_config(config.model)
    base = make_base(args.generated, args.queries)
    results = {"machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
               "per_document": PER_DOC, "per_passage": PER_PASSAGE, "queries": args.queries, "sizes": {}}
    if args.out.exists():  # sizes run earlier stay; the ones run now replace theirs
        results["sizes"] = json.loads(args.out.read_text()).get("sizes", {})
    queries = args.work / "queries.json"
    for n in args.sizes:
        shutil.rmtree(args.work, ignore_errors=True)
        args.work.mkdir(parents=True)
        queries.write_text(json.dumps([{"text": t, "vector": v.tolist()}
                                       for t, v in zip(base.query_texts, base.query_vectors)]))
        t0 = time.perf_counter()
        data = synthetic_version(n, base, config, encoder)
        made = time.perf_counter() - t0
        scores = base.query_vectors @ data.vectors.T
        truth = [[data.chunks[i].chunk_id for i in np.argsort(-row)[:10]] for row in scores]
        del scores
        row: dict = {"passages": n, "documents": len(data.documents), "sentences": len(data.sentences),
                     "synthesis_s": round(made, 1)}
        print(f"{n:,} passages synthesised in {made:.0f} s", file=sys.stderr, flush=True)

        # One engine process at a time beside this one: FAISS serving before Milvus Lite starts (at 1M
        # this process, the Lite server and a FAISS-mode process do not fit in 24 GiB together).
        faiss_index = args.work / "faiss-index"
        row["faiss_build"] = publish(data, config, faiss_index)
        print(f"  faiss: {row['faiss_build']}", file=sys.stderr, flush=True)
        row["folder_mib"] = round(sum(p.stat().st_size for p in faiss_index.rglob("*") if p.is_file()) / 2**20, 1)
        row["faiss"] = served(faiss_index, queries, {}, truth)
        print(f"  faiss serving: {row['faiss']}", file=sys.stderr, flush=True)
        port = free_port()
        lite = milvus_backend.serve_lite(args.work / "milvus.db", port)
        try:
            milvus = {"backend__kind": "milvus", "backend__uri": f"http://127.0.0.1:{port}",
                      "backend__collection": "bench", "backend__timeout_seconds": 600}
            milvus_index = args.work / "milvus-index"
            data.manifest.pop("backend", None)
            row["milvus_build"] = publish(data, load_config(**milvus), milvus_index)
            print(f"  milvus: {row['milvus_build']}", file=sys.stderr, flush=True)
            del data
            row["milvus"] = served(milvus_index, queries, milvus, truth)
            print(f"  milvus serving: {row['milvus']}", file=sys.stderr, flush=True)
            row["milvus_server"] = proc_memory(lite._p.pid)
            row["milvus_file_mib"] = round((args.work / "milvus.db").stat().st_size / 2**20, 1)
        finally:
            lite.stop()
        results["sizes"][str(n)] = row
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {args.out}", file=sys.stderr)
    return 0


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


if __name__ == "__main__":
    raise SystemExit(main())
