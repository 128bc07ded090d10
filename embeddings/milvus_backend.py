"""The Milvus search backend, through pymilvus's MilvusClient: one client code for Milvus Lite (a
local file, the embedded C++ engine), a Milvus server and a cluster.

A collection holds one passage per row: the chunk id as primary key, its dense vector, the passage
text (an analyzer feeds Milvus's built-in BM25 function into a sparse field) and the citation
metadata as scalar fields. An incremental build upserts and deletes by chunk id in the collection
the previous version used; a full build writes a new collection ``<alias>_<version>`` and then swaps
the alias to it. A search is one ``hybrid_search`` (dense + BM25, fused server-side); its candidates
are scored by embeddings.search.fuse exactly as the FAISS backend's are.

Milvus Lite 2.5.1 answers UNIMPLEMENTED to create_alias, alter_alias and alter_collection_properties
(tried here), so the alias and each collection's manifest (model, dimension, chunker) are rows of a
small registry collection ``<alias>_registry``: the same code works on Lite and on a server.
"""

from __future__ import annotations

import json
import logging
import math
import os
import re
import sys
import threading
import time
import warnings
from pathlib import Path

import numpy as np

with warnings.catch_warnings():  # milvus-lite 2.5.1 imports pkg_resources, which warns on import
    warnings.simplefilter("ignore")
    from pymilvus import (AnnSearchRequest, DataType, Function, FunctionType, MilvusClient,
                          RRFRanker)
    try:
        import milvus_lite  # noqa: F401  (only for local files)
    except ImportError:
        pass

from embeddings.config import Config, Retrieval
from embeddings.errors import BackendUnavailable, ConfigError, IndexMismatch, IndexMissing
from embeddings.store import IndexData

# The local BM25 is bm25s's lucene variant with its defaults; Milvus's BM25 is given the same k1, b.
BM25_K1 = 1.5
BM25_B = 0.75
TEXT_MAX = 16000        # characters of passage text stored (a chunk is ~160 word pieces: ~1,000)
META_MAX = 1000         # characters of a title, outlet, url...
NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
REGISTRY_DIM = 2        # Milvus wants a vector field in every collection; the registry's is unused

# pymilvus logs every failed RPC at ERROR on stderr; casebot reports failures itself, once.
for _name in ("pymilvus", "pymilvus.milvus_client"):  # pymilvus gives the second its own level
    logging.getLogger(_name).setLevel(logging.CRITICAL)

_clients: dict[str, object] = {}
_clients_lock = threading.Lock()


def _short(exc: Exception) -> str:
    text = getattr(exc, "message", None) or str(exc) or exc.__class__.__name__
    return " ".join(str(text).split())[:200]


def is_server_uri(uri: str) -> bool:
    return "://" in uri


def whole_seconds(timeout: float) -> int:
    """pymilvus bounds its retries by a timeout only when it is an int (a float means 75 retries)."""
    return max(1, math.ceil(timeout))


def connect(uri: str, timeout: float):
    """One MilvusClient per URI per process (a Lite file can be opened by one process only)."""
    with _clients_lock:
        if uri in _clients:
            return _clients[uri]
        os.environ.setdefault("LOG_LEVEL", "ERROR")  # milvus-lite's own log level
        kwargs = {}
        if os.environ.get("MILVUS_TOKEN"):
            kwargs["token"] = os.environ["MILVUS_TOKEN"]
        elif os.environ.get("MILVUS_USER"):
            kwargs["user"] = os.environ["MILVUS_USER"]
            kwargs["password"] = os.environ.get("MILVUS_PASSWORD", "")
        if not is_server_uri(uri):
            path = Path(uri)
            if not path.parent.is_dir():
                raise BackendUnavailable(f"Milvus Lite file {uri}: folder {path.parent} does not exist")
        try:
            client = MilvusClient(uri=uri, timeout=whole_seconds(timeout), **kwargs)
        except Exception as exc:  # pymilvus raises MilvusException, grpc errors, ConnectionConfigException...
            hint = ("" if is_server_uri(uri) else
                    "; a Lite file opens in one process only: share it with `casebot serve-milvus` and "
                    "point uri at http://127.0.0.1:PORT")
            raise BackendUnavailable(f"cannot open Milvus at {uri}: {_short(exc)}{hint}") from None
        _clients[uri] = client
        return client


