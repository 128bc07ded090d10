"""What the engine hands to the edges: answers with citations, and build reports."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field


@dataclass(frozen=True)
class Citation:
    n: int
    doc_id: str
    title: str
    outlet: str | None
    published: str | None
    url: str | None
    quote: str                 # verbatim words of the cited passage
    chunk_id: str
    page: int | None = None


@dataclass(frozen=True)
class Passage:
    rank: int
    score: float
    doc_id: str
    chunk_id: str
    text: str
    title: str = ""
    outlet: str | None = None
    published: str | None = None
    url: str | None = None
    page: int | None = None


DECLINE_TEXT = "The documents I have don't cover this question."
CLOSEST_TEXT = ("Not a confirmed answer: no sentence I found clearly answers this. "
                "The closest I found, for you to check:")


@dataclass(frozen=True)
class Quote:
    """One part of an answer's body: a source's verbatim sentence and the number of its citation."""

    lead: str                  # "Outlet (date): " ahead of a source's first sentence ("Outlet (date), link: "
                               # when the question asked for a link); "" otherwise
    text: str                  # the quoted sentence, verbatim
    n: int                     # its citation's number

    @property
    def prose(self) -> str:
        return f"{self.lead}{self.text} [{self.n}]"


@dataclass(frozen=True)
class Answer:
    question: str
    answered: bool
    quotes: tuple[Quote, ...]  # the body, in order; empty when the question is declined
    citations: tuple[Citation, ...]
    passages: tuple[Passage, ...]
    index_version: str
    timings_ms: dict
    note: str | None           # e.g. "Sources give different figures ..." shown under the answer
    reader: str                # which reader decided ("llama:<file>", "openai:<model>", "none", "none (reader failed: ...)")
    checks: tuple[dict, ...]   # what code checked, and what it dropped or refused
    decision: object = field(repr=False, compare=False)  # the answer stage's trace; not in JSON
    conversation: str | None   # the conversation the question was asked in, if any
    standalone_question: str | None   # what was searched, when a follow-up was resolved
    closest: tuple[Citation, ...]   # declined, but the judge's closest sentences, each with its source

    @property
    def answer(self) -> str:
        """The body as one text with [n] markers, made from ``quotes``; the refusal when declined."""
        return " ".join(q.prose for q in self.quotes) if self.answered else DECLINE_TEXT

    def to_json(self) -> dict:
        """The CLI/JSON contract (README, "The JSON answer")."""
        return {
            "question": self.question,
            "answered": self.answered,
            "answer": self.answer,
            "quotes": [asdict(q) for q in self.quotes],
            "citations": [
                {k: v for k, v in asdict(c).items() if k not in {"chunk_id"} and not (k == "page" and v is None)}
                for c in self.citations
            ],
            "passages": [
                {"rank": p.rank, "score": round(p.score, 4), "doc_id": p.doc_id, "chunk_id": p.chunk_id, "text": p.text}
                for p in self.passages
            ],
            "closest": [{k: v for k, v in asdict(c).items() if k not in {"chunk_id", "n"} and not (k == "page" and v is None)}
                        for c in self.closest],
            "reader": self.reader,
            "checks": list(self.checks),
            "index_version": self.index_version,
            "conversation": self.conversation,
            "standalone_question": self.standalone_question or self.question,
            "timings_ms": {k: round(v, 2) for k, v in self.timings_ms.items()},
        }


class Stopwatch:
    """Milliseconds per stage of one answer, in the order the stages ran."""

    def __init__(self):
        self.start = self.last = time.perf_counter()
        self.ms: dict[str, float] = {}

    def lap(self, stage: str) -> None:
        now = time.perf_counter()
        self.ms[stage] = (now - self.last) * 1e3
        self.last = now

    def total(self) -> dict[str, float]:
        return {**self.ms, "total": (self.last - self.start) * 1e3}


@dataclass
class BuildReport:
    version: str
    added: list[str] = field(default_factory=list)       # seed file names
    updated: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)  # file name -> reason
    duplicates: dict[str, str] = field(default_factory=dict)  # dropped document key -> kept key
    documents: int = 0
    chunks: int = 0
    chunks_added: int = 0
    chunks_removed: int = 0
    encoded: int = 0          # texts sent to the encoder (chunks + sentences) in this build
    seconds: float = 0.0

    @property
    def changed(self) -> bool:
        return bool(self.added or self.updated or self.removed)
