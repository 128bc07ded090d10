"""Sentence-aware chunking, bounded by the embedding model's own token limit.

A chunk is a run of whole sentences of one Document, packed up to ``target_tokens`` word pieces,
overlapping the previous chunk by ``overlap`` sentences. The text that is embedded (title prefix +
chunk) never exceeds the model's max_seq_length counted with its tokenizer, special tokens included:
past that the model silently truncates and the chunk's tail could never be found. A sentence too
long on its own is cut at word boundaries.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from embeddings.documents import Document

SPECIAL_TOKENS = 2  # [CLS] and [SEP]
MAX_PREFIX_TOKENS = 48


@dataclass(frozen=True)
class Chunk:
    chunk_id: str                 # "<doc key>#<n>"
    doc_key: str                  # Document.key
    doc_id: str
    text: str                     # the chunk's sentences joined by spaces (verbatim, whitespace aside)
    sentences: tuple[str, ...]
    embed_text: str               # what is embedded and indexed lexically: context prefix + text


@lru_cache(maxsize=1)
def _segmenter():
    import pysbd

    return pysbd.Segmenter(language="en", clean=False)


def split_sentences(text: str) -> list[str]:
    """Sentences of a text, paragraph by paragraph, each verbatim (trimmed)."""
    out: list[str] = []
    for para in re.split(r"\n\s*\n", text):
        para = " ".join(para.split())
        if not para:
            continue
        out.extend(s.strip() for s in _segmenter().segment(para) if s.strip())
    return out


def human_date(iso: str | None) -> str | None:
    """"2020-02-14" -> "14 February 2020", so "February 2020" in a question meets it."""
    import datetime as dt

    try:
        d = dt.date.fromisoformat(iso or "")
    except ValueError:
        return None
    return f"{d.day} {d.strftime('%B')} {d.year}"


def context_prefix(doc: Document) -> str:
    """Outlet, date and title ahead of every chunk, so a passage is found by what its article is about."""
    return " · ".join(p for p in (doc.outlet, human_date(doc.published), doc.title) if p)


def first_chunk_prefix(doc: Document) -> str:
    """The first chunk of a seed that opens with its title needs only outlet and date ahead of it."""
    return " · ".join(p for p in (doc.outlet, human_date(doc.published)) if p)


class TokenCounter:
    def __init__(self, tokenizer, max_seq: int):
        self.tokenizer = tokenizer
        self.max_seq = max_seq

    def count(self, text: str) -> int:
        return len(self.tokenizer.encode(text, add_special_tokens=False).ids)

    def fits(self, text: str) -> bool:
        return self.count(text) + SPECIAL_TOKENS <= self.max_seq


def _cut_prefix(prefix: str, counter: TokenCounter) -> str:
    words = prefix.split()
    while words and counter.count(" ".join(words)) > MAX_PREFIX_TOKENS:
        words = words[: max(1, len(words) * 3 // 4)] if len(words) > 1 else []
    return " ".join(words)


def _split_long(sentence: str, budget: int, counter: TokenCounter) -> list[str]:
    """Cut one over-long sentence into word runs of at most ``budget`` tokens."""
    pieces, current = [], []
    for word in sentence.split():
        trial = current + [word]
        if current and counter.count(" ".join(trial)) > budget:
            pieces.append(" ".join(current))
            current = [word]
        else:
            current = trial
    if current:
        pieces.append(" ".join(current))
    return pieces


def chunk_document(doc: Document, counter: TokenCounter, target_tokens: int, overlap: int) -> list[Chunk]:
    prefix = _cut_prefix(context_prefix(doc), counter)
    sentences = split_sentences(doc.text)
    starts_with_title = bool(sentences) and sentences[0] == " ".join(doc.title.split())
    prefix_cost = counter.count(prefix) + 1 if prefix else 0
    hard_budget = counter.max_seq - SPECIAL_TOKENS - prefix_cost
    budget = max(16, min(target_tokens, hard_budget))

    units: list[tuple[str, int]] = []
    for s in sentences:
        n = counter.count(s)
        if n > budget:
            units.extend((p, counter.count(p)) for p in _split_long(s, budget, counter))
        else:
            units.append((s, n))

    groups: list[list[tuple[str, int]]] = []
    current: list[tuple[str, int]] = []
    for unit in units:
        size = sum(n for _, n in current) + unit[1] + len(current)
        if current and size > budget:
            groups.append(current)
            keep = current[-overlap:] if overlap else []
            while keep and sum(n for _, n in keep) + unit[1] + len(keep) > budget:
                keep = keep[1:]
            current = list(keep)
        current.append(unit)
    if current:
        groups.append(current)

    chunks = []
    for i, group in enumerate(groups):
        sents = tuple(s for s, _ in group)
        text = " ".join(sents)
        head = first_chunk_prefix(doc) if (i == 0 and starts_with_title) else prefix
        embed = f"{head}\n{text}" if head else text
        while not counter.fits(embed) and len(sents) > 1:  # word-piece counts are not additive at joins
            sents = sents[:-1]
            text = " ".join(sents)
            embed = f"{head}\n{text}" if head else text
        chunks.append(
            Chunk(
                chunk_id=f"{doc.key}#{i}",
                doc_key=doc.key,
                doc_id=doc.doc_id,
                text=text,
                sentences=sents,
                embed_text=embed,
            )
        )
    return chunks
