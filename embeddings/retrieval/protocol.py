"""The retrieval seam: what the engine holds to find a question's passages.

    candidates(question, depth) -> Retrieved   the passages that matter for one question and its
                                               hits (rows into those passages), dense and lexical
                                               scores fused by embeddings/retrieval/fusion.py
    lexicon                                    corpus-wide term statistics for the question's words
    documents()                                the citable documents (``casebot sources``)
    version                                    the index version it serves

Two retrievers: ``LocalRetriever`` (embeddings/retrieval/local.py, FAISS mode: a version loaded in
this process) and ``MilvusRetriever`` (embeddings/retrieval/milvus.py: everything comes back from
Milvus per question; the process holds nothing that grows with the corpus). The build side's
counterpart, which writes a version into a backend, is the publisher in embeddings/index/backend.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from embeddings.answer.question import Question
from embeddings.documents import Document
from embeddings.passages import Lexicon, PassageReading
from embeddings.retrieval.fusion import Hit


@dataclass(frozen=True)
class Retrieved:
    passages: PassageReading   # what the answer stage reads (a loaded version, or this question's set)
    hits: list[Hit]            # best first; ``row`` indexes ``passages.chunks``


class Retriever(Protocol):
    kind: str
    data: object  # the loaded version (store.IndexData) in FAISS mode; None when nothing is loaded here

    @property
    def version(self) -> str: ...

    @property
    def lexicon(self) -> Lexicon: ...

    def documents(self) -> list[Document]: ...

    def candidates(self, question: Question, depth: int, timings: dict | None = None) -> Retrieved: ...
