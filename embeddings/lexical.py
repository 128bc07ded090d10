"""BM25 over the chunks, so names and figures are found as reliably as paraphrases.

bm25s builds the index (its eager BM25 scores in CSC arrays, saved as plain .npy arrays, allow_pickle=False). The
query side reads those arrays with numpy and sums the query tokens' columns, which is all bm25s's
own retrieval does for BM25 (lucene); that keeps scipy, which bm25s imports, off a one-off
``casebot ask``. The tokenizer (lower case, word tokens, stopwords, Snowball stems) is ours so that
index and queries tokenize identically, and its stopword list is saved with the index.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Callable

import numpy as np

TOKEN_RE = re.compile(r"(?u)\b\w+\b")  # keeps one-character tokens: "5 years", "$1"
TOKENIZER_ID = "words-en-plus-snowball/2"  # recorded in the manifest: change it when tokenizing changes
STOPWORDS_FILE = "stopwords.json"
# Words that phrase a request rather than name its subject ("tell me about Mutnick"): left out of
# a question's terms when judging how well a sentence covers it.
REQUEST_WORDS = frozenset("""tell explain describe know known information info detail details please
anything something happen happened happens mean means say says said summary summarize summarise give
show find name named called call kind sort type actually exactly roughly approximately much many""".split())


@lru_cache(maxsize=1)
def stemmer():
    import Stemmer

    return Stemmer.Stemmer("english")


def default_stopwords() -> list[str]:
    from bm25s.stopwords import STOPWORDS_EN_PLUS

    return sorted(STOPWORDS_EN_PLUS)


def tokenize_with(texts: list[str], stopwords: frozenset[str]) -> list[list[str]]:
    stem = stemmer().stemWords
    return [stem([w for w in TOKEN_RE.findall(t.lower()) if w not in stopwords]) for t in texts]


class Tokenizing:
    """Tokenizing with a lexicon's stopwords: the local BM25 index and a remote term table alike."""

    stopwords: frozenset[str]

    def tokenize(self, texts: list[str]) -> list[list[str]]:
        return tokenize_with(texts, self.stopwords)

    def question_terms(self, question: str) -> set[str]:
        """The stems of a question's subject words (stopwords and request phrasing left out)."""
        return set(tokenize_with([question], self.stopwords | REQUEST_WORDS)[0])


@dataclass
class LexicalIndex(Tokenizing):
    data: np.ndarray       # BM25 score of each (token, chunk) pair, CSC by token
    indices: np.ndarray    # chunk row of each score
    indptr: np.ndarray     # column starts per token id
    vocab: dict[str, int]
    num_docs: int
    stopwords: frozenset[str]
    _by_initial: dict[str, list[str]] | None = field(default=None, repr=False)  # typo look-up, built on first use

    def scores(self, query: str) -> np.ndarray | None:
        """The BM25 score of every chunk for ``query``; None when no query term is in the vocabulary."""
        ids = [self.vocab[t] for t in self.tokenize([query])[0] if t in self.vocab]
        if not ids or self.num_docs == 0:
            return None
        scores = np.zeros(self.num_docs, dtype=np.float32)
        for j in ids:
            start, end = self.indptr[j], self.indptr[j + 1]
            scores[self.indices[start:end]] += self.data[start:end]
        return scores

    def search(self, query: str, k: int) -> tuple[np.ndarray, np.ndarray]:
        """(rows, scores) of the top-k chunks with a positive BM25 score, best first."""
        scores = self.scores(query)
        if scores is None:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        k = min(k, int(np.count_nonzero(scores)))
        if k == 0:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        top = np.argpartition(-scores, k - 1)[:k]
        top = top[np.argsort(-scores[top], kind="stable")]
        return top.astype(np.int64), scores[top]

    def unknown_words(self, text: str) -> list[str]:
        """Words of ``text`` whose stems no chunk contains, a likely typo of a known word aside."""
        if self._by_initial is None:
            self._by_initial = {}
            for tok in self.vocab:
                self._by_initial.setdefault(tok[:1], []).append(tok)
        return unknown_words(text, self.stopwords, lambda stems: {t for t in stems if t in self.vocab},
                             lambda tok: self._by_initial.get(tok[:1], []))

    def idf(self, tokens: list[str]) -> dict[str, float]:
        """BM25's inverse document frequency of each token (``bm25_idf``)."""
        out = {}
        for tok in tokens:
            j = self.vocab.get(tok)
            out[tok] = bm25_idf(self.num_docs, 0 if j is None else int(self.indptr[j + 1] - self.indptr[j]))
        return out


