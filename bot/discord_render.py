"""Answers, source lists and reindex reports as Discord embeds: pure functions, limits kept by construction.

Discord rejects a message (400, code 50035) past any of these limits and discord.py does not check them,
so every string placed in an embed here is measured and trimmed first. Lengths are counted in UTF-16
code units, which is never less than the characters Discord counts, so an emoji cannot push a field over.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import discord

from embeddings.results import CLOSEST_TEXT, DECLINE_TEXT, Answer, BuildReport, Citation, Passage

# Discord's limits (https://discord.com/developers/docs/resources/message#embed-object-embed-limits).
CONTENT_MAX = 2000
TITLE_MAX = 256
DESCRIPTION_MAX = 4096
FIELDS_MAX = 25
FIELD_NAME_MAX = 256
FIELD_VALUE_MAX = 1024
FOOTER_MAX = 2048
EMBED_TOTAL_MAX = 6000      # also the sum over all embeds of one message
EMBEDS_PER_MESSAGE = 10

# Our own, tighter choices for readability.
QUOTE_MAX = 400             # quoted words shown under a source
EXCERPT_MAX = 220           # passage excerpt shown for a declined question
SEGMENT_MAX = 1500          # longest run of answer text placed before its sources
LINK_URL_MAX = 512          # longer URLs are not linked (the title is still shown)
SOURCES_PER_PAGE = 10
SOURCE_TITLE_MAX = 150
SEARCHED_AS_MAX = 300       # a follow-up's standalone question, shown in the footer

COLOUR_ANSWER = discord.Colour.blurple()
COLOUR_DECLINED = discord.Colour.light_grey()
COLOUR_UNSURE = discord.Colour.gold()
COLOUR_OK = discord.Colour.green()
COLOUR_ERROR = discord.Colour.red()

DISCLAIMER = "Not legal advice"

_MARKER = re.compile(r"\[(\d+)\]")


def ulen(text: str) -> int:
    """Length as Discord may count it: UTF-16 code units (an emoji outside the BMP counts 2)."""
    return len(text.encode("utf-16-le")) // 2


def trim(text: str, limit: int, ellipsis: str = "…") -> str:
    """Cut ``text`` to at most ``limit`` units at a word boundary, never inside a ``[n]`` marker or
    a link."""
    if ulen(text) <= limit:
        return text
    budget = limit - ulen(ellipsis)
    if budget <= 0:
        return _cut_units(ellipsis, limit)
    head = _cut_units(text, budget)
    space = head.rfind(" ")
    if space > len(head) // 2:
        head = head[:space]
    else:
        head = re.sub(r"<?https?://\S*$", "", head)   # a link cut short would lead somewhere else
    head = _drop_partial_marker(head).rstrip(" ,;:")
    return head + ellipsis


def _cut_units(text: str, limit: int) -> str:
    """The longest prefix of ``text`` that is at most ``limit`` UTF-16 units, not splitting a pair."""
    if ulen(text) <= limit:
        return text
    out, used = [], 0
    for ch in text:
        size = 2 if ord(ch) > 0xFFFF else 1
        if used + size > limit:
            break
        out.append(ch)
        used += size
    return "".join(out)


def _drop_partial_marker(text: str) -> str:
    """Remove a trailing ``[12`` left by a cut, so a marker is whole or absent."""
    return re.sub(r"\[\d*$", "", text)


# A web address in text: no spaces or markdown, parentheses only in balanced pairs (a wiki's
# "…_(company)"), not ending in the sentence's punctuation.
_URL_CHAR = r"[^\s<>()\[\]`|*~]"
_URL = re.compile(rf"(https?://(?:{_URL_CHAR}|\({_URL_CHAR}*\))*(?:[^\s<>()\[\]`|*~.,:;!?'\"]|\({_URL_CHAR}*\)))")


def escape(text: str, brackets: bool = False) -> str:
    """Escape Discord markdown in document text; ``[n]`` markers stay readable unless ``brackets``.
    A web address is shown whole, as ``<address>`` (a link with no preview), not escaped: an answer
    that gives a link must give one that works."""
    pieces = _URL.split(re.sub(r"<(https?://[^\s<>]+)>", r"\1", text))   # one already in <> is wrapped once
    return "".join(_shown_url(p, brackets) if i % 2 else _escape_markdown(p, brackets) for i, p in enumerate(pieces))


def _shown_url(url: str, brackets: bool) -> str:
    link = safe_url(url)
    return f"<{link}>" if link else _escape_markdown(url, brackets)


def _escape_markdown(text: str, brackets: bool) -> str:
    text = re.sub(r"([\\*_~|`])", r"\\\1", text)
    text = text.replace("](", "]\\(")            # no masked links smuggled in from a document
    if brackets:
        text = text.replace("[", "\\[").replace("]", "\\]")
    return text


def one_line(text: str) -> str:
    return " ".join(text.split())


def safe_url(url: str | None) -> str | None:
    """A URL usable inside ``[title](url)``, or None when it is not an http(s) link or is too long."""
    if not url:
        return None
    url = url.strip()
    if not re.match(r"https?://", url, re.I) or ulen(url) > LINK_URL_MAX:
        return None
    return url.replace(" ", "%20").replace("(", "%28").replace(")", "%29").replace("<", "%3C").replace(">", "%3E")


def linked_title(title: str, url: str | None, limit: int = SOURCE_TITLE_MAX) -> str:
    shown = escape(trim(one_line(title) or "Untitled", limit), brackets=True)
    link = safe_url(url)
    return f"[{shown}]({link})" if link else f"**{shown}**"


def source_label(outlet: str | None, published: str | None, doc_id: str, page: int | None = None) -> str:
    """``outlet · date`` (the seed file when there is no outlet, e.g. a scraped article)."""
    parts = [one_line(outlet) if outlet else doc_id]
    if published:
        parts.append(published)
    if page:
        parts.append(f"p. {page}")
    return " · ".join(parts)


def footer_text(index_version: str, searched_as: str | None = None) -> str:
    """The footer; for a follow-up, it first says what was searched (so a wrong reading shows)."""
    head = f"Searched as: {trim(one_line(searched_as), SEARCHED_AS_MAX)}\n" if searched_as else ""
    return trim(f"{head}casebot · index {index_version} · {DISCLAIMER}", FOOTER_MAX)


def searched_as(answer: Answer) -> str | None:
    standalone = answer.standalone_question
    return standalone if standalone and standalone != answer.question else None


def markers(text: str) -> list[int]:
    """The distinct ``[n]`` numbers in ``text``, in order of first appearance."""
    seen: dict[int, None] = {}
    for m in _MARKER.finditer(text):
        seen.setdefault(int(m.group(1)), None)
    return list(seen)


def split_long(piece: str, max_len: int = SEGMENT_MAX) -> list[str]:
    """A quote as pieces of at most ``max_len`` units: split between words, a longer word (a bare URL)
    cut, but never inside a marker."""
    if ulen(piece) <= max_len:
        return [piece]
    out, current = [], ""
    for word in piece.split(" "):
        while ulen(word) > max_len:                 # a single enormous token
            cut = _drop_partial_marker(_cut_units(word, max_len)) or _cut_units(word, max_len)
            if current:
                out.append(current)
                current = ""
            out.append(cut)
            word = word[len(cut):]
        candidate = f"{current} {word}" if current else word
        if ulen(candidate) <= max_len:
            current = candidate
        else:
            out.append(current)
            current = word
    if current:
        out.append(current)
    return [p for p in out if p]


# ---------------------------------------------------------------------------------------------------
# Answers


@dataclass(frozen=True)
class Field:
    name: str
    value: str

    @property
    def size(self) -> int:
        return ulen(self.name) + ulen(self.value)


def citation_field(c: Citation) -> Field:
    """``[n] outlet · date`` over the linked title and the quoted words."""
    name = trim(f"[{c.n}] " + source_label(c.outlet, c.published, c.doc_id, c.page), FIELD_NAME_MAX)
    head = linked_title(c.title or c.doc_id, c.url)
    return Field(name, _value_with_quote(head, c.quote, QUOTE_MAX))


def passage_field(p: Passage, number: int) -> Field:
    name = trim(f"{number}. " + source_label(p.outlet, p.published, p.doc_id, p.page), FIELD_NAME_MAX)
    head = linked_title(p.title or p.doc_id, p.url)
    return Field(name, _value_with_quote(head, p.text, EXCERPT_MAX))


def _value_with_quote(head: str, quote: str, quote_max: int) -> str:
    head = head if ulen(head) <= FIELD_VALUE_MAX // 2 else f"**{escape(trim(head, 200), brackets=True)}**"
    quote = one_line(quote or "")
    if not quote:
        return head
    room = min(quote_max, FIELD_VALUE_MAX - ulen(head) - len("\n> “”"))
    # Trim before escaping so an escape is never cut in half; escaping may lengthen, so re-check.
    shown = escape(trim(quote, room))
    while ulen(shown) > room and room > 10:
        room -= 20
        shown = escape(trim(quote, room))
    return f"{head}\n> “{shown}”"


class _EmbedBuilder:
    """Collects description text and fields for one embed while keeping every limit."""

    def __init__(self, title: str, footer: str, colour: discord.Colour):
        self.title = trim(title, TITLE_MAX) if title else ""
        self.footer = footer
        self.colour = colour
        self.parts: list[str] = []
        self.fields: list[Field] = []

    @property
    def description(self) -> str:
        return " ".join(self.parts)

    def size(self, parts: Sequence[str] = (), fields: Sequence[Field] = ()) -> int:
        desc = " ".join([*self.parts, *parts])
        return (ulen(self.title) + ulen(desc) + ulen(self.footer)
                + sum(f.size for f in self.fields) + sum(f.size for f in fields))

    def fits(self, parts: Sequence[str] = (), fields: Sequence[Field] = ()) -> bool:
        desc = " ".join([*self.parts, *parts])
        return (ulen(desc) <= DESCRIPTION_MAX
                and len(self.fields) + len(fields) <= FIELDS_MAX
                and self.size(parts, fields) <= EMBED_TOTAL_MAX)

    @property
    def empty(self) -> bool:
        return not self.parts and not self.fields

    def build(self) -> discord.Embed:
        embed = discord.Embed(title=self.title or None, description=self.description or None, colour=self.colour)
        for f in self.fields:
            embed.add_field(name=f.name, value=f.value, inline=False)
        embed.set_footer(text=self.footer)
        return embed


def render_answer(answer: Answer) -> list[discord.Embed]:
    """The embeds for one answer: normally one; more only for an answer too long for a single embed.

    Each sentence travels with the sources its ``[n]`` markers cite, in the same embed, so a marker and its
    source are never split apart; send the result with :func:`pack_messages`.
    """
    if not answer.answered:
        return [_render_closest(answer) if answer.closest else _render_declined(answer)]
    footer = footer_text(answer.index_version, searched_as(answer))
    fields = {c.n: citation_field(c) for c in answer.citations}
    title = f"Q: {escape(one_line(answer.question))}" if answer.question.strip() else "Answer"
    embeds: list[_EmbedBuilder] = [_EmbedBuilder(title, footer, COLOUR_ANSWER)]
    placed: set[int] = set()

    units: list[tuple[list[str], list[Field]]] = []
    for quote in answer.quotes:  # each quoted sentence travels with its source
        new = [quote.n] if quote.n in fields and quote.n not in placed else []
        placed.update(new)
        *head, last = split_long(escape(quote.prose))   # the marker ends the quote: its source goes with the last piece
        units += [([piece], []) for piece in head] + [([last], [fields[n] for n in new])]
    # Sources the text never marks (should not happen) are still shown, after the text.
    leftovers = [fields[n] for n in sorted(fields) if n not in placed]
    if answer.note:
        units.append(([], [Field("⚠️ Note", trim(one_line(answer.note), FIELD_VALUE_MAX))]))
    if leftovers:
        units.append(([], leftovers))

    for parts, unit_fields in units:
        current = embeds[-1]
        if current.fits(parts, unit_fields):
            current.parts.extend(parts)
            current.fields.extend(unit_fields)
            continue
        if not current.empty:
            current = _EmbedBuilder(trim(f"{title} (continued)", TITLE_MAX), footer, COLOUR_ANSWER)
            embeds.append(current)
        # A fresh embed holds one segment (<= SEGMENT_MAX) with several sources; spill only what cannot fit.
        current.parts.extend(parts)
        for f in unit_fields:
            if not current.fits((), [f]):
                current = _EmbedBuilder(trim(f"{title} (continued)", TITLE_MAX), footer, COLOUR_ANSWER)
                embeds.append(current)
            current.fields.append(f)
    built = [e.build() for e in embeds if not e.empty]
    return built or [_render_declined(answer)]      # never nothing: the user would wait on "thinking…"


def _render_declined(answer: Answer) -> discord.Embed:
    footer = footer_text(answer.index_version, searched_as(answer))
    title = f"Q: {escape(one_line(answer.question))}" if answer.question.strip() else "No answer"
    builder = _EmbedBuilder(title, footer, COLOUR_DECLINED)
    text = one_line(answer.answer) or DECLINE_TEXT
    passages = list(answer.passages)
    if passages:
        text += "\n\nThe nearest passages I found:"
    builder.parts.append(trim(escape(text), 1500))
    for i, p in enumerate(passages, 1):
        f = passage_field(p, i)
        if not builder.fits((), [f]):
            break
        builder.fields.append(f)
    return builder.build()


def _render_closest(answer: Answer) -> discord.Embed:
    """Declined, but the judge's closest sentences: quoted with their sources, marked as unconfirmed."""
    footer = footer_text(answer.index_version, searched_as(answer))
    title = f"Q: {escape(one_line(answer.question))}" if answer.question.strip() else "No confirmed answer"
    builder = _EmbedBuilder(title, footer, COLOUR_UNSURE)
    builder.parts.append(escape(CLOSEST_TEXT))
    for c in answer.closest:
        f = citation_field(c)
        if not builder.fits((), [f]):
            break
        builder.fields.append(f)
    return builder.build()


def pack_messages(embeds: Sequence[discord.Embed]) -> list[list[discord.Embed]]:
    """Group embeds into messages: at most 10 per message and 6000 units over all embeds of one message."""
    messages: list[list[discord.Embed]] = []
    total = 0
    for embed in embeds:
        size = embed_size(embed)
        if not messages or len(messages[-1]) >= EMBEDS_PER_MESSAGE or total + size > EMBED_TOTAL_MAX:
            messages.append([])
            total = 0
        messages[-1].append(embed)
        total += size
    return messages


def embed_size(embed: discord.Embed) -> int:
    """Discord's size of an embed (title, description, field names and values, footer, author)."""
    total = ulen(embed.title or "") + ulen(embed.description or "")
    for f in embed.fields:
        total += ulen(f.name or "") + ulen(f.value or "")
    total += ulen(embed.footer.text or "") + ulen(embed.author.name or "")
    return total


def check_limits(embeds: Sequence[discord.Embed], content: str | None = None) -> list[str]:
    """Every Discord limit one message with these embeds breaks (empty when it would be accepted)."""
    problems = []
    if content is not None and ulen(content) > CONTENT_MAX:
        problems.append(f"content {ulen(content)} > {CONTENT_MAX}")
    if len(embeds) > EMBEDS_PER_MESSAGE:
        problems.append(f"{len(embeds)} embeds > {EMBEDS_PER_MESSAGE}")
    total = 0
    for i, e in enumerate(embeds):
        checks = [("title", e.title or "", TITLE_MAX), ("description", e.description or "", DESCRIPTION_MAX),
                  ("footer", e.footer.text or "", FOOTER_MAX)]
        for f in e.fields:
            checks += [("field name", f.name or "", FIELD_NAME_MAX), ("field value", f.value or "", FIELD_VALUE_MAX)]
        problems += [f"embed {i} {what} {ulen(text)} > {limit}" for what, text, limit in checks if ulen(text) > limit]
        if len(e.fields) > FIELDS_MAX:
            problems.append(f"embed {i} has {len(e.fields)} fields > {FIELDS_MAX}")
        total += embed_size(e)
    if total > EMBED_TOTAL_MAX:
        problems.append(f"embeds total {total} > {EMBED_TOTAL_MAX}")
    return problems


# ---------------------------------------------------------------------------------------------------
# Sources


SOURCE_LINE_MAX = (DESCRIPTION_MAX - 96) // SOURCES_PER_PAGE   # so a full page always fits


def source_line(number: int, doc) -> str:
    """``**n.** [title](url) — outlet · date`` for one engine ``Document``, at most SOURCE_LINE_MAX long."""
    label = escape(trim(source_label(doc.outlet, doc.published, doc.source_file, doc.page), 80))
    name = doc.title or doc.source_file
    for title in (linked_title(name, doc.url, 100), linked_title(name, None, 100)):   # drop a long link first
        line = f"**{number}.** {title} — {label}"
        if ulen(line) <= SOURCE_LINE_MAX:
            return line
    return trim(line, SOURCE_LINE_MAX)


def paginate_sources(documents: Iterable, per_page: int = SOURCES_PER_PAGE) -> list[list[str]]:
    """Lines for /sources, grouped into pages that each fit an embed description."""
    pages: list[list[str]] = []
    size = 0
    for i, doc in enumerate(documents, 1):
        line = source_line(i, doc)
        if not pages or len(pages[-1]) >= per_page or size + ulen(line) + 1 > DESCRIPTION_MAX - 200:
            pages.append([])
            size = 0
        pages[-1].append(line)
        size += ulen(line) + 1
    return pages


def render_sources_page(pages: Sequence[Sequence[str]], page: int, total: int, index_version: str) -> discord.Embed:
    """One page (0-based ``page``, clamped) of the source list."""
    footer = footer_text(index_version)
    if not pages:
        return discord.Embed(title="Sources", description="The index holds no documents yet.",
                             colour=COLOUR_DECLINED).set_footer(text=footer)
    page = max(0, min(page, len(pages) - 1))
    embed = discord.Embed(
        title=f"Sources ({total} documents) · page {page + 1}/{len(pages)}",
        description="\n".join(pages[page]),
        colour=COLOUR_ANSWER,
    )
    return embed.set_footer(text=footer)


# ---------------------------------------------------------------------------------------------------
# Reindex


def _names(label: str, names: Sequence[str], limit: int = 10) -> str | None:
    if not names:
        return None
    shown = ", ".join(escape(n) for n in names[:limit])
    more = f" and {len(names) - limit} more" if len(names) > limit else ""
    return f"{label}: {shown}{more}"


def render_reindex(report: BuildReport) -> discord.Embed:
    if report.changed:
        title = "Index rebuilt"
    else:
        title = "Index already up to date"
    lines = [
        f"Version **{escape(report.version)}** is now serving (built in {report.seconds:.1f} s).",
        f"Documents: {report.documents} — {len(report.added)} added, {len(report.updated)} updated, "
        f"{len(report.removed)} removed, {len(report.unchanged)} unchanged.",
        f"Passages: {report.chunks} — {report.chunks_added} added, {report.chunks_removed} removed.",
    ]
    for label, names in (("Added", report.added), ("Updated", report.updated), ("Removed", report.removed)):
        line = _names(label, names)
        if line:
            lines.append(line)
    if report.skipped:
        items = [f"{escape(k)} ({escape(one_line(v))})" for k, v in list(report.skipped.items())[:10]]
        more = f" and {len(report.skipped) - 10} more" if len(report.skipped) > 10 else ""
        lines.append(f"Skipped: {', '.join(items)}{more}")
    description = trim("\n".join(lines), DESCRIPTION_MAX)
    embed = discord.Embed(title=title, description=description, colour=COLOUR_OK)
    return embed.set_footer(text=footer_text(report.version))


def render_reindex_failure(reason: str, serving_version: str) -> discord.Embed:
    description = trim(
        f"Reindex failed: {escape(one_line(reason))}\nThe previous index (version **{escape(serving_version)}**) "
        "is still serving answers.",
        DESCRIPTION_MAX,
    )
    embed = discord.Embed(title="Reindex failed", description=description, colour=COLOUR_ERROR)
    return embed.set_footer(text=footer_text(serving_version))
