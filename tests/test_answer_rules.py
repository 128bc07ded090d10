"""One property a test for each rule of the answer stage (embeddings/answer/), on a hand-made index,
so a broken rule names itself instead of showing up as a lower score on a question set."""

from __future__ import annotations

import dataclasses
import threading
from dataclasses import replace
from types import SimpleNamespace

import numpy as np
import pytest

from embeddings.answer import combiner
from embeddings.answer.candidates import SCORERS, Scored, has_kind, near_duplicate
from embeddings.answer.checks import CHECKS, Check, adds_check, cited_adds_check, cited_kind_check, failed, kind_check
from embeddings.answer.compose import compose
from embeddings.answer.decision import POLICIES, Decision, decide
from embeddings.answer.question import Question, clean, expected_kind, source_asked
from embeddings.answer.readers import BACKENDS, GuardedReader, ReaderFailed, Reading
from embeddings.config import load_config
from embeddings.documents import Document
from embeddings.errors import ConfigError, ReaderUnavailable
from embeddings.results import DECLINE_TEXT, Stopwatch

CONFIG = load_config(env={"CASEBOT_READER_BACKEND": "none"})
S = CONFIG.answer

DOCS = {"a": Document("a", "", "Acme sued", "...", "a.txt", "Daily Post", "2021-05-02", "https://dailypost.example/acme-sued"),
        "b": Document("b", "", "Beta news", "...", "b.txt", "Metro Ledger", None)}
SENTENCES = [("a", "Acme sued"),                                           # 0: the title
             ("a", "Acme agreed to pay $3 million to settle the drivers' claims."),
             ("a", "The drivers said Acme tracked them in 2019."),
             ("b", "Acme agreed to pay $3 million to settle the drivers' claims!"),
             ("b", "Acme paid 5 million dollars, the Ledger said."),
             ("b", "How much did Acme pay")]


def _tokenize(texts):
    return [[w.strip(".,!?$'").lower() for w in t.split()] for t in texts]


LEXICON = SimpleNamespace(tokenize=_tokenize, idf=lambda tokens: {t: 1.0 for t in tokens},
                          question_terms=lambda text: set(_tokenize([text])[0]) - {"", "which", "who", "the", "that", "was", "when"})


class Data:
    """The parts of IndexData the answer stage reads."""

    version = "v-test"
    documents = DOCS
    sentences = [SimpleNamespace(doc_key=d, text=t) for d, t in SENTENCES]
    chunks = [SimpleNamespace(chunk_id=f"{d}#0", doc_key=d, doc_id=d, sentence_ids=[i for i, (k, _) in enumerate(SENTENCES) if k == d])
              for d in DOCS]
    sentence_vectors = np.eye(len(SENTENCES), dtype=np.float32)

    lexicon = LEXICON

    def sentence_terms(self, sid):
        return set(self.lexicon.tokenize([self.sentences[sid].text])[0]) - {""}

    def chunk_text(self, row):
        return " ".join(self.sentences[i].text for i in self.chunks[row].sentence_ids)


DATA = Data()


def question(text="How much did Acme pay the drivers?", unknown=(), terms=None):
    return Question(text, np.zeros(len(SENTENCES), dtype=np.float32),
                    frozenset(terms if terms is not None else {"acme", "pay", "drivers"}), expected_kind(text), tuple(unknown))


def cand(sid, score, evidence=0.9, holds_kind=True, coverage=0.5):
    return Scored(sid, 0 if SENTENCES[sid][0] == "a" else 1, 0, 0.5, coverage, score, evidence, holds_kind, None)


def extractive(q, candidates, **answer):
    config = replace(CONFIG, answer=replace(S, **answer))
    return decide(q, DATA, candidates, None, config)


# -- the question -------------------------------------------------------------------------------------

def test_the_question_is_folded_and_cut_at_the_configured_length():
    assert clean("  a \n b  ", 1000) == "a b"
    assert clean("x" * 2000, CONFIG.question.max_chars) == "x" * CONFIG.question.max_chars


