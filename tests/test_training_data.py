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


def test_contrast_pairs_remove_the_answer_or_ask_about_another_party():
    """augment.py: from a labelled answer, one pair without the answer words (a figure, or a name
    asked for) and one about a party of another case, all negatives; nothing else of the pair changes."""
    spec = importlib.util.spec_from_file_location("augment", PROJECT_ROOT / "training" / "judge" / "augment.py")
    augment = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(augment)
    items = {}
    for path in sorted(corpus_check.CORPUS.glob("w1/*/questions.jsonl")):
        for line in path.read_text().splitlines():
            if line.strip():
                item = __import__("json").loads(line)
                items[item["id"]] = item
    item = items["w1-c01-q001"]
    sentence = item["answer_sentences"][0]
    row = {"qid": item["id"], "cluster": "w1/c01", "kind": "answerable", "question": item["question"],
           "candidate": f"(Some Outlet, 2025-03-03) {sentence}", "label": 1, "pool_rank": 0}
    made = {r["augment"]: r for r in augment.contrasts([row], items)}
    assert set(made) == {"answer-removed", "other-party"}
    removed, other = made["answer-removed"], made["other-party"]
    assert removed["label"] == 0 and removed["question"] == row["question"]
    assert removed["candidate"].startswith("(Some Outlet, 2025-03-03) Upon information and belief")
    assert not any(a.casefold() in removed["candidate"].casefold() for a in item["answer"])
    assert other["label"] == 0 and other["candidate"] == row["candidate"]
    assert "Pixelwell" in row["question"] and "Pixelwell" not in other["question"]
    swapped = other["question"].replace(row["question"].split("Pixelwell")[0], "", 1).split(" pulled")[0]
    assert swapped and swapped.casefold() not in sentence.casefold()
    assert all(w not in augment.words(sentence) for w in augment.words(swapped))
    assert augment.contrasts([{**row, "label": 0}], items) == []
    # a name asked for by "which <noun>" gives way to that noun: the sentence names a judge, not which
    judge = items["w1-c02-q004"]
    row = {**row, "qid": judge["id"], "cluster": "w1/c02", "question": judge["question"],
           "candidate": f"(Some Outlet, 2025-03-03) {judge['answer_sentences'][0]}"}
    named = {r["augment"]: r for r in augment.contrasts([row], items)}["name-removed"]
    assert named["label"] == 0 and named["question"] == row["question"] and named["candidate"].endswith("Judge a judge.")
    assert not any(a.casefold() in named["candidate"].casefold() for a in judge["answer"])
    # wider: a longer answer loses its figure ("up to $10,000 per violation"); "In which court" asks a name
    for qid, kind, gone in (("w1-c02-q008", "figures-removed", "$10,000"), ("w1-c01-q003", "name-removed", "Harlan")):
        asked = items[qid]
        row = {**row, "qid": qid, "cluster": "/".join(qid.split("-")[:2]), "question": asked["question"],
               "candidate": f"(Some Outlet, 2025-03-03) {asked['answer_sentences'][0]}"}
        assert gone in row["candidate"]
        assert kind not in {r["augment"] for r in augment.contrasts([row], items)}   # not in the shipped pairs
        made = {r["augment"]: r for r in augment.contrasts([row], items, wider=True)}[kind]
        assert made["label"] == 0 and made["question"] == row["question"] and gone not in made["candidate"]
        assert not any(a.casefold() in made["candidate"].casefold() for a in asked["answer"])
