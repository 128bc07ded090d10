"""Answer → embeds: Discord's limits hold for any answer, and a [n] marker travels with its source."""

from __future__ import annotations

import random
import re

import pytest

from bot import discord_render as render
from embeddings.documents import Document
from embeddings.results import Answer, BuildReport, Citation, Quote

MARKER = re.compile(r"\[(\d+)\]")


def citation(n: int, **kw) -> Citation:
    data = dict(doc_id=f"00{n}_doc", title=f"Title {n}", outlet="Chicago Sun-Times", published="2021-03-11",
                url=f"https://example.com/{n}", quote=f"Quoted words of source {n}.", chunk_id=f"00{n}_doc#0")
    data.update(kw)
    return Citation(n=n, **data)


def answer(text: str, citations: list[Citation], **kw) -> Answer:
    """An answer whose body is ``text``: "sentence [n]" parts, as the engine composes them."""
    quotes = tuple(Quote("", body.strip(), int(n)) for body, n in re.findall(r"(.*?)\s*\[(\d+)\](?:\s|$)", text, re.S))
    data = dict(question="Why did Chicago police stop using Clearview?", answered=True, quotes=quotes,
                citations=citations, passages=[], index_version="v20240101-abc", timings_ms={}, note=None,
                reader="none", checks=(), decision=None, conversation=None, standalone_question=None,
                closest=())
    data.update(kw)
    return Answer(**data)


def assert_sendable(embeds: list) -> list[list]:
    """Every message pack_messages makes is accepted by Discord; returns the messages."""
    messages = render.pack_messages(embeds)
    assert sum(len(m) for m in messages) == len(embeds)
    for message in messages:
        assert render.check_limits(message) == [], render.check_limits(message)
        # discord.py's own size count agrees with ours (it counts code points, we count UTF-16 units)
        assert sum(len(e) for e in message) <= render.EMBED_TOTAL_MAX
    return messages


def assert_markers_with_sources(embeds: list, expected: set[int]) -> None:
    """Each marker is whole, and its source field sits in the embed where the marker first appears."""
    seen: set[int] = set()
    for e in embeds:
        text = e.description or ""
        assert not re.search(r"\[\d+$", text) and not re.search(r"^\d+\]", text), "a marker was cut"
        field_ns = {int(MARKER.match(f.name).group(1)) for f in e.fields if MARKER.match(f.name)}
        first_here = {int(n) for n in MARKER.findall(text)} - seen
        assert first_here <= field_ns | seen, f"markers {first_here - field_ns} lack their source in this embed"
        seen |= first_here | field_ns
    assert expected <= seen


def test_real_answer_renders_as_one_embed(repo_engine):
    result = repo_engine.ask("Why did Chicago police stop using Clearview?")
    assert result.answered
    embeds = render.render_answer(result)
    assert len(embeds) == 1
    (e,) = embeds
    assert e.title == "Q: Why did Chicago police stop using Clearview?"
    assert "Chicago Police Department stopped using" in e.description
    assert MARKER.search(e.description)
    assert len(e.fields) == len(result.citations)
    first = result.citations[0]
    assert e.fields[0].name == f"[1] {first.outlet} · {first.published}"
    assert f"]({first.url})" in e.fields[0].value          # the title links to the article
    assert "> “" in e.fields[0].value
    assert result.index_version in e.footer.text and "Not legal advice" in e.footer.text
    assert_sendable(embeds)


def test_field_names_fall_back_to_the_seed_file_without_outlet_or_date():
    c = citation(1, outlet=None, published=None, url=None, doc_id="001_8487601e0b76af03", title="The US company")
    (e,) = render.render_answer(answer("Clearview gives up selling. [1]", [c]))
    assert e.fields[0].name == "[1] 001_8487601e0b76af03"
    assert e.fields[0].value.startswith("**The US company**")   # no URL: bold title, not a link


def test_page_appears_in_the_source_label():
    c = citation(1, page=7)
    (e,) = render.render_answer(answer("A ruling. [1]", [c]))
    assert e.fields[0].name == "[1] Chicago Sun-Times · 2021-03-11 · p. 7"


def test_declined_answer_says_so_and_lists_nearest_passages(repo_engine):
    result = repo_engine.ask("How do I bake banana bread?")
    assert not result.answered and result.passages
    (e,) = render.render_answer(result)
    assert "don't cover" in e.description
    assert "nearest passages" in e.description
    assert len(e.fields) == len(result.passages)
    assert e.fields[0].name.startswith("1. ")
    assert_sendable([e])


def test_note_is_shown():
    (e,) = render.render_answer(answer("One figure. [1] Another figure. [2]", [citation(1), citation(2)],
                                       note="Sources give different figures; compare their dates."))
    assert any(f.name.endswith("Note") and "different figures" in f.value for f in e.fields)


