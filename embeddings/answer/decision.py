"""The decision: what to quote, best first, or nothing; and why. Every policy returns a ``Decision``.

Who decides (``[decision]``):
- ``with_judge`` (default "judge"), when the judge has read its pool (embeddings/answer/judge.py):
  ``judged`` below; it may use what the reader said as one of its combiner's features;
- ``with_reader`` (default "reader"), when the reader has read the candidates: the reader gives each
  candidate sentence (and "none") a probability; the sentence to quote is the best by extractive
  score plus ``choice_weight`` times its log-probability (fitted to 0: the extractive order picked
  better), it must pass the checks, and the fitted combiner of the reader's confidence and the
  extractive scores decides whether to answer at all;
- ``without_reader`` (default "extractive"), with no reader or when it failed: the best sentence's
  evidence against ``[answer] decline_below``, close runners-up, and a close sentence of the
  asked-for kind when the best holds none.
All take their checks from the one registry of embeddings/answer/checks.py, by the names
``[decision] reader_checks``, ``extractive_checks`` and ``[decision.judge] checks`` give. Before any,
a question is declined when too many of its words occur in no document, or nothing quotable was
retrieved. Adding a policy is one function and one entry in ``POLICIES``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Callable

from embeddings.answer import combiner
from embeddings.answer.candidates import Scored, is_title, near_duplicate
from embeddings.answer.checks import CHECKS, KIND_CHECKS, Check, failed
from embeddings.answer.judge import JudgePool
from embeddings.answer.question import Question
from embeddings.answer.readers.prompt import candidate_line
from embeddings.answer.readers.protocol import ReaderFailed, Reading
from embeddings.config import AnswerSettings, Config, choose
from embeddings.passages import PassageReading


@dataclass(frozen=True)
class Decision:
    """What to quote (best first), or nothing; and why."""

    picked: tuple[Scored, ...]
    checks: tuple[Check, ...]
    note: str | None
    reader: str                               # the configured reader ("llama:<file>", "openai:<model>", "none")
    reading: Reading | ReaderFailed | None    # what it said, or why it said nothing; None: not asked
    features: tuple[float, ...] | None        # the combiner's inputs (embeddings/answer/combiner.py); (match, unknown words) from_citation
    closest: tuple[Scored, ...] = ()          # declined, but shown as the closest passage (judge policy)
    cites: str | None = None                  # answered from the citation: the field asked ("outlet", "url"...)

    @property
    def reader_label(self) -> str:
        """Which reader decided, as the answer's JSON says it."""
        if isinstance(self.reading, ReaderFailed):
            return f"none (reader failed: {self.reading.reason})"
        return self.reader


@dataclass(frozen=True)
class Case:
    """What a policy decides on."""

    q: Question
    data: PassageReading
    candidates: list[Scored]     # best first
    reading: Reading | ReaderFailed | None
    reader: str
    config: Config
    judged: JudgePool | None = None  # the judge's pool, read on demand; None: no judge

    def decide(self, picked, checks, note=None, features=None, closest=(), cites=None) -> Decision:
        return Decision(tuple(picked), tuple(checks), note, self.reader, self.reading,
                        tuple(features) if features is not None else None, tuple(closest), cites)


def extractive(case: Case) -> Decision:
    q, scored, s = case.q, case.candidates, case.config.answer
    best = max(c.evidence for c in scored)
    if best < s.decline_below:
        return case.decide([], [Check("evidence", False, f"best evidence {best:.2f} < decline_below {s.decline_below}")])
    picked = _pick(case)
    names = case.config.decision.extractive_checks
    if "kind" in names and not _any_passes(case, "kind", picked):
        picked = _with_close_kind(case, picked)
        if picked is None:
            return case.decide([], [Check("kind", False, f"asks for a {q.kind}; no close sentence holds one")],
                               note="The passages found do not hold the kind of answer asked for (a date, a figure, a name...).")
    unmet = [name for name in names if not _any_passes(case, name, picked)]
    if unmet:
        return case.decide([], [Check(name, False, f"no sentence to quote passes the {name} check") for name in unmet])
    return case.decide(picked, [Check("evidence", True, f"best evidence {best:.2f} ≥ decline_below {s.decline_below}")])


