"""Hybrid retrieval: dense and lexical (BM25) candidates, fused by score.

The union of both candidate lists is scored ``dense_weight * cosine + lexical_weight * bm25 / max
bm25``: a convex combination of normalized scores keeps how strongly each side matched, which
reciprocal-rank fusion throws away (on a small corpus every RRF score is nearly the same).

Where the candidates come from is the version's search backend (embeddings/backend.py): the FAISS
and BM25 files loaded with it, or a Milvus collection. Either way the candidates are scored here with
the same formula, so both backends rank a candidate identically."""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from embeddings import vector_index
from embeddings.answer.question import Question
from embeddings.config import Retrieval
from embeddings.store import IndexData


@dataclass
class Hit:
    row: int            # chunk row in the index
    fused: float        # dense_weight * cosine + lexical_weight * normalized BM25
    dense: float        # cosine of the chunk to the question
    lexical: float      # BM25 score (0 when the chunk shares no term with the question)


def hybrid_search(data: IndexData, question: Question, settings: Retrieval,
                  timings: dict | None = None) -> list[Hit]:
    """Fused hits for the question value (its text and vector), best first; ``timings`` (if given)
    receives "vector" and "lexical" milliseconds."""
    if not data.chunks:
        return []
    if data.searcher is not None:
        return data.searcher.search(data, question.vector, question.text, settings, timings)
    return local_search(data, question.vector, question.text, settings, timings)


def local_search(data: IndexData, qvec: np.ndarray, question: str, settings: Retrieval,
                 timings: dict | None = None) -> list[Hit]:
    """Candidates from the version's own FAISS index (exact numpy over its vectors without one) and BM25."""
    depth = min(settings.candidates, len(data.chunks))
    t0 = time.perf_counter()
    if data.faiss_index is not None:
        _, dense_ids = vector_index.search(data.faiss_index, qvec, depth)
        dense_ids = [int(i) for i in dense_ids[0] if i >= 0]
    else:
        dense_ids = exact_top(data.vectors, qvec, depth)
    t1 = time.perf_counter()
    lex = lexical_candidates(data, question, depth)
    t2 = time.perf_counter()
    if timings is not None:
        timings["vector"] = (t1 - t0) * 1e3
        timings["lexical"] = (t2 - t1) * 1e3
    return fuse(data, qvec, set(dense_ids) | set(lex), lex, settings)


def exact_top(vectors: np.ndarray, qvec: np.ndarray, k: int) -> list[int]:
    scores = vectors @ qvec.astype(np.float32)
    top = np.argpartition(-scores, k - 1)[:k] if k < len(scores) else np.arange(len(scores))
    return [int(i) for i in top[np.argsort(-scores[top], kind="stable")]]


def lexical_candidates(data: IndexData, question: str, depth: int) -> dict[int, float]:
    """Row -> BM25 score of the top ``depth`` chunks that share a term with the question."""
    lex_ids, lex_scores = data.bm25.search(question, depth)
    return dict(zip(lex_ids.tolist(), lex_scores.tolist()))


def fuse(data: IndexData, qvec: np.ndarray, candidates: set[int], lex: dict[int, float],
         settings: Retrieval) -> list[Hit]:
    """Score candidate rows: exact cosine from the version's vectors, BM25 from ``lex`` (0 if absent)."""
    if not candidates:
        return []
    top_lex = max(lex.values(), default=0.0) or 1.0
    rows = np.array(sorted(candidates), dtype=np.int64)
    cosines = data.vectors[rows] @ qvec.astype(np.float32)
    hits = []
    for r, c in zip(rows.tolist(), cosines.tolist()):
        lexical_score = lex.get(r, 0.0)
        fused = settings.dense_weight * c + settings.lexical_weight * lexical_score / top_lex
        hits.append(Hit(r, fused, c, lexical_score))
    hits.sort(key=lambda h: (-h.fused, -h.dense))
    return hits
