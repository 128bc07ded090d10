"""Composition, the answer stage's last step: the decided sentences become an ``Answer``.

Every word of an answer's body is a quoted sentence of a seed, each cited (``Answer.quotes``); the
only other words are the outlet and date ahead of a source's sentences (``Document.attribution``; its
link too, when the question asks for one), taken from its metadata and checked like any claim, and a
note where sources give different figures.
"""

from __future__ import annotations

import re

from embeddings.answer.candidates import Scored
from embeddings.answer.checks import FIGURE, Check, unsupported_claims
from embeddings.answer.decision import Decision
from embeddings.answer.question import Question
from embeddings.answer.readers.protocol import Reading
from embeddings.config import AnswerSettings, Config
from embeddings.passages import PassageReading
from embeddings.results import Answer, Citation, Passage, Quote, Stopwatch
from embeddings.retrieval.fusion import Hit

_SCALE = re.compile(r"\b(billion|million|thousand)\b", re.IGNORECASE)


def compose(q: Question, data: PassageReading, hits: list[Hit], decision: Decision, config: Config,
            clock: Stopwatch, judge_failed: str | None = None) -> Answer:
    """The answer: the decided sentences quoted and cited, or the refusal with the checks that decided
    it (and, when the judge was unsure, the closest sentences, each with its source)."""
    passages = passages_for(data, hits, config.retrieval.top_k)
    quotes, citations, checks, note = _assemble(q, data, hits, decision, config.answer) if decision.picked \
        else ((), (), decision.checks, decision.note)
    if judge_failed:
        checks = (Check("judge", False, f"the judge is unavailable: {judge_failed}"),) + tuple(checks)
    closest = tuple(_cite(data, c, n) for n, c in enumerate(decision.closest, start=1))
    clock.lap("compose")
    timings = clock.total()
    if isinstance(decision.reading, Reading):
        timings["reader"] = decision.reading.seconds * 1e3
    return Answer(q.text, bool(decision.picked), quotes, citations, passages, data.version, timings, note,
                  decision.reader_label, tuple(c.to_json() for c in checks), decision, None, None, closest)


def _cite(data: PassageReading, c: Scored, n: int) -> Citation:
    sentence = data.sentences[c.sid]
    doc = data.documents[sentence.doc_key]
    return Citation(n=n, doc_id=doc.doc_id, title=doc.title, outlet=doc.outlet, published=doc.published,
                    url=doc.url, quote=sentence.text, chunk_id=data.chunks[c.row].chunk_id, page=doc.page)


def _assemble(q: Question, data: PassageReading, hits: list[Hit], decision: Decision, s: AnswerSettings):
    """(quotes, citations, checks, note) of an answer quoting ``decision.picked``."""
    picked, note = decision.picked, decision.note
    conflict = None if decision.cites else _conflicting_figure(data, hits, q, picked, s)
    if conflict:
        picked = picked[: s.max_sentences - 1] + (conflict[0],)
        note = conflict[1]
    quotes, citations, link = [], [], q.source == "url"       # a question for a link gets one
    previous_doc = None
    for c in _order(data, picked):
        sentence = data.sentences[c.sid]
        doc = data.documents[sentence.doc_key]
        n = len(citations) + 1
        citations.append(_cite(data, c, n))
        lead = doc.linked_attribution if link else doc.attribution
        quotes.append(Quote(lead if sentence.doc_key != previous_doc else "", sentence.text, n))
        previous_doc = sentence.doc_key
    # Words that are not quotes may state no figure or name the cited sources do not hold: the
    # leads (outlet and date; the link, when asked for) and the figures of the note, which come
    # from sentences quoted here.
    sources = [f"{c.quote} {c.outlet or ''} {c.published or ''} {c.title} {c.doc_id} {c.url if link and c.url else ''}"
               for c in citations]
    unsupported = unsupported_claims(" ".join(q_.lead for q_ in quotes), sources) \
        + unsupported_claims(note or "", sources, names=False)
    checks = decision.checks + (Check("supported", not unsupported,
                                      "every figure and name outside the quotes is in a cited source"
                                      if not unsupported else f"unsupported: {', '.join(unsupported)}"),)
    return tuple(quotes), tuple(citations), checks, (None if unsupported else note)


def passages_for(data: PassageReading, hits: list[Hit], top_k: int) -> tuple[Passage, ...]:
    out = []
    for rank, hit in enumerate(hits[:top_k], start=1):
        chunk = data.chunks[hit.row]
        doc = data.documents[chunk.doc_key]
        out.append(Passage(rank=rank, score=hit.dense, doc_id=chunk.doc_id, chunk_id=chunk.chunk_id,
                           text=data.chunk_text(hit.row), title=doc.title, outlet=doc.outlet,
                           published=doc.published, url=doc.url, page=doc.page))
    return tuple(out)


def _scaled_figures(text: str) -> dict[str, set[str]]:
    """{"billion": {"20 billion"}, ...}: the figures of a sentence that carry a scale word."""
    out: dict[str, set[str]] = {}
    for m in FIGURE.finditer(text):
        scale = _SCALE.search(m.group(0))
        if scale and any(ch.isdigit() for ch in m.group(0)):
            out.setdefault(scale.group(1).lower(), set()).add(" ".join(m.group(0).split()))
    return out


def _conflicting_figure(data: PassageReading, hits: list[Hit], q: Question, picked: tuple[Scored, ...],
                        s: AnswerSettings) -> tuple[Scored, str] | None:
    """Another source giving a different figure of the same scale for what the answer quotes
    (20 billion photos in one article, 3 billion people in another): (its sentence, a note)."""
    best = picked[0]
    best_figures = _scaled_figures(data.sentences[best.sid].text)
    if not best_figures:
        return None
    # Only the same subject counts: a figure about another company or case is no disagreement.
    names = _names(q.text)
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
            if not shared or not q.terms & data.sentence_terms(sid):
                continue
            if not any(n in sentence.text.lower() for n in names):
                continue
            cosine = float(data.sentence_vectors[sid] @ q.vector)
            if cosine >= s.conflict_min_cosine and (found is None or cosine > found.cosine):
                found = Scored(sid, hit.row, rank, cosine, 0.0, cosine, cosine, False, None)
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


def _source_figure(data: PassageReading, sid: int, figures: set[str]) -> str:
    doc = data.documents[data.sentences[sid].doc_key]
    where = doc.heading or f"{doc.doc_id}, undated"
    return f"{' / '.join(sorted(figures))} ({where})"


def _order(data: PassageReading, picked: tuple[Scored, ...]) -> list[Scored]:
    """Readable order with the answer first: the decided best sentence leads, then the rest of its
    document's sentences and then the other documents' (in order of their best sentence), each
    document's in text order."""
    doc_rank: dict[str, int] = {}
    for c in picked:
        doc_rank.setdefault(data.sentences[c.sid].doc_key, len(doc_rank))
    return [*picked[:1], *sorted(picked[1:], key=lambda c: (doc_rank[data.sentences[c.sid].doc_key], c.sid))]