def with_reader(case: Case) -> Decision:
    q, data, scored, reading = case.q, case.data, case.candidates, case.reading
    s, d = case.config.answer, case.config.decision
    shown = scored[: len(reading.p_sentences)]
    # The reader's choice, tempered by the extractive score (choice_weight: the weight of the reader's
    # log-probability next to it); the highest first.
    order = sorted(range(len(shown)), key=lambda i: -(shown[i].score + d.choice_weight * math.log(reading.p_sentences[i] + 1e-9)))
    top = order[0]
    checks = [Check("reader", reading.p_sentences[top] > reading.p_none,
                    f"p(none) {reading.p_none:.2f}; sentence {top + 1} p {reading.p_sentences[top]:.2f}")]
    chosen = _first_passing(case, shown, order, d.reader_checks, "sentence", checks)
    if chosen is None:
        return case.decide([], checks)
    x = combiner.features(d.features, combiner.Proposal(q, shown[chosen], chosen, scored, reading,
                                                         case.config.reader.confidence_bound,
                                                         case.config.judge.logit_bound))
    p = combiner.probability(d.bias, d.weights, x)
    ok = p >= d.answer_above
    checks.append(Check("combiner", ok, f"sentence {chosen + 1}: P(right) {p:.2f} {'≥' if ok else '<'} {d.answer_above}"))
    if not ok:
        return case.decide([], checks, features=x)
    picked = [shown[chosen]]
    for i in order:
        if len(picked) >= s.max_sentences:
            break
        if reading.p_sentences[i] < d.also_quote * reading.p_sentences[chosen]:
            continue
        c = shown[i]
        if i == chosen or _repeats(case, c, picked):
            continue
        if "adds" not in d.reader_checks or CHECKS["adds"](q, data, c).passed:
            picked.append(c)
    return case.decide(picked, checks, features=x)


def judged(case: Case) -> Decision:
    """The judge's pool decides. Which sentences to quote: with ``pick = "judge"`` the one with the
    best judge logit (plus ``choice_weight`` times its extractive score) that passes the checks, and
    the others the judge rates at least ``also_quote`` as high; with ``pick = "extractive"`` the
    extractive rule's sentences over the same pool (the best by extractive score and its close
    runners-up, one of the asked-for kind). Whether to quote them: the fitted combiner of the judge's
    logits and the extractive scores gives P(right); at ``answer_above`` they are quoted, between
    ``closest_above`` and ``answer_above`` the first is shown as the closest passage, not an answer,
    and below it the question is declined. The judge reads the whole pool for ``pick = "judge"``;
    for ``pick = "extractive"`` only the first ``[judge] read`` sentences and the one to quote (its
    logit and its best rival's are what the combiner reads), then the other sentences to quote: each
    is quoted beside the first only with a judge logit of at least ``runner_up_logit``."""
    q, j = case.q, case.config.decision.judge
    if not len(case.judged):
        return case.decide([], [Check("evidence", False, "no quotable sentence for the judge")])
    by_judge = j.pick == "judge"
    pool = list(case.judged.read_all() if by_judge else case.judged.sentences)
    picked, checks = _pick_by_judge(case, pool) if by_judge else _pick_extractive(case, pool)
    if not picked:
        return case.decide([], checks)
    chosen = pool.index(picked[0])
    if not by_judge:  # now the judge reads the pick and the first [judge] read sentences
        at = {c.sid: i for i, c in enumerate(pool)}
        pool = list(case.judged.read([*range(case.config.judge.read), chosen]))
        picked = [pool[at[c.sid]] for c in picked]
    x = combiner.features(j.features, combiner.Proposal(q, pool[chosen], chosen, pool, case.reading,
                                                         case.config.reader.confidence_bound,
                                                         case.config.judge.logit_bound))
    p = combiner.probability(j.bias, j.weights, x)
    ok = p >= j.answer_above
    checks.append(Check("combiner", ok, f"candidate {chosen + 1}: judge logit {pool[chosen].judge:.2f}, "
                                        f"P(right) {p:.2f} {'≥' if ok else '<'} {j.answer_above}"))
    if not ok:
        closest = picked[:1] if p >= j.closest_above else []
        note = unknown_note(q) if mostly_unknown(q, case.config.answer) else None
        return case.decide([], checks, note=note, features=x, closest=closest)
    if not by_judge:  # the runners-up the judge rates as stating nothing of the answer are left out
        logits = case.judged.read([at[c.sid] for c in picked])
        picked = picked[:1] + [c for c in picked[1:] if logits[at[c.sid]].judge >= j.runner_up_logit]
    return case.decide(picked, checks, features=x)


def _pick_by_judge(case: Case, pool: list[Scored]) -> tuple[list[Scored], list[Check]]:
    q, data, j = case.q, case.data, case.config.decision.judge
    order = sorted(range(len(pool)), key=lambda i: -(pool[i].judge + j.choice_weight * pool[i].score))
    checks: list[Check] = []
    chosen = _first_passing(case, pool, order, j.checks, "candidate", checks)
    if chosen is None:
        return [], checks
    picked = [pool[chosen]]
    first = combiner.sigmoid(pool[chosen].judge)
    for i in order:
        if len(picked) >= case.config.answer.max_sentences:
            break
        c = pool[i]
        if i == chosen or combiner.sigmoid(c.judge) < j.also_quote * first or _repeats(case, c, picked):
            continue
        if not failed(q, data, c, j.checks):
            picked.append(c)
    return picked, checks


