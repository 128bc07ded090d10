"""The index on disk: versioned folders, a manifest, and an atomic ``current`` pointer.

    <index>/current -> versions/<version>     (symlink, swapped with os.replace)
    <index>/versions/<version>/manifest.json  model, chunking, seed hashes, file sizes and hashes
                               documents.jsonl  one Document per line
                               chunks.jsonl     chunk id, document key, sentence ids, embedded text
                               sentences.jsonl  document key and text of every quotable sentence
                               vectors.npy      chunk vectors (float32, normalized)
                               sentence_vectors.npy  sentence vectors (float16)
                               vectors.faiss    FAISS index over vectors.npy
                               bm25/            bm25s arrays (plain .npy) and vocabulary
    <index>/.lock                               held by a build (fcntl), released by the kernel on death

A build writes a hidden temporary folder, fsyncs it, renames it into versions/ and only then
swaps ``current``: a crash at any point leaves the previous version whole and loadable.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import hashlib
import json
import os
import shutil
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from embeddings.documents import Document
from embeddings.errors import IndexCorrupt, IndexLocked, IndexMismatch, IndexMissing
from embeddings.passages import ChunkRecord, PassageReading, SentenceRecord
from embeddings.text import file_sha256

FORMAT = 1
CHUNKER = "pysbd-sentences+wordpiece-bound/1"
HASH_ON_LOAD_LIMIT = 64 * 2**20  # verify content hashes on load below this total size


@dataclass
class IndexData(PassageReading):
    """Everything a version holds, in memory (FAISS mode serves from it; every build reads it)."""

    manifest: dict
    documents: dict[str, Document]
    chunks: list[ChunkRecord]
    sentences: list[SentenceRecord]
    vectors: np.ndarray
    sentence_vectors: np.ndarray
    faiss_index: object = None
    bm25: object = None
    path: Path | None = None
    _terms: dict = field(default_factory=dict, repr=False)  # lexical terms, filled as questions need them

    @property
    def version(self) -> str:
        return self.manifest["version"]

    @property
    def lexicon(self):
        return self.bm25


def new_version(seed_hashes: dict) -> str:
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")
    digest = hashlib.sha256(json.dumps(seed_hashes, sort_keys=True).encode()).hexdigest()[:8]
    return f"{stamp}-{digest}"


def current_path(root: Path) -> Path | None:
    link = root / "current"
    if not link.is_symlink() and not link.exists():
        return None
    target = (root / os.readlink(link)) if link.is_symlink() else link
    return target if target.is_dir() else None


def current_version(root: Path) -> str | None:
    """The version ``current`` points to, read without loading anything (cheap, for hot reload)."""
    path = current_path(root)
    return path.name if path else None


@contextmanager
def index_lock(root: Path):
    """Exclusive build lock; a second build refuses at once instead of racing the first."""
    root.mkdir(parents=True, exist_ok=True)
    fh = open(root / ".lock", "a+")
    try:
        fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        fh.seek(0)
        holder = fh.read().strip()
        fh.close()
        raise IndexLocked(
            f"another `casebot index` is rebuilding {root}{f' (pid {holder})' if holder else ''}; "
            "wait for it to finish and try again"
        ) from None
    try:
        fh.seek(0)
        fh.truncate()
        fh.write(str(os.getpid()))
        fh.flush()
        yield
    finally:
        fh.seek(0)
        fh.truncate()
        fcntl.flock(fh, fcntl.LOCK_UN)
        fh.close()


def _write_jsonl(path: Path, rows) -> None:
    with open(path, "w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")


def _read_jsonl(path: Path) -> list[dict]:
    with open(path, encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def _fsync_tree(folder: Path) -> None:
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            with open(path, "rb") as fh:
                os.fsync(fh.fileno())
    for d in [folder, *[p for p in folder.rglob("*") if p.is_dir()]]:
        _fsync_dir(d)


def write_version(root: Path, data: IndexData, save_backend, write_bm25) -> Path:
    """Write a complete version beside the current one and swap ``current`` to it atomically.

    ``save_backend(folder)`` writes the search backend's own files (FAISS: vectors.faiss);
    ``write_bm25(folder)`` writes the lexical index into the version's bm25/ folder."""
    versions = root / "versions"
    versions.mkdir(parents=True, exist_ok=True)
    version = data.manifest["version"]
    tmp = versions / f".tmp-{version}-{os.getpid()}"
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir()
    _write_jsonl(tmp / "documents.jsonl", (asdict(d) for d in data.documents.values()))
    _write_jsonl(tmp / "chunks.jsonl", (asdict(c) for c in data.chunks))
    _write_jsonl(tmp / "sentences.jsonl", (asdict(s) for s in data.sentences))
    np.save(tmp / "vectors.npy", data.vectors.astype(np.float32), allow_pickle=False)
    np.save(tmp / "sentence_vectors.npy", data.sentence_vectors.astype(np.float16), allow_pickle=False)
    save_backend(tmp)
    write_bm25(tmp / "bm25")
    files = {}
    for path in sorted(p for p in tmp.rglob("*") if p.is_file()):
        files[str(path.relative_to(tmp))] = {"size": path.stat().st_size, "sha256": file_sha256(path)}
    manifest = {**data.manifest, "files": files}
    (tmp / "manifest.json").write_text(json.dumps(manifest, indent=2, ensure_ascii=False), encoding="utf-8")
    _fsync_tree(tmp)
    final = versions / version
    os.rename(tmp, final)
    _fsync_dir(versions)  # the rename must be durable before ``current`` may point at it
    link_tmp = root / f".current-{os.getpid()}"
    if link_tmp.is_symlink() or link_tmp.exists():
        link_tmp.unlink()
    previous = current_path(root)
    os.symlink(os.path.join("versions", version), link_tmp)
    os.replace(link_tmp, root / "current")
    _fsync_dir(root)
    _collect_garbage(root, keep={version, previous.name if previous else ""})
    return final


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _collect_garbage(root: Path, keep: set[str]) -> None:
    """Keep the new version and the one before it (a running bot may still be reading it);
    remove older ones and what killed builds left behind."""
    for child in (root / "versions").iterdir():
        if child.name not in keep:
            shutil.rmtree(child, ignore_errors=True)
    for link in root.glob(".current-*"):
        link.unlink(missing_ok=True)


