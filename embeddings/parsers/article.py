"""Scraped article text: first line is the title, then paragraphs, then site boilerplate.

Cleaning works on whole lines and never edits inside a line, so every sentence kept is verbatim.
"""

from __future__ import annotations

import re

# A line matching one of these ends the article: everything after it is site chrome.
_TRAILER = [
    r"leave a (reply|comment)",
    r"related (posts|articles|stories)",
    r"article topics",
    r"a message from .{0,80}(co-?founder|editor|publisher|team).*",
    r"(sign up|subscribe) (for|to) (our|the) newsletter",
    r"share this (article|story|post)",
]
# Lines dropped wherever they stand.
_DROP = [
    r"fb pixel",
    r"photo:\s.*",                                   # "Photo: AC RT/Flickr"
    r"(photo|image|credit)s?\s*(credit)?\s*:.*",
    r"read (also|more)\b.*",
    r"to go further\s*:.*",
    r".*article reserved for (our )?subscribers.*",
    r"(advertisement|advertising|sponsored)",
    r"your email address will not be published.*",
    r"this site uses akismet.*",
    r"(join|subscribe to) our (community|newsletter).*",
    r"(thank you|thanks for reading)\.?",
    r"[|\s]+",                                       # navigation separators " |  |  | "
]
_TRAILER_RE = re.compile(r"^\s*(?:" + "|".join(_TRAILER) + r")\s*:?\s*$", re.IGNORECASE)
_DROP_RE = re.compile(r"^\s*(?:" + "|".join(_DROP) + r")\s*$", re.IGNORECASE)
_HASHTAGS_RE = re.compile(r"^\s*(#\w[\w-]*\s*){2,}$")
# A photo credit at the end of a caption: the caption is kept (it names people and facts), the
# credit is cut off. What remains is a prefix of the line, so quotes of it stay verbatim.
_CREDIT_RE = re.compile(r"\s*\((?:AP|AFP|Reuters|Getty Images|EPA|Bloomberg)(?: Photo)?\s*/[^)]*\)\s*$", re.IGNORECASE)


def is_boilerplate(line: str) -> bool:
    return bool(_DROP_RE.match(line) or _HASHTAGS_RE.match(line))


def clean_article(text: str) -> tuple[str, str]:
    """Return (title, body). The title is the first real line; repeats of it are dropped.

    The body keeps the title as its first paragraph so that it can be quoted, and keeps every
    other line of the article verbatim, one paragraph per line.
    """
    lines = [ln.strip() for ln in text.splitlines()]
    kept: list[str] = []
    title = ""
    for line in lines:
        line = _CREDIT_RE.sub("", line)
        if not line:
            continue
        if _TRAILER_RE.match(line):
            break
        if is_boilerplate(line):
            continue
        if not title:
            title = line
        elif line == title:
            continue
        kept.append(line)
    return title, "\n\n".join(kept)
