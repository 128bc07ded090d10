"""The FAISS side of the index: exact inner product while that is fast enough, IVF (or HNSW) beyond.

Measured on this 2-core machine (benchmarks/scale.py, docs/scaling.md): one exact query costs about
100 ns per stored vector with a numpy matrix-vector product (both cores; FAISS's own flat scan uses
one), so exact search stays at a few ms up to ``exact_max`` = 50k passages. Past that, IndexIVFFlat
with nlist ≈ 2·√n and nprobe = 96 answers in ~5 ms at 1M with recall@10 ≈ 0.977 and builds in
30-60 s; HNSW (M=32) queries faster but took ~5 min to build at 1M.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from embeddings.config import IndexSettings
from embeddings.errors import IndexCorrupt

# Up to this many query rows, an exact search is one numpy matrix product over the stored vectors
# (BLAS, all cores); FAISS's flat scan runs one query on one core.
NUMPY_MAX_QUERIES = 64


def build_vector_index(vectors: np.ndarray, settings: IndexSettings):
    import faiss

    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    n, dim = vectors.shape
    if n <= settings.exact_max:
        index = faiss.IndexFlatIP(dim)
    elif settings.ann == "hnsw":
        index = faiss.IndexHNSWFlat(dim, settings.hnsw_m, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = settings.hnsw_ef_construction
        index.hnsw.efSearch = settings.hnsw_ef_search
    elif settings.ann == "ivf":
        index = _train_ivf(vectors, settings)
    else:
        raise ValueError(f"[index] ann = {settings.ann!r}: expected 'ivf' or 'hnsw'")
    if n:
        index.add(vectors)
    return index


def ivf_nlist(n: int, settings: IndexSettings) -> int:
    """Inverted lists for n vectors: the configured number, or 2·√n (2,000 at 1M); never so many
    that k-means gets fewer than 39 training points per list (FAISS's own floor)."""
    wanted = settings.ivf_nlist or round(2 * math.sqrt(n))
    return max(1, min(wanted, n // 39))


def _train_ivf(vectors: np.ndarray, settings: IndexSettings):
    import faiss

    n, dim = vectors.shape
    nlist = ivf_nlist(n, settings)
    quantizer = faiss.IndexFlatIP(dim)
    index = faiss.IndexIVFFlat(quantizer, dim, nlist, faiss.METRIC_INNER_PRODUCT)
    # k-means on a fixed-seed sample: training cost grows with sample × nlist, and 64 points per
    # list give centroids as good as the whole corpus for recall (measured at 1M).
    sample_size = min(n, settings.ivf_train_per_list * nlist)
    rng = np.random.default_rng(0)
    sample = vectors if sample_size == n else vectors[np.sort(rng.choice(n, sample_size, replace=False))]
    index.train(sample)
    index.nprobe = min(settings.ivf_nprobe, nlist)
    return index  # faiss' Python wrapper keeps the quantizer alive (index.referenced_objects)


def index_kind(index) -> str:
    name = type(index).__name__
    if "HNSW" in name:
        return "hnsw"
    if "IVF" in name:
        return "ivf"
    return "flat"


def save_vector_index(index, path: Path) -> None:
    import faiss

    faiss.write_index(index, str(path))


def load_vector_index(
    path: Path, expected_count: int, dim: int, settings: IndexSettings | None = None, *, mmap: bool = False
):
    """Read and check an index file. ``mmap=True`` maps an IVF index's lists instead of reading them
    (1M passages: 0.004 s instead of 1.2 s to open, then only the probed lists are paged in); the
    result is read-only, and the file must not be rewritten in place while mapped (a new directory
    swapped in is fine)."""
    import faiss

    try:
        index = faiss.read_index(str(path), faiss.IO_FLAG_MMAP if mmap else 0)
    except Exception as exc:  # faiss raises RuntimeError with C++ text for truncated files
        raise IndexCorrupt(f"{path.name} is unreadable ({str(exc).splitlines()[0][:120]})") from None
    if index.ntotal != expected_count or index.d != dim:
        raise IndexCorrupt(
            f"{path.name} holds {index.ntotal} vectors of dimension {index.d}; "
            f"the manifest says {expected_count} of dimension {dim}"
        )
    if settings is not None:
        configure_search(index, settings)
    return index


def configure_search(index, settings: IndexSettings) -> None:
    """Apply the query-time knobs (nprobe, efSearch); they are not all kept in the file."""
    kind = index_kind(index)
    if kind == "hnsw":
        index.hnsw.efSearch = settings.hnsw_ef_search
    elif kind == "ivf":
        ivf = _ivf(index)
        ivf.nprobe = min(settings.ivf_nprobe, ivf.nlist)


def _ivf(index):
    import faiss

    return faiss.extract_index_ivf(index)


def search(index, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Top-k (scores, ids) per query row; ids are -1 where fewer than k vectors exist (or, for IVF,
    were found in the probed lists)."""
    q = np.ascontiguousarray(np.atleast_2d(queries), dtype=np.float32)
    k = max(1, min(k, index.ntotal)) if index.ntotal else 1
    if index.ntotal and len(q) <= NUMPY_MAX_QUERIES and index_kind(index) == "flat":
        return _numpy_exact(index, q, k)
    return index.search(q, k)


def _numpy_exact(index, q: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    import faiss

    n, d = index.ntotal, index.d
    stored = faiss.rev_swig_ptr(index.get_xb(), n * d).reshape(n, d)  # a view, no copy
    scores = q @ stored.T
    if k < n:
        top = np.argpartition(-scores, k - 1, axis=1)[:, :k]
    else:
        top = np.broadcast_to(np.arange(n), (len(q), n))
    top_scores = np.take_along_axis(scores, top, axis=1)
    order = np.argsort(-top_scores, axis=1, kind="stable")
    ids = np.take_along_axis(top, order, axis=1).astype(np.int64)
    return np.take_along_axis(top_scores, order, axis=1).astype(np.float32), ids
