"""Text and Markdown seeds, with or without YAML front matter.

Two shapes carry front matter: news-aggregator records (title + excerpt, no body, ``related``
coverage from other outlets) and documents with a body (Markdown filings, articles). Without front
matter a .txt seed is scraped article text. ``secured``, ``images``, ``quality`` and ``heat`` are
never read.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from embeddings.documents import Document, iso_date
from embeddings.errors import SeedParseError
from embeddings.parsers.article import clean_article

LITIGATION_FIELDS = ("court", "docket", "document_type", "filed", "case")


def split_front_matter(path: Path, text: str) -> tuple[dict, str]:
    if not text.startswith("---"):
        return {}, text
    lines = text.splitlines(keepends=True)
    if lines[0].strip() != "---":
        return {}, text
    for i in range(1, len(lines)):
        if lines[i].strip() in {"---", "..."}:
            head, body = "".join(lines[1:i]), "".join(lines[i + 1 :])
            break
    else:
        raise SeedParseError(path, "front matter opened with '---' but never closed")
    try:
        meta = yaml.safe_load(head) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 2})" if mark else ""
        raise SeedParseError(path, f"malformed YAML front matter{where}") from None
    if not isinstance(meta, dict):
        raise SeedParseError(path, "front matter is not a mapping of fields")
    return meta, body


def _text(value) -> str | None:
    if value is None or isinstance(value, (bool, dict, list)):
        return None
    value = str(value).strip()
    return value or None


def _outlet(meta: dict) -> str | None:
    provider = meta.get("provider")
    if isinstance(provider, dict):
        return _text(provider.get("name"))
    return _text(meta.get("outlet")) or _text(provider)


def _published(meta: dict) -> str | None:
    # Aggregator records use ``published: false`` as a flag; the date is publishedDateTime.
    for key in ("published", "publishedDateTime", "date"):
        value = meta.get(key)
        if value is not None and not isinstance(value, bool):
            return iso_date(value)
    return None


def _url(meta: dict) -> str | None:
    for key in ("url", "webUrl", "originalUrl"):
        if _text(meta.get(key)):
            return _text(meta.get(key))
    return None


def _litigation(meta: dict) -> dict:
    out = {}
    for key in LITIGATION_FIELDS:
        value = meta.get(key)
        if value is not None and not isinstance(value, (dict, list)):
            out[key] = iso_date(value) if key == "filed" else str(value).strip()
    return out


def citation_fields(meta: dict) -> dict:
    """Title, outlet, date, URL and litigation fields of a mapping (front matter or a sidecar)."""
    return {
        "title": _text(meta.get("title")),
        "outlet": _outlet(meta),
        "published": _published(meta),
        "url": _url(meta),
        "meta": _litigation(meta),
    }


def _join(*parts: str | None) -> str:
    return "\n\n".join(p.strip() for p in parts if p and p.strip())


def parse(path: Path, text: str, sidecar: dict | None = None) -> list[Document]:
    front, body = split_front_matter(path, text)
    meta = {**front, **(sidecar or {})}
    doc_id = path.stem
    title = _text(meta.get("title"))
    if body.strip():
        # A sidecar adds metadata only: a bare .txt stays scraped article text to be cleaned.
        if front or path.suffix.lower() in {".md", ".markdown"}:
            from embeddings.parsers.markdown import markdown_text

            text_out = markdown_text(body)
        else:
            article_title, text_out = clean_article(body)
            title = title or article_title
    else:
        text_out = _join(title, _text(meta.get("excerpt")) or _text(meta.get("summary")))
    main = Document(
        doc_id=doc_id,
        part="",
        title=title or doc_id,
        text=text_out,
        source_file=path.name,
        outlet=_outlet(meta),
        published=_published(meta),
        url=_url(meta),
        meta=_litigation(meta),
    )
    docs = [main]
    for i, item in enumerate(meta.get("related") or [], start=1):
        if not isinstance(item, dict):
            continue
        r_title = _text(item.get("title"))
        r_text = _join(r_title, _text(item.get("excerpt")))
        if not r_text:
            continue
        docs.append(
            Document(
                doc_id=doc_id,
                part=f"related-{i}",
                title=r_title or f"{doc_id} related {i}",
                text=r_text,
                source_file=path.name,
                outlet=_outlet(item),
                published=_published(item),
                url=_url(item),
            )
        )
    return docs
