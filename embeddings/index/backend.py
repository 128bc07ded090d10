"""Publishers: how a build writes a version into its search backend (the serving side, which reads
it back, is embeddings/retrieval/).

Every publisher does the same three things for the build:

    publish(data, previous)  bring the backend to ``data``: upsert and delete by chunk id against the
                             previous version, or write a new version from scratch; returns the
                             manifest's "backend" entry
    save(folder)             files of the backend inside the version folder (none for Milvus)
    swap(entry)              point readers at the new version, once its folder is ``current``

"faiss" (the default) is the FAISS + BM25 files inside the version folder; "milvus"
(embeddings/index/milvus_backend.py) keeps passages, sentences and term statistics in Milvus. The version
folder keeps documents, sentences and their vectors either way: the next build reuses them.
"""

from __future__ import annotations

from pathlib import Path

from embeddings.config import Config
from embeddings.errors import ConfigError, IndexMismatch
from embeddings.index import vector_index
from embeddings.index.store import IndexData

KINDS = ("faiss", "milvus")


class FaissPublisher:
    kind = "faiss"

    def __init__(self, config: Config):
        self.settings = config.index
        self._built = None

    def publish(self, data: IndexData, previous: IndexData | None) -> dict:
        self._built = vector_index.build_vector_index(data.vectors, self.settings)
        return {"kind": self.kind, "index_type": vector_index.index_kind(self._built)}

    def save(self, folder: Path) -> None:
        vector_index.save_vector_index(self._built, folder / "vectors.faiss")

    def swap(self, entry: dict) -> None:
        """Nothing to do: the version folder's files are the index, and ``current`` already points at it."""


def configured_kind(config: Config) -> str:
    """The configured backend kind, refused with one clear line when it is not one of KINDS."""
    kind = config.backend.kind
    if kind not in KINDS:
        raise ConfigError(f"config [backend] kind = {kind!r}: expected one of {', '.join(KINDS)}")
    return kind


def open_publisher(config: Config):
    if configured_kind(config) == "faiss":
        return FaissPublisher(config)
    from embeddings.index.milvus_backend import MilvusPublisher

    return MilvusPublisher(config)  # connects now: a bad URI fails before a build embeds anything


def backend_kind(manifest: dict) -> str:
    """The backend a version was published to (versions from before backends existed: faiss)."""
    return (manifest.get("backend") or {}).get("kind", "faiss")


def check_kind(manifest: dict, kind: str) -> None:
    built = backend_kind(manifest)
    if built != kind:
        raise IndexMismatch(f"index {manifest.get('version')} was published to the {built} backend, the "
                            f"configuration asks for {kind}; run `casebot index` to publish it there "
                            "(no passage is embedded again)")
