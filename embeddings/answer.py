"""From candidates to an answer: question → candidate sentences → reader → checks → answer.

Every word of an answer's body is a quoted sentence of a seed, each cited; the only other words are
the outlet and date ahead of a source's sentences, taken from its metadata and checked like any
claim. Who decides:
- with a reader, the reader gives each candidate sentence (and "none") a probability; the sentence
  to quote is the best by extractive score plus ``choice_weight`` times its log-probability (fitted
  to 0: the extractive order picked better), code checks it holds the kind of answer asked for and
  adds to the question, and a fitted combiner of the reader's confidence and the extractive scores
  decides whether to answer at all;
- without one (``[reader] backend = "none"``, or the reader failed), the extractive rules decide: the
  best sentence's evidence against ``decline_below``, and a close sentence of the asked-for kind.
Either way a question is declined when too many of its words occur in no document.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

from embeddings import combiner
from embeddings.answer_type import has_type
from embeddings.candidates import Scored, is_title, near_duplicate, score_sentences
from embeddings.checks import FIGURE, Check, adds_check, kind_check, unsupported_claims
from embeddings.config import AnswerSettings, ReaderSettings
from embeddings.errors import ReaderUnavailable
from embeddings.question import Question
from embeddings.reader import Reading
from embeddings.results import Answer, Citation, Passage
from embeddings.search import Hit
from embeddings.store import IndexData

DECLINE_TEXT = "The documents I have don't cover this question."

_SCALE = re.compile(r"\b(billion|million|thousand)\b", re.IGNORECASE)


@dataclass
class Decision:
    """What to quote (best first), or nothing; and why."""

    picked: list[Scored]
    checks: list[Check] = field(default_factory=list)
    note: str | None = None
    reading: Reading | None = None
    features: list[float] | None = None   # the combiner's inputs (embeddings/combiner.py)


def candidate_line(data: IndexData, c: Scored) -> str:
    """A sentence as the reader sees it: headed by its outlet and date when known, so "who
    reported" and "when" can be read off it."""
    doc = data.documents[data.sentences[c.sid].doc_key]
    head = ", ".join(p for p in (doc.outlet, doc.published) if p)
    text = data.sentences[c.sid].text
    return f"({head}) {text}" if head else text


def decide_extractive(q: Question, data: IndexData, scored: list[Scored], s: AnswerSettings) -> Decision:
    best = max(c.evidence for c in scored)
    if best < s.decline_below:
        return Decision([], [Check("evidence", False, f"best evidence {best:.2f} < decline_below {s.decline_below}")])
    picked = _ensure_type(data, q, scored, _pick(data, scored, s), s)
    if picked is None:
        return Decision([], [Check("kind", False, f"asks for a {q.kind}; no close sentence holds one")],
                        note="The passages found do not hold the kind of answer asked for (a date, a figure, a name...).")
    return Decision(picked, [Check("evidence", True, f"best evidence {best:.2f} ≥ decline_below {s.decline_below}")])