def test_markdown_and_masked_links_from_documents_are_neutralised():
    quote = "*bold* _it_ `code` ||spoiler|| [click](https://evil.example) @everyone"
    c = citation(1, title="A [weird] title_with_underscores", quote=quote)
    (e,) = render.render_answer(answer("Text with *stars* [1]", [c]))
    value = e.fields[0].value
    assert "\\*bold\\*" in value and "\\_it\\_" in value and "\\|\\|spoiler" in value
    assert "](https://evil" not in value                   # no masked link smuggled in
    assert "\\[weird\\]" in value                           # brackets escaped inside the link text
    assert "\\*stars\\*" in e.description and "[1]" in e.description


def test_a_link_the_answer_gives_is_shown_whole_and_the_rest_still_escaped():
    url = "https://reason.example/2021/03/15/clearview_scraped-images/"
    quotes = (Quote(f"Reason (2021-03-15), {url}: ", "Lawsuit *challenges* Clearview", 1),)
    (e,) = render.render_answer(answer("", [citation(1, url=url)], quotes=quotes))
    assert f"<{url}>: Lawsuit \\*challenges\\* Clearview [1]" in e.description


def test_a_link_in_a_document_is_whole_once_and_never_cut():
    wiki = "https://en.wikipedia.org/wiki/Clearview_AI_(company)"
    assert render.escape(f"See {wiki}. Or <https://x.example/a_b>.") == \
        "See <https://en.wikipedia.org/wiki/Clearview_AI_%28company%29>. Or <https://x.example/a_b>."
    long = "https://x.example/" + "a" * 600                      # over LINK_URL_MAX: text, not a link
    assert render.escape(long) == long
    assert render.trim("Read " + "https://x.example/" + "b" * 300, 100) == "Read…"


def test_unlinkable_urls_are_not_linked():
    for url in ("javascript:alert(1)", "https://x.example/" + "a" * 600):
        (e,) = render.render_answer(answer("A. [1]", [citation(1, url=url)]))
        assert "](" not in e.fields[0].value
    (e,) = render.render_answer(answer("A. [1]", [citation(1, url="https://x.example/a_(b) c")]))
    assert "](https://x.example/a_%28b%29%20c)" in e.fields[0].value


def test_huge_answer_is_split_at_sentences_and_keeps_every_limit():
    n_cites = 40
    cites = [citation(n, title="T" * 400 + str(n), outlet="O" * 300, quote=("quoted " * 400) + str(n),
                      url="https://example.com/" + "p" * 400) for n in range(1, n_cites + 1)]
    sentences = [f"Sentence number {i} says something long about biometric privacy law {'and more ' * 30}. [{i}]"
                 for i in range(1, n_cites + 1)]
    result = answer(" ".join(sentences), cites, question="Q" * 3000)
    embeds = render.render_answer(result)
    assert len(embeds) > 1
    assert_sendable(embeds)
    assert_markers_with_sources(embeds, set(range(1, n_cites + 1)))
    for e in embeds:                                      # every description ends at a sentence or marker
        assert re.search(r"(\.|\[\d+\])$", e.description or "."), e.description[-40:]
    # all the text survives: nothing is dropped when splitting
    joined = " ".join(e.description for e in embeds if e.description)
    assert joined == render.escape(result.answer)


def test_limits_hold_for_random_answers():
    rng = random.Random(1234)
    alphabet = ["word", "biometric", "Clearview", "😀", "é", "*", "_", "[", "]", "\n", "@everyone", "x" * 120, "."]
    for _ in range(150):
        k = rng.randint(1, 12)
        cites = [citation(n, title="".join(rng.choices(alphabet, k=rng.randint(0, 80))),
                          outlet=rng.choice([None, "Outlet " * rng.randint(1, 60)]),
                          published=rng.choice([None, "2021-03-11"]),
                          quote="".join(rng.choices(alphabet, k=rng.randint(0, 400))))
                 for n in range(1, k + 1)]
        parts = []
        for n in range(1, k + 1):
            parts.append(" ".join(rng.choices(alphabet, k=rng.randint(1, 600))) + f" [{n}]")
        result = answer(" ".join(parts), cites, question=" ".join(rng.choices(alphabet, k=rng.randint(1, 100))),
                        note=rng.choice([None, "note " * 400]))
        embeds = render.render_answer(result)
        assert_sendable(embeds)
        assert_markers_with_sources(embeds, set(range(1, k + 1)))


@pytest.mark.parametrize("text,limit", [("a" * 50, 10), ("😀" * 10, 7), ("word [12] word", 8), ("ab", 1)])
def test_trim_respects_units_and_markers(text, limit):
    out = render.trim(text, limit)
    assert render.ulen(out) <= limit
    assert not re.search(r"\[\d*…?$", out)


