"""Hybrid scoring: dense and lexical (BM25) candidates, fused by score.

The union of both candidate lists is scored ``dense_weight * cosine + lexical_weight * bm25 / max
bm25``: a convex combination of normalized scores keeps how strongly each side matched, which
reciprocal-rank fusion throws away (on a small corpus every RRF score is nearly the same). Every
retriever scores its candidates here, so a passage ranks identically whoever found it."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from embeddings.config import Retrieval


@dataclass(frozen=True)
class Hit:
    row: int            # the passage's row in the passages the answer stage reads
    fused: float        # dense_weight * cosine + lexical_weight * normalized BM25
    dense: float        # cosine of the chunk to the question
    lexical: float      # BM25 score (0 when the chunk shares no term with the question)


def fuse(vectors: np.ndarray, qvec: np.ndarray, candidates: set[int], lex: dict[int, float],
         settings: Retrieval) -> list[Hit]:
    """Score candidate rows: exact cosine from ``vectors`` (row i = passage i), BM25 from ``lex``
    (0 where absent); best first."""
    if not candidates:
        return []
    top_lex = max(lex.values(), default=0.0) or 1.0
    rows = np.array(sorted(candidates), dtype=np.int64)
    cosines = vectors[rows] @ qvec.astype(np.float32)
    hits = []
    for r, c in zip(rows.tolist(), cosines.tolist()):
        lexical_score = lex.get(r, 0.0)
        fused = settings.dense_weight * c + settings.lexical_weight * lexical_score / top_lex
        hits.append(Hit(r, fused, c, lexical_score))
    hits.sort(key=lambda h: (-h.fused, -h.dense))
    return hits
