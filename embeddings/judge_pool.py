"""The sentences the judge reads for a question: every quotable sentence of the top ``passages``
retrieved passages, best ``sentences`` by the extractive score."""

from __future__ import annotations

from dataclasses import dataclass, replace

from embeddings.candidates import Scored, score_sentences
from embeddings.question import Question
from embeddings.search import Hit, hybrid_search


@dataclass(frozen=True)
class Pool:
    question: Question
    hits: list[Hit]
    scored: list[Scored]       # the extractive candidates, as today (sentence_pool passages)
    candidates: list[Scored]   # what the judge reads


def judge_pool(engine, text: str, passages: int = 20, sentences: int = 12) -> Pool:
    text = " ".join(text.split())
    data = engine.data
    qvec = engine.query_encoder.encode_query(text)
    hits = hybrid_search(data, qvec, text, engine.config.retrieval)
    q = Question.make(text, qvec, data)
    s = engine.config.answer
    scored = score_sentences(data, hits, q, s)
    deep = score_sentences(data, hits, q, replace(s, sentence_pool=passages))
    return Pool(q, hits, scored, deep[:sentences])
