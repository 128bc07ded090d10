"""Text and file helpers used across the engine, each written once: comparing text as a reader would
(``plain``), JSON-lines files, and a file's SHA-256 (index files, model weights)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

_PLAIN = str.maketrans({"“": '"', "”": '"', "‘": "'", "’": "'", "–": "-", "—": "-", "\u00a0": " "})


def plain(text: str) -> str:
    """Curly quotes and dashes made plain, whitespace folded, case folded: text as compared, not shown."""
    return " ".join(text.translate(_PLAIN).split()).casefold()


def missing_groups(groups: list[list[str]], text: str) -> list[list[str]]:
    """The groups of alternative strings none of which occurs in ``text`` (already ``plain``): what an
    answer, a question or a seed lacks of what a question file expects."""
    return [group for group in groups if not any(plain(s) in text for s in group)]


def read_jsonl(path: Path) -> list:
    """One JSON value a non-empty line."""
    with open(path, encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def write_jsonl(path: Path, rows) -> None:
    with open(path, "w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")


def file_sha256(path: Path) -> str:
    """The file's SHA-256, hex, read in blocks of 1 MiB."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()