def _pick_extractive(case: Case, pool: list[Scored]) -> tuple[list[Scored], list[Check]]:
    """The extractive policy's choice over the judge's pool, without its evidence gate (the
    combiner decides instead)."""
    sub = replace(case, candidates=pool)
    picked = _pick(sub)
    names = case.config.decision.judge.checks
    kind = next((n for n in names if n in KIND_CHECKS), None)
    if kind and not _any_passes(sub, kind, picked):
        picked = _with_close_kind(sub, picked, kind)
        if picked is None:
            return [], [Check("kind", False, f"asks for a {case.q.kind}; no close sentence holds one")]
    kept = [c for c in picked if not failed(case.q, case.data, c, tuple(n for n in names if n != kind))]
    if not kept:
        return [], [Check("adds", False, "no sentence to quote says more than the question")]
    return kept, []


def _first_passing(case: Case, candidates: list[Scored], order: list[int], names: tuple[str, ...], what: str,
                   checks: list[Check]) -> int | None:
    """The first of ``order`` whose candidate passes the checks ``names``; each one dropped on the way
    is added to ``checks``."""
    for i in order:
        dropped = failed(case.q, case.data, candidates[i], names)
        if not dropped:
            return i
        checks += [Check(c.check, False, f"{what} {i + 1} dropped: {c.detail}") for c in dropped]
    return None


Policy = Callable[[Case], Decision]
POLICIES: dict[str, Policy] = {"extractive": extractive, "reader": with_reader, "judge": judged}


def decide(q: Question, data: PassageReading, candidates: list[Scored], reader, config: Config,
           judged: JudgePool | None = None) -> Decision:
    """The decision stage: the gates every question passes, then the reader (when there is one) and
    the policy ``[decision]`` names for what the judge and the reader said."""
    s = config.answer
    case = Case(q, data, candidates, None, reader.name if reader is not None else "none", config)
    gated = judged is None or config.decision.judge.unknown_gate
    if gated and mostly_unknown(q, s):
        return case.decide([], [Check("unknown_words", False, f"{len(q.unknown)} of the question's words occur in no document")],
                           note=unknown_note(q))
    if not candidates:
        return case.decide([], [Check("evidence", False, "no quotable sentence retrieved")])
    policy = config.decision.without_reader
    if reader is not None:
        shown = candidates[: config.reader.candidates]
        reading = reader.read(q.text, [candidate_line(data, c) for c in shown])
        case = Case(q, data, candidates, reading, case.reader, config)
        if isinstance(reading, Reading):
            policy = config.decision.with_reader
    if judged is not None:
        case = replace(case, judged=judged)
        policy = config.decision.with_judge
    decision = choose(POLICIES, policy, "[decision] policy")(case)
    if q.source and (config.decision.source.first or not decision.picked):
        return from_citation(case, decision)
    return decision


# Words that ask for a source rather than describe the story ("Which outlet ran the article about
# ..."): left out of the words a document must hold to answer a question about itself.
SOURCE_WORDS = ("outlet outlets publication publications published publish newspaper newspapers paper site "
                "website websites news agency article articles story stories piece report reported reports "
                "headline headlines title link url address web date day ran run carried carry covered cover "
                "posted released come came editorial item items related listed linked give need please first "
                "broke wrote online")


def citation_match(case: Case, c: Scored, idf: dict[str, float], retrieved: set[str]) -> float:
    """The IDF-weighted share of the question's own words (``idf``: those asking for the source
    left out) that the sentence, its document's title, outlet and date hold: how surely it is the
    document a question about a document means. A question for a headline cannot quote it: it names
    the item by its outlet and the story it is listed with, so a related item's story counts too
    when it was retrieved (``retrieved``: the candidates' documents, the same in every backend)."""
    data, total = case.data, sum(idf.values())
    if not total:
        return 0.0
    doc = data.documents[data.sentences[c.sid].doc_key]
    about = [doc] + ([data.documents[doc.doc_id]] if case.q.source == "title" and doc.part and doc.doc_id in retrieved else [])
    words = data.sentence_terms(c.sid) | set(data.lexicon.tokenize([" ".join(f"{d.title} {d.heading}" for d in about)])[0])
    return sum(w for t, w in idf.items() if t in words) / total


def _holds_field(data: PassageReading, c: Scored, field: str) -> bool:
    doc = data.documents[data.sentences[c.sid].doc_key]
    if field == "title":
        return is_title(data, c)
    return bool({"outlet": doc.outlet, "published": doc.published, "url": doc.url}[field])


