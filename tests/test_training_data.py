"""The judge's training corpus: its labels point at real sentences, and it shares no six-word run,
figure or name with the seeds (training/judge/corpus_check.py); the seeds' own text would fail."""

from __future__ import annotations

import importlib.util

from embeddings.config import PROJECT_ROOT

spec = importlib.util.spec_from_file_location("corpus_check", PROJECT_ROOT / "training" / "judge" / "corpus_check.py")
corpus_check = importlib.util.module_from_spec(spec)
spec.loader.exec_module(corpus_check)


def test_the_corpus_is_large_labelled_and_apart_from_the_seeds():
    clusters = sorted(p for p in corpus_check.CORPUS.glob("*/*") if (p / "questions.jsonl").exists())
    questions = sum(len((p / "questions.jsonl").read_text().splitlines()) for p in clusters)
    documents = sum(1 for p in clusters for f in (p / "docs").iterdir() if not f.name.endswith(".meta.yaml"))
    assert documents >= 200 and questions >= 3000
    leaks, labels = corpus_check.check()
    assert labels == []
    assert leaks == []


def test_the_check_would_catch_seed_text():
    fingerprint = corpus_check.seed_fingerprint()
    seed = next(p for p in sorted(corpus_check.SEEDS.iterdir()) if p.suffix == ".txt")
    line = max(corpus_check.seed_texts(corpus_check.SEEDS)[0].splitlines(), key=len)
    assert corpus_check.leaks(line, fingerprint), seed
    assert corpus_check.leaks("The Clearview AI settlement was filed.", fingerprint)
    assert not corpus_check.leaks("Pixelwell agreed to pay $4.2 million to Calder users.", fingerprint)
