"""Search backends: where a version's passages are searched.

Every backend does the same six things for the build and the engine:

    publish(data, previous)  bring the backend to ``data``: upsert and delete by chunk id against the
                             previous version, or write a new version from scratch; returns the
                             manifest's "backend" entry
    save(data, folder)       files of the backend inside the version folder (none for Milvus)
    swap(entry)              point readers at the new version, once its folder is ``current``
    loader()                 how the version's own vector index file is read (None: there is none)
    attach(data)             on load: check the backend's manifest against the version, bind search
                             (``data.searcher``; the FAISS backend leaves it None: the local path searches)
    search(...)              dense + lexical candidates, scored by embeddings.search.fuse (called
                             through ``data.searcher``, so the FAISS backend's is never called)

"faiss" (the default) is today's FAISS + BM25 files inside the version folder; "milvus"
(embeddings/milvus_backend.py) keeps the passages in a Milvus collection. The version folder keeps
documents, sentences and their vectors either way: the answer stage reads those, whatever searched.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from embeddings import vector_index
from embeddings.config import Config, Retrieval
from embeddings.errors import ConfigError, IndexMismatch
from embeddings.store import IndexData

KINDS = ("faiss", "milvus")


class FaissBackend:
    kind = "faiss"

    def __init__(self, config: Config):
        self.settings = config.index

    def publish(self, data: IndexData, previous: IndexData | None) -> dict:
        data.faiss_index = vector_index.build_vector_index(data.vectors, self.settings)
        return {"kind": self.kind}

    def save(self, data: IndexData, folder: Path) -> None:
        vector_index.save_vector_index(data.faiss_index, folder / "vectors.faiss")

    def swap(self, entry: dict) -> None:
        """Nothing to do: the version folder's files are the index, and ``current`` already points at it."""

    def loader(self):
        return lambda path, n, dim: vector_index.load_vector_index(path, n, dim, self.settings)

    def attach(self, data: IndexData) -> None:
        """The FAISS index was read with the version (``loader``); search stays on the local path."""

    def search(self, data: IndexData, qvec: np.ndarray, question: str, settings: Retrieval, timings=None):
        from embeddings.search import local_search

        return local_search(data, qvec, question, settings, timings)


def open_backend(config: Config):
    kind = config.backend.kind
    if kind == "faiss":
        return FaissBackend(config)
    if kind == "milvus":
        from embeddings.milvus_backend import MilvusBackend

        return MilvusBackend(config)  # connects now: a bad URI fails before a build embeds anything
    raise ConfigError(f"config [backend] kind = {kind!r}: expected one of {', '.join(KINDS)}")


def backend_kind(manifest: dict) -> str:
    """The backend a version was published to (versions from before backends existed: faiss)."""
    return (manifest.get("backend") or {}).get("kind", "faiss")


def check_kind(manifest: dict, kind: str) -> None:
    built = backend_kind(manifest)
    if built != kind:
        raise IndexMismatch(f"index {manifest.get('version')} was published to the {built} backend, the "
                            f"configuration asks for {kind}; run `casebot index` to publish it there "
                            "(no passage is embedded again)")