def from_citation(case: Case, policy: Decision) -> Decision:
    """A question about a document rather than what it says ("Which outlet ran <headline>?", "When
    was <article> published?", the link to an article, an item's headline): the answer is a
    document's citation. Of the first ``[decision.source] depth`` candidates that have the field
    asked (a title, for a headline), the one that best matches the question (``citation_match``) is
    quoted with its citation when it matches at least ``min_match``, with the same sentence from
    other outlets (a syndicated story) beside it; otherwise the policy's decision stands. With
    ``first`` this comes before the policy's own answer, without it only where the policy declined.
    A question with more than ``max_unknown`` words no document holds (``source_unknown``) is not
    answered this way."""
    q, data, s = case.q, case.data, case.config.decision.source
    asking = data.lexicon.question_terms(SOURCE_WORDS)
    terms = sorted(q.terms - asking)
    idf = data.lexicon.idf(terms) if terms else {}
    retrieved = {data.sentences[x.sid].doc_key for x in case.candidates}
    scored = [(citation_match(case, c, idf, retrieved), i, c) for i, c in enumerate(case.candidates[: s.depth])
              if _holds_field(data, c, q.source)]
    if not scored:
        return policy
    match, rank, best = max(scored, key=lambda t: (t[0], -t[1]))
    unknown = source_unknown(q, data.lexicon, asking)
    refusal = None
    if len(unknown) > s.max_unknown:
        refusal = f"asks for the {q.source} of a story about {', '.join(unknown)}, which no document mentions"
    elif match < s.min_match:
        refusal = f"asks for the {q.source}; the best match holds {match:.2f} of its words < {s.min_match}"
    if refusal:
        return replace(policy, checks=policy.checks + (Check("source", False, refusal),))
    text = data.sentences[best.sid].text
    picked = [best] + [c for m, _, c in scored if c is not best and m == match
                       and data.sentences[c.sid].text == text][: case.config.answer.max_sentences - 1]
    return case.decide(picked, [Check("source", True, f"asks for the {q.source}; candidate {rank + 1} "
                                                      f"holds {match:.2f} of its words ≥ {s.min_match}")],
                       features=(match, len(unknown)), cites=q.source)


def source_unknown(q: Question, lexicon, asking: set[str]) -> list[str]:
    """The question's words that no document holds (a likely typo aside), those asking for the
    source left out (``asking``: SOURCE_WORDS's stems, so "publishing", "reporter" too): a story told
    with a detail no document has ("sued in Texas", "the Guardian's piece") is not one of theirs,
    however many of its other words match."""
    return [w for w in q.unknown if not set(lexicon.tokenize([w])[0]) & asking]


def mostly_unknown(q: Question, s: AnswerSettings) -> bool:
    """Too many of the question's words occur in no document ([answer] unknown_min_words and
    unknown_share_decline): declined before any policy, or, with the judge, named when it declines."""
    return len(q.unknown) >= s.unknown_min_words and q.unknown_share >= s.unknown_share_decline


def unknown_note(q: Question) -> str:
    return f"These words of the question appear nowhere in the documents: {', '.join(q.unknown)}."


def _any_passes(case: Case, name: str, picked: list[Scored]) -> bool:
    """The answer passes a check when one of its sentences does (the extractive policy's reading)."""
    return any(CHECKS[name](case.q, case.data, c).passed for c in picked)


def _repeats(case: Case, c: Scored, picked: list[Scored]) -> bool:
    text = case.data.sentences[c.sid].text
    share = case.config.answer.near_duplicate_share
    return any(near_duplicate(text, case.data.sentences[p.sid].text, share) for p in picked)


def _pick(case: Case) -> list[Scored]:
    """The best sentence, plus close runners-up that add something."""
    scored, s = case.candidates, case.config.answer
    best = scored[0]
    picked = [best]
    for c in scored[1:]:
        if len(picked) >= s.max_sentences:
            break
        if c.evidence < s.decline_below - s.runner_up_evidence_gap or c.score < best.score - s.runner_up_margin:
            continue
        if is_title(case.data, c) and c.score < best.score - s.title_margin:
            continue
        if _repeats(case, c, picked):
            continue
        picked.append(c)
    return picked


def _with_close_kind(case: Case, picked: list[Scored], check: str = "kind") -> list[Scored] | None:
    """The question asks for a date, a figure, a court... that no picked sentence holds: quote a
    close sentence that holds one (that passes ``check``), or return None (decline) when no close
    sentence does."""
    scored, s = case.candidates, case.config.answer
    for c in scored[1: s.type_search_depth]:
        if c.score >= scored[0].score - s.type_margin and CHECKS[check](case.q, case.data, c).passed:
            return (picked[: s.max_sentences - 1] + [c]) if c not in picked else picked
    return None
