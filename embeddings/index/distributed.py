"""Embedding on a Dask cluster: ``casebot index --dask tcp://host:8786`` (or [dask] scheduler).

The texts to embed go to the workers in batches, each text under its key (a chunk id, or a sentence's
row). A worker loads the model once, keeps it for every later batch, and returns the vectors with
the identity of the model that made them: its name, dimension and a hash of its weights. A batch from
a worker whose model is not the build's is refused, so no vector from another model can enter the
index; vectors are placed by key, so the order batches finish in does not matter.
"""

from __future__ import annotations

import hashlib
import threading
from functools import lru_cache
from pathlib import Path

import numpy as np

from embeddings.config import Config
from embeddings.errors import BackendUnavailable, IndexMismatch
from embeddings.models.encoder import Encoder, resolve_model_path

_models: dict[str, tuple[Encoder, dict]] = {}   # in each worker process: model name -> (encoder, identity)
_models_lock = threading.Lock()


@lru_cache(maxsize=4)
def _weights_sha256(path: Path, stamp: tuple) -> str:
    h = hashlib.sha256()
    for weights in sorted(path.glob("*.safetensors")) + sorted(path.glob("*.bin")) + [path / "config.json"]:
        if weights.exists():
            with open(weights, "rb") as fh:
                for block in iter(lambda: fh.read(1 << 20), b""):
                    h.update(block)
    return h.hexdigest()


def model_identity(name: str) -> dict:
    """What a vector's maker is: the model's name, dimension and a hash of its weights and config."""
    path = resolve_model_path(name)
    files = sorted(p for p in path.iterdir() if p.is_file())
    stamp = tuple((p.name, p.stat().st_size, p.stat().st_mtime_ns) for p in files)
    return {"name": name, "dimension": Encoder(name).dimension, "weights_sha256": _weights_sha256(path, stamp)}


def embed_batch(keys: list[str], texts: list[str], name: str, batch_size: int):
    """Runs on a worker: (keys, vectors, model identity, worker address)."""
    from dask.distributed import get_worker

    with _models_lock:
        if name not in _models:
            _models[name] = (Encoder(name, batch_size, "cpu"), model_identity(name))
        encoder, identity = _models[name]
    return keys, encoder.encode(texts), identity, get_worker().address


def embed_on_dask(config: Config, keys: list[str], texts: list[str], log, expected: dict | None = None
                  ) -> dict[str, np.ndarray]:
    """Key -> vector for every text, embedded on the cluster at [dask] scheduler."""
    try:
        from dask.distributed import Client, as_completed
    except ImportError:
        raise BackendUnavailable("embedding on Dask needs the dask extra: pip install 'casebot[dask]'") from None
    address = config.dask.scheduler
    expected = expected or model_identity(config.model.name)
    try:
        client = Client(address, timeout=config.dask.timeout_seconds, set_as_default=False)
    except (OSError, TimeoutError, ValueError) as exc:
        raise BackendUnavailable(f"cannot reach the Dask scheduler at {address}: "
                                 f"{' '.join(str(exc).split())[:160]}") from None
    step = max(1, config.dask.batch_texts)
    out: dict[str, np.ndarray] = {}
    workers = set()
    try:
        futures = [client.submit(embed_batch, keys[i:i + step], texts[i:i + step], config.model.name,
                                 config.model.batch_size, pure=False) for i in range(0, len(texts), step)]
        for future in as_completed(futures, loop=client.loop):
            batch_keys, vectors, identity, worker = future.result()
            if identity != expected:
                client.cancel(futures)
                raise IndexMismatch(f"Dask worker {worker} embeds with {identity['name']!r} (weights "
                                    f"{identity['weights_sha256'][:12]}, {identity['dimension']} dims), this build "
                                    f"with {expected['name']!r} (weights {expected['weights_sha256'][:12]}, "
                                    f"{expected['dimension']} dims); install the same model on every worker")
            out.update(zip(batch_keys, vectors))
            workers.add(worker)
    finally:
        client.close()
    missing = [k for k in keys if k not in out]
    if missing:
        raise BackendUnavailable(f"the Dask cluster returned no vector for {len(missing)} texts (first: {missing[0]})")
    log(f"embedded {len(texts)} texts on {len(workers)} Dask worker(s) at {address}")
    return out
