"""The index build on real files: add / change / delete cycles with exact encoding counts.

One small base index (a scraped-text seed with a sidecar and two Markdown articles with front
matter, all written here) is built once per module with the session's real model; each test works on
its own copy of the seeds folder and of the index, so a test pays only for the texts its own changes
make the build encode.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from embeddings.config import load_config
from embeddings.index import store
from embeddings.index.build import build_index
from embeddings.index.check import check_index
from tests.conftest import EXTRACTIVE
from embeddings.engine import Engine, load_index
from embeddings.errors import CasebotError, SeedsNotFound
from embeddings.retrieval.local import LocalRetriever
from tests.corpus import cited, quiet, write_article

KIOSK = (
    "Kiosk maker fined for storing shoppers faces\n\n"
    "The kiosk maker Brightlane Systems was fined $250,000 by the state attorney general. Its self-checkout "
    "kiosks stored a photo of every customer without asking for consent. The company said it has since "
    "deleted more than two million photos.\n"
)
KIOSK_SIDECAR = 'title: "Kiosk maker fined for storing shoppers faces"\noutlet: Midwest Retail Wire\npublished: 2021-11-05\n'

HARBOR = (
    "Harborview Mall agreed to pay $3.2 million to settle a class action over its hidden face-scanning "
    "cameras. The cameras photographed every shopper who entered the food court between 2019 and 2021. "
    "Judge Marisol Okafor approved the settlement in Cook County Circuit Court. "
    "Each shopper who files a claim will receive about $85."
)
TRANSIT = (
    "The Riverton Transit Authority suspended its facial recognition pilot on city buses after riders "
    "complained. The pilot scanned the faces of roughly 40,000 riders each week. Council member Dario "
    "Velez called the program an invasion of privacy. The agency said it deleted all stored face "
    "templates in March."
)
STADIUM = (
    "The Granite Falls Stadium stopped scanning the faces of ticket holders at its gates. Fans had sued "
    "the stadium under the state biometric privacy law. The stadium's owner agreed to destroy 1.3 million "
    "face prints. The lawsuit was dismissed in June after the agreement."
)
GALLERY = (
    "The Copperline Art Gallery installed cameras that matched visitors' faces against a list of banned "
    "patrons. A visitor named Ingrid Solberg sued the gallery after she was turned away at the door. "
    "The gallery removed the cameras in October and apologized to its members."
)

Q_HARBOR = "How much did Harborview Mall pay to settle the face-scanning lawsuit?"
Q_STADIUM = "How many face prints did the Granite Falls Stadium owner agree to destroy?"
Q_GALLERY = "Who sued the Copperline Art Gallery after being turned away at the door?"


def texts_of(data: store.IndexData, seed_name: str) -> int:
    """Chunks plus (unique) sentences the index holds for the documents of one seed file."""
    keys = {k for k, d in data.documents.items() if d.source_file == seed_name}
    assert keys, f"{seed_name} has no document in the index"
    return sum(c.doc_key in keys for c in data.chunks) + sum(s.doc_key in keys for s in data.sentences)


def assert_passages_belong_to_their_documents(data: store.IndexData) -> None:
    """Every sentence a passage quotes is text of the document it will be cited as."""
    flat = {k: " ".join(d.text.split()) for k, d in data.documents.items()}
    for c in data.chunks:
        for sid in c.sentence_ids:
            assert data.sentences[sid].doc_key == c.doc_key
            assert " ".join(data.sentences[sid].text.split()) in flat[c.doc_key], (c.chunk_id, data.sentences[sid])


def by_chunk_id(data: store.IndexData) -> dict[str, tuple[str, np.ndarray]]:
    return {c.chunk_id: (data.chunk_text(i), data.vectors[i]) for i, c in enumerate(data.chunks)}


def passage_docs(answer) -> set[str]:
    return {p.doc_id for p in answer.passages}


@pytest.fixture(scope="module")
def base(tmp_path_factory, shared_encoder):
    """The first build: three seed files, every text encoded, in one call of the encoder."""
    root = tmp_path_factory.mktemp("build-base")
    seeds = root / "seeds"
    seeds.mkdir()
    (seeds / "kiosk.txt").write_text(KIOSK, encoding="utf-8")
    (seeds / "kiosk.meta.yaml").write_text(KIOSK_SIDECAR, encoding="utf-8")
    write_article(seeds, "harbor.md", "Harborview Mall settles face-scanning lawsuit", HARBOR)
    write_article(seeds, "transit.md", "Riverton transit agency pauses facial recognition pilot", TRANSIT,
                  outlet="Riverton Daily", published="2022-09-03")
    config = load_config(env=EXTRACTIVE, paths__seeds=str(seeds), paths__index=str(root / "index"),
                         paths__feedback=str(root / "feedback.jsonl"))
    calls = shared_encoder.calls
    report = build_index(config, shared_encoder, log=quiet)
    return SimpleNamespace(seeds=seeds, index=root / "index", report=report, calls=shared_encoder.calls - calls,
                           data=load_index(config, shared_encoder).data)


@pytest.fixture
def work(base, tmp_path, make_config, shared_encoder):
    """A private copy of the base seeds and index (the ``current`` link is relative, so it copies)."""
    seeds = Path(shutil.copytree(base.seeds, tmp_path / "seeds"))
    index = Path(shutil.copytree(base.index, tmp_path / "index", symlinks=True))
    config = make_config(seeds, index)
    return SimpleNamespace(seeds=seeds, index=index, config=config, enc=shared_encoder,
                           build=lambda **kw: _build(config, shared_encoder, **kw),
                           load=lambda: load_index(config, shared_encoder).data)


def _build(config, encoder, **kw):
    before = encoder.calls
    report = build_index(config, encoder, log=quiet, **kw)
    return report, encoder.calls - before


BASE_NAMES = ["harbor.md", "kiosk.txt", "transit.md"]


def test_first_build_encodes_every_passage_and_sentence_once(base):
    data = base.data
    assert base.report.added == BASE_NAMES
    assert base.report.updated == base.report.removed == base.report.unchanged == []
    assert base.report.skipped == {} and base.report.duplicates == {}
    assert base.report.encoded == len(data.chunks) + len(data.sentences)
    assert base.report.encoded == sum(texts_of(data, n) for n in BASE_NAMES)
    assert base.calls == 1
    assert base.report.documents == len(data.documents) == 3
    assert base.report.chunks == base.report.chunks_added == len(data.chunks)
    assert data.vectors.shape == (len(data.chunks), 384)
    assert data.sentence_vectors.shape == (len(data.sentences), 384)
    assert_passages_belong_to_their_documents(data)
    assert data.manifest["counts"] == {"documents": 3, "chunks": len(data.chunks), "sentences": len(data.sentences)}
    # The sidecar's metadata reached the plain-text seed; the front matter's reached the Markdown seeds.
    kiosk = data.documents["kiosk"]
    assert (kiosk.title, kiosk.outlet, kiosk.published) == (
        "Kiosk maker fined for storing shoppers faces", "Midwest Retail Wire", "2021-11-05")
    harbor = data.documents["harbor"]
    assert (harbor.title, harbor.outlet, harbor.published, harbor.url) == (
        "Harborview Mall settles face-scanning lawsuit", "Lakeshore Ledger", "2023-04-12",
        "https://news.example.com/harbor")


def test_rebuild_with_nothing_changed_encodes_nothing(work, base):
    report, calls = work.build()
    assert report.encoded == 0
    assert calls == 0, "the encoder must not even be called"
    assert report.unchanged == BASE_NAMES
    assert report.added == report.updated == report.removed == [] and not report.changed
    assert report.chunks_added == report.chunks_removed == 0
    assert report.version != base.report.version
    data = work.load()
    assert data.version == report.version
    # Reused rows are the same texts with the same vectors, however the rows were renumbered.
    old, new = by_chunk_id(base.data), by_chunk_id(data)
    assert old.keys() == new.keys()
    for cid, (text, vec) in old.items():
        assert new[cid][0] == text
        assert np.array_equal(new[cid][1], vec)
    assert [s.text for s in data.sentences] == [s.text for s in base.data.sentences]
    assert_passages_belong_to_their_documents(data)
    assert np.array_equal(data.sentence_vectors, base.data.sentence_vectors)
    assert check_index(work.config) == []


def test_adding_a_seed_encodes_only_that_file(work, base):
    write_article(work.seeds, "stadium.md", "Granite Falls stadium drops face scanning at its gates", STADIUM,
                  outlet="Granite Falls Gazette", published="2024-06-20")
    report, calls = work.build()
    data = work.load()
    assert report.added == ["stadium.md"]
    assert report.unchanged == BASE_NAMES
    assert report.updated == report.removed == []
    assert calls == 1
    assert report.encoded == texts_of(data, "stadium.md")
    assert report.encoded == len(data.chunks) + len(data.sentences) - len(base.data.chunks) - len(base.data.sentences)
    assert report.chunks_added == sum(c.doc_key == "stadium" for c in data.chunks)
    # The other files' passages kept their vectors.
    old, new = by_chunk_id(base.data), by_chunk_id(data)
    for cid, (text, vec) in old.items():
        assert new[cid][0] == text and np.array_equal(new[cid][1], vec)
    assert_passages_belong_to_their_documents(data)

    engine = Engine(work.config, work.enc, LocalRetriever(data, work.config.retrieval), quiet)
    answer = engine.ask(Q_STADIUM)
    assert answer.answered, answer.answer
    assert cited(answer) == {"stadium"}
    assert "1.3 million" in answer.answer
    citation = answer.citations[0]
    assert (citation.title, citation.outlet, citation.published, citation.url) == (
        "Granite Falls stadium drops face scanning at its gates", "Granite Falls Gazette", "2024-06-20",
        "https://news.example.com/stadium")
    assert check_index(work.config) == []


def test_changing_a_seed_reencodes_only_that_file(work):
    engine = Engine.open(work.config, encoder=work.enc, log=quiet)
    write_article(work.seeds, "harbor.md", "Harborview Mall settles face-scanning lawsuit",
                  HARBOR.replace("$3.2 million", "$4.7 million") + " The mall also promised to delete the photos.")
    calls = work.enc.calls
    report = engine.reindex()
    assert report.updated == ["harbor.md"]
    assert report.unchanged == ["kiosk.txt", "transit.md"]
    assert report.added == report.removed == []
    assert work.enc.calls - calls == 1
    assert report.encoded == texts_of(engine.data, "harbor.md")
    assert sum(s.doc_key == "harbor" for s in engine.data.sentences) == 5

    after = engine.ask(Q_HARBOR)
    assert after.answered and cited(after) == {"harbor"}
    assert "$4.7 million" in after.answer and "$3.2 million" not in after.answer
    assert after.index_version == report.version


def test_a_sidecar_added_or_changed_reencodes_its_seed(work):
    side = work.seeds / "transit.meta.yaml"
    side.write_text("outlet: Riverton Evening Post\n", encoding="utf-8")
    report, calls = work.build()
    assert report.updated == ["transit.md"]
    assert report.unchanged == ["harbor.md", "kiosk.txt"]
    assert calls == 1
    data = work.load()
    assert report.encoded == texts_of(data, "transit.md")
    assert data.documents["transit"].outlet == "Riverton Evening Post"  # the sidecar wins over front matter

    side.write_text("outlet: Riverton Evening Post\ncourt: Riverton Municipal Court\n", encoding="utf-8")
    report, _ = work.build()
    assert report.updated == ["transit.md"]
    data = work.load()
    assert report.encoded == texts_of(data, "transit.md")
    assert data.documents["transit"].meta == {"court": "Riverton Municipal Court"}


def test_deleting_a_seed_removes_its_documents_and_its_answers(work):
    engine = Engine.open(work.config, encoder=work.enc, log=quiet)
    before = engine.ask(Q_HARBOR)
    assert before.answered, before.answer
    assert cited(before) == {"harbor"}

    old = engine.data
    (work.seeds / "harbor.md").unlink()
    calls = work.enc.calls
    report = engine.reindex()
    assert report.removed == ["harbor.md"]
    assert report.unchanged == ["kiosk.txt", "transit.md"]
    assert report.encoded == 0 and work.enc.calls == calls
    assert report.chunks_removed == sum(c.doc_key == "harbor" for c in old.chunks) > 0
    data = engine.data
    assert "harbor" not in data.documents
    assert not [c for c in data.chunks if c.doc_key == "harbor"]
    assert not [s for s in data.sentences if s.doc_key == "harbor"]
    assert "harbor.md" not in data.manifest["seeds"]
    assert not any("Harborview" in s.text for s in data.sentences)

    after = engine.ask(Q_HARBOR)
    assert not after.answered, after.answer
    assert after.citations == ()
    assert "harbor" not in passage_docs(after)
    assert after.index_version == report.version != before.index_version
    assert check_index(work.config) == []


def test_full_rebuild_reencodes_everything(work, base):
    report, calls = work.build(full=True)
    data = work.load()
    assert calls == 1
    assert report.encoded == len(data.chunks) + len(data.sentences) == base.report.encoded
    assert report.added == BASE_NAMES  # nothing is reused: every file counts as new
    assert report.unchanged == []
    assert report.chunks_added == len(data.chunks)
    # Same model, same texts: the same vectors (up to batching noise).
    old, new = by_chunk_id(base.data), by_chunk_id(data)
    assert old.keys() == new.keys()
    for cid, (text, vec) in old.items():
        assert new[cid][0] == text
        assert np.allclose(new[cid][1], vec, atol=1e-4)
    assert check_index(work.config) == []


def test_same_article_under_two_names_is_indexed_and_cited_once(work):
    for name in ("gallery_a.md", "gallery_b.md"):
        write_article(work.seeds, name, "Art gallery sued over face-matching cameras", GALLERY)
    engine = Engine.open(work.config, encoder=work.enc, log=quiet)
    report = engine.reindex()
    assert report.added == ["gallery_a.md", "gallery_b.md"]
    assert report.duplicates == {"gallery_b": "gallery_a"}
    assert report.encoded == texts_of(engine.data, "gallery_a.md")  # one copy embedded, not two
    data = engine.data
    assert "gallery_a" in data.documents and "gallery_b" not in data.documents
    assert not [c for c in data.chunks if c.doc_key == "gallery_b"]
    assert data.manifest["seeds"]["gallery_b.md"]["documents"] == []
    assert data.manifest["seeds"]["gallery_b.md"]["dropped_duplicates"] == ["gallery_b"]

    answer = engine.ask(Q_GALLERY)
    assert answer.answered, answer.answer
    assert cited(answer) == {"gallery_a"}
    assert "Ingrid Solberg" in answer.answer
    assert "gallery_b" not in passage_docs(answer)
    quotes = [c.quote for c in answer.citations]
    assert len(quotes) == len(set(quotes))
    assert check_index(work.config) == []

    # The kept copy goes: the other one comes back, with its own name.
    (work.seeds / "gallery_a.md").unlink()
    report = engine.reindex()
    assert report.removed == ["gallery_a.md"]
    assert report.updated == ["gallery_b.md"]
    assert report.duplicates == {}
    assert report.encoded == texts_of(engine.data, "gallery_b.md")
    assert "gallery_b" in engine.data.documents and "gallery_a" not in engine.data.documents
    assert sum(s.doc_key == "gallery_b" for s in engine.data.sentences) == 3
    assert check_index(work.config) == []


def test_duplicate_comes_back_even_after_a_no_change_rebuild(work):
    for name in ("gallery_a.md", "gallery_b.md"):
        write_article(work.seeds, name, "Art gallery sued over face-matching cameras", GALLERY)
    work.build()
    report, _ = work.build()  # nothing changed
    assert report.encoded == 0
    (work.seeds / "gallery_a.md").unlink()
    report, _ = work.build()
    assert report.removed == ["gallery_a.md"]
    assert "gallery_b" in work.load().documents


def test_two_seeds_with_the_same_stem_are_not_mixed_up(work):
    write_article(work.seeds, "gallery.md", "Art gallery sued over face-matching cameras", GALLERY)
    work.build()
    (work.seeds / "gallery.txt").write_text("Stadium drops face scanning\n\n" + STADIUM + "\n", encoding="utf-8")
    report, _ = work.build()
    data = work.load()
    # Both files are indexed under distinct documents, or the clash is named in report.skipped ...
    indexed = {d.source_file for d in data.documents.values()}
    assert {"gallery.md", "gallery.txt"} <= indexed | set(report.skipped), (indexed, report.skipped)
    # ... and never is one file's text cited under the other's title.
    assert_passages_belong_to_their_documents(data)


BROKEN = {
    "binary.txt": (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)), "binary"),
    "latin1.txt": ("Café owners in Montréal sued over cameras that scanned every customer's face. "
                   "The case is still pending.".encode("latin-1"), "not UTF-8"),
    "badyaml.md": (b'---\ntitle: "Unclosed quote\noutlet: [Nowhere\n---\n\nSome body text about a lawsuit.\n',
                   "malformed YAML front matter"),
    "unclosed.md": (b"---\ntitle: Never closed\n\nThe front matter above never ends.\n",
                    "never closed"),
    "empty.md": (b"", "empty"),
    "blank.txt": (b"   \n\n\t\n", "only whitespace"),
}


def test_broken_seeds_are_skipped_by_name_and_the_rest_is_indexed(work):
    for name, (raw, _) in BROKEN.items():
        (work.seeds / name).write_bytes(raw)
    (work.seeds / "badside.txt").write_text("A fine article body about face scanning in shops.\n", encoding="utf-8")
    (work.seeds / "badside.meta.yaml").write_text("title: [oops\n", encoding="utf-8")
    write_article(work.seeds, "stadium.md", "Granite Falls stadium drops face scanning at its gates", STADIUM)

    report, _ = work.build()
    expected = {name: why for name, (_, why) in BROKEN.items()} | {"badside.txt": "malformed YAML in badside.meta.yaml"}
    assert sorted(report.skipped) == sorted(expected)
    for name, why in expected.items():
        assert why in report.skipped[name], (name, report.skipped[name])
    assert report.added == sorted([*expected, "stadium.md"])
    assert report.unchanged == BASE_NAMES
    data = work.load()
    assert report.encoded == texts_of(data, "stadium.md")
    assert {d.source_file for d in data.documents.values()} == {*BASE_NAMES, "stadium.md"}
    assert data.manifest["seeds"]["binary.txt"]["documents"] == []
    assert "binary" in data.manifest["seeds"]["binary.txt"]["skipped"]
    assert check_index(work.config) == []  # a skipped file is known to the index, not "missing"

    # Fixing one broken file indexes it on the next build; the others stay skipped.
    (work.seeds / "latin1.txt").write_bytes(BROKEN["latin1.txt"][0].decode("latin-1").encode("utf-8"))
    report, _ = work.build()
    assert "latin1.txt" in report.updated
    assert "latin1.txt" not in report.skipped
    assert sorted(report.skipped) == sorted(set(expected) - {"latin1.txt"})
    data = work.load()
    assert report.encoded == texts_of(data, "latin1.txt")
    assert "Montréal" in data.documents["latin1"].text


def test_failed_build_keeps_the_previous_index_serving(work):
    engine = Engine.open(work.config, encoder=work.enc, log=quiet)
    version = engine.index_version

    for path in list(work.seeds.iterdir()):
        path.unlink()
    for name in ("binary.txt", "empty.md", "badyaml.md"):
        (work.seeds / name).write_bytes(BROKEN[name][0])
    calls = work.enc.calls
    with pytest.raises(CasebotError, match="could be indexed; the previous index"):
        engine.reindex()
    assert work.enc.calls == calls

    def still_serving():
        assert store.current_version(work.index) == version
        assert sorted(p.name for p in (work.index / "versions").iterdir()) == [version]
        assert not list(work.index.glob(".current-*"))
        assert Engine.open(work.config, encoder=work.enc, log=quiet).index_version == version
        with store.index_lock(work.index):  # the failed build released the lock
            pass

    still_serving()

    # A seeds folder with no seed file in it, or no seeds folder at all, fails the same way.
    for path in list(work.seeds.iterdir()):
        path.unlink()
    (work.seeds / "notes.docx").write_bytes(b"PK\x03\x04")
    with pytest.raises(SeedsNotFound, match="no seed files"):
        build_index(work.config, work.enc, log=quiet)
    still_serving()
    shutil.rmtree(work.seeds)
    with pytest.raises(SeedsNotFound, match="seeds folder not found"):
        build_index(work.config, work.enc, log=quiet)
    still_serving()
    answer = engine.ask(Q_HARBOR)  # the engine kept answering from the version it had
    assert answer.answered and cited(answer) == {"harbor"} and answer.index_version == version


def test_check_index_names_each_file_that_differs_from_the_index(work):
    assert check_index(work.config) == []

    write_article(work.seeds, "stadium.md", "Granite Falls stadium drops face scanning at its gates", STADIUM)
    assert check_index(work.config) == ["stadium.md is in the seeds folder but not in the index"]

    with open(work.seeds / "harbor.md", "a", encoding="utf-8") as fh:
        fh.write("The mall also promised to delete the photos.\n")
    (work.seeds / "transit.md").unlink()
    side = work.seeds / "kiosk.meta.yaml"
    side.write_text(KIOSK_SIDECAR + "court: Cook County Circuit Court\n", encoding="utf-8")
    assert check_index(work.config) == [
        "stadium.md is in the seeds folder but not in the index",
        "transit.md is in the index but no longer in the seeds folder",
        "harbor.md changed since the index was built",
        "kiosk.txt changed since the index was built",
    ]

    report, _ = work.build()
    assert report.added == ["stadium.md"] and report.removed == ["transit.md"]
    assert report.updated == ["harbor.md", "kiosk.txt"]
    assert check_index(work.config) == []


def test_a_new_pdf_filing_is_cited_with_its_page_and_declined_once_deleted(seeds_copy, make_engine):
    """The issue's own check: seeds + a PDF; a question only the PDF answers; then delete it."""
    fpdf = pytest.importorskip("fpdf")
    pdf = fpdf.FPDF()
    pdf.set_font("Helvetica", size=11)
    pdf.add_page()
    pdf.multi_cell(0, 6, "UNITED STATES DISTRICT COURT, NORTHERN DISTRICT OF ILLINOIS. In re Clearview AI "
                         "Consumer Privacy Litigation. MEMORANDUM OPINION AND ORDER.")
    pdf.add_page()
    pdf.multi_cell(0, 6, "The Court grants in part and denies in part the motion to dismiss. Judge Sharon "
                         "Johnson Coleman held that the plaintiffs adequately alleged that Clearview profited "
                         "from their biometric data.")
    pdf.output(str(seeds_copy / "005_order.pdf"))
    question = "Which judge held that the plaintiffs adequately alleged Clearview profited from their biometric data?"

    engine = make_engine(seeds_copy)
    answer = engine.ask(question)
    assert answer.answered and "Sharon Johnson Coleman" in answer.answer
    top = answer.citations[0]
    assert (top.doc_id, top.page) == ("005_order", 2)
    assert answer.to_json()["citations"][0]["page"] == 2

    (seeds_copy / "005_order.pdf").unlink()
    report = engine.reindex()
    assert report.removed == ["005_order.pdf"] and report.encoded == 0
    after = engine.ask(question)
    assert not after.answered and all(p.doc_id != "005_order" for p in after.passages)
