"""Milvus through pymilvus's MilvusClient, the build side: one client code for Milvus Lite (a local
file, the embedded C++ engine), a Milvus server and a cluster. The serving side is
embeddings/retrieval/milvus.py.

A version is two collections. ``<name>`` holds one passage per row, with everything an answer needs
from it: the chunk id (primary key), its dense vector, its BM25 terms (casebot's own tokenizer, so
Milvus's built-in BM25 function counts exactly the terms the local BM25 counts), its chunk number in
the document, and as output fields the embedded text, the document's citation fields (JSON), its
sentences (JSON, with their positions in the document) and the chunk's and sentences' vectors
(base64: float32, then float16). ``<name>_terms`` holds each term's document frequency, so the
question's term weights and unknown words come from Milvus too.

An incremental build upserts and deletes by chunk id (and term) in the collections the previous
version used; a full build writes new collections ``<alias>_<version>`` and then swaps the alias.

Milvus Lite 2.5.1 answers UNIMPLEMENTED to create_alias, alter_alias and alter_collection_properties
(tried here), so the alias and each collection's manifest (model, dimension, chunker) are rows of a
small registry collection ``<alias>_registry``: the same code works on Lite and on a server.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import logging
import math
import os
import re
import threading
import warnings
from collections import Counter
from pathlib import Path

import numpy as np

with warnings.catch_warnings():  # milvus-lite 2.5.1 imports pkg_resources, which warns on import
    warnings.simplefilter("ignore")
    from pymilvus import DataType, Function, FunctionType, MilvusClient
    try:
        import milvus_lite  # noqa: F401  (only for local files)
    except ImportError:
        pass

from embeddings.config import Config
from embeddings.errors import BackendUnavailable, ConfigError
from embeddings.index.store import IndexData

# The local BM25 is bm25s's lucene variant with its defaults; Milvus's BM25 is given the same k1, b.
# Milvus scores k1 + 1 times what bm25s does (measured: the ratio is 2.5 within 1e-6 on the seeds),
# so a served score is divided by it.
BM25_K1 = 1.5
BM25_B = 0.75
FIELD_MAX = 65535       # bytes of one VARCHAR field, Milvus's limit
KEY_MAX = 512           # bytes of a chunk id, document key or term
NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
UNUSED_DIM = 2          # Milvus wants a vector field in every collection; the registry's and terms' is unused
SCHEMA = 2              # what a passage row holds; a collection of another schema is rebuilt
OUTPUT_FIELDS = ["doc_key", "n", "doc", "text", "sentences", "vectors"]

# pymilvus logs every failed RPC at ERROR on stderr; casebot reports failures itself, once.
for _name in ("pymilvus", "pymilvus.milvus_client"):  # pymilvus gives the second its own level
    logging.getLogger(_name).setLevel(logging.CRITICAL)

_clients: dict[str, object] = {}
_clients_lock = threading.Lock()


def short_error(exc: Exception) -> str:
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
            raise BackendUnavailable(f"cannot open Milvus at {uri}: {short_error(exc)}{hint}") from None
        _clients[uri] = client
        return client


def forget(uri: str) -> None:
    """Drop the process's client for ``uri``: the next ``connect`` opens a new channel (after a
    server restarted, a fresh channel answers at once; an old one may wait out gRPC's back-off)."""
    with _clients_lock:
        client = _clients.pop(uri, None)
    if client is not None:
        try:
            client.close()
        except Exception:  # a channel to a dead server may fail to close; it is dropped either way
            pass


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



def call(uri: str, timeout: float, what: str, fn, *args, **kwargs):
    """One Milvus call bounded by ``timeout``; any failure is one BackendUnavailable line."""
    try:
        return fn(*args, timeout=whole_seconds(timeout), **kwargs)
    except Exception as exc:
        raise BackendUnavailable(f"Milvus at {uri}: {what} failed: {short_error(exc)}") from None


def unused_vector() -> list[float]:
    return [0.0] * UNUSED_DIM