def serve_lite(db_file: Path, port: int):
    """Serve a Milvus Lite file on loopback, so several processes share it as a server; returns the
    started milvus_lite Server (stop() it to end)."""
    from milvus_lite.server import Server
    db_file.parent.mkdir(parents=True, exist_ok=True)
    try:
        server = Server(str(db_file), address=f"127.0.0.1:{port}")
    except RuntimeError as exc:  # names it does not accept
        raise BackendUnavailable(f"cannot serve {db_file}: {exc}") from None
    if not server.init() or not server.start():
        raise BackendUnavailable(f"cannot serve {db_file} on 127.0.0.1:{port}: is it open in another process?")
    return server


def wait_lite(server) -> int:
    """Block until the served Milvus Lite process ends; its exit status."""
    return server._p.wait()  # milvus_lite's Server keeps its process private and offers no wait


class MilvusBackend:
    kind = "milvus"

    def __init__(self, config: Config, log=None):
        self.config = config
        self.settings = config.backend
        if not self.settings.uri:
            raise ConfigError('[backend] kind = "milvus" needs uri = a Milvus Lite file or http://host:19530')
        if not NAME_RE.match(self.settings.collection):
            raise ConfigError(f"[backend] collection = {self.settings.collection!r}: letters, digits and _ only")
        self.alias = self.settings.collection
        self.registry = f"{self.alias}_registry"
        self.log = log or (lambda line: print(line, file=sys.stderr, flush=True))
        self.client = connect(self.settings.uri, self.settings.timeout_seconds)  # fail before any work

    def _call(self, what: str, fn, *args, **kwargs):
        try:
            return fn(*args, timeout=whole_seconds(self.settings.timeout_seconds), **kwargs)
        except Exception as exc:
            raise BackendUnavailable(f"Milvus at {self.settings.uri}: {what} failed: {_short(exc)}") from None

    # ------------------------------------------------------------------ registry (alias + manifests)

    def _ensure_registry(self) -> None:
        if self._call("has_collection", self.client.has_collection, self.registry):
            return
        schema = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
        schema.add_field("key", DataType.VARCHAR, is_primary=True, max_length=512)
        schema.add_field("value", DataType.VARCHAR, max_length=65535)
        schema.add_field("unused", DataType.FLOAT_VECTOR, dim=REGISTRY_DIM)
        index = self.client.prepare_index_params()
        index.add_index("unused", index_type="FLAT", metric_type="L2")
        self._call("create registry", self.client.create_collection, self.registry, schema=schema,
                   index_params=index, consistency_level="Strong")

    def _get(self, key: str) -> str | None:
        if not self._call("has_collection", self.client.has_collection, self.registry):
            return None
        rows = self._call("read registry", self.client.get, self.registry, ids=[key], output_fields=["value"])
        return rows[0]["value"] if rows else None

    def _put(self, key: str, value: str) -> None:
        self._ensure_registry()
        self._call("write registry", self.client.upsert, self.registry,
                   [{"key": key, "value": value, "unused": [0.0] * REGISTRY_DIM}])

    def current_collection(self) -> str | None:
        """The collection the alias points to."""
        return self._get(f"alias:{self.alias}")

    def collection_manifest(self, name: str) -> dict | None:
        value = self._get(f"manifest:{name}")
        return json.loads(value) if value else None

    # ------------------------------------------------------------------ build side

    def publish(self, data: IndexData, previous: IndexData | None) -> dict:
        prev = (previous.manifest.get("backend") or {}) if previous else {}
        name = prev.get("collection") if prev.get("kind") == self.kind else None
        if name and self._reusable(name, data.manifest):
            upserted, deleted = self._update(name, data, previous)
            index_type = self.collection_manifest(name)["index_type"]
        else:
            name = f"{self.alias}_{data.version.replace('-', '_')}"
            index_type = self._create(name, data)
            upserted, deleted = self._upsert(name, data, range(len(data.chunks))), 0
        return {"kind": self.kind, "collection": name, "alias": self.alias, "index_type": index_type,
                "upserted": upserted, "deleted": deleted}

    def _reusable(self, name: str, manifest: dict) -> bool:
        if not self._call("has_collection", self.client.has_collection, name):
            return False
        built = self.collection_manifest(name) or {}
        return built.get("model") == manifest["model"] and built.get("chunking") == manifest["chunking"]

    def _create(self, name: str, data: IndexData) -> str:
        from embeddings.lexical import default_stopwords
        from embeddings.vector_index import ivf_nlist

        dim = data.manifest["model"]["dimension"]
        schema = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
        schema.add_field("chunk_id", DataType.VARCHAR, is_primary=True, max_length=512)
        schema.add_field("vector", DataType.FLOAT_VECTOR, dim=dim)
        # Lower case, the local BM25's stopwords, Snowball English stems: the local tokenizer's steps.
        analyzer = {"tokenizer": "standard", "filter": [
            "lowercase", {"type": "stop", "stop_words": default_stopwords()},
            {"type": "stemmer", "language": "english"}]}
        schema.add_field("text", DataType.VARCHAR, max_length=65535, enable_analyzer=True,
                         analyzer_params=analyzer)
        schema.add_field("sparse", DataType.SPARSE_FLOAT_VECTOR)
        for field in ("doc_key", "doc_id", "title", "outlet", "published", "url"):
            schema.add_field(field, DataType.VARCHAR, max_length=4 * META_MAX)
        schema.add_field("page", DataType.INT64)  # -1: not a page of a PDF
        schema.add_function(Function(name="text_bm25", function_type=FunctionType.BM25,
                                     input_field_names=["text"], output_field_names=["sparse"]))
        n = len(data.chunks)
        index_type = "FLAT" if n <= self.config.index.exact_max else self.settings.index_type.upper()
        params = {}
        if index_type == "IVF_FLAT":
            params = {"nlist": ivf_nlist(n, self.config.index)}
        elif index_type == "HNSW":
            params = {"M": self.config.index.hnsw_m, "efConstruction": self.config.index.hnsw_ef_construction}
        elif index_type not in ("FLAT", "AUTOINDEX"):
            raise ConfigError(f"[backend] index_type = {index_type!r}: expected FLAT, IVF_FLAT, AUTOINDEX or HNSW")
        index = self.client.prepare_index_params()
        index.add_index("vector", index_type=index_type, metric_type="IP", params=params)
        index.add_index("sparse", index_type="SPARSE_INVERTED_INDEX", metric_type="BM25",
                        params={"bm25_k1": BM25_K1, "bm25_b": BM25_B})
        self._call("create collection", self.client.create_collection, name, schema=schema,
                   index_params=index, consistency_level="Strong")
        self._put(f"manifest:{name}", json.dumps({
            "version": data.version, "model": data.manifest["model"], "chunking": data.manifest["chunking"],
            "index_type": index_type, "index_params": params}))
        return index_type

    def _rows(self, data: IndexData, rows) -> list[dict]:
        out = []
        for i in rows:
            chunk = data.chunks[i]
            doc = data.documents[chunk.doc_key]
            out.append({
                "chunk_id": chunk.chunk_id, "vector": data.vectors[i].tolist(),
                "text": chunk.embed_text[:TEXT_MAX], "doc_key": doc.key[:META_MAX], "doc_id": doc.doc_id[:META_MAX],
                "title": (doc.title or "")[:META_MAX], "outlet": (doc.outlet or "")[:META_MAX],
                "published": (doc.published or "")[:META_MAX], "url": (doc.url or "")[:META_MAX],
                "page": -1 if doc.page is None else int(doc.page)})
        return out

    def _upsert(self, name: str, data: IndexData, rows) -> int:
        rows = list(rows)
        step = max(1, self.settings.upsert_batch)
        for start in range(0, len(rows), step):
            self._call("upsert", self.client.upsert, name, self._rows(data, rows[start:start + step]))
        return len(rows)

    def _update(self, name: str, data: IndexData, previous: IndexData) -> tuple[int, int]:
        """Upsert the chunks that are new or changed (text or citation metadata); delete the gone ones."""
        def signature(d: IndexData, i: int):
            c = d.chunks[i]
            doc = d.documents[c.doc_key]
            return (c.embed_text, doc.title, doc.outlet, doc.published, doc.url, doc.page)

        old = {c.chunk_id: signature(previous, i) for i, c in enumerate(previous.chunks)}
        changed = [i for i, c in enumerate(data.chunks) if old.get(c.chunk_id) != signature(data, i)]
        upserted = self._upsert(name, data, changed)
        gone = sorted(set(old) - {c.chunk_id for c in data.chunks})
        step = max(1, self.settings.upsert_batch)
        for start in range(0, len(gone), step):
            self._call("delete", self.client.delete, name, ids=gone[start:start + step])
        return upserted, len(gone)

    def swap(self, entry: dict) -> None:
        """Point the alias at the published collection; drop full builds older than the one it replaced
        (that one stays for readers still on the previous version) and ones that never got the alias."""
        before = self.current_collection()
        self._put(f"alias:{self.alias}", entry["collection"])
        keep = {entry["collection"], before}
        pattern = re.compile(rf"^{re.escape(self.alias)}_\d{{8}}T\d+Z_[0-9a-f]{{8}}$")
        for name in self._call("list collections", self.client.list_collections):
            if pattern.match(name) and name not in keep:
                self._call("drop collection", self.client.drop_collection, name)
                self._call("write registry", self.client.delete, self.registry, ids=[f"manifest:{name}"])

    def save(self, data: IndexData, folder: Path) -> None:
        """No files: the passages live in Milvus."""

    def loader(self):
        return None

    # ------------------------------------------------------------------ serving side

    def attach(self, data: IndexData) -> None:
        entry = data.manifest.get("backend") or {}
        name = entry.get("collection")
        if not name or not self._call("has_collection", self.client.has_collection, name):
            raise IndexMissing(f"Milvus at {self.settings.uri} has no collection {name} for index "
                               f"{data.version}; run `casebot index --full`")
        built = self.collection_manifest(name) or {}
        for part in ("model", "chunking"):
            if built.get(part) != data.manifest[part]:
                raise IndexMismatch(f"Milvus collection {name} was built with {part} {built.get(part)!r}, "
                                    f"index {data.version} with {data.manifest[part]!r}; "
                                    "run `casebot index --full` to rebuild it")
        self._call("load collection", self.client.load_collection, name)
        data.searcher = MilvusSearcher(self, name, built.get("index_type", "FLAT"),
                                       {c.chunk_id: i for i, c in enumerate(data.chunks)})


