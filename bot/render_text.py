"""Render an Answer for a terminal."""

from __future__ import annotations

import textwrap

from embeddings.results import Answer


def _source_line(outlet, published, title) -> str:
    return " · ".join(p for p in (outlet, published, f"“{title}”" if title else None) if p)


def render_answer(answer: Answer, width: int = 100) -> str:
    body = " ".join(q.prose for q in answer.quotes) if answer.answered else answer.answer
    lines = [textwrap.fill(body, width)]
    if answer.note:
        lines += ["", textwrap.fill(f"Note: {answer.note}", width)]
    if answer.answered:
        lines += ["", "Sources:"]
        for c in answer.citations:
            page = f", p. {c.page}" if c.page else ""
            lines.append(f"  [{c.n}] {_source_line(c.outlet, c.published, c.title)}{page}")
            if c.url:
                lines.append(f"      {c.url}")
            else:
                lines.append(f"      (seed file {c.doc_id})")
            lines.append(textwrap.fill(f"“{c.quote}”", width, initial_indent="      ", subsequent_indent="       "))
    elif answer.passages:
        lines += ["", "Nearest sources (not an answer):"]
        for p in answer.passages[:3]:
            lines.append(f"  - {_source_line(p.outlet, p.published, p.title)}" + (f"  {p.url}" if p.url else ""))
    return "\n".join(lines)
