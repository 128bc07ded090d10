"""Read a text seed safely: bounded size, no binary, strict UTF-8."""

from __future__ import annotations

from pathlib import Path

from embeddings.errors import SeedParseError

MAX_TEXT_BYTES = 20 * 1024 * 1024


def read_text(path: Path, limit: int = MAX_TEXT_BYTES) -> str:
    try:
        size = path.stat().st_size
        if size == 0:
            raise SeedParseError(path, "file is empty")
        if size > limit:
            raise SeedParseError(path, f"file is {size / 2**20:.0f} MiB, over the {limit // 2**20} MiB limit")
        raw = path.read_bytes()
    except OSError as exc:
        raise SeedParseError(path, f"cannot read: {exc.strerror or exc}") from None
    if b"\x00" in raw[:65536]:
        raise SeedParseError(path, "binary file (NUL bytes), not text")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise SeedParseError(path, f"not UTF-8 (bad byte at offset {exc.start})") from None
    if not text.strip():
        raise SeedParseError(path, "file holds only whitespace")
    return text