def bm25_idf(num_docs: int, df: int) -> float:
    """BM25's (lucene) inverse document frequency. A token no chunk contains gets the highest weight:
    a question about something the documents never mention must not look answered because its other
    words are common."""
    return float(np.log(1.0 + (num_docs - df + 0.5) / (df + 0.5)))


# A typo is a stem within this difflib ratio of a known stem with the same first letter.
TYPO_RATIO = 0.85


def typo_lengths(tok: str) -> tuple[int, int]:
    """The lengths a stem within TYPO_RATIO of ``tok`` can have (ratio = 2·matches / total length)."""
    n = len(tok)
    return math.ceil(n * TYPO_RATIO / (2 - TYPO_RATIO) - 1e-9), math.floor(n * (2 - TYPO_RATIO) / TYPO_RATIO + 1e-9)


def unknown_words(text: str, stopwords: frozenset[str], known: Callable[[list[str]], set[str]],
                  near: Callable[[str], list[str]]) -> list[str]:
    """Words of ``text`` whose stems are not ``known`` (asked once, for all of them), unless one of
    ``near(stem)`` (known stems with its first letter) is within TYPO_RATIO of it: whichever lexicon
    answers the look-ups."""
    import difflib

    skip = stopwords | REQUEST_WORDS
    stem = stemmer().stemWord
    stems = {word: stem(word) for word in dict.fromkeys(w for w in TOKEN_RE.findall(text.lower()) if w not in skip)}
    found = known(list(dict.fromkeys(stems.values())))
    return [word for word, tok in stems.items()
            if tok not in found and not difflib.get_close_matches(tok, near(tok), 1, TYPO_RATIO)]


def build_bm25(texts: list[str], folder: Path) -> None:
    """Index the texts with bm25s and save them (bm25s arrays + our stopword list) in ``folder``."""
    import bm25s

    stopwords = default_stopwords()
    retriever = bm25s.BM25()
    retriever.index(tokenize_with(texts, frozenset(stopwords)), show_progress=False)
    folder.mkdir(parents=True, exist_ok=True)
    retriever.save(str(folder), show_progress=False)
    (folder / STOPWORDS_FILE).write_text(json.dumps(stopwords), encoding="utf-8")


def load_bm25(folder: Path) -> LexicalIndex:
    params = json.loads((folder / "params.index.json").read_text(encoding="utf-8"))
    vocab = json.loads((folder / "vocab.index.json").read_text(encoding="utf-8"))
    vocab.pop("", None)  # bm25s's placeholder for the empty token: it has no column
    stopwords = frozenset(json.loads((folder / STOPWORDS_FILE).read_text(encoding="utf-8")))
    if params.get("method", "lucene") not in {"lucene", "robertson", "atire"}:
        raise ValueError(f"BM25 variant {params.get('method')} needs scores this reader does not sum")

    def arr(name):
        return np.load(folder / f"{name}.csc.index.npy", allow_pickle=False)

    index = LexicalIndex(arr("data"), arr("indices"), arr("indptr"), vocab, int(params["num_docs"]), stopwords)
    if len(index.indptr) != len(vocab) + 1 or len(index.data) != len(index.indices):
        raise ValueError("BM25 arrays disagree with their vocabulary")
    return index
