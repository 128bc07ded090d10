"""Candidate sentences: every quotable sentence of the top passages, scored for the question.

A sentence's score blends its own similarity to the question (vectors computed at index time), the
fused score of the passage around it, IDF-weighted coverage of the question's subject words, and
whether it holds the kind of answer asked for. Its *evidence* leaves out what is only relative to
this question's other candidates, so a question about nothing in the documents scores low there.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable

import numpy as np

from embeddings.answer.question import Question
from embeddings.config import AnswerSettings, choose
from embeddings.retrieval.fusion import Hit
from embeddings.passages import PassageReading

_MONTHS = r"(?:January|February|March|April|May|June|July|August|September|October|November|December)"
_DAYS = r"(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday)"
_NUMBER_WORDS = r"(?:one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|dozens?|hundreds?|thousands?|millions?|billions?)"

# The words of each kind of answer (a question's kind: embeddings/answer/question.py).
KINDS = {
    "date": re.compile(rf"\b(?:{_MONTHS}|{_DAYS}|(?:19|20)\d\d|yesterday|today|last (?:year|week|month))\b"),
    "number": re.compile(rf"\d|\b{_NUMBER_WORDS}\b", re.IGNORECASE),
    "duration": re.compile(rf"\b(?:\d+|{_NUMBER_WORDS})[- ](?:years?|months?|weeks?|days?)\b", re.IGNORECASE),
    "court": re.compile(r"\b(?:[Cc]ourt|District|Circuit|County)\b"),
    "money": re.compile(r"[$€£]\s?\d|\b\d[\d,.]*\s*(?:dollars|million|billion)\b", re.IGNORECASE),
    "person": re.compile(r"(?<![.!?]\s)(?<!^)\b[A-Z][a-z]+(?:\s[A-Z]\.)?\s[A-Z][a-z]+(?:-[A-Z][a-z]+)?\b"),
    "place": re.compile(r"\b(?:in|at|from) (?:the )?[A-Z][a-z]+"),
    "law": re.compile(r"\b(?:Act|Law|law|statute|BIPA|GDPR|regulation)\b"),
}


def has_kind(sentence: str, kind: str | None, question: str) -> bool:
    """True if the sentence holds words of that kind that the question itself does not."""
    if kind is None:
        return False
    found = {m.group(0).lower() for m in KINDS[kind].finditer(sentence)}
    asked = {m.group(0).lower() for m in KINDS[kind].finditer(question)}
    return bool(found - asked)


@dataclass(frozen=True)
class Scored:
    sid: int            # sentence row
    row: int            # chunk row it was found in
    rank: int           # rank of that chunk among hits
    cosine: float
    coverage: float
    score: float        # ranks sentences for the answer
    evidence: float     # how well the sentence supports an answer at all
    holds_kind: bool    # it holds words of the kind the question asks for (has_kind)
    judge: float | None  # the judge's logit that it states the answer (embeddings/answer/judge.py); None: not judged


def score_sentences(data: PassageReading, hits: list[Hit], q: Question, s: AnswerSettings) -> list[Scored]:
    """The candidate sentences, best first: the "extractive" scorer."""
    weights = data.lexicon.idf(sorted(q.terms)) if q.terms else {}
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
        holds_kind = has_kind(data.sentences[sid].text, q.kind, q.text)
        if holds_kind:
            score += s.type_bonus
        evidence = s.sentence_share * cosine + (1 - s.sentence_share) * hit.dense + s.term_weight * coverage
        if q.terms and own == q.terms:
            # Every subject word of the question is in this very sentence ("Who is Warren
            # Driechel?"): strong evidence even where the model knows too little of a name.
            evidence += s.full_match_bonus
        out.append(Scored(sid, hit.row, rank, cosine, coverage, score, evidence, holds_kind, None))
    out.sort(key=lambda c: -c.score)
    return out


def is_title(data: PassageReading, c: Scored) -> bool:
    sentence = data.sentences[c.sid]
    return sentence.text == " ".join(data.documents[sentence.doc_key].title.split())


def near_duplicate(candidate: str, kept: str, share: float) -> bool:
    """The candidate adds little: less than ``share`` of its words are new to a kept sentence
    (syndicated copies of one wire story, a title repeated in its excerpt)."""
    words = set(candidate.lower().split())
    return len(words - set(kept.lower().split())) / max(1, len(words)) < share


# Scorers by name ([decision] scorer): each gives the candidate sentences of the hits, best first.
Scorer = Callable[[PassageReading, list[Hit], Question, AnswerSettings], list[Scored]]
SCORERS: dict[str, Scorer] = {"extractive": score_sentences}


def score(data: PassageReading, hits: list[Hit], q: Question, s: AnswerSettings, scorer: str) -> list[Scored]:
    """The candidate stage: the configured scorer over the retrieved passages."""
    return choose(SCORERS, scorer, "[decision] scorer")(data, hits, q, s)