@pytest.mark.parametrize("text, kind", [("How much did Acme pay?", "money"), ("When did Acme settle?", "date"),
                                        ("Who is Warren Driechel?", None), ("Which court heard it?", "court")])
def test_the_question_says_which_kind_of_answer_it_asks_for(text, kind):
    assert expected_kind(text) == kind


def test_a_sentence_holds_a_kind_only_with_words_the_question_lacks():
    assert has_kind("It was filed in 2019.", "date", "When was it filed?")
    assert not has_kind("It was filed in 2019.", "date", "Was it filed in 2019?")


# -- the gates before any policy ---------------------------------------------------------------------

def test_a_question_of_mostly_unknown_words_is_declined_before_the_extractive_and_reader_policies():
    d = extractive(question(unknown=("zorblat", "quix", "vemp"), terms={"zorblat", "quix", "vemp", "acme"}), [cand(1, 1.0)])
    assert d.picked == () and d.checks[0].check == "unknown_words" and "zorblat" in d.note


def test_no_quotable_sentence_is_a_decline():
    assert extractive(question(), []).checks[0].check == "evidence"


# -- the extractive policy ---------------------------------------------------------------------------

def test_extractive_declines_below_the_evidence_threshold():
    d = extractive(question(), [cand(1, 1.0, evidence=S.decline_below - 0.01)])
    assert d.picked == () and d.checks[0].check == "evidence" and not d.checks[0].passed


def test_extractive_quotes_a_close_runner_up():
    assert [c.sid for c in extractive(question(), [cand(1, 1.0), cand(2, 0.9)]).picked] == [1, 2]


def test_extractive_drops_a_runner_up_outside_the_margin():
    d = extractive(question(), [cand(1, 1.0), cand(2, 1.0 - S.runner_up_margin - 0.01)])
    assert [c.sid for c in d.picked] == [1]


def test_extractive_drops_a_runner_up_with_too_little_evidence():
    weak = S.decline_below - S.runner_up_evidence_gap - 0.01
    assert [c.sid for c in extractive(question(), [cand(1, 1.0), cand(2, 0.99, evidence=weak)]).picked] == [1]


def test_extractive_drops_a_headline_unless_nearly_best():
    assert [c.sid for c in extractive(question(), [cand(1, 1.0), cand(0, 1.0 - S.title_margin - 0.01)]).picked] == [1]


def test_extractive_drops_a_near_duplicate():
    assert [c.sid for c in extractive(question(), [cand(1, 1.0), cand(3, 0.99)]).picked] == [1]


def test_near_duplicate_is_the_share_of_new_words():
    assert near_duplicate("a b c d", "a b c x", 0.3)          # 1 of 4 words new: 0.25 < 0.3
    assert not near_duplicate("a b c d", "a b x y", 0.3)      # 2 of 4: 0.5


def test_extractive_quotes_a_close_sentence_of_the_asked_kind_when_the_best_has_none():
    d = extractive(question(), [cand(2, 1.0, holds_kind=False), cand(4, 0.95, holds_kind=True)])
    assert 4 in [c.sid for c in d.picked]


def test_extractive_declines_when_no_close_sentence_holds_the_asked_kind():
    d = extractive(question(), [cand(2, 1.0, holds_kind=False), cand(4, 1.0 - S.type_margin - 0.01, holds_kind=False)])
    assert d.picked == () and d.checks[0].check == "kind" and d.note


# -- the checks ----------------------------------------------------------------------------------------

def test_the_kind_check_passes_a_question_asking_no_kind():
    assert kind_check(question("Who is Warren Driechel?"), DATA, cand(2, 1.0, holds_kind=False)).passed


def test_the_adds_check_fails_a_sentence_that_only_repeats_the_question():
    q = question(terms={"how", "much", "did", "acme", "pay"})
    assert not adds_check(q, DATA, cand(5, 1.0)).passed and adds_check(q, DATA, cand(1, 1.0)).passed


