"""Hybrid retrieval: dense (FAISS) and lexical (BM25) candidates, fused by score.

The union of both candidate lists is scored ``dense_weight * cosine + lexical_weight * bm25 / max
bm25``: a convex combination of normalized scores keeps how strongly each side matched, which
reciprocal-rank fusion throws away (on a small corpus every RRF score is nearly the same)."""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from embeddings import vector_index
from embeddings.config import Retrieval
from embeddings.store import IndexData


@dataclass
class Hit:
    row: int            # chunk row in the index
    fused: float        # dense_weight * cosine + lexical_weight * normalized BM25
    dense: float        # cosine of the chunk to the question
    lexical: float      # BM25 score (0 when the chunk shares no term with the question)


def hybrid_search(data: IndexData, qvec: np.ndarray, question: str, settings: Retrieval,
                  timings: dict | None = None) -> list[Hit]:
    """Fused hits, best first; ``timings`` (if given) receives "vector" and "lexical" milliseconds."""
    n = len(data.chunks)
    if n == 0:
        return []
    depth = min(settings.candidates, n)
    t0 = time.perf_counter()
    _, dense_ids = vector_index.search(data.faiss_index, qvec, depth)
    dense_ids = [int(i) for i in dense_ids[0] if i >= 0]
    t1 = time.perf_counter()
    lex_ids, lex_scores = data.bm25.search(question, depth)
    t2 = time.perf_counter()
    if timings is not None:
        timings["vector"] = (t1 - t0) * 1e3
        timings["lexical"] = (t2 - t1) * 1e3
    lex = dict(zip(lex_ids.tolist(), lex_scores.tolist()))
    top_lex = max(lex.values(), default=0.0) or 1.0
    rows = np.array(sorted(set(dense_ids) | set(lex)), dtype=np.int64)
    cosines = data.vectors[rows] @ qvec.astype(np.float32)
    hits = []
    for r, c in zip(rows.tolist(), cosines.tolist()):
        lexical_score = lex.get(r, 0.0)
        fused = settings.dense_weight * c + settings.lexical_weight * lexical_score / top_lex
        hits.append(Hit(r, fused, c, lexical_score))
    hits.sort(key=lambda h: (-h.fused, -h.dense))
    return hits
