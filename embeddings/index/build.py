"""Build or update the index from the seeds folder.

Only new or changed seed files are parsed and embedded; unchanged ones reuse the vectors of the
current version; deleted ones are dropped. The result is written as a new version and swapped in
atomically (store.write_version), under a lock so two builds cannot interleave.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
from collections import Counter
import time
from pathlib import Path
from typing import Callable

import numpy as np

from embeddings import lexical
from embeddings.config import Config
from embeddings.documents import Document
from embeddings.errors import (CasebotError, IndexCorrupt, IndexMismatch, IndexMissing, ModelUnavailable,
                               SeedParseError, SeedsNotFound)
from embeddings.index import store
from embeddings.index.backend import open_publisher
from embeddings.index.chunking import TokenCounter, chunk_document
from embeddings.index.dedupe import DuplicateFinder
from embeddings.models.encoder import Encoder, load_tokenizer, max_seq_length, resolve_model_path
from embeddings.parsers import PARSER_VERSION, is_seed, parse_file, sidecar_path
from embeddings.results import BuildReport
from embeddings.text import file_sha256


_log = logging.getLogger("casebot").info  # progress lines; the edges say where they go (bot/cli.py main)


def model_identity(config: Config, encoder: Encoder) -> dict:
    return {"name": config.model.name, "dimension": encoder.dimension,
            "max_seq_length": max_seq_length(encoder.path)}


def chunking_identity(config: Config, encoder: Encoder) -> dict:
    return {"chunker": store.CHUNKER, "target_tokens": config.chunking.target_tokens,
            "overlap_sentences": config.chunking.overlap_sentences,
            "lexical": lexical.TOKENIZER_ID,
            "parsers": PARSER_VERSION,
            "max_seq_length": max_seq_length(encoder.path)}


def onnx_dir(config: Config) -> Path | None:
    """Where the query-time ONNX export of the configured model lives (beside the index versions)."""
    if os.environ.get("CASEBOT_NO_ONNX"):
        return None
    try:
        path = resolve_model_path(config.model.name)
    except ModelUnavailable:
        return None
    # Keyed by the model's weights as well as its name: new weights under the same name get a new export.
    weights = sorted(path.glob("*.safetensors")) + sorted(path.glob("*.bin"))
    stamp = "|".join([config.model.name, str(path)] + [f"{w.name}:{w.stat().st_size}:{w.stat().st_mtime_ns}" for w in weights])
    return config.paths.index / "encoders" / hashlib.sha256(stamp.encode()).hexdigest()[:12]


def ensure_onnx_export(config: Config, encoder: Encoder, log) -> None:
    """Export the model for fast queries once per model; a model that can't be exported stays on torch."""
    folder = onnx_dir(config)
    if folder is None:
        return
    from embeddings.models.onnx_encoder import export_onnx, onnx_export_present

    if onnx_export_present(folder):
        return
    try:
        export_onnx(encoder.path, folder)
    except Exception as exc:  # the export is an optimization: never fail a build over it
        log(f"note: no ONNX export for {config.model.name} ({str(exc)[:120]}); queries will use torch")
        return
    for stale in folder.parent.iterdir():  # exports of weights the index no longer uses
        if stale != folder:
            shutil.rmtree(stale, ignore_errors=True)


def scan_seeds(seeds: Path) -> dict[str, str]:
    """File name -> sha256 of the file and its sidecar metadata, for every seed file."""
    if not seeds.is_dir():
        raise SeedsNotFound(f"seeds folder not found: {seeds}")
    out = {}
    for path in sorted(seeds.iterdir()):
        if not is_seed(path):
            continue
        h = hashlib.sha256(file_sha256(path).encode())
        side = sidecar_path(path)
        if side.exists():
            h.update(file_sha256(side).encode())
        out[path.name] = h.hexdigest()
    if not out:
        raise SeedsNotFound(f"no seed files (.txt, .md, .html, .pdf) in {seeds}")
    return out


def _previous(config: Config, encoder: Encoder, full: bool, log) -> store.IndexData | None:
    if full:
        return None
    try:
        path, manifest = store.read_manifest(config.paths.index)
        store.check_compatible(manifest, model_identity(config, encoder), chunking_identity(config, encoder))
        return store.load_version(path, manifest)  # documents, chunks and vectors: what reuse needs
    except IndexMissing:
        return None
    except (IndexCorrupt, IndexMismatch) as exc:
        log(f"previous index not reusable ({exc}); rebuilding everything")
        return None


