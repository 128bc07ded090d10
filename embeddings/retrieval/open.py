"""The retriever a configuration asks for, over the version ``current`` names."""

from __future__ import annotations

from embeddings import lexical
from embeddings.config import Config
from embeddings.index import store, vector_index
from embeddings.index.backend import check_kind, configured_kind


def open_retriever(config: Config, manifest: dict, path):
    """FAISS mode loads the version folder (vectors, FAISS, BM25, passages); Milvus mode reads nothing
    more from it than the manifest already read."""
    kind = configured_kind(config)
    check_kind(manifest, kind)
    if kind == "milvus":
        from embeddings.retrieval.milvus import MilvusRetriever

        return MilvusRetriever(config, manifest)
    from embeddings.retrieval.local import LocalRetriever

    def load_faiss(file, n, dim):
        return vector_index.load_vector_index(file, n, dim, config.index)

    data = store.load_version(path, manifest, load_faiss, lexical.load_bm25)
    return LocalRetriever(data, config.retrieval)
