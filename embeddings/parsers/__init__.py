"""Turn seed files into Documents. Each format has its own module; ``parse_file`` picks one."""

from __future__ import annotations

from pathlib import Path

from embeddings.documents import Document
from embeddings.errors import SeedParseError
from embeddings.parsers.readtext import read_text

# Recorded in the index manifest: bump it when parsing changes what text a seed yields, so that an
# index built by older parsing code is rebuilt rather than silently reused.
PARSER_VERSION = 2
SEED_SUFFIXES = {".txt", ".md", ".markdown", ".html", ".htm", ".pdf"}


def is_seed(path: Path) -> bool:
    return path.is_file() and path.suffix.lower() in SEED_SUFFIXES and not path.name.startswith(".")


def sidecar_path(path: Path) -> Path:
    return path.with_name(path.stem + ".meta.yaml")


def read_sidecar(path: Path) -> dict:
    """Metadata for a seed kept beside it (``<stem>.meta.yaml``), so its text stays untouched."""
    side = sidecar_path(path)
    if not side.exists():
        return {}
    import yaml

    try:
        data = yaml.safe_load(read_text(side)) or {}
    except yaml.YAMLError:
        raise SeedParseError(path, f"malformed YAML in {side.name}") from None
    if not isinstance(data, dict):
        raise SeedParseError(path, f"{side.name} is not a mapping of fields")
    return data


def parse_file(path: Path) -> list[Document]:
    """Parse one seed file; raise SeedParseError with the reason if it cannot be used."""
    suffix = path.suffix.lower()
    if suffix == ".pdf":
        from embeddings.parsers import pdf

        docs = pdf.parse(path)
    elif suffix in {".html", ".htm"}:
        from embeddings.parsers import html

        docs = html.parse(path, read_text(path))
    else:
        from embeddings.parsers import frontmatter

        docs = frontmatter.parse(path, read_text(path), sidecar=read_sidecar(path))
    docs = [d for d in docs if d.text.strip()]
    if not docs:
        raise SeedParseError(path, "no text found")
    return docs