def build_index(
    config: Config,
    encoder: Encoder | None = None,
    full: bool = False,
    log: Callable[[str], None] = _log,
    progress: bool = False,
) -> BuildReport:
    """Bring the index up to date with the seeds folder; return what changed."""
    started = time.perf_counter()
    encoder = encoder or Encoder.from_config(config.model)
    seeds = config.paths.seeds
    hashes = scan_seeds(seeds)
    backend = open_publisher(config)
    with store.index_lock(config.paths.index):
        previous = _previous(config, encoder, full, log)
        old_seeds = previous.manifest["seeds"] if previous else {}
        report = BuildReport(version=store.new_version(hashes))
        for name, digest in hashes.items():
            if name not in old_seeds:
                report.added.append(name)
            elif old_seeds[name]["sha256"] != digest or old_seeds[name].get("skipped"):
                report.updated.append(name)
            else:
                report.unchanged.append(name)
        report.removed = sorted(set(old_seeds) - set(hashes))
        if report.added or report.updated or report.removed:
            # A file whose documents were dropped as duplicates of another file's must be parsed
            # again when anything changes: the copy it deferred to may be gone.
            for name in [n for n in report.unchanged if old_seeds[n].get("dropped_duplicates")]:
                report.unchanged.remove(name)
                report.updated.append(name)

        # Per seed file: its documents (reused for unchanged files, parsed for the others).
        per_file: dict[str, list[Document]] = {}
        for name in hashes:
            if name in report.unchanged:
                per_file[name] = [previous.documents[k] for k in old_seeds[name]["documents"]]
                continue
            try:
                per_file[name] = parse_file(seeds / name)
            except SeedParseError as exc:
                report.skipped[name] = exc.reason
                log(f"skipped {name}: {exc.reason}")
                per_file[name] = []

        documents = _select_documents(per_file, report, log)
        if not documents:
            raise CasebotError(f"no document in {seeds} could be indexed; the previous index (if any) is kept")
        chunks, sentences, chunk_vecs, sent_vecs = _assemble(documents, previous, set(report.unchanged), config,
                                                             TokenCounter(load_tokenizer(encoder.path),
                                                                          max_seq_length(encoder.path)))
        todo_c = [i for i, v in enumerate(chunk_vecs) if v is None]
        todo_s = [i for i, v in enumerate(sent_vecs) if v is None]
        if todo_c or todo_s:
            log(f"embedding {len(todo_c)} passages and {len(todo_s)} sentences with {config.model.name}")
            texts = [chunks[i].embed_text for i in todo_c] + [sentences[i].text for i in todo_s]
            if config.dask.scheduler:
                from embeddings.index.distributed import embed_on_dask

                keys = [chunks[i].chunk_id for i in todo_c] + [f"sentence {i}" for i in todo_s]
                by_key = embed_on_dask(config, keys, texts, log)
                vecs = np.vstack([by_key[k] for k in keys])
            else:
                vecs = encoder.encode(texts, progress=progress)
            report.encoded += len(texts)
            for j, i in enumerate(todo_c):
                chunk_vecs[i] = vecs[j]
            for j, i in enumerate(todo_s):
                sent_vecs[i] = vecs[len(todo_c) + j]
        vectors = np.vstack(chunk_vecs).astype(np.float32)
        sentence_vectors = np.vstack(sent_vecs).astype(np.float32)

        reused = len(chunks) - len(todo_c)
        report.chunks_added = len(todo_c)
        report.chunks_removed = (len(previous.chunks) - reused) if previous else 0
        report.documents = len(documents)
        report.chunks = len(chunks)

        per_doc = Counter(c.doc_key for c in chunks)
        seed_entries = {}
        for name in hashes:
            keys = [d.key for d in per_file[name] if d.key in documents]
            seed_entries[name] = {"sha256": hashes[name], "documents": keys, "chunks": sum(per_doc[k] for k in keys)}
            if name in report.skipped:
                seed_entries[name]["skipped"] = report.skipped[name]
            dropped = [d.key for d in per_file[name] if d.key in report.duplicates]
            if name in report.unchanged and old_seeds[name].get("dropped_duplicates"):
                # reused files only carry their kept documents: keep what was dropped on record
                dropped = old_seeds[name]["dropped_duplicates"]
                report.duplicates.update({k: previous.manifest["duplicates"][k] for k in dropped
                                          if k in previous.manifest.get("duplicates", {})})
            if dropped:
                seed_entries[name]["dropped_duplicates"] = dropped
        manifest = {
            "format": store.FORMAT,
            "version": report.version,
            "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "model": model_identity(config, encoder),
            "chunking": chunking_identity(config, encoder),
            "seeds": seed_entries,
            "counts": {"documents": len(documents), "chunks": len(chunks), "sentences": len(sentences)},
            "duplicates": report.duplicates,
        }
        data = store.IndexData(manifest, documents, chunks, sentences, vectors, sentence_vectors)
        # The backend gets the new passages first; the folder's ``current`` swaps only once they are in.
        manifest["backend"] = backend.publish(data, previous)
        manifest["vector_index"] = manifest["backend"]["index_type"].lower()
        store.write_version(config.paths.index, data, backend.save,
                            lambda folder: lexical.build_bm25([c.embed_text for c in chunks], folder))
        backend.swap(manifest["backend"])
        ensure_onnx_export(config, encoder, log)
    report.seconds = time.perf_counter() - started
    return report


