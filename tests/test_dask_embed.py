"""Embedding on a real Dask cluster (a LocalCluster of two workers): the same index as a local build."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from embeddings.engine import Engine
from embeddings.errors import IndexMismatch
from embeddings.index import store
from embeddings.index.build import build_index
from tests.conftest import copy_seeds

distributed_mod = pytest.importorskip("dask.distributed")
from embeddings.index import distributed  # noqa: E402

CASEBOT = Path(sys.executable).with_name("casebot")
SEED_FILES = ["001_8487601e0b76af03.txt", "001_8487601e0b76af03.meta.yaml", "003_38049205e7261289.txt"]


@pytest.fixture(scope="module")
def cluster():
    """Two workers, one thread each, in this process (2 cores here: no room for worker processes)."""
    with distributed_mod.LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                                      dashboard_address=None) as c:
        yield c


def loaded_version(config):
    path, manifest = store.read_manifest(config.paths.index)
    return store.load_version(path, manifest)


def test_a_two_worker_cluster_builds_the_same_index_as_a_local_build(tmp_path, make_config, shared_encoder,
                                                                      cluster):
    seeds = copy_seeds(tmp_path / "seeds", SEED_FILES)
    local = make_config(seeds, tmp_path / "local")
    build_index(local, shared_encoder, log=lambda _: None)
    on_dask = make_config(seeds, tmp_path / "dask", dask__scheduler=cluster.scheduler_address,
                          dask__batch_texts=8)
    lines = []
    report = build_index(on_dask, shared_encoder, log=lines.append)
    assert report.encoded > 16
    assert any("on 2 Dask worker(s)" in line for line in lines), lines
    assert shared_encoder.name in distributed._models and len(distributed._models) == 1  # loaded once

    a, b = loaded_version(local), loaded_version(on_dask)
    assert [c.chunk_id for c in a.chunks] == [c.chunk_id for c in b.chunks]
    assert [s.text for s in a.sentences] == [s.text for s in b.sentences]
    np.testing.assert_allclose(a.vectors, b.vectors, atol=1e-5)
    # Sentence vectors are stored as float16: other batches (other padding) move a value by ~1e-7,
    # which can tip its float16 rounding by one step (2**-12 below 0.5).
    assert np.abs(a.sentence_vectors).max() < 0.5
    np.testing.assert_allclose(a.sentence_vectors, b.sentence_vectors, atol=2**-12)

    question = "How much did Facebook agree to pay over facial recognition in Illinois?"
    answers = [Engine.open(c, encoder=shared_encoder, build_if_missing=False, log=lambda _: None).ask(question)
               for c in (local, on_dask)]
    assert answers[0].answer == answers[1].answer and "$650" in answers[0].answer
    assert answers[0].citations == answers[1].citations


def test_vectors_from_another_model_are_refused(tmp_path, make_config, cluster):
    config = make_config(tmp_path, dask__scheduler=cluster.scheduler_address)
    expected = {**distributed.model_identity(config.model.name), "weights_sha256": "0" * 64}
    with pytest.raises(IndexMismatch, match="install the same model on every worker"):
        distributed.embed_on_dask(config, ["a", "b"], ["one text", "another"], lambda _: None, expected=expected)


def test_an_unreachable_scheduler_is_one_clear_line(tmp_path):
    seeds = copy_seeds(tmp_path / "seeds", ["003_38049205e7261289.txt"])
    env = {k: v for k, v in os.environ.items() if not k.startswith("CASEBOT_")}
    env["CASEBOT_DASK_TIMEOUT_SECONDS"] = "2"
    proc = subprocess.run([str(CASEBOT), "--seeds", str(seeds), "--index", str(tmp_path / "index"), "index",
                           "--dask", "tcp://127.0.0.1:9"], capture_output=True, text=True, timeout=120, env=env)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if ln.startswith("casebot:")]
    assert len(lines) == 1 and "cannot reach the Dask scheduler at tcp://127.0.0.1:9" in lines[0], proc.stderr
    assert not (tmp_path / "index" / "current").exists()
