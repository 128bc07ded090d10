"""Checks made by code on what the answer will say, whoever proposed it (scorer or reader).

Each check returns a ``Check``; the answer's JSON lists them (``checks``), so a dropped sentence or a
refusal says which rule decided it."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass

from embeddings.answer_type import has_type
from embeddings.question import Question
from embeddings.store import IndexData

FIGURE = re.compile(r"(?:\$\s?)?\b\d[\d,.]*\s*(?:billion|million|thousand|percent|%)?", re.IGNORECASE)
_NAME = re.compile(r"\b[A-Z][\w'’.-]*(?:\s+[A-Z][\w'’.-]*)*")


@dataclass(frozen=True)
class Check:
    check: str          # "kind", "adds", "reader", "combiner", "supported", "unknown_words", "evidence"
    passed: bool
    detail: str

    def to_json(self) -> dict:
        return asdict(self)


def kind_check(q: Question, text: str) -> Check:
    """The sentence holds the kind of words asked for (a date for "when"...) that the question lacks."""
    if q.kind is None:
        return Check("kind", True, "the question asks for no particular kind of answer")
    ok = has_type(text, q.kind, q.text)
    return Check("kind", ok, f"asks for a {q.kind}; the sentence {'holds' if ok else 'holds no'} new one")


def adds_check(q: Question, data: IndexData, sid: int) -> Check:
    """The sentence says something the question does not already say."""
    new = data.sentence_terms(sid) - q.terms
    return Check("adds", bool(new), "adds words of its own" if new else "only repeats the question")


def unsupported_claims(text: str, sources: list[str], names: bool = True) -> list[str]:
    """Figures (and, with ``names``, capitalized names) in ``text`` that occur in none of
    ``sources`` (verbatim, whitespace aside): what wording outside the quotes must never contain."""
    haystack = " ".join(" ".join(s.split()) for s in sources).lower()
    claims = {" ".join(m.group(0).split()) for m in FIGURE.finditer(text) if any(ch.isdigit() for ch in m.group(0))}
    if names:
        claims |= {" ".join(m.group(0).split()).rstrip(".") for m in _NAME.finditer(text)}
    return sorted(c for c in claims if c and c.lower() not in haystack)
