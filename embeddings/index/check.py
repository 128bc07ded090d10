"""``casebot index --check``: does the index on disk match the seeds folder and its own manifest?"""

from __future__ import annotations

from embeddings.config import Config
from embeddings.errors import CasebotError
from embeddings.index import store
from embeddings.index.build import chunking_identity, model_identity, scan_seeds
from embeddings.models.encoder import Encoder


def check_index(config: Config) -> list[str]:
    problems: list[str] = []
    try:
        path, manifest = store.read_manifest(config.paths.index)
    except CasebotError as exc:
        return [str(exc)]
    problems += [f"index file {p}" for p in store.verify_files(path, manifest, hashes=True)]
    try:
        encoder = Encoder.from_config(config.model)  # no weights loaded
        store.check_compatible(manifest, model_identity(config, encoder), chunking_identity(config, encoder))
    except CasebotError as exc:
        problems.append(str(exc))
    try:
        hashes = scan_seeds(config.paths.seeds)
    except CasebotError as exc:
        return problems + [str(exc)]
    indexed = manifest.get("seeds", {})
    for name in sorted(set(hashes) - set(indexed)):
        problems.append(f"{name} is in the seeds folder but not in the index")
    for name in sorted(set(indexed) - set(hashes)):
        problems.append(f"{name} is in the index but no longer in the seeds folder")
    for name in sorted(set(hashes) & set(indexed)):
        if hashes[name] != indexed[name]["sha256"]:
            problems.append(f"{name} changed since the index was built")
    counts = manifest.get("counts", {})
    if not problems and "chunks" in counts:
        chunks = sum(1 for _ in open(path / "chunks.jsonl", encoding="utf-8"))
        if chunks != counts["chunks"]:
            problems.append(f"chunks.jsonl has {chunks} rows, the manifest says {counts['chunks']}")
    return problems
