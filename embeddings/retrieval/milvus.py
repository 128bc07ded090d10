"""Milvus mode, the serving side: every question's passages come back from Milvus.

Per question: the question's terms' document frequencies (``<collection>_terms``, cached), one
dense search and one BM25 search (``<collection>``), each returning its passages' text, sentences,
vectors and citation fields. The hits are scored by embeddings/retrieval/fusion.py exactly as the
FAISS path scores them, over a ``PassageSet`` of just those passages. The process keeps the
manifest, the models and a bounded term cache: nothing that grows with the corpus.

When Milvus does not answer there is no local copy to fall back on: the question gets one
``BackendUnavailable`` line, the next question opens a fresh connection, and answers resume by
themselves once Milvus is back.
"""

from __future__ import annotations

import base64
import json
import logging
import threading
import time
from collections import OrderedDict

import numpy as np

from embeddings.answer.question import Question
from embeddings.config import Config
from embeddings.documents import Document
from embeddings.errors import BackendUnavailable, IndexMismatch, IndexMissing
from embeddings.index import milvus_backend as mb
from embeddings.lexical import Tokenizing, bm25_idf, typo_lengths, unknown_words
from embeddings.passages import ChunkRecord, PassageSet, SentenceRecord
from embeddings.retrieval.fusion import fuse
from embeddings.retrieval.protocol import Retrieved

_log = logging.getLogger("casebot")
QUERY_LIMIT = 16384  # Milvus's largest query/search limit


class MilvusRetriever:
    kind = "milvus"

    def __init__(self, config: Config, manifest: dict):
        self.config = config
        self.settings = config.backend
        self.uri = self.settings.uri
        entry = manifest.get("backend") or {}
        self.collection = entry.get("collection")
        self._version = manifest["version"]
        self.dim = manifest["model"]["dimension"]
        self._lock = threading.Lock()
        self._stale = False
        client = mb.connect(self.uri, self.settings.timeout_seconds)
        registry = mb.Registry(client, self.settings.collection, self._raw_call)
        if not self.collection or not self._raw_call("has_collection", client.has_collection, self.collection):
            raise IndexMissing(f"Milvus at {self.uri} has no collection {self.collection} for index "
                               f"{self._version}; run `casebot index --full`")
        built = registry.manifest(self.collection) or {}
        if built.get("schema") != mb.SCHEMA:
            raise IndexMismatch(f"Milvus collection {self.collection} holds passages in an older layout; "
                                "run `casebot index --full` to rebuild it")
        for part in ("model", "chunking"):
            if built.get(part) != manifest[part]:
                raise IndexMismatch(f"Milvus collection {self.collection} was built with {part} {built.get(part)!r}, "
                                    f"index {self._version} with {manifest[part]!r}; "
                                    "run `casebot index --full` to rebuild it")
        index = config.index
        self.params = {"IVF_FLAT": {"nprobe": index.ivf_nprobe}, "HNSW": {"ef": index.hnsw_ef_search}}.get(
            built.get("index_type", "FLAT"), {})
        self._load(client)
        self._client = client
        self._lexicon = MilvusLexicon(self, mb.stopwords_of(built), manifest["counts"]["chunks"],
                                      self.settings.term_cache)

    # ------------------------------------------------------------------ calls

    def _raw_call(self, what: str, fn, *args, **kwargs):
        return mb.call(self.uri, self.settings.timeout_seconds, what, fn, *args, **kwargs)

    def _load(self, client) -> None:
        for name in (self.collection, mb.terms_collection(self.collection)):
            self._raw_call("load collection", client.load_collection, name)

    def call(self, what: str, method: str, *args, **kwargs):
        """A client call; when Milvus does not answer, one clear line, and a fresh connection next time."""
        try:
            with self._lock:
                if self._stale:
                    mb.forget(self.uri)
                    client = mb.connect(self.uri, self.settings.timeout_seconds)
                    self._load(client)
                    self._client, self._stale = client, False
                    _log.info("the search service at %s is answering again", self.uri)
                client = self._client
            return self._raw_call(what, getattr(client, method), *args, **kwargs)
        except BackendUnavailable as exc:
            with self._lock:
                if not self._stale:
                    _log.warning("%s", exc)
                self._stale = True
            raise BackendUnavailable(f"the search service at {self.uri} is not answering; try again shortly") from None

    # ------------------------------------------------------------------ the seam

    @property
    def version(self) -> str:
        return self._version

    @property
    def lexicon(self) -> "MilvusLexicon":
        return self._lexicon

    data = None  # no version is loaded in this process

    def documents(self) -> list[Document]:
        """Every document, from the rows of their first passages (paged by Milvus's query iterator)."""
        iterator = self.call("list documents", "query_iterator", self.collection, batch_size=1000,
                             filter="n == 0", output_fields=["doc"])
        out = []
        try:
            while True:
                try:
                    rows = iterator.next()
                except Exception as exc:
                    raise BackendUnavailable(f"the search service at {self.uri} is not answering "
                                             f"({mb.short_error(exc)}); try again shortly") from None
                if not rows:
                    return out
                out.extend(Document(**json.loads(r["doc"]), text="") for r in rows)
        finally:
            iterator.close()

    def candidates(self, question: Question, depth: int, timings: dict | None = None) -> Retrieved:
        t0 = time.perf_counter()
        dense = self.call("search", "search", self.collection, data=[question.vector.astype(np.float32).tolist()],
                          anns_field="vector", limit=depth, output_fields=mb.OUTPUT_FIELDS,
                          search_params={"metric_type": "IP", "params": self.params})[0]
        t1 = time.perf_counter()
        tokens = self._lexicon.tokenize([question.text])[0]
        lexical = self.call("search", "search", self.collection, data=[" ".join(tokens)], anns_field="sparse",
                            limit=depth, output_fields=mb.OUTPUT_FIELDS,
                            search_params={"metric_type": "BM25"})[0] if tokens else []
        t2 = time.perf_counter()
        if timings is not None:
            timings["vector"] = (t1 - t0) * 1e3
            timings["lexical"] = (t2 - t1) * 1e3
        entities = {h["id"]: h["entity"] for h in [*dense, *lexical]}
        passages = self._passages(entities)
        row_of = {c.chunk_id: i for i, c in enumerate(passages.chunks)}
        lex = {row_of[h["id"]]: float(h["distance"]) / (mb.BM25_K1 + 1) for h in lexical}
        hits = fuse(passages.vectors, question.vector, set(row_of.values()), lex, self.config.retrieval)
        return Retrieved(passages, hits)

    def _passages(self, entities: dict[str, dict]) -> PassageSet:
        """The retrieved rows as the answer stage reads them: chunks in document order, each
        document's sentences in its own order, vectors decoded."""
        order = sorted(entities, key=lambda cid: (entities[cid]["doc_key"], entities[cid]["n"]))
        sentence_keys = sorted({(entities[cid]["doc_key"], pos) for cid in order
                                for pos, _ in json.loads(entities[cid]["sentences"])})
        sid_of = {key: i for i, key in enumerate(sentence_keys)}
        sentences: list[SentenceRecord | None] = [None] * len(sentence_keys)
        sentence_vectors = np.zeros((len(sentence_keys), self.dim), dtype=np.float32)
        vectors = np.zeros((len(order), self.dim), dtype=np.float32)
        documents: dict[str, Document] = {}
        chunks = []
        for row, cid in enumerate(order):
            e = entities[cid]
            blob = base64.b64decode(e["vectors"])
            vectors[row] = np.frombuffer(blob[: 4 * self.dim], dtype=np.float32)
            own = np.frombuffer(blob[4 * self.dim:], dtype=np.float16).reshape(-1, self.dim)
            ids = []
            for (pos, text), vec in zip(json.loads(e["sentences"]), own):
                sid = sid_of[(e["doc_key"], pos)]
                sentences[sid] = SentenceRecord(e["doc_key"], text)
                sentence_vectors[sid] = vec
                ids.append(sid)
            if e["doc_key"] not in documents:
                documents[e["doc_key"]] = Document(**json.loads(e["doc"]), text="")
            doc = documents[e["doc_key"]]
            chunks.append(ChunkRecord(cid, e["doc_key"], doc.doc_id, ids, e["text"]))
        return PassageSet(self._version, documents, chunks, sentences, vectors, sentence_vectors, self._lexicon)