def test_the_cited_checks_also_read_the_outlet_and_date_a_sentence_is_cited_with():
    """"Which outlet published <title>?" is answered by the title and its citation (Daily Post), as is
    "when"; a sentence that is not the title does not borrow its document's date."""
    outlet = question("Which outlet published Acme sued?", terms={"outlet", "published", "acme", "sued"})
    assert not adds_check(outlet, DATA, cand(0, 1.0)).passed and cited_adds_check(outlet, DATA, cand(0, 1.0)).passed
    when = question("When was Acme sued published?", terms={"published", "acme", "sued"})
    assert not kind_check(when, DATA, cand(0, 1.0, holds_kind=False)).passed
    assert cited_kind_check(when, DATA, cand(0, 1.0, holds_kind=False)).passed
    assert not cited_kind_check(when, DATA, cand(1, 1.0, holds_kind=False)).passed


def test_failed_lists_the_named_checks_a_sentence_fails_in_order():
    q = question(terms={"how", "much", "did", "acme", "pay"})
    assert [c.check for c in failed(q, DATA, cand(5, 1.0, holds_kind=False), ("kind", "adds"))] == ["kind", "adds"]
    assert set(CHECKS) >= set(CONFIG.decision.reader_checks) | set(CONFIG.decision.extractive_checks)


# -- the reader policy ---------------------------------------------------------------------------------

class Said:
    """A reader that says the same probabilities every time (or fails)."""

    name = "fake:reader"

    def __init__(self, p_none, p_sentences, error=None):
        self.p = {"0": p_none, **{str(i + 1): p for i, p in enumerate(p_sentences)}}
        self.error = error

    def read(self, question, lines):
        if self.error:
            return ReaderFailed(self.name, self.error, 0.0)
        return Reading(self.name, self.p["0"], [self.p[str(i + 1)] for i in range(len(lines))], 0.01, 10)


def with_reader(reader, candidates, **decision):
    config = replace(CONFIG, decision=replace(CONFIG.decision, **decision))
    return decide(question(), DATA, candidates, reader, config)


def test_a_failed_reader_is_a_value_and_the_extractive_policy_answers():
    d = with_reader(Said(0, [], error="timed out"), [cand(1, 1.0)])
    assert isinstance(d.reading, ReaderFailed) and d.reader_label == "none (reader failed: timed out)"
    assert [c.sid for c in d.picked] == [1]


def test_the_reader_policy_answers_when_the_combiner_clears_the_threshold():
    d = with_reader(Said(0.01, [0.99]), [cand(1, 1.0)], answer_above=0.0)
    assert [c.sid for c in d.picked] == [1] and d.checks[-1].check == "combiner" and d.checks[-1].passed


def test_the_reader_policy_declines_below_the_threshold():
    d = with_reader(Said(0.01, [0.99]), [cand(1, 1.0)], answer_above=1.0)
    assert d.picked == () and not d.checks[-1].passed and d.features is not None


def test_the_reader_policy_drops_a_sentence_failing_a_check_and_says_why():
    d = with_reader(Said(0.01, [0.99, 0.5]), [cand(2, 1.0, holds_kind=False), cand(1, 0.9)], answer_above=0.0)
    assert d.picked[0].sid == 1                  # the first sentence to pass the checks leads
    assert any(c.check == "kind" and "sentence 1 dropped" in c.detail for c in d.checks)


def test_the_reader_policy_also_quotes_a_sentence_the_reader_nearly_as_much_believes():
    both = with_reader(Said(0.01, [0.5, 0.5]), [cand(1, 1.0), cand(2, 0.9)], answer_above=0.0)
    one = with_reader(Said(0.01, [0.9, 0.09]), [cand(1, 1.0), cand(2, 0.9)], answer_above=0.0)
    assert [c.sid for c in both.picked] == [1, 2] and [c.sid for c in one.picked] == [1]


def test_choice_weight_lets_the_reader_reorder_the_candidates():
    d = with_reader(Said(0.01, [0.01, 0.98]), [cand(1, 1.0), cand(2, 0.99)], answer_above=0.0, choice_weight=1.0,
                    also_quote=1.01)
    assert [c.sid for c in d.picked] == [2]


# -- the combiner ------------------------------------------------------------------------------------

