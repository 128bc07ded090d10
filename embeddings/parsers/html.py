"""HTML seeds: the page's main text and its metadata, found by trafilatura.

trafilatura drops the chrome (navigation, footers, scripts, cookie banners, comment sections) and
reads title, date, canonical URL and site name from the page's meta tags and JSON-LD. Its plain-text
output adds markup of its own ("- " before list items, " | " between table cells), which is not in
the page and would break a verbatim quote, so the text is taken from its XML tree instead: one
paragraph per block (paragraph, heading, list item, table cell, quote), each block's text as it
stands in the page.
"""

from __future__ import annotations

from pathlib import Path

from embeddings.documents import Document, iso_date
from embeddings.errors import SeedParseError

# Elements of trafilatura's tree that run inside a paragraph; every other element is a block.
_INLINE = {"hi", "ref", "lb", "del", "span", "abbr", "sub", "sup"}
# htmldate without its extensive search reads meta tags, JSON-LD, <time>, the URL and dateline
# patterns ("Posted 12/05/2021", an ISO timestamp), but does not take just any date the story
# mentions, such as the filing date in a story about a lawsuit.
_DATE_PARAMS = {"extensive_search": False, "original_date": True}


def parse(path: Path, text: str) -> list[Document]:
    from embeddings.parsers import read_sidecar
    from embeddings.parsers.frontmatter import citation_fields

    side = citation_fields(read_sidecar(path))
    page = _extract(path, text)
    body = "\n\n".join(_paragraphs(page.body)) if page.body is not None else ""
    if not body.strip():
        raise SeedParseError(path, "no main text found in the HTML page")
    return [
        Document(
            doc_id=path.stem,
            part="",
            title=side["title"] or _clean(page.title) or path.stem,
            text=body,
            source_file=path.name,
            outlet=side["outlet"] or _clean(page.sitename),
            published=side["published"] or iso_date(page.date),
            url=side["url"] or _clean(page.url),
            meta=side["meta"],
        )
    ]


def _extract(path: Path, text: str):
    import trafilatura

    try:
        page = trafilatura.bare_extraction(
            text,
            with_metadata=True,
            include_comments=False,
            include_tables=True,
            include_formatting=False,
            include_links=False,
            include_images=False,
            date_extraction_params=_DATE_PARAMS,
        )
    except Exception as exc:  # noqa: BLE001 - lxml and trafilatura raise many kinds on broken markup
        raise SeedParseError(path, f"cannot parse the HTML ({type(exc).__name__}: {exc})") from None
    if page is None:
        raise SeedParseError(path, "no main text found in the HTML page")
    return page


def _clean(value) -> str | None:
    value = " ".join(str(value).split()) if value else ""
    return value or None


def _paragraphs(element) -> list[str]:
    """Text of each block under ``element``; inline children and line breaks stay in their block."""
    out: list[str] = []
    run: list[str] = [element.text or ""]

    def flush():
        text = "".join(run).strip()
        if text:
            out.append(text)
        run.clear()

    for child in element:
        if child.tag in _INLINE:
            run.append(_inline_text(child))
        else:
            flush()
            out.extend(_paragraphs(child))
        run.append(child.tail or "")
    flush()
    return out


def _inline_text(element) -> str:
    if element.tag == "lb":
        return "\n"
    return (element.text or "") + "".join(_inline_text(c) + (c.tail or "") for c in element)
