"""Scale benchmark: exact vs approximate dense search, and BM25, at 100k and 1M passages.

    .venv/bin/python benchmarks/scale.py [--sizes 100000 1000000] [--out benchmarks/results/scale.json]

The corpus is synthetic but has real-embedding structure. Several thousand sentences are generated
from the seeds' own words (a word-bigram chain over their text, plus bags of their vocabulary) and
encoded with the real model; the N passage vectors are then blends of two related real vectors plus
noise drawn from the real vectors' own covariance, renormalised. Queries are *different* real
encodings: made-up questions and held-out generated sentences, so no query is in the corpus. Each
passage also gets a token list (stemmed seed vocabulary, mostly its parents' words) for bm25s.

Reported per size: build time, index bytes and RSS growth, p50/p99 single-query latency, recall@10
against exact search (the exact top 10 is computed once with numpy), and the same for bm25s. With
--milvus, the same passages (their tokens written out as text) go through the engine's Milvus backend
on Milvus Lite: publish and load time, dense and retriever p50/p99, dense recall@10, the server's memory.
"""

from __future__ import annotations

import argparse
import dataclasses
import gc
import json
import os
import platform
import re
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from embeddings.config import load_config  # noqa: E402
from embeddings.index.vector_index import build_vector_index, index_kind, search  # noqa: E402

SEEDS = ROOT / "seeds"
K = 10
QUESTION_STARTS = [
    "What did", "Why did", "Who", "When did", "How does", "Which", "Is it true that", "What happened to",
    "Where did", "How many", "Did", "What is",
]


# ---------------------------------------------------------------- text from the seeds' vocabulary

def seed_text() -> str:
    """Clean seed text through the engine's own parsers (raw files if they fail)."""
    parts = []
    for path in sorted(SEEDS.glob("*")):
        if not path.is_file():
            continue
        try:
            from embeddings.parsers import parse_file

            parts.extend(d.text for d in parse_file(path))
        except Exception:  # a parser still in progress must not stop the benchmark
            parts.append(path.read_text(encoding="utf-8", errors="replace"))
    return "\n\n".join(parts)


def seed_sentences(text: str) -> list[str]:
    parts = re.split(r"(?<=[.!?])\s+|\n+", text)
    return [p.strip() for p in parts if len(p.split()) >= 4]


def bigram_sentences(words: list[str], n: int, rng: np.random.Generator) -> list[str]:
    """Sentences from a word-bigram chain over the seeds: fluent-ish text on the seeds' topics."""
    follow: dict[str, list[str]] = {}
    for a, b in zip(words, words[1:]):
        follow.setdefault(a, []).append(b)
    keys = list(follow)
    out = []
    for _ in range(n):
        w = keys[rng.integers(len(keys))]
        sent = [w]
        for _ in range(int(rng.integers(6, 45))):
            nxt = follow.get(w)
            w = nxt[rng.integers(len(nxt))] if nxt else keys[rng.integers(len(keys))]
            sent.append(w)
        out.append(" ".join(sent))
    return out


def bag_sentences(vocab: list[str], probs: np.ndarray, n: int, rng: np.random.Generator) -> list[str]:
    """Bags of seed words drawn by frequency: covers topic mixtures the chain does not."""
    return [" ".join(rng.choice(vocab, size=int(rng.integers(5, 30)), p=probs)) for _ in range(n)]


def questions(words: list[str], n: int, rng: np.random.Generator) -> list[str]:
    content = [w for w in words if len(w) > 3 and w.isalpha()]
    out = []
    for _ in range(n):
        start = QUESTION_STARTS[rng.integers(len(QUESTION_STARTS))]
        body = " ".join(content[i] for i in rng.integers(0, len(content), int(rng.integers(2, 8))))
        out.append(f"{start} {body}?")
    return out