def _select_documents(per_file: dict[str, list[Document]], report: BuildReport, log) -> dict[str, Document]:
    """The documents to index: one per article (duplicates noted in the report), and no two
    files claiming the same document id."""
    documents: dict[str, Document] = {}
    duplicates = DuplicateFinder()
    owner: dict[str, str] = {}
    for name, docs in per_file.items():
        clash = next((owner[d.doc_id] for d in docs if owner.get(d.doc_id, name) != name), None)
        if clash:  # a.md and a.txt would share document ids, and so each other's citations
            report.skipped[name] = f"same document id as {clash}; rename one of the two files"
            log(f"skipped {name}: {report.skipped[name]}")
            per_file[name] = []
            continue
        for doc in docs:
            owner[doc.doc_id] = name
            kept = duplicates.add(doc.key, doc.text)
            if kept:
                report.duplicates[doc.key] = kept
            else:
                documents[doc.key] = doc
    return documents


def _assemble(documents: dict[str, Document], previous: store.IndexData | None, unchanged: set[str],
              config: Config, counter: TokenCounter):
    """Chunks and sentences of every document, with the previous version's vectors where a
    document is unchanged and None where it must be embedded."""
    reuse = _reusable(previous, unchanged)
    chunks: list[store.ChunkRecord] = []
    sentences: list[store.SentenceRecord] = []
    chunk_vecs: list[np.ndarray | None] = []
    sent_vecs: list[np.ndarray | None] = []
    for key, doc in documents.items():
        if key in reuse:
            old_chunks, old_sents = reuse[key]
            remap = {}
            for sid in old_sents:
                remap[sid] = len(sentences)
                sentences.append(previous.sentences[sid])
                sent_vecs.append(previous.sentence_vectors[sid])
            for ci in old_chunks:
                c = previous.chunks[ci]
                chunks.append(store.ChunkRecord(c.chunk_id, c.doc_key, c.doc_id,
                                                [remap[s] for s in c.sentence_ids], c.embed_text))
                chunk_vecs.append(previous.vectors[ci])
            continue
        local: dict[str, int] = {}
        for ch in chunk_document(doc, counter, config.chunking.target_tokens, config.chunking.overlap_sentences):
            ids = []
            for text in ch.sentences:
                if text not in local:
                    local[text] = len(sentences)
                    sentences.append(store.SentenceRecord(doc.key, text))
                    sent_vecs.append(None)
                ids.append(local[text])
            chunks.append(store.ChunkRecord(ch.chunk_id, ch.doc_key, ch.doc_id, ids, ch.embed_text))
            chunk_vecs.append(None)
    return chunks, sentences, chunk_vecs, sent_vecs


def _reusable(previous: store.IndexData | None, unchanged: set[str]) -> dict[str, tuple[list[int], list[int]]]:
    """Document key -> (chunk rows, sentence rows) in the previous version, for unchanged files."""
    if previous is None:
        return {}
    keys = {k for name in unchanged for k in previous.manifest["seeds"][name]["documents"]}
    out: dict[str, tuple[list[int], list[int]]] = {k: ([], []) for k in keys}
    for i, c in enumerate(previous.chunks):
        if c.doc_key in out:
            out[c.doc_key][0].append(i)
    for i, s in enumerate(previous.sentences):
        if s.doc_key in out:
            out[s.doc_key][1].append(i)
    return out