class MilvusLexicon(Tokenizing):
    """The corpus's term statistics from ``<collection>_terms``, a bounded cache in front."""

    def __init__(self, retriever: MilvusRetriever, stopwords: frozenset[str], num_docs: int, cache_size: int):
        self.retriever = retriever
        self.terms = mb.terms_collection(retriever.collection)
        self.stopwords = stopwords
        self.num_docs = num_docs
        self.cache_size = cache_size
        self._df: OrderedDict[str, int] = OrderedDict()
        self._lock = threading.Lock()

    def document_frequency(self, tokens: list[str]) -> dict[str, int]:
        with self._lock:
            known = {t: self._df[t] for t in tokens if t in self._df}
        missing = sorted({t for t in tokens if t not in known})
        if missing:
            rows = self.retriever.call("read terms", "get", self.terms, ids=missing, output_fields=["df"])
            found = {r["term"]: int(r["df"]) for r in rows}
            with self._lock:
                for t in missing:
                    known[t] = self._df[t] = found.get(t, 0)
                    self._df.move_to_end(t)
                while len(self._df) > self.cache_size:
                    self._df.popitem(last=False)
        return known

    def idf(self, tokens: list[str]) -> dict[str, float]:
        df = self.document_frequency(list(tokens))
        return {t: bm25_idf(self.num_docs, df[t]) for t in tokens}

    def unknown_words(self, text: str) -> list[str]:
        return unknown_words(text, self.stopwords,
                             lambda stems: {t for t, n in self.document_frequency(stems).items() if n > 0}, self._near)

    def _near(self, tok: str) -> list[str]:
        """Known terms that could be ``tok`` misspelt: its first letter, a length difflib could match."""
        lo, hi = typo_lengths(tok)
        rows = self.retriever.call("read terms", "query", self.terms, output_fields=["term"], limit=QUERY_LIMIT,
                                   filter=f"initial == {json.dumps(tok[:1])} and length >= {lo} and length <= {hi}")
        return [r["term"] for r in rows]