def read_manifest(root: Path) -> tuple[Path, dict]:
    path = current_path(root)
    if path is None:
        raise IndexMissing(f"no index at {root}; run `casebot index`")
    try:
        manifest = json.loads((path / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise IndexCorrupt(f"manifest of index {path.name} is unreadable ({exc.__class__.__name__}); "
                           "run `casebot index --full`") from None
    if manifest.get("format") != FORMAT:
        raise IndexMismatch(f"index {path.name} has format {manifest.get('format')}, this casebot reads "
                            f"format {FORMAT}; run `casebot index --full`")
    return path, manifest


def check_compatible(manifest: dict, model: dict, chunking: dict) -> None:
    """Refuse an index built with another model or chunker: its vectors would be meaningless."""
    built_model = manifest.get("model", {})
    if built_model.get("name") != model["name"] or built_model.get("dimension") != model["dimension"]:
        raise IndexMismatch(
            f"the index was built with model {built_model.get('name')!r} ({built_model.get('dimension')} dims) "
            f"but the configuration asks for {model['name']!r} ({model['dimension']} dims); "
            "run `casebot index --full` to rebuild it"
        )
    built = manifest.get("chunking") or {}
    if built != chunking:
        diff = ", ".join(f"{k} {built.get(k)!r} (now {chunking.get(k)!r})"
                         for k in sorted(set(built) | set(chunking)) if built.get(k) != chunking.get(k))
        raise IndexMismatch(f"the index was built with other text processing: {diff}; "
                            "run `casebot index --full` to rebuild it")


def verify_files(path: Path, manifest: dict, hashes: bool | None = None) -> list[str]:
    """Problems with the version's files: missing, truncated, or (when hashing) altered."""
    files = manifest.get("files", {})
    total = sum(f["size"] for f in files.values())
    hashes = total <= HASH_ON_LOAD_LIMIT if hashes is None else hashes
    problems = []
    for name, info in files.items():
        p = path / name
        if not p.exists():
            problems.append(f"{name} is missing")
        elif p.stat().st_size != info["size"]:
            problems.append(f"{name} is {p.stat().st_size} bytes, expected {info['size']} (truncated?)")
        elif hashes and file_sha256(p) != info["sha256"]:
            problems.append(f"{name} does not match its checksum")
    return problems


def load_version(path: Path, manifest: dict, load_faiss=None, load_bm25=None) -> IndexData:
    """Load a version; without ``load_faiss`` / ``load_bm25`` those parts stay unread (a build
    reusing vectors needs neither: at 1M passages that skips reading 1.5 GB)."""
    problems = verify_files(path, manifest)
    if problems:
        raise IndexCorrupt(f"index {path.name} is damaged: {problems[0]}; run `casebot index --full`")
    try:
        documents = {}
        for row in _read_jsonl(path / "documents.jsonl"):
            doc = Document(**row)
            documents[doc.key] = doc
        chunks = [ChunkRecord(**row) for row in _read_jsonl(path / "chunks.jsonl")]
        sentences = [SentenceRecord(**row) for row in _read_jsonl(path / "sentences.jsonl")]
        vectors = np.load(path / "vectors.npy", allow_pickle=False)
        sentence_vectors = np.load(path / "sentence_vectors.npy", allow_pickle=False).astype(np.float32)
    except (OSError, ValueError, TypeError, KeyError) as exc:
        raise IndexCorrupt(f"index {path.name} is unreadable ({exc.__class__.__name__}: {str(exc)[:100]}); "
                           "run `casebot index --full`") from None
    dim = manifest["model"]["dimension"]
    if vectors.shape != (len(chunks), dim) or sentence_vectors.shape != (len(sentences), dim):
        raise IndexCorrupt(f"index {path.name} is inconsistent: {vectors.shape[0]} vectors for {len(chunks)} "
                           "chunks; run `casebot index --full`")
    faiss_index = load_faiss(path / "vectors.faiss", len(chunks), dim) if load_faiss else None
    try:
        bm25 = load_bm25(path / "bm25") if chunks and load_bm25 else None
    except Exception as exc:  # bm25s raises assorted errors on damaged arrays
        raise IndexCorrupt(f"index {path.name}: bm25 data unreadable ({exc.__class__.__name__}); "
                           "run `casebot index --full`") from None
    return IndexData(manifest, documents, chunks, sentences, vectors, sentence_vectors, faiss_index, bm25, path)
