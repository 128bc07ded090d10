"""Extractive answers: the sentences of the retrieved passages that answer the question, each cited.

No language model runs here, so every word of an answer is a quoted sentence of a seed. Sentences
are scored by their own similarity to the question (vectors computed at index time), the fused
score of the passage around them, IDF-weighted coverage of the question's subject words, and
whether they hold the kind of answer asked for. A question is declined when too many of its words
occur in no document, when even the best sentence is weak evidence, or when no close sentence holds
the kind of answer asked for; the nearest passages are still returned.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from embeddings.answer_type import expected_type, has_type
from embeddings.config import AnswerSettings
from embeddings.results import Answer, Citation, Passage
from embeddings.search import Hit
from embeddings.store import IndexData

SENTENCE_POOL = 8          # passages whose sentences compete for the answer
TERM_WEIGHT = 0.35         # weight of question-term coverage next to cosine similarity
RANK_WEIGHT = 0.05         # small preference for sentences in higher-ranked passages
SENTENCE_SHARE = 0.4       # sentence cosine vs. the fused score of the passage around it (context)
CONTEXT_SHARE = 0.5        # a question term found only in the passage's outlet/date/title counts half
TYPE_BONUS = 0.15          # the sentence holds the kind of words the question asks for
RUNNER_UP_MARGIN = 0.25    # a further sentence is quoted only if it scores this close to the best
TYPE_SEARCH_DEPTH = 6      # how far down the ranking to look for a sentence of the asked-for kind
TYPE_MARGIN = 0.25
TITLE_MARGIN = 0.05        # a headline beside better sentences adds little: quote it only if nearly best
CONFLICT_MIN_COSINE = 0.2  # a sentence with a differing figure must still be about the question
UNKNOWN_SHARE_DECLINE = 0.4  # decline when this share of the question's words occurs in no document...
UNKNOWN_MIN_WORDS = 3        # ...and at least this many (two paraphrased words are not a missing topic)
FULL_MATCH_BONUS = 0.1     # evidence bonus for a sentence holding all of the question's subject words
MIN_QUOTE_WORDS = 4        # fragments shorter than this are not worth quoting on their own
DECLINE_TEXT = "The documents I have don't cover this question."

_FIGURE = re.compile(r"(?:\$\s?)?\b\d[\d,.]*\s*(?:billion|million|thousand|percent|%)?", re.IGNORECASE)
_SCALE = re.compile(r"\b(billion|million|thousand)\b", re.IGNORECASE)


@dataclass
class Scored:
    sid: int            # sentence row
    row: int            # chunk row it was found in
    rank: int           # rank of that chunk among hits
    cosine: float
    coverage: float
    score: float        # ranks sentences for the answer
    evidence: float     # how well the sentence supports an answer at all; compared with decline_below


def score_sentences(data: IndexData, hits: list[Hit], qvec: np.ndarray, question: str,
                    q_terms: set[str]) -> list[Scored]:
    """Blend of sentence and passage similarity, weighted term coverage, and answer-type fit."""
    weights = data.bm25.idf(sorted(q_terms)) if q_terms else {}
    total = sum(weights.values())
    kind = expected_type(question)
    rows: list[tuple[int, Hit, int]] = []
    seen: set[int] = set()
    for rank, hit in enumerate(hits[:SENTENCE_POOL]):
        for sid in data.chunks[hit.row].sentence_ids:
            if sid not in seen and len(data.sentences[sid].text.split()) >= MIN_QUOTE_WORDS:
                seen.add(sid)
                rows.append((sid, hit, rank))
    if not rows:
        return []
    sids = np.array([r[0] for r in rows])
    cosines = data.sentence_vectors[sids] @ qvec
    out = []
    for (sid, hit, rank), cosine in zip(rows, cosines.tolist()):
        toks = data.sentence_terms(sid)
        own = q_terms & toks
        ctx = (q_terms & data.context_terms(hit.row)) - own
        coverage = (sum(weights[t] for t in own) + CONTEXT_SHARE * sum(weights[t] for t in ctx)) / total if total else 0.0
        similarity = SENTENCE_SHARE * cosine + (1 - SENTENCE_SHARE) * hit.fused
        score = similarity + TERM_WEIGHT * coverage + RANK_WEIGHT / (1 + rank)
        if has_type(data.sentences[sid].text, kind, question):
            score += TYPE_BONUS
        # Evidence leaves out what is relative to this question's candidates (normalized BM25,
        # rank, answer type): a question about nothing in the documents must score low here.
        evidence = SENTENCE_SHARE * cosine + (1 - SENTENCE_SHARE) * hit.dense + TERM_WEIGHT * coverage
        if q_terms and own == q_terms:
            # Every subject word of the question is in this very sentence ("Who is Warren
            # Driechel?"): strong evidence even where the model knows too little of a name.
            evidence += FULL_MATCH_BONUS
        out.append(Scored(sid, hit.row, rank, cosine, coverage, score, evidence))
    out.sort(key=lambda s: -s.score)
    return out


def _is_title(data: IndexData, s: Scored) -> bool:
    sentence = data.sentences[s.sid]
    return sentence.text == " ".join(data.documents[sentence.doc_key].title.split())


def _pick(data: IndexData, scored: list[Scored], settings: AnswerSettings) -> list[Scored]:
    """The best sentence, plus close runners-up that add something."""
    best = scored[0]
    picked = [best]
    for s in scored[1:]:
        if len(picked) >= settings.max_sentences:
            break
        text = data.sentences[s.sid].text
        if s.evidence < settings.decline_below - 0.1 or s.score < best.score - RUNNER_UP_MARGIN:
            continue
        if _is_title(data, s) and s.score < best.score - TITLE_MARGIN:
            continue
        if any(_near_duplicate(text, data.sentences[p.sid].text) for p in picked):
            continue
        picked.append(s)
    return picked


def _scaled_figures(text: str) -> dict[str, set[str]]:
    """{"billion": {"20 billion"}, ...}: the figures of a sentence that carry a scale word."""
    out: dict[str, set[str]] = {}
    for m in _FIGURE.finditer(text):
        scale = _SCALE.search(m.group(0))
        if scale and any(ch.isdigit() for ch in m.group(0)):
            out.setdefault(scale.group(1).lower(), set()).add(" ".join(m.group(0).split()))
    return out


def _conflicting_figure(data: IndexData, hits: list[Hit], qvec: np.ndarray, question: str,
                        q_terms: set[str], picked: list[Scored]) -> tuple[Scored, str] | None:
    """Another source giving a different figure of the same scale for what the answer quotes
    (20 billion photos in one article, 3 billion people in another): (its sentence, a note)."""
    best = picked[0]
    best_text = data.sentences[best.sid].text
    best_figures = _scaled_figures(best_text)
    if not best_figures:
        return None
    # Only the same subject counts: a figure about another company or case is no disagreement.
    names = _names(question)
    if not names:
        return None
    picked_docs = {data.sentences[p.sid].doc_key for p in picked}
    found: Scored | None = None
    found_figures: set[str] = set()
    for rank, hit in enumerate(hits):
        for sid in data.chunks[hit.row].sentence_ids:
            sentence = data.sentences[sid]
            if sentence.doc_key in picked_docs:
                continue
            figures = _scaled_figures(sentence.text)
            shared = [k for k in figures if k in best_figures and figures[k] != best_figures[k]]
            if not shared or not q_terms & data.sentence_terms(sid):
                continue
            if not any(n in sentence.text.lower() for n in names):
                continue
            cosine = float(data.sentence_vectors[sid] @ qvec)
            if cosine >= CONFLICT_MIN_COSINE and (found is None or cosine > found.cosine):
                found = Scored(sid, hit.row, rank, cosine, 0.0, cosine, cosine)
                scale, found_figures = shared[0], figures[shared[0]]
    if found is None:
        return None
    return found, (f"Sources give different figures: {_source_figure(data, best.sid, best_figures[scale])} and "
                   f"{_source_figure(data, found.sid, found_figures)}. Check their dates.")


def _names(question: str) -> set[str]:
    """Capitalized words of the question past its first word ("Clearview", "Granite"), lower-cased."""
    words = re.findall(r"\b[A-Z][\w-]+", question)
    if question[:1].isupper():
        words = words[1:]  # a capital that only opens the sentence names nothing
    return {w.lower().removesuffix("'s") for w in words}


def _source_figure(data: IndexData, sid: int, figures: set[str]) -> str:
    doc = data.documents[data.sentences[sid].doc_key]
    where = ", ".join(p for p in (doc.outlet, doc.published) if p) or f"{doc.doc_id}, undated"
    return f"{' / '.join(sorted(figures))} ({where})"


def _near_duplicate(candidate: str, kept: str) -> bool:
    """The candidate adds little: most of its words are already in a kept sentence
    (syndicated copies of one wire story, a title repeated in its excerpt)."""
    words = set(candidate.lower().split())
    return len(words - set(kept.lower().split())) / max(1, len(words)) < 0.3


def _order(data: IndexData, picked: list[Scored]) -> list[Scored]:
    """Readable order: documents in order of their best sentence, sentences in text order within one."""
    doc_rank: dict[str, int] = {}
    for s in picked:
        doc_rank.setdefault(data.sentences[s.sid].doc_key, len(doc_rank))
    return sorted(picked, key=lambda s: (doc_rank[data.sentences[s.sid].doc_key], s.sid))


def passages_for(data: IndexData, hits: list[Hit], top_k: int) -> list[Passage]:
    out = []
    for rank, hit in enumerate(hits[:top_k], start=1):
        chunk = data.chunks[hit.row]
        doc = data.documents[chunk.doc_key]
        out.append(Passage(rank=rank, score=hit.dense, doc_id=chunk.doc_id, chunk_id=chunk.chunk_id,
                           text=data.chunk_text(hit.row), title=doc.title, outlet=doc.outlet,
                           published=doc.published, url=doc.url, page=doc.page))
    return out


def compose(question: str, data: IndexData, hits: list[Hit], qvec: np.ndarray,
            settings: AnswerSettings, top_k: int) -> Answer:
    passages = passages_for(data, hits, top_k)
    q_terms = data.bm25.question_terms(question)
    unknown = data.bm25.unknown_words(question)
    if len(unknown) >= UNKNOWN_MIN_WORDS and len(unknown) / len(q_terms) >= UNKNOWN_SHARE_DECLINE:
        return Answer(question, False, DECLINE_TEXT, [], passages, data.version,
                      note=f"These words of the question appear nowhere in the documents: {', '.join(unknown)}.")
    scored = score_sentences(data, hits, qvec, question, q_terms)
    if not scored or max(s.evidence for s in scored) < settings.decline_below:
        return Answer(question, False, DECLINE_TEXT, [], passages, data.version)
    picked = _ensure_type(data, question, scored, _pick(data, scored, settings), settings)
    if picked is None:
        return Answer(question, False, DECLINE_TEXT, [], passages, data.version,
                      note="The passages found do not hold the kind of answer asked for (a date, a figure, a name...).")
    note = None
    conflict = _conflicting_figure(data, hits, qvec, question, q_terms, picked)
    if conflict:
        picked = picked[: settings.max_sentences - 1] + [conflict[0]]
        note = conflict[1]
    parts, citations = [], []
    previous_doc = None
    for s in _order(data, picked):
        sentence = data.sentences[s.sid]
        doc = data.documents[sentence.doc_key]
        n = len(citations) + 1
        citations.append(Citation(n=n, doc_id=doc.doc_id, title=doc.title, outlet=doc.outlet,
                                  published=doc.published, url=doc.url, quote=sentence.text,
                                  chunk_id=data.chunks[s.row].chunk_id, page=doc.page))
        lead = attribution(doc) if sentence.doc_key != previous_doc else ""
        parts.append(f"{lead}{sentence.text} [{n}]")
        previous_doc = sentence.doc_key
    return Answer(question, True, " ".join(parts), citations, passages, data.version, note=note)


def attribution(doc) -> str:
    """"Cook County Record (2020-02-18): " ahead of a source's sentences: who said it, and when."""
    if doc.outlet and doc.published:
        return f"{doc.outlet} ({doc.published}): "
    if doc.outlet or doc.published:
        return f"{doc.outlet or doc.published}: "
    return ""


def _ensure_type(data: IndexData, question: str, scored: list[Scored], picked: list[Scored],
                 settings: AnswerSettings) -> list[Scored] | None:
    """The question asks for a date, a figure, a court...: quote a close sentence that holds one,
    or return None (decline) when no close sentence does."""
    kind = expected_type(question)
    if kind is None or any(has_type(data.sentences[s.sid].text, kind, question) for s in picked):
        return picked
    for s in scored[1:TYPE_SEARCH_DEPTH]:
        if s.score >= scored[0].score - TYPE_MARGIN and has_type(data.sentences[s.sid].text, kind, question):
            return (picked[: settings.max_sentences - 1] + [s]) if s not in picked else picked
    return None