def test_the_combiner_computes_the_named_features_in_order():
    proposal = combiner.Proposal(question(), cand(1, 1.0, evidence=0.7, coverage=0.4), 0, [cand(1, 1.0, evidence=0.7), cand(2, 0.5, evidence=0.8)],
                                 Reading("r", 0.5, [0.5], 0.0, 0), 12.0, 12.0)
    assert combiner.features(("evidence", "best_evidence", "coverage", "kind_asked"), proposal) == [0.7, 0.8, 0.4, 1.0]


def test_the_reader_confidence_is_bounded():
    assert Reading("r", 1e-12, [1.0], 0.0, 0).confidence(0, 12.0) == 12.0
    assert Reading("r", 1.0, [0.0], 0.0, 0).confidence(0, 5.0) == -5.0


def test_the_combiner_needs_one_weight_a_feature():
    with pytest.raises(ValueError):
        combiner.probability(0.0, [1.0], [1.0, 2.0])


# -- questions about a document ------------------------------------------------------------------------

@pytest.mark.parametrize("text, field", [
    ("Which outlet reported that Acme was sued?", "outlet"), ("who published the acme story", "outlet"),
    ("Which newspaper ran 'Acme sued'?", "outlet"), ("When was the Acme article published?", "published"),
    ("what day did that piece come out", "published"), ("Can I get the link to the Daily Post article?", "url"),
    ("What's the headline of the Daily Post item?", "title"), ("When did Acme settle?", None),
    ("What title does the Acme founder hold?", None), ("What did the Daily Post say about Acme?", None),
    ("Who reported that?", "outlet"), ("When was 'Acme sued' published?", "published"),
    ("What publication date does the Acme piece carry?", "published"),
    # about the case, not a document: no citation answers these
    ("Which paper did the judge cite?", None), ("Which websites did Acme scrape?", None), ("Who ran Acme?", None),
    ("Who covered the legal fees?", None), ("Who wrote the Daily Post article?", None),
    ("When was the settlement released?", None), ("When was the ruling published?", None),
    ("Is there a link between Acme and the police?", None), ("What was the headline figure of the deal?", None),
    ("What is the title of the act?", None),
    # the source a text itself names is not the document's own outlet
    ("Which outlet is credited with the report in the Daily Post article?", None),
    ("According to the Daily Post, which outlet first reported it?", None)])
def test_the_question_says_when_it_asks_about_a_document_itself(text, field):
    assert source_asked(text) == field


def about_a_document(text, terms, field, min_match=0.5, unknown=()):
    q = replace(question(text, terms=terms, unknown=unknown), source=field)
    config = replace(CONFIG, decision=replace(CONFIG.decision, source=replace(CONFIG.decision.source, min_match=min_match,
                                                                                  max_unknown=0)))
    # The extractive policy declines (evidence under decline_below), so only the citation can answer.
    candidates = [cand(4, 1.0, evidence=0.1), cand(0, 0.9, evidence=0.1)]
    decision = decide(q, DATA, candidates, None, config)
    hits = [SimpleNamespace(row=0, dense=0.5, fused=0.5), SimpleNamespace(row=1, dense=0.4, fused=0.4)]
    return decision, compose(q, DATA, hits, decision, config, Stopwatch())


def test_a_question_about_a_document_is_answered_by_the_citation_that_holds_its_words():
    decision, answer = about_a_document("Which outlet reported that Acme was sued?", {"acme", "sued", "outlet", "reported"}, "outlet")
    assert decision.cites == "outlet" and [c.sid for c in decision.picked] == [0]   # the title, not the Ledger's sentence
    assert answer.answered and answer.answer == "Daily Post (2021-05-02): Acme sued [1]"
    assert answer.checks[-1]["check"] == "supported" and answer.checks[-1]["passed"]


def test_an_answer_giving_a_link_carries_it_in_its_lead():
    _, answer = about_a_document("the link to the Acme sued article?", {"acme", "sued", "link", "article"}, "url")
    assert answer.answer == "Daily Post (2021-05-02), https://dailypost.example/acme-sued: Acme sued [1]"
    assert answer.checks[-1]["passed"]


