"""Retrieval from a version loaded in this process: its FAISS index (exact numpy over its vectors
without one) and its BM25 arrays. The hits' rows are the version's own rows."""

from __future__ import annotations

import time

import numpy as np

from embeddings.answer.question import Question
from embeddings.config import Retrieval
from embeddings.index import vector_index
from embeddings.index.store import IndexData
from embeddings.retrieval.fusion import Hit, fuse
from embeddings.retrieval.protocol import Retrieved


class LocalRetriever:
    """FAISS mode: the whole version is in memory, and it is its own passage set."""

    kind = "faiss"

    def __init__(self, data: IndexData, settings: Retrieval):
        self.data = data
        self.settings = settings

    @property
    def version(self) -> str:
        return self.data.version

    @property
    def lexicon(self):
        return self.data.lexicon

    def documents(self) -> list:
        return list(self.data.documents.values())

    def candidates(self, question: Question, depth: int, timings: dict | None = None) -> Retrieved:
        return Retrieved(self.data, hybrid_search(self.data, question, self.settings, timings, depth))


def hybrid_search(data: IndexData, question: Question, settings: Retrieval, timings: dict | None = None,
                  depth: int | None = None) -> list[Hit]:
    """Fused hits over a loaded version, best first (``depth``: dense and BM25 candidates each,
    ``[retrieval] candidates`` by default); ``timings`` (if given) receives "vector" and "lexical" ms."""
    if not data.chunks:
        return []
    depth = min(settings.candidates if depth is None else depth, len(data.chunks))
    t0 = time.perf_counter()
    if data.faiss_index is not None:
        _, dense_ids = vector_index.search(data.faiss_index, question.vector, depth)
        dense_ids = [int(i) for i in dense_ids[0] if i >= 0]
    else:
        dense_ids = exact_top(data.vectors, question.vector, depth)
    t1 = time.perf_counter()
    lex_ids, lex_scores = data.bm25.search(question.text, depth)
    lex = dict(zip(lex_ids.tolist(), lex_scores.tolist()))
    t2 = time.perf_counter()
    if timings is not None:
        timings["vector"] = (t1 - t0) * 1e3
        timings["lexical"] = (t2 - t1) * 1e3
    return fuse(data.vectors, question.vector, set(dense_ids) | set(lex), lex, settings)


def exact_top(vectors: np.ndarray, qvec: np.ndarray, k: int) -> list[int]:
    scores = vectors @ qvec.astype(np.float32)
    top = np.argpartition(-scores, k - 1)[:k] if k < len(scores) else np.arange(len(scores))
    return [int(i) for i in top[np.argsort(-scores[top], kind="stable")]]
