"""Chunks are whole sentences, overlap, and never exceed the model's own token limit."""

from __future__ import annotations

from embeddings.documents import Document
from embeddings.index.chunking import SPECIAL_TOKENS, TokenCounter, chunk_document, split_sentences
from embeddings.models.encoder import load_tokenizer, max_seq_length, resolve_model_path
from embeddings.parsers import parse_file
from tests.conftest import REPO_SEEDS


def _counter():
    path = resolve_model_path("all-MiniLM-L6-v2")
    return TokenCounter(load_tokenizer(path), max_seq_length(path))


def test_model_limit_is_read_from_the_model():
    assert _counter().max_seq == 256


def test_every_chunk_of_the_real_seeds_fits_the_model(repo_engine):
    counter = _counter()
    data = repo_engine.data
    assert len(data.chunks) > 20
    for chunk in data.chunks:
        n = counter.count(chunk.embed_text) + SPECIAL_TOKENS
        assert n <= 256, (chunk.chunk_id, n)
    # and with the model's own tokenizer through sentence-transformers' path, nothing is cut
    tok = repo_engine.encoder.model.tokenizer
    for chunk in data.chunks:
        assert len(tok(chunk.embed_text)["input_ids"]) <= 256


def test_small_budget_still_bounded_overlapping_and_complete():
    counter = _counter()
    doc = parse_file(REPO_SEEDS / "001_8487601e0b76af03.txt")[0]
    chunks = chunk_document(doc, counter, target_tokens=60, overlap=1)
    assert len(chunks) > 5
    # overlap is kept where the previous sentence still fits beside the next one
    overlapping = sum(a.sentences[-1] == b.sentences[0] for a, b in zip(chunks, chunks[1:]))
    assert overlapping >= len(chunks) // 3
    default = chunk_document(doc, counter, target_tokens=160, overlap=1)
    assert all(a.sentences[-1] == b.sentences[0] for a, b in zip(default, default[1:]))
    covered = {s for c in chunks for s in c.sentences}
    assert covered == set(split_sentences(doc.text))
    for c in chunks:
        assert counter.count(c.embed_text) + SPECIAL_TOKENS <= counter.max_seq


def test_a_sentence_longer_than_the_model_is_cut_at_words_and_loses_nothing():
    counter = _counter()
    words = [f"word{i}" for i in range(600)]
    doc = Document("x", "", "A title", " ".join(words) + ".", "x.txt")
    chunks = chunk_document(doc, counter, target_tokens=200, overlap=1)
    assert len(chunks) >= 3
    for c in chunks:
        assert counter.count(c.embed_text) + SPECIAL_TOKENS <= 256
    joined = " ".join(s for c in chunks for s in c.sentences)
    for w in ("word0", "word299", "word599."):
        assert w in joined


def test_context_prefix_carries_outlet_date_and_title():
    counter = _counter()
    fox = parse_file(REPO_SEEDS / "000_e6d5e0a2c1aa177b.txt")[1]
    chunk = chunk_document(fox, counter, 160, 1)[0]
    assert chunk.embed_text.startswith("Fox News · 14 February 2020")