class Registry:
    """The alias and each collection's manifest, as rows of ``<alias>_registry`` (Milvus Lite 2.5.1
    has no aliases or collection properties)."""

    def __init__(self, client, alias: str, call_):
        self.client = client
        self.name = f"{alias}_registry"
        self.alias = alias
        self._call = call_

    def ensure(self) -> None:
        if self._call("has_collection", self.client.has_collection, self.name):
            return
        schema = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
        schema.add_field("key", DataType.VARCHAR, is_primary=True, max_length=KEY_MAX)
        schema.add_field("value", DataType.VARCHAR, max_length=FIELD_MAX)
        schema.add_field("unused", DataType.FLOAT_VECTOR, dim=UNUSED_DIM)
        index = self.client.prepare_index_params()
        index.add_index("unused", index_type="FLAT", metric_type="L2")
        self._call("create registry", self.client.create_collection, self.name, schema=schema,
                   index_params=index, consistency_level="Strong")

    def get(self, key: str) -> str | None:
        if not self._call("has_collection", self.client.has_collection, self.name):
            return None
        rows = self._call("read registry", self.client.get, self.name, ids=[key], output_fields=["value"])
        return rows[0]["value"] if rows else None

    def put(self, key: str, value: str) -> None:
        self.ensure()
        self._call("write registry", self.client.upsert, self.name,
                   [{"key": key, "value": value, "unused": unused_vector()}])

    def delete(self, key: str) -> None:
        self._call("write registry", self.client.delete, self.name, ids=[key])

    def current(self) -> str | None:
        """The collection the alias points to."""
        return self.get(f"alias:{self.alias}")

    def manifest(self, name: str) -> dict | None:
        value = self.get(f"manifest:{name}")
        return json.loads(value) if value else None


def terms_collection(name: str) -> str:
    return f"{name}_terms"


def stopwords_of(manifest: dict) -> frozenset[str]:
    return frozenset(manifest["stopwords"])


