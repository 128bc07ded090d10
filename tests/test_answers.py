"""The real pipeline on question sets: right facts, right sources, refusals, and citations that check out."""

from __future__ import annotations

import json
import re

import pytest

from embeddings.errors import EmptyQuestion
from embeddings.results import DECLINE_TEXT
from embeddings.evaluation import citation_problems, judge, seed_texts
from tests.conftest import CALIBRATION_SET, DEV_SET, REPO_SEEDS


def _run(engine, path):
    seeds = seed_texts(REPO_SEEDS)
    items = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return [(item, judge(item, engine.ask(item["question"]).to_json(), seeds)) for item in items]


@pytest.fixture(scope="module")
def dev_results(repo_engine):
    return _run(repo_engine, DEV_SET)


def test_dev_set_at_least_18_of_20_right(dev_results):
    wrong = [f"{r['id']}: {r['why']}" for _, r in dev_results if not r["right"]]
    assert len(dev_results) == 20
    assert len(wrong) <= 2, wrong


def test_dev_set_citation_integrity_on_every_answer(dev_results):
    assert [r["why"] for _, r in dev_results if not r["integrity"]] == []


def test_dev_set_evidence_retrieved_in_top_5(dev_results):
    missed = [r["id"] for item, r in dev_results if item.get("evidence") and not r["evidence_found"]]
    assert missed == []


def test_calibration_set_holds_its_measured_level(repo_engine):
    """tests/data/calibration.jsonl: 45 facts, 35 unanswerable (23 on-topic). Guards against regressions;
    the figures measured when decline_below was set are in the README."""
    results = _run(repo_engine, CALIBRATION_SET)
    facts = [r for item, r in results if item["kind"] == "fact"]
    refusals = [r for item, r in results if item["kind"] == "out_of_scope"]
    assert all(r["integrity"] for _, r in results)
    assert sum(r["right"] for r in facts) >= 39, [r["why"] for r in facts if not r["right"]]
    assert sum(r["right"] for r in refusals) >= 24
    off_topic = [r for item, r in results if item["kind"] == "out_of_scope" and item["id"] <= "cal57"]
    assert all(r["right"] for r in off_topic), [r["question"] for r in off_topic if not r["right"]]


def test_answer_quotes_sentences_with_numbered_citations(repo_engine):
    answer = repo_engine.ask("How much did Facebook agree to pay over facial recognition in Illinois?")
    assert answer.answered and "$650 million" in answer.answer
    assert answer.citations[0].doc_id == "001_8487601e0b76af03"
    assert re.findall(r"\[(\d+)\]", answer.answer) == [str(c.n) for c in answer.citations]
    assert citation_problems(answer.to_json(), seed_texts(REPO_SEEDS)) == []
    assert len(answer.passages) == 5 and answer.passages[0].rank == 1


def test_related_coverage_is_cited_as_its_own_outlet(repo_engine):
    answer = repo_engine.ask("Why did the Chicago Police Department stop using Clearview?")
    top = answer.citations[0]
    assert (top.outlet, top.published, top.doc_id) == ("Chicago Sun-Times", "2021-03-11", "003_38049205e7261289")
    assert top.url.startswith("https://chicago.suntimes.com/")
    assert "Chicago Sun-Times (2021-03-11):" in answer.answer


def test_declined_answer_says_so_and_still_shows_nearest_sources(repo_engine):
    answer = repo_engine.ask("What is the capital of Australia?")
    assert not answer.answered and answer.citations == () and answer.quotes == ()
    assert answer.answer == DECLINE_TEXT
    assert len(answer.passages) == 5


def test_empty_question_is_a_named_error(repo_engine):
    with pytest.raises(EmptyQuestion):
        repo_engine.ask("   ")


def test_json_contract_fields(repo_engine):
    out = repo_engine.ask("Who is David Mutnick?").to_json()
    assert set(out) == {"question", "answered", "answer", "quotes", "citations", "passages", "reader", "checks",
                        "index_version", "conversation", "standalone_question", "timings_ms", "closest"}
    # the answer text is its quotes, each with its lead and marker
    assert out["answer"] == " ".join(f"{q['lead']}{q['text']} [{q['n']}]" for q in out["quotes"])
    assert [q["n"] for q in out["quotes"]] == [c["n"] for c in out["citations"]]
    assert out["reader"] == "none" and all(set(c) == {"check", "passed", "detail"} for c in out["checks"])
    assert out["conversation"] is None and out["standalone_question"] == out["question"]
    assert set(out["citations"][0]) >= {"n", "doc_id", "title", "outlet", "published", "url", "quote"}
    assert set(out["passages"][0]) == {"rank", "score", "doc_id", "chunk_id", "text"}
    assert set(out["timings_ms"]) >= {"embed", "search", "total"}
    assert out["index_version"] == repo_engine.index_version


def test_sources_that_disagree_on_a_figure_are_both_shown_with_their_dates(repo_engine):
    answer = repo_engine.ask("How big is Clearview's photo database?")
    quotes = " ".join(c.quote for c in answer.citations)
    assert "20 billion photos" in quotes and "3 billion people" in quotes
    fresno = next(c for c in answer.citations if "3 billion" in c.quote)
    assert (fresno.outlet, fresno.published) == ("The Fresno Bee", "2021-03-11")
    assert answer.note and "20 billion" in answer.note and "3 billion" in answer.note and "2021-03-11" in answer.note
    assert citation_problems(answer.to_json(), seed_texts(REPO_SEEDS)) == []


def test_a_single_source_figure_gets_no_disagreement_note(repo_engine):
    answer = repo_engine.ask("How much did Facebook agree to pay over facial recognition in Illinois?")
    assert answer.note is None and len(answer.citations) == 1


def test_request_phrasing_does_not_hide_the_subject(repo_engine):
    for question in ("tell me about Mutnick", "Can you explain what Clarifai is accused of?"):
        answer = repo_engine.ask(question)
        assert answer.answered, question


def test_paraphrases_and_rare_names_users_ask_are_answered(repo_engine):
    cases = {
        "What did the ACLU's settlement with Clearview require?": "001_8487601e0b76af03",
        "How much did the opt-out form operation cost?": "001_8487601e0b76af03",
        "Who is Warren Driechel?": "000_e6d5e0a2c1aa177b",
    }
    for question, doc_id in cases.items():
        answer = repo_engine.ask(question)
        assert answer.answered and doc_id in {c.doc_id for c in answer.citations}, question
