"""A question as the answer path sees it, computed once: its text, vector, subject words and the kind
of answer it asks for."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from embeddings.answer_type import expected_type
from embeddings.store import IndexData


@dataclass(frozen=True)
class Question:
    text: str
    vector: np.ndarray
    terms: frozenset[str]       # subject words, as the lexical index tokenizes them
    kind: str | None            # "date", "number", "person"... (embeddings/answer_type.py), or None
    unknown: tuple[str, ...]    # words of the question that occur in no document

    @property
    def unknown_share(self) -> float:
        """The share of the question's subject words that occur in no document."""
        return len(self.unknown) / max(1, len(self.terms))

    @classmethod
    def make(cls, text: str, vector: np.ndarray, data: IndexData) -> "Question":
        return cls(text, vector, frozenset(data.bm25.question_terms(text)), expected_type(text),
                   tuple(data.bm25.unknown_words(text)))
