"""The on-disk store: damaged or foreign indexes are refused by name, builds exclude each other,
and the ``current`` link swaps versions under a running reader.

A small index (two short Markdown articles) is built once per module with the session's real model;
each test damages or rebuilds its own copy.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from types import SimpleNamespace

import pytest

from embeddings.engine import Engine, load_index
from embeddings.errors import IndexCorrupt, IndexLocked, IndexMismatch, IndexMissing
from embeddings.index import store
from embeddings.index.build import build_index
from embeddings.index.check import check_index
from tests.corpus import cited, copy_index, quiet, small_index, write_article

HARBOR = (
    "Harborview Mall agreed to pay $3.2 million to settle a class action over its hidden face-scanning "
    "cameras. The cameras photographed every shopper who entered the food court between 2019 and 2021. "
    "Judge Marisol Okafor approved the settlement in Cook County Circuit Court."
)
TRANSIT = (
    "The Riverton Transit Authority suspended its facial recognition pilot on city buses after riders "
    "complained. The pilot scanned the faces of roughly 40,000 riders each week. The agency said it "
    "deleted all stored face templates in March."
)
STADIUM = (
    "The Granite Falls Stadium stopped scanning the faces of ticket holders at its gates. The stadium's "
    "owner agreed to destroy 1.3 million face prints. The lawsuit was dismissed in June after the agreement."
)
Q_HARBOR = "How much did Harborview Mall pay to settle the face-scanning lawsuit?"
Q_STADIUM = "How many face prints did the Granite Falls Stadium owner agree to destroy?"


@pytest.fixture(scope="module")
def base(tmp_path_factory, shared_encoder):
    return small_index(tmp_path_factory.mktemp("store-base"), {
        "harbor.md": ("Harborview Mall settles face-scanning lawsuit", HARBOR),
        "transit.md": ("Riverton transit agency pauses facial recognition pilot", TRANSIT),
    }, shared_encoder)


@pytest.fixture
def work(base, tmp_path, make_config, shared_encoder):
    seeds, index = copy_index(base, tmp_path)
    config = make_config(seeds, index)
    version_dir = index / "versions" / base.report.version
    assert store.current_path(index) == version_dir
    return SimpleNamespace(seeds=seeds, index=index, config=config, enc=shared_encoder, dir=version_dir,
                           version=base.report.version)


# --- damaged or foreign indexes -------------------------------------------------------------------

def _truncate(name):
    def damage(folder: Path):
        path = folder / name
        data = path.read_bytes()
        path.write_bytes(data[: len(data) // 2])
    return damage


def _flip_byte_in_chunks(folder: Path):
    path = folder / "chunks.jsonl"
    data = bytearray(path.read_bytes())
    at = data.index(b"Harborview") + 1          # inside the embedded text: still valid JSON, same size
    data[at] = ord("A") if data[at] != ord("A") else ord("B")
    path.write_bytes(bytes(data))


def _delete(name):
    def damage(folder: Path):
        (folder / name).unlink()
    return damage


def _edit_manifest(**model):
    def damage(folder: Path):
        path = folder / "manifest.json"
        manifest = json.loads(path.read_text(encoding="utf-8"))
        manifest["model"].update(model)
        path.write_text(json.dumps(manifest, indent=2), encoding="utf-8")
    return damage


def _garble_manifest(folder: Path):
    (folder / "manifest.json").write_text('{"format": 1, "version": ', encoding="utf-8")


DAMAGE = {
    "truncated vectors.faiss": (_truncate("vectors.faiss"), IndexCorrupt, "vectors.faiss"),
    "truncated vectors.npy": (_truncate("vectors.npy"), IndexCorrupt, "vectors.npy"),
    "truncated sentence_vectors.npy": (_truncate("sentence_vectors.npy"), IndexCorrupt, "sentence_vectors.npy"),
    "byte flipped in chunks.jsonl": (_flip_byte_in_chunks, IndexCorrupt, "chunks.jsonl does not match its checksum"),
    "sentences.jsonl deleted": (_delete("sentences.jsonl"), IndexCorrupt, "sentences.jsonl is missing"),
    "manifest deleted": (_delete("manifest.json"), IndexCorrupt, "manifest"),
    "manifest garbled": (_garble_manifest, IndexCorrupt, "manifest"),
    "manifest of another model": (_edit_manifest(name="sentence-transformers/all-mpnet-base-v2", dimension=768),
                                  IndexMismatch, "all-mpnet-base-v2"),
    "manifest of another dimension": (_edit_manifest(dimension=768), IndexMismatch, "768 dims"),
}


@pytest.mark.parametrize("case", list(DAMAGE))
def test_a_damaged_or_foreign_index_is_refused_with_the_command_to_run(work, case):
    damage, error, detail = DAMAGE[case]
    damage(work.dir)

    with pytest.raises(error) as info:
        load_index(work.config, work.enc)
    message = str(info.value)
    assert "casebot index" in message, message
    assert detail in message, message

    # The engine refuses to open rather than answer from a damaged index (or rebuild over it silently).
    calls = work.enc.calls
    with pytest.raises(error) as info:
        Engine.open(work.config, encoder=work.enc, log=quiet)
    assert "casebot index" in str(info.value)
    assert work.enc.calls == calls
    assert store.current_version(work.index) == work.version


@pytest.mark.parametrize("case", list(DAMAGE))
def test_index_check_reports_the_same_damage(work, case):
    DAMAGE[case][0](work.dir)
    problems = check_index(work.config)
    assert problems, "`casebot index --check` must not pass an index that cannot be loaded"


@pytest.mark.parametrize("case", ["byte flipped in chunks.jsonl", "manifest of another model"])
def test_casebot_index_repairs_a_damaged_or_foreign_index(work, case):
    DAMAGE[case][0](work.dir)
    lines = []
    report = build_index(work.config, work.enc, log=lines.append)  # what `casebot index` runs
    assert any("previous index not reusable" in line for line in lines), lines
    data = load_index(work.config, work.enc).data
    assert report.added == ["harbor.md", "transit.md"]  # nothing was reused from the bad version
    assert report.encoded == len(data.chunks) + len(data.sentences)
    assert check_index(work.config) == []
    assert any("Harborview Mall agreed" in s.text for s in data.sentences)


def test_a_missing_index_names_the_command_and_is_built_on_first_open(work):
    shutil.rmtree(work.index)
    with pytest.raises(IndexMissing, match="run `casebot index`"):
        load_index(work.config, work.enc)
    with pytest.raises(IndexMissing):
        Engine.open(work.config, encoder=work.enc, build_if_missing=False, log=quiet)
    assert check_index(work.config) == [f"no index at {work.index}; run `casebot index`"]


# --- one build at a time --------------------------------------------------------------------------

def test_a_second_build_is_refused_while_the_lock_is_held(work):
    calls = work.enc.calls
    write_article(work.seeds, "stadium.md", "Granite Falls stadium drops face scanning", STADIUM)
    with store.index_lock(work.index):
        assert (work.index / ".lock").read_text().strip() == str(os.getpid())
        with pytest.raises(IndexLocked) as info:
            build_index(work.config, work.enc, log=quiet)
        message = str(info.value)
        assert "another `casebot index` is rebuilding" in message
        assert str(work.index) in message and f"(pid {os.getpid()})" in message
        assert "wait for it to finish and try again" in message
        # Readers don't take the lock: the index stays readable during a build.
        assert load_index(work.config, work.enc).version == work.version
    assert work.enc.calls == calls, "a refused build must not embed anything"
    assert store.current_version(work.index) == work.version
    assert sorted(p.name for p in (work.index / "versions").iterdir()) == [work.version]
    assert (work.index / ".lock").read_text() == ""

    report = build_index(work.config, work.enc, log=quiet)  # the lock is free again
    assert report.added == ["stadium.md"]
    assert store.current_version(work.index) == report.version


# --- the `current` swap ---------------------------------------------------------------------------

def test_current_swaps_to_each_new_version_and_a_running_engine_keeps_its_own(work):
    v1 = work.version
    versions = work.index / "versions"
    assert os.readlink(work.index / "current") == os.path.join("versions", v1)
    engine = Engine.open(work.config, encoder=work.enc, log=quiet)
    assert engine.index_version == v1
    assert engine.refresh() is False

    write_article(work.seeds, "stadium.md", "Granite Falls stadium drops face scanning", STADIUM)
    v2 = build_index(work.config, work.enc, log=quiet).version
    assert os.readlink(work.index / "current") == os.path.join("versions", v2)  # relative: the folder can move
    assert sorted(p.name for p in versions.iterdir()) == sorted([v1, v2])  # v1 kept for running readers
    assert [p.name for p in work.index.iterdir() if p.name not in {"current", "versions", ".lock", "encoders"}] == []

    # The engine opened before the rebuild still holds v1, which has no stadium article.
    assert engine.index_version == v1 and "stadium" not in engine.data.documents

    (work.seeds / "transit.md").unlink()
    v3 = build_index(work.config, work.enc, log=quiet).version
    assert os.readlink(work.index / "current") == os.path.join("versions", v3)
    assert sorted(p.name for p in versions.iterdir()) == sorted([v2, v3])  # v1 collected, v2 kept
    assert check_index(work.config) == []

    # Its folder is gone, but the v1 the engine holds in memory is whole and answers...
    held = engine.retriever
    answer = engine.answer_from(held, Q_HARBOR)
    assert answer.answered and cited(answer) == {"harbor"} and answer.index_version == v1

    # ...until it follows `current`: explicitly here, or on its next question (next test).
    assert engine.refresh() is True
    assert engine.index_version == v3
    assert "transit" not in engine.data.documents
    answer = engine.ask(Q_STADIUM)
    assert answer.answered and cited(answer) == {"stadium"} and answer.index_version == v3
    assert engine.refresh() is False


def test_a_running_engine_follows_an_index_built_by_another_process(make_engine, seeds_copy, make_config, shared_encoder):
    """`casebot index` run beside a live bot: the bot's next question is answered from the new version."""
    from embeddings.index.build import build_index

    engine = make_engine(seeds_copy)
    old = engine.index_version
    (seeds_copy / "009_hearing.md").write_text(
        "---\ntitle: Hearing set in the Zorblatt biometric case\noutlet: Test Wire\npublished: 2023-01-05\n---\n"
        "Judge Amelia Zorblatt set the fairness hearing in the biometric privacy case for April 4, 2023.\n")
    build_index(engine.config, shared_encoder, log=lambda _: None)  # as another process would
    answer = engine.ask("When is the fairness hearing Judge Zorblatt set?")
    assert engine.index_version != old
    assert answer.answered and answer.citations[0].doc_id == "009_hearing"