def decide_with_reader(q: Question, data: IndexData, scored: list[Scored], reading: Reading,
                       s: AnswerSettings, r: ReaderSettings) -> Decision:
    shown = scored[: len(reading.p_sentences)]
    # The reader's choice, tempered by the extractive score (choice_weight: the weight of the reader's
    # log-probability next to it); the highest first.
    order = sorted(range(len(shown)), key=lambda i: -(shown[i].score + r.choice_weight * math.log(reading.p_sentences[i] + 1e-9)))
    top = order[0]
    checks = [Check("reader", reading.p_sentences[top] > reading.p_none,
                    f"p(none) {reading.p_none:.2f}; sentence {top + 1} p {reading.p_sentences[top]:.2f}")]
    chosen = None
    for i in order:
        text = data.sentences[shown[i].sid].text
        failed = [c for c in (kind_check(q, text), adds_check(q, data, shown[i].sid)) if not c.passed]
        if not failed:
            chosen = i
            break
        checks += [Check(c.check, False, f"sentence {i + 1} dropped: {c.detail}") for c in failed]
    if chosen is None:
        return Decision([], checks, reading=reading)
    x = combiner.features(reading.confidence(chosen), shown[chosen].evidence, max(c.evidence for c in scored),
                          shown[chosen].coverage, q.kind is not None, q.unknown_share)
    p = combiner.probability(r.bias, r.weights, x)
    ok = p >= r.answer_above
    checks.append(Check("combiner", ok, f"sentence {chosen + 1}: P(right) {p:.2f} {'≥' if ok else '<'} {r.answer_above}"))
    if not ok:
        return Decision([], checks, reading=reading, features=x)
    picked = [shown[chosen]]
    for i in order:
        if len(picked) >= s.max_sentences:
            break
        if reading.p_sentences[i] < r.also_quote * reading.p_sentences[chosen]:
            continue
        c = shown[i]
        text = data.sentences[c.sid].text
        if i == chosen or any(near_duplicate(text, data.sentences[p_.sid].text) for p_ in picked):
            continue
        if adds_check(q, data, c.sid).passed:
            picked.append(c)
    return Decision(picked, checks, reading=reading, features=x)


def compose(q: Question, data: IndexData, hits: list[Hit], s: AnswerSettings, top_k: int,
            reader=None, r: ReaderSettings | None = None) -> Answer:
    passages = passages_for(data, hits, top_k)
    reader_name = reader.name if reader is not None else "none"

    def declined(checks: list[Check], note: str | None = None) -> Answer:
        return Answer(q.text, False, DECLINE_TEXT, [], passages, data.version, note=note,
                      reader=reader_name, checks=[c.to_json() for c in checks])

    if len(q.unknown) >= s.unknown_min_words and q.unknown_share >= s.unknown_share_decline:
        return declined([Check("unknown_words", False, f"{len(q.unknown)} of the question's words occur in no document")],
                        note=f"These words of the question appear nowhere in the documents: {', '.join(q.unknown)}.")
    scored = score_sentences(data, hits, q, s)
    if not scored:
        return declined([Check("evidence", False, "no quotable sentence retrieved")])
    decision = None
    if reader is not None:
        try:
            reading = reader.read(q.text, [candidate_line(data, c) for c in scored[: r.candidates]])
            decision = decide_with_reader(q, data, scored, reading, s, r)
        except ReaderUnavailable as exc:
            reader_name = f"none (reader failed: {exc})"
    if decision is None:
        decision = decide_extractive(q, data, scored, s)
    answer = (_assemble(q, data, hits, decision, s, passages, reader_name) if decision.picked
              else declined(decision.checks, decision.note))
    if decision.reading is not None:
        answer.timings_ms["reader"] = decision.reading.seconds * 1e3
    answer.decision = decision
    return answer


def _assemble(q: Question, data: IndexData, hits: list[Hit], decision: Decision, s: AnswerSettings,
              passages: list[Passage], reader_name: str) -> Answer:
    picked, note = decision.picked, decision.note
    conflict = _conflicting_figure(data, hits, q, picked, s)
    if conflict:
        picked = picked[: s.max_sentences - 1] + [conflict[0]]
        note = conflict[1]
    parts, leads, citations = [], [], []
    previous_doc = None
    for c in _order(data, picked):
        sentence = data.sentences[c.sid]
        doc = data.documents[sentence.doc_key]
        n = len(citations) + 1
        citations.append(Citation(n=n, doc_id=doc.doc_id, title=doc.title, outlet=doc.outlet,
                                  published=doc.published, url=doc.url, quote=sentence.text,
                                  chunk_id=data.chunks[c.row].chunk_id, page=doc.page))
        lead = attribution(doc) if sentence.doc_key != previous_doc else ""
        leads.append(lead)
        parts.append(f"{lead}{sentence.text} [{n}]")
        previous_doc = sentence.doc_key
    # Words that are not quotes may state no figure or name the cited sources do not hold: the
    # leads (outlet and date) and the figures of the note, which come from sentences quoted here.
    sources = [f"{c.quote} {c.outlet or ''} {c.published or ''} {c.title} {c.doc_id}" for c in citations]
    unsupported = unsupported_claims(" ".join(leads), sources) + unsupported_claims(note or "", sources, names=False)
    checks = decision.checks + [Check("supported", not unsupported,
                                      "every figure and name outside the quotes is in a cited source"
                                      if not unsupported else f"unsupported: {', '.join(unsupported)}")]
    if unsupported:
        note = None
    return Answer(q.text, True, " ".join(parts), citations, passages, data.version, note=note,
                  reader=reader_name, checks=[c.to_json() for c in checks])


