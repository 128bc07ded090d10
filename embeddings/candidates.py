"""Candidate sentences: every quotable sentence of the top passages, scored for the question.

A sentence's score blends its own similarity to the question (vectors computed at index time), the
fused score of the passage around it, IDF-weighted coverage of the question's subject words, and
whether it holds the kind of answer asked for. Its *evidence* leaves out what is only relative to
this question's other candidates, so a question about nothing in the documents scores low there.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from embeddings.answer_type import has_type
from embeddings.config import AnswerSettings
from embeddings.question import Question
from embeddings.search import Hit
from embeddings.store import IndexData


@dataclass
class Scored:
    sid: int            # sentence row
    row: int            # chunk row it was found in
    rank: int           # rank of that chunk among hits
    cosine: float
    coverage: float
    score: float        # ranks sentences for the answer
    evidence: float     # how well the sentence supports an answer at all


def score_sentences(data: IndexData, hits: list[Hit], q: Question, s: AnswerSettings) -> list[Scored]:
    """The candidate sentences, best first."""
    weights = data.bm25.idf(sorted(q.terms)) if q.terms else {}
    total = sum(weights.values())
    rows: list[tuple[int, Hit, int]] = []
    seen: set[int] = set()
    for rank, hit in enumerate(hits[: s.sentence_pool]):
        for sid in data.chunks[hit.row].sentence_ids:
            if sid not in seen and len(data.sentences[sid].text.split()) >= s.min_quote_words:
                seen.add(sid)
                rows.append((sid, hit, rank))
    if not rows:
        return []
    cosines = data.sentence_vectors[np.array([r[0] for r in rows])] @ q.vector
    out = []
    for (sid, hit, rank), cosine in zip(rows, cosines.tolist()):
        own = q.terms & data.sentence_terms(sid)
        ctx = (q.terms & data.context_terms(hit.row)) - own
        coverage = (sum(weights[t] for t in own) + s.context_share * sum(weights[t] for t in ctx)) / total if total else 0.0
        similarity = s.sentence_share * cosine + (1 - s.sentence_share) * hit.fused
        score = similarity + s.term_weight * coverage + s.rank_weight / (1 + rank)
        if has_type(data.sentences[sid].text, q.kind, q.text):
            score += s.type_bonus
        evidence = s.sentence_share * cosine + (1 - s.sentence_share) * hit.dense + s.term_weight * coverage
        if q.terms and own == q.terms:
            # Every subject word of the question is in this very sentence ("Who is Warren
            # Driechel?"): strong evidence even where the model knows too little of a name.
            evidence += s.full_match_bonus
        out.append(Scored(sid, hit.row, rank, cosine, coverage, score, evidence))
    out.sort(key=lambda c: -c.score)
    return out


def is_title(data: IndexData, c: Scored) -> bool:
    sentence = data.sentences[c.sid]
    return sentence.text == " ".join(data.documents[sentence.doc_key].title.split())


def near_duplicate(candidate: str, kept: str) -> bool:
    """The candidate adds little: most of its words are already in a kept sentence
    (syndicated copies of one wire story, a title repeated in its excerpt)."""
    words = set(candidate.lower().split())
    return len(words - set(kept.lower().split())) / max(1, len(words)) < 0.3
