"""BM25 over the chunks (bm25s), so names and figures are found as reliably as paraphrases."""

from __future__ import annotations

import logging
from functools import lru_cache
from pathlib import Path

import numpy as np

TOKEN_PATTERN = r"(?u)\b\w+\b"  # keep one-character tokens: "5 years", "$1"
TOKENIZER_ID = "bm25s-en-plus-snowball/1"  # recorded in the manifest: change it when tokenizing changes


@lru_cache(maxsize=1)
def _stopwords() -> list[str]:
    from bm25s.stopwords import STOPWORDS_EN_PLUS

    return list(STOPWORDS_EN_PLUS)


@lru_cache(maxsize=1)
def _stemmer():
    import Stemmer

    return Stemmer.Stemmer("english")


def tokenize(texts: list[str]):
    import bm25s

    return bm25s.tokenize(
        texts, stopwords=_stopwords(), stemmer=_stemmer(), token_pattern=TOKEN_PATTERN,
        return_ids=False, show_progress=False,
    )


def build_bm25(texts: list[str]):
    import bm25s

    retriever = bm25s.BM25()
    if texts:
        retriever.index(tokenize(texts), show_progress=False)
    return retriever


def save_bm25(retriever, folder: Path) -> None:
    retriever.save(str(folder), show_progress=False)


def load_bm25(folder: Path):
    import bm25s

    logging.getLogger("bm25s").setLevel(logging.ERROR)
    return bm25s.BM25.load(str(folder), show_progress=False)


def search_bm25(retriever, query: str, k: int, n_docs: int) -> tuple[np.ndarray, np.ndarray]:
    """(ids, scores) of the top-k chunks with a positive BM25 score, best first."""
    if n_docs == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
    tokens = tokenize([query])
    if not tokens[0]:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
    ids, scores = retriever.retrieve(tokens, k=min(k, n_docs), show_progress=False, n_threads=1)
    ids, scores = ids[0], scores[0]
    keep = scores > 0
    return ids[keep].astype(np.int64), scores[keep].astype(np.float32)


def idf_weights(retriever, tokens: list[str]) -> dict[str, float]:
    """BM25's inverse document frequency of each token.

    A token no chunk contains gets the highest weight: a question about something the documents
    never mention must not look answered because its other words are common."""
    vocab = retriever.vocab_dict
    indptr = retriever.scores["indptr"]
    n = retriever.scores.get("num_docs") or 1
    out = {}
    for tok in tokens:
        j = vocab.get(tok)
        df = 0 if j is None else int(indptr[j + 1] - indptr[j])
        out[tok] = float(np.log(1.0 + (n - df + 0.5) / (df + 0.5)))
    return out
