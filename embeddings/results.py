"""What the engine hands to the edges: answers with citations, and build reports."""

from __future__ import annotations

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


@dataclass
class Answer:
    question: str
    answered: bool
    answer: str                # text with [n] markers; a plain refusal when answered is False
    citations: list[Citation]
    passages: list[Passage]
    index_version: str
    timings_ms: dict = field(default_factory=dict)
    note: str | None = None    # e.g. "Sources disagree ..." shown under the answer
    reader: str = "none"       # which reader decided ("llama:<file>", "openai:<model>", "none")
    checks: list[dict] = field(default_factory=list)  # what code checked, and what it dropped or refused
    decision: object = field(default=None, repr=False, compare=False)  # the answer stage's trace; not in JSON
    conversation: str | None = None          # the conversation the question was asked in, if any
    standalone_question: str | None = None   # what was searched, when a follow-up was resolved

    def to_json(self) -> dict:
        """The CLI/JSON contract of docs/design.md."""
        return {
            "question": self.question,
            "answered": self.answered,
            "answer": self.answer,
            "citations": [
                {k: v for k, v in asdict(c).items() if k not in {"chunk_id"} and not (k == "page" and v is None)}
                for c in self.citations
            ],
            "passages": [
                {"rank": p.rank, "score": round(p.score, 4), "doc_id": p.doc_id, "chunk_id": p.chunk_id, "text": p.text}
                for p in self.passages
            ],
            "reader": self.reader,
            "checks": self.checks,
            "index_version": self.index_version,
            "conversation": self.conversation,
            "standalone_question": self.standalone_question or self.question,
            "timings_ms": {k: round(v, 2) for k, v in self.timings_ms.items()},
        }


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
