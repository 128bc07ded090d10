"""Checks made by code on what the answer will say, whoever proposed it (scorer or reader).

``CHECKS`` names every check a policy may run on a sentence before quoting it; ``[decision]
reader_checks`` and ``extractive_checks`` say which each policy runs, in order (``failed``). Each returns a
``Check``; the answer's JSON lists them (``checks``), so a dropped sentence or a refusal says which
rule decided it. ``unsupported_claims`` checks the words the composer adds around the quotes."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import Callable

from embeddings.answer.candidates import Scored, has_kind, is_title
from embeddings.answer.question import Question
from embeddings.config import choose
from embeddings.passages import PassageReading

FIGURE = re.compile(r"(?:\$\s?)?\b\d[\d,.]*\s*(?:billion|million|thousand|percent|%)?", re.IGNORECASE)
_NAME = re.compile(r"\b[A-Z][\w'’.-]*(?:\s+[A-Z][\w'’.-]*)*")


@dataclass(frozen=True)
class Check:
    check: str          # "kind", "adds", "reader", "combiner", "supported", "unknown_words", "evidence"
    passed: bool
    detail: str

    def to_json(self) -> dict:
        return asdict(self)


def kind_check(q: Question, data: PassageReading, c: Scored) -> Check:
    """The sentence holds the kind of words asked for (a date for "when"...) that the question lacks."""
    if q.kind is None:
        return Check("kind", True, "the question asks for no particular kind of answer")
    return Check("kind", c.holds_kind, f"asks for a {q.kind}; the sentence {'holds' if c.holds_kind else 'holds no'} new one")


def adds_check(q: Question, data: PassageReading, c: Scored) -> Check:
    """The sentence says something the question does not already say."""
    new = data.sentence_terms(c.sid) - q.terms
    return Check("adds", bool(new), "adds words of its own" if new else "only repeats the question")


def _heading(data: PassageReading, c: Scored) -> str:
    return data.documents[data.sentences[c.sid].doc_key].heading


def cited_kind_check(q: Question, data: PassageReading, c: Scored) -> Check:
    """``kind``, where a document's title also holds what its citation shows (outlet and date):
    "When was the article <title> published?" is answered by the title's citation."""
    if q.kind is None or c.holds_kind or not is_title(data, c):
        return kind_check(q, data, c)
    cited = has_kind(_heading(data, c), q.kind, q.text)
    return Check("kind", cited, f"asks for a {q.kind}; the title's citation {'holds' if cited else 'holds no'} one")


def cited_adds_check(q: Question, data: PassageReading, c: Scored) -> Check:
    """``adds``, counting the outlet and date cited with the sentence (the judge reads them too):
    "Which outlet published <title>?" is answered by the title and its citation."""
    heading = _heading(data, c)
    new = (data.sentence_terms(c.sid) | set(data.lexicon.tokenize([heading])[0] if heading else ())) - q.terms
    return Check("adds", bool(new), "adds words of its own or its citation's" if new else "only repeats the question")


CHECKS: dict[str, Callable[[Question, PassageReading, Scored], Check]] = {
    "kind": kind_check, "adds": adds_check, "cited_kind": cited_kind_check, "cited_adds": cited_adds_check}
KIND_CHECKS = ("kind", "cited_kind")   # the checks for the kind of answer asked (a policy may quote a close sentence that passes)


def failed(q: Question, data: PassageReading, c: Scored, names: tuple[str, ...]) -> list[Check]:
    """The checks of ``names`` that sentence ``c`` fails, in their order."""
    results = (choose(CHECKS, name, "[decision] checks entry")(q, data, c) for name in names)
    return [r for r in results if not r.passed]


def unsupported_claims(text: str, sources: list[str], names: bool = True) -> list[str]:
    """Figures (and, with ``names``, capitalized names) in ``text`` that occur in none of
    ``sources`` (verbatim, whitespace aside): what wording outside the quotes must never contain."""
    haystack = " ".join(" ".join(s.split()) for s in sources).lower()
    claims = {" ".join(m.group(0).split()) for m in FIGURE.finditer(text) if any(ch.isdigit() for ch in m.group(0))}
    if names:
        claims |= {" ".join(m.group(0).split()).rstrip(".") for m in _NAME.finditer(text)}
    return sorted(c for c in claims if c and c.lower() not in haystack)
