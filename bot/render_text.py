"""Render an Answer for a terminal."""

from __future__ import annotations

import textwrap

from embeddings.results import CLOSEST_TEXT, Answer, Citation


def _source_line(outlet, published, title) -> str:
    return " · ".join(p for p in (outlet, published, f"“{title}”" if title else None) if p)


def _fill(text: str, width: int, **indents) -> str:
    """Wrapped at spaces only: a link (or a hyphenated name) is never cut in two."""
    return textwrap.fill(text, width, break_long_words=False, break_on_hyphens=False, **indents)


def render_answer(answer: Answer, width: int = 100) -> str:
    body = " ".join(q.prose for q in answer.quotes) if answer.answered else answer.answer
    lines = [_fill(body, width)]
    if answer.note:
        lines += ["", _fill(f"Note: {answer.note}", width)]
    if answer.answered:
        lines += ["", "Sources:"]
        for c in answer.citations:
            lines += _source(c, f"[{c.n}]", width)
    elif answer.closest:
        lines += ["", _fill(CLOSEST_TEXT, width)]
        for c in answer.closest:
            lines += _source(c, "~", width)
    elif answer.passages:
        lines += ["", "Nearest sources (not an answer):"]
        for p in answer.passages[:3]:
            lines.append(f"  - {_source_line(p.outlet, p.published, p.title)}" + (f"  {p.url}" if p.url else ""))
    return "\n".join(lines)


def _source(c: Citation, mark: str, width: int) -> list[str]:
    page = f", p. {c.page}" if c.page else ""
    return [f"  {mark} {_source_line(c.outlet, c.published, c.title)}{page}",
            f"      {c.url}" if c.url else f"      (seed file {c.doc_id})",
            _fill(f"“{c.quote}”", width, initial_indent="      ", subsequent_indent="       ")]
