"""Find documents that are the same article: saved twice, or syndicated with small changes.

Exact copies (whitespace and case aside) match by hash. Near copies match by the Jaccard similarity
of their word 5-gram shingles; candidates are found through a bottom-k sketch of shingle hashes (a
document shares some of its smallest hashes with any near copy), so this stays cheap as the corpus
grows instead of comparing every pair.
"""

from __future__ import annotations

import hashlib
import re

SHINGLE = 5
NEAR = 0.8          # Jaccard of shingle sets at or above which two documents are one article
MIN_WORDS = 40      # shorter texts (headlines, excerpts) are only deduplicated when identical
SKETCH = 16


def _words(text: str) -> list[str]:
    return re.findall(r"\w+", text.lower())


def _hash(s: str) -> int:
    return int.from_bytes(hashlib.blake2b(s.encode(), digest_size=8).digest(), "big")


class DuplicateFinder:
    def __init__(self):
        self._exact: dict[str, str] = {}
        self._shingles: dict[str, set[int]] = {}
        self._by_sketch: dict[int, list[str]] = {}

    def add(self, key: str, text: str) -> str | None:
        """Register a document; return the key of an earlier one it duplicates (then it is not kept)."""
        words = _words(text)
        exact = hashlib.sha256(" ".join(words).encode()).hexdigest()
        if exact in self._exact:
            return self._exact[exact]
        self._exact[exact] = key
        if len(words) < MIN_WORDS:
            return None
        shingles = {_hash(" ".join(words[i : i + SHINGLE])) for i in range(len(words) - SHINGLE + 1)}
        sketch = sorted(shingles)[:SKETCH]
        for other in {k for h in sketch for k in self._by_sketch.get(h, ())}:
            theirs = self._shingles[other]
            if len(shingles & theirs) / len(shingles | theirs) >= NEAR:
                del self._exact[exact]
                return other
        self._shingles[key] = shingles
        for h in sketch:
            self._by_sketch.setdefault(h, []).append(key)
        return None
