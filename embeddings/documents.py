"""The Document: one citable unit of text with the metadata a citation shows."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Document:
    doc_id: str                 # the seed file's name without extension
    part: str                   # "" for the file's own text, "related-2", "p3" (PDF page) ...
    title: str
    text: str                   # verbatim text of the seed, boilerplate removed; title first if the seed has it
    source_file: str            # file name inside the seeds folder
    outlet: str | None = None
    published: str | None = None  # ISO date, YYYY-MM-DD
    url: str | None = None
    page: int | None = None
    meta: dict = field(default_factory=dict)  # litigation fields: court, docket, document_type, filed

    @property
    def key(self) -> str:
        return f"{self.doc_id}/{self.part}" if self.part else self.doc_id

    @property
    def heading(self) -> str:
        """"Cook County Record, 2020-02-18": who said it, and when ("" when neither is known)."""
        return ", ".join(p for p in (self.outlet, self.published) if p)

    def headed(self, sentence: str) -> str:
        """"(Cook County Record, 2020-02-18) <sentence>": a candidate as the reader and the judge read it,
        so "who reported" and "when" can be read off it."""
        return f"({self.heading}) {sentence}" if self.heading else sentence

    @property
    def attribution(self) -> str:
        """"Cook County Record (2020-02-18): " ahead of a source's sentences in an answer."""
        if self.outlet and self.published:
            return f"{self.outlet} ({self.published}): "
        if self.outlet or self.published:
            return f"{self.outlet or self.published}: "
        return ""

    @property
    def linked_attribution(self) -> str:
        """"Reason (2021-03-15), https://reason.com/…: " ahead of a source's sentences in an answer
        that gives its link; the attribution alone when it has none."""
        if not self.url:
            return self.attribution
        return f"{self.attribution.removesuffix(': ') or self.doc_id}, {self.url}: "


def iso_date(value) -> str | None:
    """YAML gives datetimes, dates or strings; citations show YYYY-MM-DD."""
    if value is None or value == "":
        return None
    if isinstance(value, dt.datetime):
        return value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    text = str(value).strip()
    try:
        return dt.date.fromisoformat(text[:10]).isoformat()
    except ValueError:
        return text or None