class MilvusPublisher:
    kind = "milvus"

    def __init__(self, config: Config):
        self.config = config
        self.settings = config.backend
        if not self.settings.uri:
            raise ConfigError('[backend] kind = "milvus" needs uri = a Milvus Lite file or http://host:19530')
        if not NAME_RE.match(self.settings.collection):
            raise ConfigError(f"[backend] collection = {self.settings.collection!r}: letters, digits and _ only")
        self.alias = self.settings.collection
        self.client = connect(self.settings.uri, self.settings.timeout_seconds)  # fail before any work
        self.registry = Registry(self.client, self.alias, self._call)

    def _call(self, what: str, fn, *args, **kwargs):
        return call(self.settings.uri, self.settings.timeout_seconds, what, fn, *args, **kwargs)

    def current_collection(self) -> str | None:
        return self.registry.current()

    def collection_manifest(self, name: str) -> dict | None:
        return self.registry.manifest(name)

    # ------------------------------------------------------------------ publish

    def publish(self, data: IndexData, previous: IndexData | None) -> dict:
        from embeddings.lexical import default_stopwords

        stopwords = frozenset(default_stopwords())
        new = PublishedRows(data, stopwords)
        prev = (previous.manifest.get("backend") or {}) if previous else {}
        name = prev.get("collection") if prev.get("kind") == self.kind else None
        if name and self._reusable(name, data.manifest):
            upserted, deleted = self._update(name, new, PublishedRows(previous, stopwords))
            index_type = self.collection_manifest(name)["index_type"]
        else:
            name = f"{self.alias}_{data.version.replace('-', '_')}"
            index_type = self._create(name, data, sorted(stopwords))
            upserted, deleted = self._upsert(name, new, range(len(data.chunks))), 0
            self._write_terms(name, new.document_frequencies(), {})
        return {"kind": self.kind, "collection": name, "alias": self.alias, "index_type": index_type,
                "upserted": upserted, "deleted": deleted}

    def _reusable(self, name: str, manifest: dict) -> bool:
        if not self._call("has_collection", self.client.has_collection, name):
            return False
        built = self.collection_manifest(name) or {}
        return (built.get("schema") == SCHEMA and built.get("model") == manifest["model"]
                and built.get("chunking") == manifest["chunking"])

    def _create(self, name: str, data: IndexData, stopwords: list[str]) -> str:
        from embeddings.index.vector_index import ivf_nlist

        dim = data.manifest["model"]["dimension"]
        schema = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
        schema.add_field("chunk_id", DataType.VARCHAR, is_primary=True, max_length=KEY_MAX)
        schema.add_field("vector", DataType.FLOAT_VECTOR, dim=dim)
        # Casebot's own terms, space-separated: Milvus only splits them, so both BM25s count alike.
        schema.add_field("tokens", DataType.VARCHAR, max_length=FIELD_MAX, enable_analyzer=True,
                         analyzer_params={"tokenizer": "whitespace"})
        schema.add_field("sparse", DataType.SPARSE_FLOAT_VECTOR)
        schema.add_field("doc_key", DataType.VARCHAR, max_length=KEY_MAX)
        schema.add_field("n", DataType.INT64)  # the chunk's number in its document: n == 0 lists documents
        for field in ("doc", "text", "sentences", "vectors"):
            schema.add_field(field, DataType.VARCHAR, max_length=FIELD_MAX)
        schema.add_function(Function(name="tokens_bm25", function_type=FunctionType.BM25,
                                     input_field_names=["tokens"], output_field_names=["sparse"]))
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

        terms = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
        terms.add_field("term", DataType.VARCHAR, is_primary=True, max_length=KEY_MAX)
        terms.add_field("df", DataType.INT64)
        terms.add_field("initial", DataType.VARCHAR, max_length=16)
        terms.add_field("length", DataType.INT64)
        terms.add_field("unused", DataType.FLOAT_VECTOR, dim=UNUSED_DIM)
        index = self.client.prepare_index_params()
        index.add_index("unused", index_type="FLAT", metric_type="L2")
        self._call("create terms collection", self.client.create_collection, terms_collection(name),
                   schema=terms, index_params=index, consistency_level="Strong")
        self.registry.put(f"manifest:{name}", json.dumps({
            "schema": SCHEMA, "version": data.version, "model": data.manifest["model"],
            "chunking": data.manifest["chunking"], "index_type": index_type, "index_params": params,
            "stopwords": stopwords}))
        return index_type

    def _upsert(self, name: str, rows: "PublishedRows", indexes) -> int:
        indexes = list(indexes)
        step = max(1, self.settings.upsert_batch)
        for start in range(0, len(indexes), step):
            self._call("upsert", self.client.upsert, name, [rows.row(i) for i in indexes[start:start + step]])
        return len(indexes)

    def _delete(self, name: str, ids: list[str]) -> None:
        step = max(1, self.settings.upsert_batch)
        for start in range(0, len(ids), step):
            self._call("delete", self.client.delete, name, ids=ids[start:start + step])

    def _write_terms(self, name: str, df: dict[str, int], old: dict[str, int]) -> None:
        changed = [t for t, n in df.items() if old.get(t) != n]
        step = max(1, self.settings.upsert_batch)
        for start in range(0, len(changed), step):
            self._call("upsert terms", self.client.upsert, terms_collection(name), [
                {"term": t, "df": df[t], "initial": t[:1], "length": len(t), "unused": unused_vector()}
                for t in changed[start:start + step]])
        self._delete(terms_collection(name), sorted(set(old) - set(df)))

    def _update(self, name: str, new: "PublishedRows", old: "PublishedRows") -> tuple[int, int]:
        """Upsert the chunks that are new or changed (text, sentences or citation fields); delete the
        gone ones; bring the term frequencies to the new version's."""
        before = {old.data.chunks[i].chunk_id: old.signature(i) for i in range(len(old.data.chunks))}
        changed = [i for i, c in enumerate(new.data.chunks) if before.get(c.chunk_id) != new.signature(i)]
        upserted = self._upsert(name, new, changed)
        gone = sorted(set(before) - {c.chunk_id for c in new.data.chunks})
        self._delete(name, gone)
        self._write_terms(name, new.document_frequencies(), old.document_frequencies())
        return upserted, len(gone)

    # ------------------------------------------------------------------ swap

    def swap(self, entry: dict) -> None:
        """Point the alias at the published collection; drop full builds older than the one it replaced
        (that one stays for readers still on the previous version) and ones that never got the alias."""
        before = self.current_collection()
        self.registry.put(f"alias:{self.alias}", entry["collection"])
        keep = {entry["collection"], before}
        pattern = re.compile(rf"^{re.escape(self.alias)}_\d{{8}}T\d+Z_[0-9a-f]{{8}}$")
        alive = set(self._call("list collections", self.client.list_collections))
        for name in sorted(alive):
            if pattern.match(name) and name not in keep:
                self._call("drop collection", self.client.drop_collection, name)
                if terms_collection(name) in alive:
                    self._call("drop collection", self.client.drop_collection, terms_collection(name))
                self.registry.delete(f"manifest:{name}")

    def save(self, folder: Path) -> None:
        """No files: the passages live in Milvus."""


