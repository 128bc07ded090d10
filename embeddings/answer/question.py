"""The question value, made once at the door and handed to every later stage (retrieval included):
its text, vector, subject words, the kind of answer it asks for, and its words no document holds."""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from embeddings.errors import EmptyQuestion
from embeddings.passages import Lexicon

# Which kind of words answer a question ("when" wants a date, "how many" a number); the first rule
# that matches decides. Whether a sentence holds such words is the candidates' business.
_RULES = [
    (re.compile(r"\bhow (?:much|large|big)\b.*\b(?:pay|paid|fine|cost|settle|worth|raise|raised)", re.I), "money"),
    (re.compile(r"\bhow long\b|\bfor how long\b", re.I), "duration"),
    (re.compile(r"\bhow (?:many|much|large|big)\b|\bwhat (?:number|percentage|amount)\b", re.I), "number"),
    (re.compile(r"^\W*when\b|\bwhen (?:did|was|were|is|are|will|does|do|has|had)\b|\b(?:what|which) (?:date|day|year|month)\b", re.I), "date"),
    (re.compile(r"\b(?:which|what) court\b|\bwhere\b.*\bfiled\b", re.I), "court"),
    (re.compile(r"\b(?:which|what) (?:law|act|statute|regulation)\b", re.I), "law"),
    # "Who is X?" asks for a description, not a name; "Who sued X?" asks for a name.
    (re.compile(r"^\s*who\b(?!\s+(?:is|was|are|were|'s)\b)|\bwhich (?:person|lawyer|attorney|judge|official)\b", re.I), "person"),
    (re.compile(r"^\s*where\b|\bin which (?:city|state|country)\b", re.I), "place"),
]


# Questions about a document rather than what it says: its link, headline, outlet or publication
# date, which its citation holds (embeddings/answer/decision.py from_citation). The first rule that
# matches decides. Each needs a word for a document or its coverage ("Which paper did the judge
# cite?", "Who ran Clearview?", "When was the settlement released?", "the title of the act" are not
# about one), and a question for the source a text itself names ("Which outlet is cited as the
# source …", "according to …") is none: the citation holds the document's own outlet, not that one.
_DOC = r"(?:\b(?:articles?|stor(?:y|ies)|pieces?|reports?|editorials?|items?|posts?|coverage|news|headlines?|thing|it|that|this)\b|['\"‘“])"
_NOT_SOURCE = re.compile(r"\b(?:cited|credited|attributed|according to(?!\s+(?:which|what)\b)|names? as)\b", re.I)
_SOURCE_RULES = [
    (re.compile(r"\b(?:link|url|web address)\b(?!\s+(?:between|with)\b)", re.I), "url"),
    (re.compile(r"\bheadlines?\b(?!\s+(?:figures?|numbers?|rates?|amounts?|sums?|claims?)\b)"
                rf"|\btitle\s+(?:of|for)\s+(?:(?:the|that|this|a|an)\s+(?:[\w'-]+\s+){{0,4}}?)?{_DOC}", re.I), "title"),
    (re.compile(r"\b(?:which|what)\s+(?:\w+\s+)?(?:outlets?|publications?(?!\s+date)|newspapers?|news ?(?:sites?|websites?|papers?)|"
                r"magazines?|broadcasters?|news (?:organi[sz]ations?|services?|agenc(?:y|ies)))\b(?!\s+(?:of|for)\s+the\s+(?:court|case))"
                r"|\b(?:which|what)\s+(?:\w+\s+)?(?:papers?|sites?|websites?)(?:'s\s+(?:editorial|article|story|piece|report)\b"
                r"|\s+(?:(?:has|have|had|first)\s+)?(?:ran|run|published|reported|carried|covered|broke|posted|wrote|had)\b"
                rf"|\s+(?:was|is)\s+(?:(?:the|that|this)\s+(?:[\w'-]+\s+){{0,3}})?{_DOC})"
                rf"|\bwho\s+(?:first\s+)?(?:published|reported|ran|carried|covered|broke|posted)\s+(?:(?:on|about)\s+)?(?:(?:the|that|this)\s+(?:[\w'-]+\s+){{0,3}})?{_DOC}"
                r"|\b(?:published|reported|carried|run|ran)\s+(?:by|in|on)\s+(?:which|what)\b", re.I), "outlet"),
    (re.compile(rf"^(?=.*{_DOC}).*\bwhen\b.*\b(?:published|come out|came out|posted|released|ran|run)\b"
                r"|\b(?:what|which)\s+(?:date|day)\b.*\b(?:published|posted|article|story|piece|editorial|item)\b"
                r"|\bpublication date\b", re.I), "published"),
]


def source_asked(question: str) -> str | None:
    """"url", "title", "outlet" or "published" when the question asks about a document itself
    ("Which outlet ran …?", "the link to the … article"), else None."""
    if _NOT_SOURCE.search(question):
        return None
    for pattern, field in _SOURCE_RULES:
        if pattern.search(question):
            return field
    return None


def expected_kind(question: str) -> str | None:
    """"date", "number", "person"... (the kinds of embeddings/answer/candidates.py KINDS), or None."""
    for pattern, kind in _RULES:
        if pattern.search(question):
            return kind
    return None


def clean(text: str | None, max_chars: int) -> str:
    """The question as every surface takes it: whitespace folded, cut at ``max_chars`` ([question])."""
    return " ".join((text or "").split())[:max_chars]


@dataclass(frozen=True)
class Question:
    text: str
    vector: np.ndarray
    terms: frozenset[str]       # subject words, as the lexical index tokenizes them
    kind: str | None            # "date", "number", "person"... or None
    unknown: tuple[str, ...]    # words of the question that occur in no document
    source: str | None = None   # the citation field it asks for ("outlet", "published", "url", "title"), if any

    @property
    def unknown_share(self) -> float:
        """The share of the question's subject words that occur in no document."""
        return len(self.unknown) / max(1, len(self.terms))

    @classmethod
    def ask(cls, text: str | None, max_chars: int, encoder, lexicon: Lexicon) -> "Question":
        """The door: refuse an empty question, cut a long one, embed it, read its words."""
        text = clean(text, max_chars)
        if not text:
            raise EmptyQuestion("the question is empty")
        return cls.make(text, encoder.encode_query(text), lexicon)

    @classmethod
    def make(cls, text: str, vector: np.ndarray, lexicon: Lexicon) -> "Question":
        """``lexicon``: the corpus's term statistics (a loaded version's ``lexicon``, a retriever's)."""
        return cls(text, vector, frozenset(lexicon.question_terms(text)), expected_kind(text),
                   tuple(lexicon.unknown_words(text)), source_asked(text))
