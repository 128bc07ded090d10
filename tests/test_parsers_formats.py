"""PDF, HTML and Markdown seeds, sidecar metadata, and the inputs a parser must refuse.

Every file is real and written in tmp_path: PDFs by fpdf2 (text, metadata, an embedded image) and
pypdf (encryption, a hostile content stream), HTML pages with their chrome, Markdown with front matter.
All go through ``parse_file``, the way the index build calls them.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from lxml import html as lxml_html

from embeddings.errors import SeedParseError
from embeddings.index.chunking import split_sentences
from embeddings.parsers import parse_file
from embeddings.parsers import pdf as pdf_parser
from embeddings.parsers.markdown import markdown_text

PAGE_TEXTS = [
    "The court grants final approval of the settlement between the ACLU and Clearview AI.",
    "Clearview AI may not sell access to its faceprint database to most private companies.",
    "The injunction binds Clearview AI for five years in the State of Illinois.",
]


def flat(text: str) -> str:
    return " ".join(text.split())


def refused(path: Path, *reason_parts: str) -> SeedParseError:
    """Parse ``path``, expect a SeedParseError that names the file and gives the reason."""
    with pytest.raises(SeedParseError) as info:
        parse_file(path)
    err = info.value
    assert Path(err.path).name == path.name
    assert str(err).startswith(f"{path.name}: ")
    for part in reason_parts:
        assert part in err.reason, err.reason
    return err


def write_pdf(path: Path, pages: list[str], title: str | None = None) -> Path:
    fpdf = pytest.importorskip("fpdf")  # test dependency: fpdf2 writes PDFs with real text
    doc = fpdf.FPDF()
    if title:
        doc.set_title(title)
    for text in pages:
        doc.add_page()
        doc.set_font("Helvetica", size=12)
        doc.multi_cell(0, 8, text)
    doc.output(str(path))
    return path


def write_slow_pdf(path: Path, operations: int = 300_000) -> Path:
    """One page whose content stream holds enough text operators to keep pypdf busy for seconds."""
    from pypdf import PdfWriter
    from pypdf.generic import DecodedStreamObject, DictionaryObject, NameObject

    writer = PdfWriter()
    page = writer.add_blank_page(612, 792)
    font = DictionaryObject(
        {
            NameObject("/Type"): NameObject("/Font"),
            NameObject("/Subtype"): NameObject("/Type1"),
            NameObject("/BaseFont"): NameObject("/Helvetica"),
        }
    )
    page[NameObject("/Resources")] = DictionaryObject(
        {NameObject("/Font"): DictionaryObject({NameObject("/F1"): font})}
    )
    stream = DecodedStreamObject()
    stream.set_data(b"BT /F1 12 Tf 72 720 Td " + b"(a) Tj 1 0 Td " * operations + b"ET")
    page.replace_contents(stream)
    page.compress_content_streams()
    writer.write(str(path))
    return path


# ---------------------------------------------------------------- PDF


def test_pdf_gives_one_document_per_page(tmp_path):
    path = write_pdf(tmp_path / "order.pdf", PAGE_TEXTS, title="Order Granting Final Approval")
    docs = parse_file(path)
    assert [d.part for d in docs] == ["p1", "p2", "p3"]
    assert [d.page for d in docs] == [1, 2, 3]
    for doc, expected in zip(docs, PAGE_TEXTS):
        assert doc.doc_id == "order"
        assert doc.source_file == "order.pdf"
        assert doc.key == f"order/{doc.part}"
        assert doc.title == "Order Granting Final Approval"
        assert flat(expected) in flat(doc.text)
        assert doc.outlet is None and doc.published is None and doc.url is None and doc.meta == {}


def test_pdf_title_falls_back_to_first_line(tmp_path):
    path = write_pdf(tmp_path / "untitled.pdf", ["ORDER ON MOTION TO DISMISS\nThe motion is denied."])
    docs = parse_file(path)
    assert docs[0].title == "ORDER ON MOTION TO DISMISS"


def test_pdf_sidecar_metadata_is_merged(tmp_path):
    path = write_pdf(tmp_path / "approval.pdf", PAGE_TEXTS[:2], title="Metadata title")
    (tmp_path / "approval.meta.yaml").write_text(
        "title: ACLU v. Clearview AI, final approval order\n"
        "outlet: Circuit Court of Cook County\n"
        "published: 2022-05-11\n"
        "url: https://example.org/aclu-v-clearview/order.pdf\n"
        "court: Circuit Court of Cook County, Illinois\n"
        "docket: 2020-CH-04353\n"
        "document_type: order\n"
        "filed: 2022-05-11T00:00:00Z\n",
        encoding="utf-8",
    )
    docs = parse_file(path)
    assert len(docs) == 2
    for doc in docs:
        assert doc.title == "ACLU v. Clearview AI, final approval order"
        assert doc.outlet == "Circuit Court of Cook County"
        assert doc.published == "2022-05-11"
        assert doc.url == "https://example.org/aclu-v-clearview/order.pdf"
        assert doc.meta == {
            "court": "Circuit Court of Cook County, Illinois",
            "docket": "2020-CH-04353",
            "document_type": "order",
            "filed": "2022-05-11",
        }


def test_pdf_blank_pages_are_skipped_and_numbering_kept(tmp_path):
    path = write_pdf(tmp_path / "gaps.pdf", [PAGE_TEXTS[0], "", PAGE_TEXTS[2]])
    docs = parse_file(path)
    assert [(d.part, d.page) for d in docs] == [("p1", 1), ("p3", 3)]


def test_pdf_encrypted_with_a_password_is_refused(tmp_path):
    from pypdf import PdfWriter

    plain = write_pdf(tmp_path / "plain.pdf", PAGE_TEXTS)
    writer = PdfWriter(clone_from=plain)
    writer.encrypt(user_password="secret", owner_password="owner", algorithm="RC4-128")
    path = tmp_path / "sealed.pdf"
    writer.write(path)
    refused(path, "encrypted PDF", "password")


def test_pdf_encrypted_with_owner_password_only_is_read(tmp_path):
    # Permission-restricted PDFs (empty user password, AES) are common and readable.
    pytest.importorskip("cryptography")
    from pypdf import PdfWriter

    plain = write_pdf(tmp_path / "plain.pdf", PAGE_TEXTS)
    writer = PdfWriter(clone_from=plain)
    writer.encrypt(user_password="", owner_password="owner", algorithm="AES-256")
    path = tmp_path / "restricted.pdf"
    writer.write(path)
    docs = parse_file(path)
    assert flat(PAGE_TEXTS[1]) in flat(docs[1].text)


def test_pdf_image_only_is_refused(tmp_path):
    fpdf = pytest.importorskip("fpdf")
    from PIL import Image, ImageDraw  # installed with fpdf2

    image = Image.new("RGB", (400, 120), "white")
    ImageDraw.Draw(image).rectangle((20, 20, 380, 100), outline="black", width=4)
    doc = fpdf.FPDF()
    doc.add_page()
    doc.image(image, x=10, y=10, w=180)
    path = tmp_path / "scan.pdf"
    doc.output(str(path))
    refused(path, "no extractable text (scanned/image-only PDF?)")


def test_pdf_truncated_is_refused(tmp_path):
    data = write_pdf(tmp_path / "full.pdf", PAGE_TEXTS).read_bytes()
    path = tmp_path / "cut.pdf"
    path.write_bytes(data[: len(data) // 2])
    refused(path, "truncated")


def test_pdf_malformed_is_refused(tmp_path):
    path = tmp_path / "garbage.pdf"
    path.write_bytes(b"%PDF-1.7\n1 0 obj << /Type /Catalog /Pages 9 0 R >>\nthis is not a PDF body\n%%EOF\n")
    refused(path, "malformed PDF")


def test_pdf_that_is_not_a_pdf_is_refused(tmp_path):
    path = tmp_path / "notes.pdf"
    path.write_text("Just some text saved with the wrong extension.\n", encoding="utf-8")
    refused(path, "not a PDF")


def test_pdf_empty_is_refused(tmp_path):
    path = tmp_path / "empty.pdf"
    path.touch()
    refused(path, "file is empty")


def test_pdf_over_size_limit_is_refused(tmp_path):
    path = tmp_path / "huge.pdf"
    with path.open("wb") as f:
        f.truncate(200 * 2**20)  # sparse: nothing is written
    refused(path, "200 MiB", "50 MiB limit")


def test_pdf_with_too_many_pages_is_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(pdf_parser, "MAX_PAGES", 2)
    path = write_pdf(tmp_path / "long.pdf", PAGE_TEXTS)
    refused(path, "too many pages (3, the limit is 2)")


def test_pdf_with_too_much_text_is_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(pdf_parser, "MAX_TEXT_CHARS", 100)
    path = write_pdf(tmp_path / "wordy.pdf", PAGE_TEXTS)
    refused(path, "extracted text is over the limit of 100 characters")


def test_pdf_extraction_that_stalls_is_stopped(tmp_path, monkeypatch):
    path = write_slow_pdf(tmp_path / "hostile.pdf")  # ~9 s of pypdf work
    monkeypatch.setattr(pdf_parser, "TIMEOUT_S", 1.0)
    start = time.monotonic()
    refused(path, "took over 1 s", "stopped")
    assert time.monotonic() - start < 5


def test_bounded_worker_is_killed_on_timeout():
    start = time.monotonic()
    assert pdf_parser.run_bounded("import time; time.sleep(60)", [], 0.5) == ("timeout",)
    assert time.monotonic() - start < 5


def test_bounded_worker_that_dies_is_reported():
    code = "import sys; sys.stderr.write('worker gave up\\n'); sys.exit(3)"
    assert pdf_parser.run_bounded(code, [], 10) == ("died", 3, "worker gave up")


def test_bounded_worker_imports_this_engine_wherever_it_runs(tmp_path, monkeypatch):
    # The worker finds this embeddings package from any folder, and a folder's own is not picked up.
    (tmp_path / "embeddings").mkdir()
    (tmp_path / "embeddings" / "__init__.py").write_text("raise ImportError('shadow package')\n")
    monkeypatch.chdir(tmp_path)
    code = "import embeddings, sys; sys.stdout.write(embeddings.__file__)"
    status, out = pdf_parser.run_bounded(code, [], 10)
    assert status == "ok"
    assert Path(out.decode()).resolve() == Path(pdf_parser.__file__).resolve().parents[1] / "__init__.py"


def test_worker_memory_is_bounded():
    pytest.importorskip("resource")
    code = (
        "from embeddings.parsers.pdf import _limit_memory, WORKER_MEMORY\n"
        "_limit_memory(WORKER_MEMORY)\n"
        "block = bytearray(WORKER_MEMORY + 2**30)\n"
    )
    status, code_, last = pdf_parser.run_bounded(code, [], 10)
    assert (status, last) == ("died", "MemoryError")


# ---------------------------------------------------------------- HTML

ARTICLE_HTML = """<!DOCTYPE html>
<html lang="en"><head>
<meta charset="utf-8">
<title>Judge approves Clearview AI settlement | Example News</title>
<meta property="og:title" content="Judge approves Clearview AI settlement">
<meta property="og:site_name" content="Example News">
<meta property="og:url" content="https://news.example.com/2022/05/clearview-settlement">
<meta property="article:published_time" content="2022-05-11T09:30:00Z">
<link rel="canonical" href="https://news.example.com/2022/05/clearview-settlement">
<script>var tracking = "SCRIPTTEXT"; window.dataLayer = [];</script>
<style>.banner { color: red }</style>
</head><body>
<nav><ul><li><a href="/">Home</a></li><li><a href="/tech">Tech NAVLINK</a></li></ul></nav>
<div id="cookie-banner" class="cookie-consent">We use cookies COOKIEBANNER to improve your
experience. <button>Accept</button></div>
<main><article>
<h1>Judge approves Clearview AI settlement</h1>
<p>A federal judge in Chicago on Wednesday approved a settlement between Clearview AI and the
<a href="https://aclu.org">American Civil Liberties Union</a>, ending a two-year lawsuit brought
under the Illinois <b>Biometric Information Privacy Act</b>.</p>
<p>Under the deal, Clearview AI agreed to stop selling access to its face database to most private
companies nationwide &amp; to Illinois police for five years.</p>
<h2>What the settlement requires</h2>
<ul><li>Clearview must maintain an opt-out form for Illinois residents.</li>
<li>The company will spend $50,000 on advertising the form.</li></ul>
<p>&#8220;This agreement shows that strong privacy laws can provide real protections against
abuse,&#8221; said Nathan Freed Wessler of the ACLU.</p>
<table><tr><td>Court</td><td>Circuit Court of Cook County</td></tr>
<tr><td>Case</td><td>ACLU v. Clearview AI</td></tr></table>
<p>The company said it would continue to work with<br>federal agencies and with law enforcement
outside Illinois.</p>
</article></main>
<!-- HTMLCOMMENT must not appear -->
<section class="comments"><h3>Comments</h3><p>COMMENTER says this is great, and writes a long
comment body to look like a real reader comment on the story.</p></section>
<footer><p>&copy; 2022 Example News FOOTERTEXT. All rights reserved.</p>
<a href="/privacy">Privacy policy</a></footer>
</body></html>
"""


def page_text(html: str) -> str:
    """What a reader sees on the page: all text outside scripts and styles, whitespace collapsed."""
    tree = lxml_html.fromstring(html)
    for bad in tree.xpath("//script|//style"):
        bad.drop_tree()
    for br in tree.iter("br"):  # a line break separates words on screen
        br.tail = "\n" + (br.tail or "")
    return flat(tree.text_content())


def test_html_main_text_without_chrome(tmp_path):
    path = tmp_path / "story.html"
    path.write_text(ARTICLE_HTML, encoding="utf-8")
    [doc] = parse_file(path)
    text = doc.text
    for chrome in ("NAVLINK", "COOKIEBANNER", "SCRIPTTEXT", "HTMLCOMMENT", "COMMENTER", "FOOTERTEXT",
                   "Privacy policy", "color: red"):
        assert chrome not in text
    assert "Biometric Information Privacy Act" in text
    assert "companies nationwide & to Illinois police" in flat(text)
    assert "Clearview must maintain an opt-out form" in text
    assert "Circuit Court of Cook County" in text
    assert "work with federal agencies" in flat(text)  # <br> is a line break, not glued words
    assert doc.title == "Judge approves Clearview AI settlement"
    assert doc.outlet == "Example News"
    assert doc.published == "2022-05-11"
    assert doc.url == "https://news.example.com/2022/05/clearview-settlement"
    assert doc.part == "" and doc.source_file == "story.html" and doc.doc_id == "story"


def test_html_text_is_verbatim_from_the_page(tmp_path):
    path = tmp_path / "story.html"
    path.write_text(ARTICLE_HTML, encoding="utf-8")
    [doc] = parse_file(path)
    seen = page_text(ARTICLE_HTML)
    for paragraph in doc.text.split("\n\n"):
        assert flat(paragraph) in seen, paragraph
        assert not paragraph.startswith(("- ", "| ")), paragraph  # no markup of the extractor's own
    for sentence in split_sentences(doc.text):
        assert sentence in seen, sentence


def test_html_sidecar_overrides_page_metadata(tmp_path):
    path = tmp_path / "story.htm"
    path.write_text(ARTICLE_HTML, encoding="utf-8")
    (tmp_path / "story.meta.yaml").write_text(
        "title: Settlement approved\noutlet: Example Wire\npublished: 2022-05-12\n"
        "url: https://wire.example.com/a/1\ncourt: Circuit Court of Cook County\n"
        "document_type: news article\n",
        encoding="utf-8",
    )
    [doc] = parse_file(path)
    assert (doc.title, doc.outlet, doc.published, doc.url) == (
        "Settlement approved", "Example Wire", "2022-05-12", "https://wire.example.com/a/1"
    )
    assert doc.meta == {"court": "Circuit Court of Cook County", "document_type": "news article"}


def test_html_date_is_not_guessed_from_the_story(tmp_path):
    path = tmp_path / "order.html"
    path.write_text(
        "<html><head><title>Order entered in Mutnick case</title></head><body><article>"
        "<h1>Order entered in Mutnick case</h1>"
        "<p>The complaint was filed on March 3, 2021 in the Northern District of Illinois, and the "
        "court entered its order weeks later after a hearing on biometric privacy and the scraping "
        "of social media images by Clearview AI.</p>"
        "<p>More text follows about the injunction and the class of Illinois residents whose faces "
        "were collected without their consent.</p></article></body></html>",
        encoding="utf-8",
    )
    [doc] = parse_file(path)
    assert doc.published is None and doc.url is None
    assert doc.title == "Order entered in Mutnick case"
    assert "filed on March 3, 2021" in doc.text


def test_html_without_main_text_is_refused(tmp_path):
    # A script-rendered page saved before it ran: a shell and no text.
    path = tmp_path / "shell.html"
    path.write_text(
        "<html><head><title>App</title><script>var x = 1;</script></head>"
        "<body><div id='root'></div><script src='/bundle.js'></script></body></html>",
        encoding="utf-8",
    )
    refused(path, "no main text")


def test_html_not_utf8_is_refused(tmp_path):
    path = tmp_path / "latin.html"
    path.write_bytes("<html><body><p>Café société, un arrêt du tribunal.</p></body></html>".encode("latin-1"))
    refused(path, "not UTF-8")


# ---------------------------------------------------------------- Markdown

FILING_MD = """---
title: "Memorandum Opinion and Order"
court: United States District Court for the Northern District of Illinois
docket: "1:21-cv-00135"
document_type: memorandum opinion and order
filed: 2022-02-14
url: https://example.org/in-re-clearview/opinion
---
# Memorandum Opinion and Order

