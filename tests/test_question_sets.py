"""The question files in tests/data keep the labels that scoring relies on (tests/data/README.md):
an answerable question's expected strings and evidence are in the seeds it names, an unanswerable
one expects nothing, and no id repeats within a file."""

from __future__ import annotations

import pytest

from embeddings.evaluation import load_questions, seed_texts
from embeddings.text import missing_groups, plain
from tests.conftest import PROJECT_ROOT, REPO_SEEDS

QUESTION_FILES = sorted(p for p in (PROJECT_ROOT / "tests" / "data").glob("*.jsonl") if p.name != "dialogues.jsonl")


@pytest.fixture(scope="module")
def seeds() -> dict[str, str]:
    return seed_texts(REPO_SEEDS)


@pytest.mark.parametrize("path", QUESTION_FILES, ids=lambda p: p.name)
def test_every_label_is_backed_by_the_seeds_it_names(path, seeds):
    items = load_questions(path)
    problems = []
    for item in items:
        if item["kind"] == "out_of_scope":
            if item["expect"] or item["sources"]:
                problems.append(f"{item['id']}: unanswerable but expects {item['expect']} from {item['sources']}")
            continue
        assert item["kind"] == "fact", item
        unknown = [s for s in item["sources"] if s not in seeds]
        text = " ".join(seeds[s] for s in item["sources"] if s in seeds) if item["sources"] else " ".join(seeds.values())
        missing = missing_groups(item["expect"], text)
        if unknown or missing or not item["expect"]:
            problems.append(f"{item['id']}: sources {unknown} unknown, expected {missing} not in them")
        if item.get("evidence") and plain(item["evidence"]) not in text:
            problems.append(f"{item['id']}: evidence not in its sources")
    ids = [item["id"] for item in items]
    assert len(items) > 0 and len(set(ids)) == len(ids) and problems == []
