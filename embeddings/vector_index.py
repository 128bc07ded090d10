"""The FAISS side of the index: exact inner product while that is fast, HNSW beyond."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from embeddings.config import IndexSettings
from embeddings.errors import IndexCorrupt


def build_vector_index(vectors: np.ndarray, settings: IndexSettings):
    import faiss

    n, dim = vectors.shape
    if n > settings.exact_max:
        index = faiss.IndexHNSWFlat(dim, settings.hnsw_m, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = settings.hnsw_ef_construction
        index.hnsw.efSearch = settings.hnsw_ef_search
    else:
        index = faiss.IndexFlatIP(dim)
    if n:
        index.add(np.ascontiguousarray(vectors, dtype=np.float32))
    return index


def index_kind(index) -> str:
    return "hnsw" if "HNSW" in type(index).__name__ else "flat"


def save_vector_index(index, path: Path) -> None:
    import faiss

    faiss.write_index(index, str(path))


def load_vector_index(path: Path, expected_count: int, dim: int, settings: IndexSettings | None = None):
    import faiss

    try:
        index = faiss.read_index(str(path))
    except Exception as exc:  # faiss raises RuntimeError with C++ text for truncated files
        raise IndexCorrupt(f"{path.name} is unreadable ({str(exc).splitlines()[0][:120]})") from None
    if index.ntotal != expected_count or index.d != dim:
        raise IndexCorrupt(
            f"{path.name} holds {index.ntotal} vectors of dimension {index.d}; "
            f"the manifest says {expected_count} of dimension {dim}"
        )
    if settings is not None and index_kind(index) == "hnsw":
        index.hnsw.efSearch = settings.hnsw_ef_search
    return index


def search(index, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Top-k (scores, ids) per query row; ids are -1 where fewer than k vectors exist."""
    q = np.ascontiguousarray(np.atleast_2d(queries), dtype=np.float32)
    k = max(1, min(k, index.ntotal)) if index.ntotal else 1
    return index.search(q, k)