def test_a_question_about_a_document_the_documents_lack_is_declined_and_says_why():
    decision, answer = about_a_document("Which outlet reported that Acme was fined in Texas?",
                                        {"acme", "fined", "texas", "outlet", "reported"}, "outlet")
    assert not answer.answered and decision.cites is None
    assert decision.checks[-1].check == "source" and "0.33 of its words < 0.5" in decision.checks[-1].detail


def test_a_story_told_with_a_detail_no_document_holds_is_not_theirs():
    decision, answer = about_a_document("Which outlet reported that Acme was sued in Texas?",
                                        {"acme", "sued", "texas", "outlet", "reported"}, "outlet", min_match=0.1,
                                        unknown=("texas",))
    assert not answer.answered and decision.cites is None
    assert decision.checks[-1] == Check("source", False, "asks for the outlet of a story about texas, which no document mentions")


def test_words_asking_for_the_source_are_not_details_of_the_story():
    decision, answer = about_a_document("Which outlet reported that Acme was sued?", {"acme", "sued", "outlet", "reported"},
                                        "outlet", unknown=("outlet", "reported"))
    assert decision.cites == "outlet" and answer.answered


# -- composition ---------------------------------------------------------------------------------------

def composed(picked):
    hits = [SimpleNamespace(row=0, dense=0.5, fused=0.5), SimpleNamespace(row=1, dense=0.4, fused=0.4)]
    decision = Decision(tuple(picked), (), None, "none", None, None)
    return compose(question(), DATA, hits, decision, CONFIG, Stopwatch())


def test_each_source_is_attributed_once_ahead_of_its_first_quote():
    answer = composed([cand(1, 1.0), cand(2, 0.9)])
    assert [q.lead for q in answer.quotes] == ["Daily Post (2021-05-02): ", ""]
    assert [q.n for q in answer.quotes] == [c.n for c in answer.citations] == [1, 2]


def test_the_answer_text_is_made_from_its_quotes():
    answer = composed([cand(1, 1.0)])
    assert answer.answer == f"Daily Post (2021-05-02): {SENTENCES[1][1]} [1]"
    assert composed([]).answer == DECLINE_TEXT and not composed([]).answered


def test_an_answer_is_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        composed([cand(1, 1.0)]).question = "changed"


def test_every_lead_is_checked_against_the_cited_sources():
    answer = composed([cand(1, 1.0)])
    assert answer.checks[-1]["check"] == "supported" and answer.checks[-1]["passed"]


# -- the reader guard and the registries ------------------------------------------------------------

def test_a_failing_backend_becomes_a_reader_failed_value():
    class Broken:
        name = "broken"

        def label_probabilities(self, msgs, labels):
            raise ReaderUnavailable("endpoint unreachable")

    out = GuardedReader(Broken(), 1.0).read("q", ["a sentence"])
    assert isinstance(out, ReaderFailed) and out.reason == "endpoint unreachable"


def test_a_busy_reader_past_its_timeout_is_a_reader_failed_value():
    guard = GuardedReader(SimpleNamespace(name="slow"), 0.01)
    guard._lock = threading.Lock()
    guard._lock.acquire()
    assert "busy" in guard.read("q", ["a"]).reason


@pytest.mark.parametrize("key, value", [("CASEBOT_DECISION_WITH_READER", "nope"), ("CASEBOT_DECISION_SCORER", "nope")])
def test_an_unknown_step_name_is_a_config_error(key, value):
    config = load_config(env={"CASEBOT_READER_BACKEND": "none", key: value})
    with pytest.raises(ConfigError, match="nope"):
        if key.endswith("SCORER"):
            from embeddings.answer.candidates import score
            score(DATA, [], question(), config.answer, config.decision.scorer)
        else:
            decide(question(), DATA, [cand(1, 1.0)], Said(0.01, [0.99]), config)


def test_the_steps_config_names_are_registered():
    d = CONFIG.decision
    assert d.scorer in SCORERS and {d.with_reader, d.without_reader} <= set(POLICIES)
    assert set(d.features) <= set(combiner.FEATURES) and len(d.weights) == len(d.features)
    assert set(BACKENDS) == {"llama", "openai"}
