"""The retriever a configuration asks for, over the version ``current`` names."""

from __future__ import annotations

from embeddings import lexical, store
from embeddings.backend import FaissPublisher, check_kind
from embeddings.config import Config
from embeddings.errors import ConfigError


def open_retriever(config: Config, manifest: dict, path):
    """FAISS mode loads the version folder (vectors, FAISS, BM25, passages); Milvus mode reads nothing
    more from it than the manifest already read."""
    kind = config.backend.kind
    if kind not in ("faiss", "milvus"):
        from embeddings.backend import KINDS

        raise ConfigError(f"config [backend] kind = {kind!r}: expected one of {', '.join(KINDS)}")
    check_kind(manifest, kind)
    if kind == "milvus":
        from embeddings.retrieval.milvus import MilvusRetriever

        return MilvusRetriever(config, manifest)
    from embeddings.retrieval.local import LocalRetriever

    data = store.load_version(path, manifest, FaissPublisher(config).loader(), lexical.load_bm25)
    return LocalRetriever(data, config.retrieval)