def _pick(data: IndexData, scored: list[Scored], s: AnswerSettings) -> list[Scored]:
    """The best sentence, plus close runners-up that add something."""
    best = scored[0]
    picked = [best]
    for c in scored[1:]:
        if len(picked) >= s.max_sentences:
            break
        text = data.sentences[c.sid].text
        if c.evidence < s.decline_below - 0.1 or c.score < best.score - s.runner_up_margin:
            continue
        if is_title(data, c) and c.score < best.score - s.title_margin:
            continue
        if any(near_duplicate(text, data.sentences[p.sid].text) for p in picked):
            continue
        picked.append(c)
    return picked


def _ensure_type(data: IndexData, q: Question, scored: list[Scored], picked: list[Scored],
                 s: AnswerSettings) -> list[Scored] | None:
    """The question asks for a date, a figure, a court...: quote a close sentence that holds one,
    or return None (decline) when no close sentence does."""
    if q.kind is None or any(has_type(data.sentences[c.sid].text, q.kind, q.text) for c in picked):
        return picked
    for c in scored[1: s.type_search_depth]:
        if c.score >= scored[0].score - s.type_margin and has_type(data.sentences[c.sid].text, q.kind, q.text):
            return (picked[: s.max_sentences - 1] + [c]) if c not in picked else picked
    return None


def _scaled_figures(text: str) -> dict[str, set[str]]:
    """{"billion": {"20 billion"}, ...}: the figures of a sentence that carry a scale word."""
    out: dict[str, set[str]] = {}
    for m in FIGURE.finditer(text):
        scale = _SCALE.search(m.group(0))
        if scale and any(ch.isdigit() for ch in m.group(0)):
            out.setdefault(scale.group(1).lower(), set()).add(" ".join(m.group(0).split()))
    return out


def _conflicting_figure(data: IndexData, hits: list[Hit], q: Question, picked: list[Scored],
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


def _order(data: IndexData, picked: list[Scored]) -> list[Scored]:
    """Readable order: documents in order of their best sentence, sentences in text order within one."""
    doc_rank: dict[str, int] = {}
    for c in picked:
        doc_rank.setdefault(data.sentences[c.sid].doc_key, len(doc_rank))
    return sorted(picked, key=lambda c: (doc_rank[data.sentences[c.sid].doc_key], c.sid))


def passages_for(data: IndexData, hits: list[Hit], top_k: int) -> list[Passage]:
    out = []
    for rank, hit in enumerate(hits[:top_k], start=1):
        chunk = data.chunks[hit.row]
        doc = data.documents[chunk.doc_key]
        out.append(Passage(rank=rank, score=hit.dense, doc_id=chunk.doc_id, chunk_id=chunk.chunk_id,
                           text=data.chunk_text(hit.row), title=doc.title, outlet=doc.outlet,
                           published=doc.published, url=doc.url, page=doc.page))
    return out


def attribution(doc) -> str:
    """"Cook County Record (2020-02-18): " ahead of a source's sentences: who said it, and when."""
    if doc.outlet and doc.published:
        return f"{doc.outlet} ({doc.published}): "
    if doc.outlet or doc.published:
        return f"{doc.outlet or doc.published}: "
    return ""
