"""Follow-up questions: turn a question asked in a conversation into the standalone question to search.

The "condense question" step, model-free. ``condense(question, history)`` decides whether the question
goes on with the conversation ("When was it announced?", "What about Facebook?", "Which court?") or
starts a new subject ("What did Google and Twitter demand of Clearview?"), and for a follow-up writes
the question with the conversation's subject added in brackets: the names of the previous standalone
question, the first name its answer gave that the question did not have, then the question's other
subject words.

A new subject is recognised by an explicit marker ("separately", "by the way"), or by a name (a
capitalised word or acronym that is not a place) that no earlier question of the conversation used.
A follow-up is recognised by a pronoun or "the same", by an elliptical opening ("and ...", "what
about ..."), by a reference to something already introduced ("that suit", "other countries") or by
being short. The settings live in config/default.toml ([conversation]) and were measured on
tests/data/dialogues.jsonl (benchmarks/dialogues.py).

A reader model may rewrite instead: pass ``rewriter``; when it returns None the rules here decide.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Callable, Sequence

from embeddings.answer.question import clean
from embeddings.errors import EmptyQuestion


@dataclass(frozen=True)
class Turn:
    """One earlier exchange: what was asked, what was searched, and the sentences its answer quoted."""

    question: str
    standalone: str
    quotes: tuple[str, ...]     # the quoted sentences, verbatim (outlet leads and markers are not quotes)
    answered: bool


@dataclass(frozen=True)
class Standalone:
    text: str                   # the question to search
    followup: bool              # resolved against the conversation (False: asked as it stands)
    reason: str                 # why: "first question", "new subject", "pronoun", "ellipsis", "short", ...


Rewriter = Callable[[str, Sequence[Turn]], "str | None"]

_WORD = re.compile(r"[A-Za-z][A-Za-z0-9'’\-]*|\$?\d[\d,.]*")
_QUESTION_WORDS = {"what", "when", "where", "who", "whom", "whose", "which", "why", "how", "is", "are", "was",
                   "were", "do", "does", "did", "has", "have", "had", "can", "could", "will", "would", "should"}
_STOP = _QUESTION_WORDS | {
    "a", "an", "the", "and", "or", "but", "of", "in", "on", "at", "to", "for", "from", "by", "with", "about",
    "as", "into", "over", "under", "than", "then", "there", "this", "that", "these", "those", "it", "its",
    "they", "them", "their", "he", "him", "his", "she", "her", "hers", "we", "us", "our", "you", "your", "i",
    "me", "my", "be", "been", "being", "am", "so", "if", "not", "no", "yes", "any", "some", "all", "also",
    "too", "still", "yet", "just", "only", "much", "many", "more", "most", "other", "else", "same", "one",
    "ones", "say", "says", "said", "tell", "know", "get", "got", "according", "anything", "anywhere",
    "besides", "again", "ever", "very", "really", "please", "kind", "sort", "thing", "things", "happen",
    "happened", "mean", "like", "s", "what's", "who's", "it's", "that's", "there's",
}
# "it", "she", "they": refer back even after a name ("Under the ACLU deal, can agencies keep using it?");
# "its", "that", "there": refer back only when the question names nothing new ("What did Facebook pay to
# settle its own case?" is about Facebook).
_PERSONAL = {"it", "they", "them", "he", "him", "she", "itself", "themselves"}
_PRONOUNS = _PERSONAL | {"its", "their", "theirs", "his", "her", "hers", "this", "that", "these", "those",
                         "there", "then"}
_SAME = re.compile(r"\b(the same|that one|this one|same thing|as well)\b", re.I)
# "the company", "the judge", "other countries": something the conversation already introduced.
_DEFINITE = re.compile(r"\b(the|that|this|those|these|its|their|his|her)\s+(company|firm|startup|lawsuit|suit|"
                       r"case|cases|settlement|deal|agreement|complaint|article|report|story|judge|court|"
                       r"plaintiffs?|defendants?|lawyers?|attorneys?|law|act|database|app|technology|tool|"
                       r"software|feature|fine|ruling|order|decision|injunction|motion|class action)\b"
                       r"|\b(other|another|else)\b", re.I)
_NOT_NAMES = {"january", "february", "march", "april", "may", "june", "july", "august", "september",
              "october", "november", "december", "monday", "tuesday", "wednesday", "thursday", "friday",
              "saturday", "sunday", "separately", "according", "prior", "in", "on", "the", "a", "an"}
_ELLIPSIS = re.compile(r"^\s*(and|also|plus|but|so|or|what about|how about|what of|and what about|"
                       r"and how about)\b[\s,]*", re.I)
_NEW_SUBJECT = re.compile(r"^\s*(separately|unrelated|by the way|btw|new question|another question|"
                          r"different question|on another (note|topic)|changing the subject)\b[\s,:;-]*", re.I)
_CONTEXT = re.compile(r"\s*\([^()]*\)\s*$")
_PLACES = {
    "alabama", "alaska", "arizona", "arkansas", "california", "colorado", "connecticut", "delaware", "florida",
    "georgia", "hawaii", "idaho", "illinois", "indiana", "iowa", "kansas", "kentucky", "louisiana", "maine",
    "maryland", "massachusetts", "michigan", "minnesota", "mississippi", "missouri", "montana", "nebraska",
    "nevada", "ohio", "oklahoma", "oregon", "pennsylvania", "tennessee", "texas", "utah", "vermont",
    "virginia", "washington", "wisconsin", "wyoming", "york", "jersey", "carolina", "dakota", "hampshire",
    "mexico", "america", "europe", "eu", "uk", "britain", "england",
    "france", "italy", "germany", "spain", "canada", "australia", "india", "china", "russia", "japan",
    "argentina", "u.s", "us", "usa", "states",
}


def words(text: str) -> list[str]:
    return _WORD.findall(text or "")


def subject_words(text: str) -> list[str]:
    """Words of a question that say what it is about (question words, pronouns and fillers dropped)."""
    return [w for w in words(text) if w.lower().strip("'’") not in _STOP and len(w) > 1]


def names(text: str) -> list[str]:
    """Proper names: runs of capitalised words or acronyms ("Customs and Border Protection", "ACLU").

    The first word of a sentence counts only when it is not an ordinary question or filler word."""
    found: list[str] = []
    run: list[str] = []
    tokens = re.findall(r"[A-Za-z][A-Za-z0-9'’\-.]*|[?.!,;:]", text or "")
    start = True
    for tok in tokens:
        word = tok.rstrip(".")
        capital = word[:1].isupper() and word.lower().strip("'’") not in _STOP | _NOT_NAMES
        if capital and not (start and word.lower() in _STOP):
            run.append(re.sub(r"['’]s$", "", word))
        elif run and word.lower() in {"of", "and", "&"} and not start:
            run.append(word)
        else:
            while run and run[-1].lower() in {"of", "and", "&"}:
                run.pop()
            if run:
                found.append(" ".join(run))
            run = []
        start = tok in "?.!;:"
    while run and run[-1].lower() in {"of", "and", "&"}:
        run.pop()
    if run:
        found.append(" ".join(run))
    return found


def is_place(name: str) -> bool:
    return all(w.lower().strip(".") in _PLACES or w.lower() in {"new", "north", "south", "of", "the"}
               for w in name.split())


def _mentioned(name: str, text: str) -> bool:
    low = text.lower()
    return any(w.lower() in low for w in name.split() if len(w) > 2 and w.lower() not in {"the", "and"})


def answer_names(quotes: Sequence[str], asked: str) -> list[str]:
    """Names the quoted sentences of an answer gave that its question did not (places and dates aside)."""
    return [n for quote in quotes for n in names(quote) if not _mentioned(n, asked) and not is_place(n)]


def context_words(turn: Turn, answer_names_max: int, there: bool = False) -> list[str]:
    """The previous turn's subject, as words to add to a follow-up: the names in its standalone question,
    the first names its answer gave (and its places, for a question about "there"), then the question's
    other subject words."""
    out: list[str] = []
    seen: set[str] = set()

    def add(phrase: str) -> None:
        key = phrase.lower()
        if key not in seen and not all(w.lower() in seen for w in phrase.split()):
            seen.add(key)
            seen.update(w.lower() for w in phrase.split())
            out.append(phrase)

    for n in names(turn.standalone):
        add(n)
    if turn.answered and turn.quotes:
        for n in answer_names(turn.quotes, turn.standalone)[:answer_names_max]:
            add(n)
        if there:
            for n in (n for quote in turn.quotes for n in names(quote)):
                if is_place(n) and not _mentioned(n, turn.standalone):
                    add(n)
    for w in subject_words(turn.standalone):
        add(re.sub(r"['’]s$", "", w))
    return out


def condense(question: str, history: Sequence[Turn], followup_max_words: int, answer_names_max: int,
             rewriter: Rewriter | None = None) -> Standalone:
    """The standalone form of ``question`` given the conversation so far (oldest turn first)."""
    question = " ".join((question or "").split())
    if not history:
        return Standalone(question, False, "first question")
    if rewriter is not None:
        rewritten = rewriter(question, history)
        if rewritten:
            return Standalone(" ".join(rewritten.split()), True, "rewritten")
    last = history[-1]
    marker = _NEW_SUBJECT.match(question)
    if marker:
        return Standalone(question[marker.end():] or question, False, "new subject")

    # Names count as known when an earlier question of the conversation used them (not the words added
    # to it from answers: "Facebook" in an answer about Clearview's sources does not make Facebook the subject).
    known = " ".join(_CONTEXT.sub("", t.standalone) for t in history)
    body = question
    ellipsis = _ELLIPSIS.match(question)
    bare = False
    if ellipsis:
        body = question[ellipsis.end():]
        clause = re.search(r",\s*(what|when|where|who|which|why|how|is|are|was|were|do|does|did|has|have|can)\b",
                           body, re.I)
        bare = clause is None
        if clause:
            body = body[clause.start() + 1:]
    new_names = [n for n in names(question) if not is_place(n) and not _mentioned(n, known)]
    lowered = [w.lower().strip("'’") for w in words(body)]
    subject = [w for w in subject_words(body) if not is_place(w)]

    if ellipsis and bare:
        reason = "ellipsis"
    elif ellipsis and new_names and any(_mentioned(n, question[:question.index(body)]) for n in new_names):
        return Standalone(question, False, "new subject")      # "What about Clarifai, what is it accused of?"
    elif any(w in _PERSONAL for w in lowered) or _SAME.search(body):
        reason = "pronoun"
    elif new_names:
        return Standalone(question, False, "new subject")
    elif any(w in _PRONOUNS for w in lowered):
        reason = "pronoun"
    elif _DEFINITE.search(body):
        reason = "reference"
    elif len(subject) <= followup_max_words:
        reason = "short"
    else:
        return Standalone(question, False, "complete question")
    present = {w.lower() for w in words(question)}
    added = [w for w in context_words(last, answer_names_max, "there" in lowered) if not all(x.lower() in present for x in w.split())]
    if not added:
        return Standalone(question, True, reason)
    text = question.rstrip(" ?.!")
    return Standalone(f"{text}? ({' '.join(added)})", True, reason)


def ask(engine, question: str, history: Sequence[Turn], conversation: str | None = None,
        rewriter: Rewriter | None = None):
    """Answer ``question`` in its conversation: condense it, search the standalone question, and
    return the Answer with the user's own words as ``question`` and what was searched beside them."""
    if not (question or "").strip():
        raise EmptyQuestion("the question is empty")
    settings = engine.config.conversation
    recent = list(history)[-settings.history_turns:] if settings.history_turns > 0 else []
    standalone = condense(question, recent, settings.followup_max_words, settings.answer_names, rewriter)
    answer = engine.ask(standalone.text)
    return replace(answer, question=clean(question, engine.config.question.max_chars),
                   standalone_question=" ".join(standalone.text.split()), conversation=conversation), standalone


def turn_of(answer) -> Turn:
    """The Turn an answered question adds to its conversation's history."""
    return Turn(answer.question, answer.standalone_question or answer.question,
                tuple(q.text for q in answer.quotes), answer.answered)
