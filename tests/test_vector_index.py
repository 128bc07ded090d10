"""Every vector index against a brute-force IndexFlatIP answer, on clustered (not uniform) data."""

from __future__ import annotations

import dataclasses

import faiss
import numpy as np
import pytest

from embeddings.config import load_config
from embeddings.errors import IndexCorrupt
from embeddings.index.vector_index import (
    build_vector_index,
    index_kind,
    ivf_nlist,
    load_vector_index,
    save_vector_index,
    search,
)

DIM = 384
K = 10


def clustered(n: int, n_queries: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Unit vectors shaped like sentence embeddings: topic clusters in a low-rank, anisotropic space,
    nearest-neighbour cosines around 0.8. Queries come from the same clusters but are not in the corpus."""
    rng = np.random.default_rng(seed)
    basis = rng.standard_normal((48, DIM)).astype(np.float32) * (1.0 / np.arange(1, 49) ** 0.5)[:, None]
    centres = rng.standard_normal((max(8, n // 60), 48)).astype(np.float32) @ basis

    def points(m):
        c = centres[rng.integers(0, len(centres), m)]
        spread = rng.standard_normal((m, 48)).astype(np.float32) @ basis * 0.9
        iso = rng.standard_normal((m, DIM)).astype(np.float32) * 0.03
        v = c + spread + iso
        return v / np.linalg.norm(v, axis=1, keepdims=True)

    return points(n), points(n_queries)


def brute_force(x: np.ndarray, q: np.ndarray, k: int) -> np.ndarray:
    flat = faiss.IndexFlatIP(x.shape[1])
    flat.add(x)
    return flat.search(q, k)[1]


def recall(found: np.ndarray, truth: np.ndarray) -> float:
    return float(np.mean([len(set(f) & set(t)) / len(t) for f, t in zip(found, truth)]))


@pytest.fixture(scope="module")
def data():
    x, q = clustered(20_000, 200)
    return x, q, brute_force(x, q, K)


@pytest.fixture(scope="module")
def settings():
    return load_config().index


def test_structured_data_is_not_trivial(data):
    x, q, truth = data
    nn = np.sort(q @ x.T, axis=1)[:, ::-1]
    # Neighbour cosines like real embeddings: top-1 well above the 10th, and far above random pairs.
    assert 0.6 < float(np.median(nn[:, 0])) < 0.98
    assert float(np.median(nn[:, 0] - nn[:, K - 1])) > 0.01
    assert float(np.median(nn[:, 1000])) < float(np.median(nn[:, 0])) - 0.1


def test_exact_up_to_exact_max(data, settings):
    x, q, truth = data
    index = build_vector_index(x, dataclasses.replace(settings, exact_max=len(x)))
    assert index_kind(index) == "flat"
    scores, ids = search(index, q[:5], K)  # the numpy path (few queries)
    np.testing.assert_array_equal(ids, truth[:5])
    assert scores.dtype == np.float32 and ids.dtype == np.int64
    np.testing.assert_allclose(scores[:, 0], (q[:5] * x[ids[:, 0]]).sum(1), rtol=1e-5)
    _, batch_ids = search(index, q, K)  # FAISS's own path (many queries)
    assert recall(batch_ids, truth) > 0.999


def test_exact_small_index_and_single_query(settings):
    x, q = clustered(7, 1)
    index = build_vector_index(x, settings)
    scores, ids = search(index, q[0], 10)  # k past ntotal: every vector, best first
    assert ids.shape == (1, 7) and sorted(ids[0]) == list(range(7))
    assert np.all(np.diff(scores[0]) <= 0)
    empty = build_vector_index(np.zeros((0, DIM), np.float32), settings)
    assert search(empty, q, 5)[1].tolist() == [[-1]]


def test_ivf_recall_against_brute_force(data, settings):
    x, q, truth = data
    index = build_vector_index(x, dataclasses.replace(settings, exact_max=1000))
    assert index_kind(index) == "ivf"
    assert faiss.extract_index_ivf(index).nlist == ivf_nlist(len(x), settings) == 283
    _, found = search(index, q, K)
    assert recall(found, truth) >= 0.95
    # The data is not trivial for IVF: one probed list misses many true neighbours.
    one_probe = dataclasses.replace(settings, exact_max=1000, ivf_nprobe=1)
    _, found = search(build_vector_index(x, one_probe), q, K)
    assert recall(found, truth) < 0.8


def test_hnsw_recall_against_brute_force(data, settings):
    x, q, _ = data
    x = x[:8000]
    index = build_vector_index(x, dataclasses.replace(settings, exact_max=1000, ann="hnsw"))
    assert index_kind(index) == "hnsw"
    _, found = search(index, q, K)
    assert recall(found, brute_force(x, q, K)) >= 0.95


def test_unknown_ann_is_refused(data, settings):
    with pytest.raises(ValueError, match="ann"):
        build_vector_index(data[0][:2000], dataclasses.replace(settings, exact_max=10, ann="lsh"))


@pytest.mark.parametrize("mmap", [False, True])
@pytest.mark.parametrize("ann", ["flat", "ivf", "hnsw"])
def test_save_load_round_trip(tmp_path, settings, ann, mmap):
    x, q = clustered(4000, 20, seed=1)
    chosen = dataclasses.replace(settings, exact_max=10**9 if ann == "flat" else 100, ann="ivf" if ann == "flat" else ann)
    index = build_vector_index(x, chosen)
    path = tmp_path / "vectors.faiss"
    save_vector_index(index, path)
    loaded = load_vector_index(path, expected_count=len(x), dim=DIM, settings=chosen, mmap=mmap)
    assert index_kind(loaded) == ann
    np.testing.assert_array_equal(search(loaded, q, K)[1], search(index, q, K)[1])
    if ann == "ivf":
        assert faiss.extract_index_ivf(loaded).nprobe == min(chosen.ivf_nprobe, ivf_nlist(len(x), chosen))


def test_load_applies_query_settings(tmp_path, settings):
    x, _ = clustered(4000, 1, seed=2)
    path = tmp_path / "vectors.faiss"
    save_vector_index(build_vector_index(x, dataclasses.replace(settings, exact_max=100)), path)
    loaded = load_vector_index(path, len(x), DIM, dataclasses.replace(settings, ivf_nprobe=3))
    assert faiss.extract_index_ivf(loaded).nprobe == 3


@pytest.mark.parametrize("mmap", [False, True])
@pytest.mark.parametrize("ann", ["flat", "ivf"])
def test_truncated_file_is_corrupt_and_named(tmp_path, settings, ann, mmap):
    x, _ = clustered(3000, 1, seed=3)
    exact_max = 10**9 if ann == "flat" else 100
    path = tmp_path / "vectors.faiss"
    save_vector_index(build_vector_index(x, dataclasses.replace(settings, exact_max=exact_max)), path)
    data = path.read_bytes()
    for cut in (len(data) // 2, len(data) - 7, 10):
        path.write_bytes(data[:cut])
        with pytest.raises(IndexCorrupt, match="vectors.faiss"):
            load_vector_index(path, len(x), DIM, settings, mmap=mmap)


def test_count_or_dimension_mismatch_is_corrupt(tmp_path, settings):
    x, _ = clustered(500, 1, seed=4)
    path = tmp_path / "vectors.faiss"
    save_vector_index(build_vector_index(x, settings), path)
    with pytest.raises(IndexCorrupt, match="vectors.faiss.*500"):
        load_vector_index(path, 499, DIM, settings)
    with pytest.raises(IndexCorrupt, match="dimension"):
        load_vector_index(path, 500, 768, settings)