class PublishedRows:
    """A version's passages as Milvus rows, and its terms' document frequencies."""

    def __init__(self, data: IndexData, stopwords: frozenset[str]):
        from embeddings.lexical import tokenize_with

        self.data = data
        self.stopwords = stopwords
        # One string a passage (a list of term lists would hold ~100 objects a passage: GBs at 1M)
        self._tokens = [" ".join(tokenize_with([c.embed_text], stopwords)[0]) for c in data.chunks]
        first: dict[str, int] = {}
        for sid, s in enumerate(data.sentences):
            first.setdefault(s.doc_key, sid)
        self._first = first  # a document's sentences are consecutive, in document order

    def signature(self, i: int) -> tuple:
        row = self.row(i, with_vectors=False)
        return tuple(row[f] for f in ("tokens", "doc", "text", "sentences"))

    def row(self, i: int, with_vectors: bool = True) -> dict:
        chunk = self.data.chunks[i]
        doc = self.data.documents[chunk.doc_key]
        meta = {k: v for k, v in dataclasses.asdict(doc).items() if k != "text"}
        row = {
            "chunk_id": chunk.chunk_id, "tokens": self._tokens[i], "doc_key": chunk.doc_key,
            "n": int(chunk.chunk_id.rsplit("#", 1)[1]),
            "doc": json.dumps(meta, ensure_ascii=False), "text": chunk.embed_text,
            "sentences": json.dumps([[sid - self._first[chunk.doc_key], self.data.sentences[sid].text]
                                     for sid in chunk.sentence_ids], ensure_ascii=False)}
        if with_vectors:
            row["vector"] = self.data.vectors[i].astype(np.float32).tolist()
            blob = (self.data.vectors[i].astype(np.float32).tobytes()
                    + self.data.sentence_vectors[chunk.sentence_ids].astype(np.float16).tobytes())
            row["vectors"] = base64.b64encode(blob).decode("ascii")
        for field in ("chunk_id", "doc_key"):
            if len(row[field].encode()) > KEY_MAX:
                raise ConfigError(f"{field} {row[field][:60]!r}… is longer than Milvus's {KEY_MAX} bytes; "
                                  "shorten the seed file's name")
        for field in ("tokens", "doc", "text", "sentences", "vectors"):
            if field in row and len(row[field].encode()) > FIELD_MAX:
                raise ConfigError(f"passage {chunk.chunk_id}: its {field} is over Milvus's {FIELD_MAX} bytes "
                                  "a field; lower [chunking] target_tokens")
        return row

    def document_frequencies(self) -> dict[str, int]:
        df: Counter = Counter()
        for tokens in self._tokens:
            df.update(t for t in set(tokens.split()) if len(t.encode()) <= KEY_MAX)
        return dict(df)