class MilvusSearcher:
    """Search bound to one loaded version and its collection."""

    def __init__(self, backend: MilvusBackend, collection: str, index_type: str, row_of: dict[str, int]):
        self.backend = backend
        self.collection = collection
        self.row_of = row_of
        index = backend.config.index
        self.params = {"IVF_FLAT": {"nprobe": index.ivf_nprobe}, "HNSW": {"ef": index.hnsw_ef_search}}.get(
            index_type, {})
        self.failing = False

    def candidates(self, qvec: np.ndarray, question: str, depth: int) -> list[int]:
        """Rows of the union of Milvus's dense top-``depth`` and BM25 top-``depth`` (RRF orders the
        union server-side; the limit takes all of it, so the ranker does not change which rows come)."""
        requests = [
            AnnSearchRequest([qvec.astype(np.float32).tolist()], "vector",
                             {"metric_type": "IP", "params": self.params}, limit=depth),
            AnnSearchRequest([question], "sparse", {"metric_type": "BM25"}, limit=depth),
        ]
        result = self.backend.client.hybrid_search(self.collection, requests, RRFRanker(), limit=2 * depth,
                                                   output_fields=[],
                                                   timeout=whole_seconds(self.backend.settings.timeout_seconds))
        return [self.row_of[h["id"]] for h in result[0] if h["id"] in self.row_of]

    def search(self, data: IndexData, qvec: np.ndarray, question: str, settings: Retrieval, timings=None):
        from embeddings.search import fuse, lexical_candidates, local_search

        depth = min(settings.candidates, len(data.chunks))
        t0 = time.perf_counter()
        try:
            rows = self.candidates(qvec, question, depth)
        except Exception as exc:  # Milvus down or unreachable: answer from the version's own vectors and BM25
            if not self.failing:
                self.backend.log(f"Milvus at {self.backend.settings.uri} failed ({_short(exc)}); "
                                 "answering from the local vectors and BM25 until it is back")
            self.failing = True
            return local_search(data, qvec, question, settings, timings)
        if self.failing:
            self.backend.log(f"Milvus at {self.backend.settings.uri} is back")
            self.failing = False
        t1 = time.perf_counter()
        lex = lexical_candidates(data, question, depth)
        t2 = time.perf_counter()
        if timings is not None:
            timings["vector"] = (t1 - t0) * 1e3
            timings["lexical"] = (t2 - t1) * 1e3
        return fuse(data, qvec, set(rows), lex, settings)
