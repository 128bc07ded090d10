"""What the answer stage reads about passages, whoever retrieved them.

The answer stage (embeddings/answer/) indexes chunks, sentences and documents by position and asks
for the lexical terms of a sentence. Two things give it that: a whole loaded version
(``store.IndexData``, FAISS mode: the rows are the version's own) and a ``PassageSet``, the few
passages one question retrieved from a remote engine (Milvus mode: rows 0..n-1 of that set). Both
read through ``PassageReading``; ``lexicon`` gives the corpus-wide term statistics either way.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from embeddings.documents import Document


@dataclass
class ChunkRecord:
    chunk_id: str
    doc_key: str
    doc_id: str
    sentence_ids: list[int]
    embed_text: str


@dataclass
class SentenceRecord:
    doc_key: str
    text: str


class Lexicon(Protocol):
    """Corpus-wide lexical statistics: the local BM25 index, or a remote term table."""

    def tokenize(self, texts: list[str]) -> list[list[str]]: ...
    def question_terms(self, question: str) -> set[str]: ...
    def unknown_words(self, text: str) -> list[str]: ...
    def idf(self, tokens: list[str]) -> dict[str, float]: ...


class PassageReading:
    """The reading side shared by a loaded version and a question's passage set."""

    chunks: list[ChunkRecord]
    sentences: list[SentenceRecord]
    lexicon: Lexicon
    _terms: dict

    def chunk_text(self, i: int) -> str:
        return " ".join(self.sentences[s].text for s in self.chunks[i].sentence_ids)

    def sentence_terms(self, sid: int) -> frozenset[str]:
        """The BM25 terms of a sentence, tokenized once per loaded set."""
        key = ("s", sid)
        if key not in self._terms:
            self._terms[key] = frozenset(self.lexicon.tokenize([self.sentences[sid].text])[0])
        return self._terms[key]

    def context_terms(self, row: int) -> frozenset[str]:
        """The terms of a chunk's context line (outlet, date, title) ahead of its text."""
        key = ("c", row)
        if key not in self._terms:
            text = self.chunks[row].embed_text
            head = text.split("\n", 1)[0] if "\n" in text else ""
            self._terms[key] = frozenset(self.lexicon.tokenize([head])[0]) if head else frozenset()
        return self._terms[key]


@dataclass
class PassageSet(PassageReading):
    """The passages one question retrieved, with their sentences, vectors and documents' citation
    fields (a document's ``text`` is not carried: nothing in an answer reads it)."""

    version: str
    documents: dict[str, Document]
    chunks: list[ChunkRecord]
    sentences: list[SentenceRecord]
    vectors: np.ndarray            # chunk vectors, float32, row i = chunks[i]
    sentence_vectors: np.ndarray   # sentence vectors, float32 (stored as float16), row i = sentences[i]
    lexicon: Lexicon
    _terms: dict = field(default_factory=dict, repr=False)