def test_each_quote_travels_with_its_own_source():
    result = answer("Clearview sued in California [1] Police stopped. Next? Yes! [2]", [citation(1), citation(2)])
    (e,) = render.render_answer(result)
    assert e.description == "Clearview sued in California [1] Police stopped. Next? Yes! [2]"
    assert [f.name.split(" ")[0] for f in e.fields] == ["[1]", "[2]"]


def test_a_long_quote_is_split_without_cutting_a_marker():
    long = ("x" * 250) + "[12]" + ("y" * 100)
    for piece in render.split_long(long, max_len=100):
        assert render.ulen(piece) <= 100
    assert "[12]" in "".join(render.split_long(long, max_len=100))


def _doc(i: int, **kw) -> Document:
    data = dict(doc_id=f"{i:03d}_seed", part="", title=f"Document {i}", text="...", source_file=f"{i:03d}_seed.txt",
                outlet="Biometric Update", published="2021-03-11", url=f"https://example.com/{i}")
    data.update(kw)
    return Document(**data)


def test_sources_pages_fit_and_number_every_document(repo_engine):
    docs = repo_engine.sources()
    pages = render.paginate_sources(docs)
    assert sum(len(p) for p in pages) == len(docs)
    assert all(len(p) <= render.SOURCES_PER_PAGE for p in pages)
    embed = render.render_sources_page(pages, 0, len(docs), repo_engine.index_version)
    assert embed.title.startswith(f"Sources ({len(docs)} documents) · page 1/{len(pages)}")
    assert "**1.**" in embed.description
    assert render.check_limits([embed]) == []

    many = [_doc(i, title="Long title " * 40, url="https://example.com/" + "q" * 450, outlet="O" * 300)
            for i in range(95)]
    pages = render.paginate_sources(many)
    assert len(pages) == 10 and sum(len(p) for p in pages) == 95
    for i in range(len(pages)):
        assert render.check_limits([render.render_sources_page(pages, i, 95, "v")]) == []
    # a page out of range is clamped, an empty index says so
    assert "page 10/10" in render.render_sources_page(pages, 99, 95, "v").title
    assert "no documents" in render.render_sources_page([], 0, 0, "v").description


def test_reindex_report_and_failure():
    report = BuildReport(version="v2", added=["005_new.txt"], removed=["002_old.txt"], unchanged=["001.txt"],
                         skipped={"bad.pdf": "no text layer"}, documents=15, chunks=30, chunks_added=4,
                         chunks_removed=3, seconds=2.5)
    e = render.render_reindex(report)
    assert e.title == "Index rebuilt"
    for expected in ("v2", "1 added", "1 removed", "4 added, 3 removed", "005\\_new.txt", "bad.pdf (no text layer)"):
        assert expected in e.description
    same = render.render_reindex(BuildReport(version="v2", unchanged=["a"], documents=1, chunks=2))
    assert same.title == "Index already up to date"
    failure = render.render_reindex_failure("seeds folder /x does not exist", "v1")
    assert "seeds folder /x does not exist" in failure.description and "v1" in failure.description
    assert "still serving" in failure.description
    assert render.check_limits([e, same, failure]) == []


def test_pack_messages_respects_the_shared_6000_budget():
    big = render.render_answer(answer(" ".join(f"{'long sentence ' * 200}. [{i}]" for i in range(1, 9)),
                                      [citation(i, quote="q " * 500) for i in range(1, 9)]))
    messages = assert_sendable(big)
    assert len(messages) >= 2


def test_an_empty_answer_still_renders_something():
    (e,) = render.render_answer(answer("", [], answered=True))
    assert "don't cover" in e.description


def test_discord_markup_is_not_part_of_the_question():
    from bot.discord_bot import clean_question

    assert clean_question("@everyone <@123> <@!45> <@&67> <#89> <:cv:1234> who is  Mutnick @here") == "who is Mutnick"


def test_closest_passages_render_as_unconfirmed_with_their_sources():
    """Declined, but the judge's closest sentences: a gold embed that says it is not an answer, each
    sentence under its source, within every limit."""
    closest = (citation(1, quote="Separately, the Chicago Police Department stopped using it."), citation(2, quote="x" * 3000))
    embeds = render.render_answer(answer("", [], answered=False, quotes=(), closest=closest))
    (embed,) = embeds
    assert embed.colour == render.COLOUR_UNSURE
    assert "Not a confirmed answer" in embed.description
    assert embed.fields[0].name.startswith("[1] Chicago Sun-Times") and "stopped using it" in embed.fields[0].value
    assert len(embed.fields) == 2 and render.check_limits(embeds) == []