## Background

Plaintiffs allege that Clearview AI scraped **billions** of photographs from the internet
and built a database of faceprints without consent. See [the complaint](https://example.org/c.pdf)
for the full allegations.

1. Clearview moved to dismiss for lack of personal jurisdiction.
2. The Macy's defendants joined the motion.

- The court denies the motion in part.
* The court grants the motion as to the unjust enrichment claim.

> The Biometric Information Privacy Act forbids a private entity to collect a
> person's biometric identifiers without first informing that person in writing.

Setext Heading
--------------

<!-- docket entry 279 -->

```
exhibit list
```

[c]: https://example.org/c.pdf

***

IT IS SO ORDERED.
"""


def test_markdown_with_litigation_front_matter(tmp_path):
    path = tmp_path / "opinion.md"
    path.write_text(FILING_MD, encoding="utf-8")
    [doc] = parse_file(path)
    assert doc.title == "Memorandum Opinion and Order"
    assert doc.url == "https://example.org/in-re-clearview/opinion"
    assert doc.meta == {
        "court": "United States District Court for the Northern District of Illinois",
        "docket": "1:21-cv-00135",
        "document_type": "memorandum opinion and order",
        "filed": "2022-02-14",
    }
    paragraphs = doc.text.split("\n\n")
    assert paragraphs[:2] == ["Memorandum Opinion and Order", "Background"]
    assert "Clearview moved to dismiss for lack of personal jurisdiction." in paragraphs
    assert "The court denies the motion in part." in paragraphs
    assert "Setext Heading" in paragraphs
    assert paragraphs[-1] == "IT IS SO ORDERED."
    assert "docket entry 279" not in doc.text and "***" not in doc.text and "```" not in doc.text
    assert "[c]:" not in doc.text
    assert not any(p.startswith(("#", "- ", "* ", "1. ", "> ")) for p in paragraphs)


def test_markdown_sentences_are_found_in_the_raw_file(tmp_path):
    # What the citation checker does: a quoted sentence must occur in the file, whitespace aside.
    path = tmp_path / "opinion.md"
    path.write_text(FILING_MD, encoding="utf-8")
    [doc] = parse_file(path)
    raw = flat(path.read_text(encoding="utf-8"))
    sentences = split_sentences(doc.text)
    assert any("**billions**" in s for s in sentences)  # inline markup is kept, not half-removed
    assert any("without first informing that person in writing." in s for s in sentences)
    for sentence in sentences:
        assert sentence in raw, sentence


def test_markdown_text_keeps_inline_text_as_written():
    body = "Intro with a [link](https://x.example) and `code` &amp; *emphasis*.\n\n## Heading ##\n"
    assert markdown_text(body) == (
        "Intro with a [link](https://x.example) and `code` &amp; *emphasis*.\n\nHeading"
    )


def test_markdown_without_front_matter(tmp_path):
    path = tmp_path / "notes.markdown"
    path.write_text("# Notes on BIPA\n\nSection 15(b) requires informed written consent.\n", encoding="utf-8")
    [doc] = parse_file(path)
    assert doc.text == "Notes on BIPA\n\nSection 15(b) requires informed written consent."
    assert doc.title == "notes"  # no front matter title: the file stem


def test_markdown_malformed_front_matter_is_refused(tmp_path):
    path = tmp_path / "broken.md"
    path.write_text("---\ntitle: [unclosed\ncourt: x\n---\nBody text.\n", encoding="utf-8")
    refused(path, "malformed YAML front matter")


# ---------------------------------------------------------------- text seeds and sidecars

SCRAPED_TXT = """Illinois sues over face scans

Illinois sues over face scans

The state filed suit on Tuesday, saying the company collected faceprints without consent.

Leave a Reply

Your email address will not be published. Required fields are marked *
"""


def test_sidecar_metadata_merged_over_bare_text(tmp_path):
    path = tmp_path / "scraped.txt"
    path.write_text(SCRAPED_TXT, encoding="utf-8")
    (tmp_path / "scraped.meta.yaml").write_text(
        "# where each value comes from\noutlet: Example Daily\npublished: 2021-03-09\n"
        "url: https://daily.example.com/il-suit\ncourt: Circuit Court of Cook County\n",
        encoding="utf-8",
    )
    [doc] = parse_file(path)
    assert doc.title == "Illinois sues over face scans"  # from the text: the sidecar has none
    assert (doc.outlet, doc.published, doc.url) == ("Example Daily", "2021-03-09", "https://daily.example.com/il-suit")
    assert doc.meta == {"court": "Circuit Court of Cook County"}
    # A sidecar adds metadata only: the scraped text is still cleaned of its boilerplate.
    assert doc.text == (
        "Illinois sues over face scans\n\n"
        "The state filed suit on Tuesday, saying the company collected faceprints without consent."
    )


def test_sidecar_with_malformed_yaml_is_refused(tmp_path):
    path = tmp_path / "scraped.txt"
    path.write_text(SCRAPED_TXT, encoding="utf-8")
    (tmp_path / "scraped.meta.yaml").write_text("title: [unclosed\noutlet: x\n", encoding="utf-8")
    refused(path, "malformed YAML in scraped.meta.yaml")


def test_sidecar_that_is_not_a_mapping_is_refused(tmp_path):
    path = write_pdf(tmp_path / "order.pdf", PAGE_TEXTS[:1])
    (tmp_path / "order.meta.yaml").write_text("- just\n- a list\n", encoding="utf-8")
    refused(path, "order.meta.yaml is not a mapping")


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("binary.txt", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00", "binary file"),
        ("latin.txt", "Décision du tribunal".encode("latin-1"), "not UTF-8"),
        ("empty.txt", b"", "file is empty"),
        ("empty.md", b"", "file is empty"),
        ("empty.html", b"", "file is empty"),
        ("blank.md", b"  \n\n\t\n", "only whitespace"),
    ],
)
def test_bad_text_inputs_are_refused(tmp_path, name, content, reason):
    path = tmp_path / name
    path.write_bytes(content)
    refused(path, reason)


@pytest.mark.parametrize("name", ["big.txt", "big.md", "big.html"])
def test_text_over_size_limit_is_refused(tmp_path, name):
    path = tmp_path / name
    with path.open("wb") as f:
        f.truncate(200 * 2**20)  # sparse
    refused(path, "200 MiB", "limit")


# ---------------------------------------------------------------- the seeds' sidecars

SEEDS = Path(__file__).resolve().parent.parent / "seeds"


@pytest.mark.parametrize(
    ("stem", "title", "outlet"),
    [
        ("001_8487601e0b76af03", "The US company Clearview gives up selling its facial recognition tools to companies", None),
        ("002_207503266fe6f751", "Plaintiff in biometric privacy class action asks judge to order Clearview AI to delete data", None),
        ("004_23d3985e3772e314", "Clearview AI will stop selling its facial recognition technology to private companies", "SiliconANGLE"),
    ],
)
def test_seed_sidecars_state_only_what_the_seed_says(stem, title, outlet):
    import yaml

    seed = SEEDS / f"{stem}.txt"
    side = yaml.safe_load((SEEDS / f"{stem}.meta.yaml").read_text(encoding="utf-8"))
    raw = flat(seed.read_text(encoding="utf-8"))
    for key, value in side.items():
        assert flat(str(value)) in raw, f"{key}: {value!r} is not in {seed.name}"
    assert "published" not in side and "url" not in side  # none of the three gives a date or URL
    [doc] = parse_file(seed)
    assert (doc.title, doc.outlet, doc.published, doc.url) == (title, outlet, None, None)
    assert "Leave a" not in doc.text and "John Furrier" not in doc.text
