"""Markdown bodies: keep the words, drop the markup that is not prose.

Citations quote a sentence and a checker looks it up in the raw .md file with whitespace collapsed,
so the text must stay a run of substrings of the file. The block structure comes from markdown-it
(CommonMark): each heading, paragraph, list item and code block becomes one paragraph of the output,
which drops exactly the markers at the start of a block (``#``, ``-``/``*``/``1.`` bullets, setext
underlines, code fences, thematic breaks), plus HTML blocks and link reference definitions. Inline
markup (``**bold**``, ``[text](url)``, entities) is kept as written: removing it would put words
side by side that are not side by side in the file. In a block quote every line carries ``>``: the first one is
dropped, the others are kept for the same reason.
"""

from __future__ import annotations

import re
from functools import lru_cache

_BLOCKS = {"inline", "code_block", "fence"}


@lru_cache(maxsize=1)
def _parser():
    from markdown_it import MarkdownIt

    return MarkdownIt("commonmark")


def _collapse(text: str) -> str:
    return " ".join(text.split())


def markdown_text(body: str) -> str:
    """Plain prose of a Markdown body: one paragraph per block, every paragraph verbatim."""
    lines = re.split(r"\r\n?|\n", body)  # markdown-it's own line breaks, so token.map indexes them
    paragraphs = []
    for token in _parser().parse(body):
        if token.type not in _BLOCKS or not token.content.strip():
            continue
        text = token.content.strip()
        if token.map:
            source = "\n".join(lines[token.map[0] : token.map[1]])
            # markdown-it strips container markers from every line ("> " in a block quote), which
            # would join words across them; fall back to the block's own lines then.
            if _collapse(text) not in _collapse(source):
                first = lines[token.map[0]]
                start = max(first.rfind(text.split("\n", 1)[0]), 0)
                text = source[start:].strip()
        paragraphs.append(text)
    return "\n\n".join(paragraphs)