@dataclasses.dataclass
class Base:
    vectors: np.ndarray          # real encodings the corpus is synthesised from
    tokens: list[np.ndarray]     # their stem ids
    vocab: dict[str, int]        # stem -> id
    unigram: np.ndarray          # stem frequencies over the base texts
    neighbours: np.ndarray       # each base vector's 32 nearest base vectors
    query_vectors: np.ndarray
    query_tokens: list[list[str]]
    query_texts: list[str]
    encode_seconds: float


def make_base(n_generated: int, n_queries: int, seed: int = 0) -> Base:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from embeddings.models.encoder import Encoder

    rng = np.random.default_rng(seed)
    text = seed_text()
    words = text.split()
    lowered = [w.lower().strip(".,;:!?\"'()“”’") for w in words]
    vocab_words, counts = np.unique([w for w in lowered if len(w) > 2 and w.isalpha()], return_counts=True)
    probs = counts / counts.sum()
    real = seed_sentences(text)
    half = n_generated // 2
    texts = real + bigram_sentences(words, half, rng) + bag_sentences(list(vocab_words), probs, n_generated - half, rng)
    held_out = bigram_sentences(words, n_queries // 2, rng)
    qtexts = questions(words, n_queries - len(held_out), rng) + held_out

    encoder = Encoder("all-MiniLM-L6-v2", batch_size=64)
    t0 = time.perf_counter()
    vectors = encoder.encode(texts)
    query_vectors = encoder.encode(qtexts)
    encode_seconds = time.perf_counter() - t0

    tokenize = _tokenizer()
    token_lists = tokenize(texts)
    vocab: dict[str, int] = {}
    tokens = [np.asarray([vocab.setdefault(t, len(vocab)) for t in doc], dtype=np.int32) for doc in token_lists]
    unigram = np.bincount(np.concatenate(tokens), minlength=len(vocab)).astype(np.float64)
    unigram /= unigram.sum()
    query_tokens = tokenize(qtexts)

    sims = vectors @ vectors.T
    np.fill_diagonal(sims, -1)
    neighbours = np.argpartition(-sims, 32, axis=1)[:, :32]
    return Base(vectors, tokens, vocab, unigram, neighbours, query_vectors, query_tokens, qtexts, encode_seconds)


def _tokenizer():
    """The engine's own BM25 tokenizer (embeddings.lexical) if present, else bm25s's with a stemmer."""
    try:
        from embeddings.lexical import default_stopwords, tokenize_with

        stopwords = frozenset(default_stopwords())
        return lambda texts: tokenize_with(texts, stopwords)
    except ImportError:
        import bm25s
        import Stemmer

        stemmer = Stemmer.Stemmer("english")
        return lambda texts: bm25s.tokenize(texts, stopwords="en", stemmer=stemmer, return_ids=False,
                                            show_progress=False)


# ---------------------------------------------------------------- the synthetic corpus

def noise_basis(real: np.ndarray) -> np.ndarray:
    """A matrix L with z @ L ~ N(0, Σ) for Σ the real vectors' covariance."""
    _, s, vt = np.linalg.svd(real - real.mean(axis=0), full_matrices=False)
    return ((s[:, None] / np.sqrt(len(real))) * vt).astype(np.float32)


def synth_vectors(base: Base, n: int, seed: int = 1, noise: float = 0.6, block: int = 100_000):
    """(vectors, parents): w·a + (1-w)·b + noise, a a real vector, b one of its 32 nearest, noise ~ N(0, Σ_real)."""
    rng = np.random.default_rng(seed)
    real = base.vectors
    basis = noise_basis(real)  # anisotropic noise, like the model's embedding space
    out = np.empty((n, real.shape[1]), dtype=np.float32)
    parents = np.empty((n, 2), dtype=np.int64)
    for start in range(0, n, block):
        m = min(block, n - start)
        a = rng.integers(0, len(real), m)
        b = base.neighbours[a, rng.integers(0, base.neighbours.shape[1], m)]
        w = rng.uniform(0.5, 1.0, (m, 1)).astype(np.float32)
        v = rng.standard_normal((m, basis.shape[0]), dtype=np.float32) @ basis
        v *= noise
        v += w * real[a]
        v += (1 - w) * real[b]
        v /= np.linalg.norm(v, axis=1, keepdims=True)
        out[start : start + m] = v
        parents[start : start + m, 0], parents[start : start + m, 1] = a, b
    return out, parents


TAIL_VOCAB = 200_000


def synth_tokens(base: Base, parents: np.ndarray, seed: int = 2) -> tuple[list[list[int]], dict[str, int]]:
    """Per passage: parent a's stems, half of b's, 10-45 more seed stems drawn by frequency, and 10-45
    from a Zipf tail of 200k made-up terms (names, numbers: a real corpus's vocabulary is mostly tail).
    Queries use seed words only, so they hit the long posting lists: the pessimistic case."""
    rng = np.random.default_rng(seed)
    n, head = len(parents), len(base.vocab)
    head_len, tail_len = rng.integers(10, 45, n), rng.integers(10, 45, n)
    extra_head = rng.choice(head, size=int(head_len.sum()), p=base.unigram).astype(np.int32)
    extra_tail = (head + (rng.zipf(1.3, size=int(tail_len.sum())) - 1) % TAIL_VOCAB).astype(np.int32)
    hb = np.concatenate([[0], np.cumsum(head_len)])
    tb = np.concatenate([[0], np.cumsum(tail_len)])
    docs = []
    for i in range(n):
        a, b = base.tokens[parents[i, 0]], base.tokens[parents[i, 1]]
        docs.append(np.concatenate([a, b[: len(b) // 2], extra_head[hb[i] : hb[i + 1]],
                                    extra_tail[tb[i] : tb[i + 1]]]).tolist())
    vocab = dict(base.vocab)
    vocab.update((f"~{j}", head + j) for j in range(TAIL_VOCAB))
    return docs, vocab


# ---------------------------------------------------------------- measuring

def rss_bytes() -> int:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def exact_topk(x: np.ndarray, q: np.ndarray, k: int = K, block: int = 200_000) -> np.ndarray:
    """Ground truth with numpy (blocks of the corpus, merged)."""
    best_s = np.full((len(q), 0), -np.inf, dtype=np.float32)
    best_i = np.zeros((len(q), 0), dtype=np.int64)
    for start in range(0, len(x), block):
        s = q @ x[start : start + block].T
        i = np.argpartition(-s, k, axis=1)[:, :k]
        best_s = np.concatenate([best_s, np.take_along_axis(s, i, 1)], axis=1)
        best_i = np.concatenate([best_i, i + start], axis=1)
    order = np.argsort(-best_s, axis=1)[:, :k]
    return np.take_along_axis(best_i, order, 1)


def _cpu_ticks() -> tuple[int, int]:
    """(busy ticks of the whole machine, ticks of this process)."""
    with open("/proc/stat") as fh:
        v = [int(a) for a in fh.readline().split()[1:]]
    own = os.times()
    return sum(v) - v[3] - v[4], int((own.user + own.system) * os.sysconf("SC_CLK_TCK"))


def latencies(fn, queries, limit: int) -> np.ndarray:
    """Milliseconds per query; sets latencies.other_load, the share of the CPUs other processes used
    meanwhile (this machine is shared: anything above ~0.1 inflates the figures)."""
    out = []
    busy0, own0 = _cpu_ticks()
    start = time.time()
    for q in queries[:limit]:
        t0 = time.perf_counter()
        fn(q)
        out.append(time.perf_counter() - t0)
    busy1, own1 = _cpu_ticks()
    capacity = (time.time() - start) * os.sysconf("SC_CLK_TCK") * (os.cpu_count() or 1)
    latencies.other_load = round(max(0.0, ((busy1 - busy0) - (own1 - own0)) / max(capacity, 1)), 3)
    return np.array(out) * 1000


def recall_at_k(found: np.ndarray, truth: np.ndarray) -> float:
    return float(np.mean([len(set(f) & set(t)) / len(t) for f, t in zip(found, truth)]))


def summary(ms: np.ndarray) -> dict:
    return {"p50_ms": round(float(np.percentile(ms, 50)), 3), "p99_ms": round(float(np.percentile(ms, 99)), 3),
            "queries_timed": int(len(ms)), "other_load": latencies.other_load}


def bench_dense(name, x, queries, truth, settings, timed: int, sweep=()) -> dict:
    import faiss

    gc.collect()
    rss0 = rss_bytes()
    t0 = time.perf_counter()
    index = build_vector_index(x, settings)
    build = time.perf_counter() - t0
    rss1 = rss_bytes()
    search(index, queries[:1], K)  # warm up
    ms = latencies(lambda q: search(index, q, K), queries, timed)
    _, found = search(index, queries, K)  # batch: recall only
    row = {"index": name, "kind": index_kind(index), "n": int(index.ntotal), "build_s": round(build, 2),
           "index_bytes": int(faiss.serialize_index(index).nbytes), "rss_delta_bytes": rss1 - rss0,
           **summary(ms), "recall_at_10": round(recall_at_k(found, truth), 4)}
    if hasattr(index, "nlist"):
        row.update(nlist=int(index.nlist), nprobe=int(index.nprobe), nprobe_sweep=[])
        configured = index.nprobe
        for nprobe in sweep:
            index.nprobe = nprobe
            ms = latencies(lambda q: search(index, q, K), queries, min(timed, 300))
            _, found = search(index, queries, K)
            row["nprobe_sweep"].append({"nprobe": nprobe, **summary(ms), "recall_at_10": round(recall_at_k(found, truth), 4)})
        index.nprobe = configured
    if hasattr(index, "hnsw"):
        row.update(M=int(settings.hnsw_m), ef_search=int(index.hnsw.efSearch))
    return row  # the index is freed on return


def bench_bm25(base: Base, parents: np.ndarray, timed: int) -> list[dict]:
    import bm25s

    gc.collect()
    rss0 = rss_bytes()
    t0 = time.perf_counter()
    docs, vocab = synth_tokens(base, parents)
    gen = time.perf_counter() - t0
    n_tokens = sum(len(d) for d in docs)
    t0 = time.perf_counter()
    retriever = bm25s.BM25()
    retriever.index(bm25s.tokenization.Tokenized(ids=docs, vocab=vocab), show_progress=False)
    build = time.perf_counter() - t0
    del docs
    gc.collect()
    rss1 = rss_bytes()
    index_bytes = sum(int(retriever.scores[k].nbytes) for k in ("data", "indices", "indptr"))
    queries = [q for q in base.query_tokens if any(t in retriever.vocab_dict for t in q)]
    ms = latencies(lambda q: retriever.retrieve([q], k=40, show_progress=False, n_threads=0), queries, timed)
    row = {"index": "bm25s", "n": int(retriever.scores["num_docs"]), "tokens": n_tokens, "vocab": len(vocab),
           "tokens_gen_s": round(gen, 2), "build_s": round(build, 2), "index_bytes": index_bytes,
           "rss_delta_bytes": rss1 - rss0, **summary(ms), "k": 40}
    engine_row = _bench_engine_bm25(retriever, vocab, base, timed)
    return [row] + ([engine_row] if engine_row else [])


def _bench_engine_bm25(retriever, vocab: dict[str, int], base: Base, timed: int) -> dict | None:
    """The same arrays queried the way the engine does (embeddings.lexical: numpy, no scipy)."""
    try:
        from embeddings.lexical import LexicalIndex, default_stopwords
    except ImportError:
        return None
    s = retriever.scores
    index = LexicalIndex(s["data"], s["indices"], s["indptr"], vocab, int(s["num_docs"]),
                         frozenset(default_stopwords()))
    texts = [t for t, q in zip(base.query_texts, base.query_tokens) if any(tok in vocab for tok in q)]
    ms = latencies(lambda q: index.search(q, 40), texts, timed)
    return {"index": "bm25-engine", "n": int(s["num_docs"]), "build_s": 0.0,
            "index_bytes": sum(int(s[k].nbytes) for k in ("data", "indices", "indptr")),
            "rss_delta_bytes": 0, **summary(ms), "k": 40, "note": "embeddings.lexical.LexicalIndex.search on bm25s's arrays"}


def passage_texts(base: Base, parents: np.ndarray) -> list[str]:
    """synth_tokens' passages as text for Milvus's analyzer (tail terms spelled t123: one word each)."""
    docs, vocab = synth_tokens(base, parents)
    words = [""] * len(vocab)
    for w, j in vocab.items():
        words[j] = w if not w.startswith("~") else f"t{w[1:]}"
    return [" ".join(words[t] for t in doc) for doc in docs]


def _proc_memory(pid: int) -> dict:
    out = {}
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            if line.startswith(("VmRSS:", "VmHWM:")):
                out[line.split(":")[0]] = int(line.split()[1]) * 1024
    return {"server_rss_bytes": out.get("VmRSS", 0), "server_peak_rss_bytes": out.get("VmHWM", 0)}


MILVUS_NOTE = ("other_load includes the Milvus Lite server process itself (it is not this process); "
               "build_s = publish_s (upserts, indexes declared) + flush_load_s (flush, swap, load)")


def bench_milvus(x: np.ndarray, texts: list[str], base: Base, truth: np.ndarray, cfg, timed: int,
                 workdir: Path, index_type: str) -> list[dict]:
    """The engine's own Milvus publisher and retriever on Milvus Lite 2.5.1, served on loopback: publish
    (upsert in batches with the collection's indexes declared), load, then dense-only queries and the
    retriever's candidates (term look-up, dense 40 and BM25 40 searches returning their passages).
    Memory is the Milvus process's. These passages carry no sentences; benchmarks/serving.py measures
    whole versions."""
    import shutil
    import socket

    from embeddings.index import milvus_backend
    from embeddings.answer.question import Question
    from embeddings.config import load_config
    from embeddings.documents import Document
    from embeddings.retrieval.milvus import MilvusRetriever
    from embeddings.index.store import ChunkRecord, IndexData

    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir(parents=True)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = milvus_backend.serve_lite(workdir / "bench.db", port)
    try:
        config = load_config(env={}, backend__kind="milvus", backend__uri=f"http://127.0.0.1:{port}",
                             backend__collection="bench", backend__timeout_seconds=600,
                             backend__index_type=index_type)
        config = dataclasses.replace(config, index=dataclasses.replace(cfg, exact_max=0))  # index_type as asked
        backend = milvus_backend.MilvusPublisher(config)
        n = len(x)
        doc = Document(doc_id="synthetic", part="", title="synthetic", text="", source_file="synthetic.txt")
        data = IndexData({"version": "20260101T000000000000Z-00000000", "counts": {"chunks": n},
                          "model": {"name": "all-MiniLM-L6-v2", "dimension": int(x.shape[1])}, "chunking": {}},
                         {doc.key: doc}, [ChunkRecord(f"p#{i}", doc.key, doc.doc_id, [], texts[i]) for i in range(n)],
                         [], x, np.zeros((0, x.shape[1]), dtype=np.float32))
        t0 = time.perf_counter()
        entry = data.manifest["backend"] = backend.publish(data, None)
        publish = time.perf_counter() - t0
        t0 = time.perf_counter()
        backend.client.flush(entry["collection"])
        backend.swap(entry)
        retriever = MilvusRetriever(config, data.manifest)
        load = time.perf_counter() - t0
        client, name = backend.client, entry["collection"]
        params = {"metric_type": "IP", "params": retriever.params}

        def dense(qv):
            return client.search(name, data=[qv.tolist()], anns_field="vector", limit=K, search_params=params)

        dense(base.query_vectors[0])  # warm up
        ms = latencies(dense, list(base.query_vectors), timed)
        found = [[int(h["id"][2:]) for h in dense(qv)[0]] for qv in base.query_vectors]
        memory = _proc_memory(server._p.pid)
        rows = [{"index": f"milvus-{entry['index_type'].lower()}", "kind": "dense", "n": n,
                 "publish_s": round(publish, 2), "flush_load_s": round(load, 2),
                 "build_s": round(publish + load, 2), "index_bytes": 0, "rss_delta_bytes": 0,
                 **summary(ms), "recall_at_10": round(recall_at_k(found, truth), 4), **memory,
                 "params": retriever.params, "note": MILVUS_NOTE}]
        pairs = list(zip(base.query_vectors, base.query_texts))
        ms = latencies(lambda p: retriever.candidates(Question.make(p[1], p[0], retriever.lexicon), 40), pairs, timed)
        rows.append({"index": f"milvus-hybrid-{entry['index_type'].lower()}",
                     "kind": "MilvusRetriever.candidates: terms, dense 40 + BM25 40 with their passages", "n": n,
                     "build_s": 0.0, "index_bytes": 0, "rss_delta_bytes": 0, **summary(ms),
                     **_proc_memory(server._p.pid), "note": MILVUS_NOTE})
        return rows
    finally:
        server.stop()
        shutil.rmtree(workdir, ignore_errors=True)


def run(args) -> dict:
    import faiss

    cfg = load_config().index
    started = time.perf_counter()
    base = make_base(args.generated, args.queries)
    print(f"encoded {len(base.vectors)} base texts and {len(base.query_vectors)} queries "
          f"in {base.encode_seconds:.1f}s", file=sys.stderr)
    results = {"machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "faiss": faiss.__version__,
                           "numpy": np.__version__},
               "config_index": dataclasses.asdict(cfg), "base_texts": len(base.vectors),
               "queries": len(base.query_vectors), "base_encode_s": round(base.encode_seconds, 1), "sizes": {}}
    q = base.query_vectors
    for n in args.sizes:
        t_size = time.perf_counter()
        x, parents = synth_vectors(base, n)
        t0 = time.perf_counter()
        truth = exact_topk(x, q)
        truth_s = time.perf_counter() - t0
        top1 = np.sort((q * x[truth[:, 0]]).sum(axis=1))
        rows = []
        exact = dataclasses.replace(cfg, exact_max=n)
        rows.append(bench_dense("exact", x, q, truth, exact, args.exact_timed))
        print(_fmt(n, rows[-1]), file=sys.stderr)
        for ann in args.ann:
            if ann == "hnsw" and n > args.hnsw_max:
                continue
            settings = dataclasses.replace(cfg, exact_max=0, ann=ann)
            rows.append(bench_dense(ann, x, q, truth, settings, args.timed, args.nprobe_sweep if ann == "ivf" else ()))
            print(_fmt(n, rows[-1]), file=sys.stderr)
        if args.milvus:
            t0 = time.perf_counter()
            texts = passage_texts(base, parents)
            print(f"{n:>9,} passage texts for Milvus in {time.perf_counter() - t0:.1f}s", file=sys.stderr)
            for index_type in args.milvus_index:
                timed = args.exact_timed if index_type == "FLAT" else args.timed
                for row in bench_milvus(x, texts, base, truth, cfg, timed, args.milvus_dir, index_type):
                    rows.append(row)
                    print(_fmt(n, row), file=sys.stderr)
            del texts
        del x
        gc.collect()
        for row in bench_bm25(base, parents, args.bm25_timed):
            rows.append(row)
            print(_fmt(n, row), file=sys.stderr)
        results["sizes"][str(n)] = {
            "rows": rows, "ground_truth_s": round(truth_s, 2), "seconds": round(time.perf_counter() - t_size, 1),
            "query_top1_cosine": {"p10": float(top1[len(top1) // 10]), "p50": float(np.median(top1)),
                                  "p90": float(top1[9 * len(top1) // 10])},
        }
    results["total_s"] = round(time.perf_counter() - started, 1)
    return results


def _fmt(n, r) -> str:
    extra = f"recall@10 {r['recall_at_10']:.3f}" if "recall_at_10" in r else f"tokens {r.get('tokens', '-')}"
    return (f"{n:>9,} {r['index']:<11} build {r['build_s']:>8.2f}s  p50 {r['p50_ms']:>8.2f}ms  "
            f"p99 {r['p99_ms']:>8.2f}ms  {extra}  index {r['index_bytes'] / 2**20:,.0f} MiB  "
            f"rss +{r['rss_delta_bytes'] / 2**20:,.0f} MiB  other-load {r['other_load']}")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "scale.json")
    parser.add_argument("--generated", type=int, default=8000, help="generated sentences encoded for real")
    parser.add_argument("--queries", type=int, default=1000, help="queries (recall is measured on all)")
    parser.add_argument("--timed", type=int, default=1000, help="queries timed one by one (ANN)")
    parser.add_argument("--exact-timed", type=int, default=100, help="queries timed one by one (exact)")
    parser.add_argument("--bm25-timed", type=int, default=300)
    parser.add_argument("--ann", nargs="*", default=["ivf", "hnsw"], choices=["ivf", "hnsw"])
    parser.add_argument("--nprobe-sweep", type=int, nargs="*", default=[16, 32, 48, 96, 128])
    parser.add_argument("--milvus", action="store_true", help="also the Milvus backend on Milvus Lite (IVF_FLAT above exact_max)")
    parser.add_argument("--milvus-index", nargs="+", default=["IVF_FLAT", "FLAT"], choices=["IVF_FLAT", "FLAT", "AUTOINDEX"])
    parser.add_argument("--milvus-dir", type=Path, default=Path("/tmp/casebot-bench-milvus"), help="scratch folder for its file")
    parser.add_argument("--hnsw-max", type=int, default=200_000, help="skip HNSW above this size (slow build)")
    args = parser.parse_args(argv)
    results = run(args)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print(table(results))
    print(f"wrote {args.out}", file=sys.stderr)
    return 0


def table(results: dict) -> str:
    lines = ["others: share of the 2 CPUs used by other processes while timing (the machine is shared)",
             f"{'n':>9} {'index':<11} {'build s':>8} {'p50 ms':>8} {'p99 ms':>8} {'recall@10':>9} "
             f"{'index MiB':>9} {'RSS+ MiB':>8} {'others':>6}"]
    for n, size in results["sizes"].items():
        for r in size["rows"]:
            rec = f"{r['recall_at_10']:.4f}" if "recall_at_10" in r else "-"
            lines.append(f"{int(n):>9,} {r['index']:<11} {r['build_s']:>8.2f} {r['p50_ms']:>8.2f} {r['p99_ms']:>8.2f} "
                         f"{rec:>9} {r['index_bytes'] / 2**20:>9,.0f} {r['rss_delta_bytes'] / 2**20:>8,.0f} "
                         f"{r['other_load']:>6.2f}")
            for sw in r.get("nprobe_sweep", []):
                lines.append(f"{'':>9}  nprobe={sw['nprobe']:<3} {'':>10} {sw['p50_ms']:>8.2f} {sw['p99_ms']:>8.2f} "
                             f"{sw['recall_at_10']:>9.4f} {'':>9} {'':>8} {sw['other_load']:>6.2f}")
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
