"""Contrast pairs made from the judge's own positives: the near misses the corpus has too few of.

Four kinds, each a negative built from a positive pair (question, answering sentence) of an
answerable training question, so that the only difference from a pair labelled 1 is the one that
decides the answer:

- ``answer-removed``: the sentence with its answer words replaced by a vague phrase ("at least 380
  million photographs" -> "at least an unspecified number of photographs", "$6.3 million" -> "an
  undisclosed sum"). The same sentence, on the same topic, that no longer states the answer.
- ``name-removed``: the same, where no figure could be replaced, for the name the question asks for.
- ``figures-removed`` (only with ``wider``): the same, where neither could, for an answer of more than four words that
  holds figures ("$14 million for legal costs in 2024" -> "an undisclosed sum for legal costs in an
  unspecified year"), on a third stream, with the name contrasts of "where" questions and of a
  question word after a lead-in ("In which court...").
- ``other-party``: the question asked about another party of the same case ("How much did Acme agree
  to pay?" -> "How much did Bolt agree to pay?") against the sentence that names the first one and
  not the second: a sentence about a different defendant, regulator or company than the one asked.

Answers that are amounts, dates or other figures are replaced, and names asked for by "who",
"which <noun>" or "what <noun>" ("Which judge is presiding?": "U.S. District Judge Lucinda
Oyelaran-Marsh" -> "U.S. District Judge a judge"; "Who filed it?": "Cornelius Abara-Whitlock" -> "a
person it did not name"), on their own random stream; then, on a third, figures inside longer
answers and names asked for by "where" or after a lead-in ("In which court was it filed?" -> "a
court"; "Where was it filed?" -> "a court it did not name"). A name contrast is the near
miss of a sentence that names a group or a role and not the one asked. A phrase like "delete the
data" has no vague stand-in that keeps the sentence a sentence, so it is left alone; and a contrast is
kept only when no answer string is left anywhere in the shown text. For ``other-party`` a name is
swapped only for one that shares no word with the sentence or with the name it replaces (so not an
alias of the same party). Seeded: the same pairs give the same contrasts.
"""

from __future__ import annotations

import random
import re

from embeddings.text import plain as normalize

MONTHS = ("january february march april may june july august september october november december "
          "jan feb mar apr jun jul aug sep sept oct nov dec").split()
NOT_NAMES = set("""how what when where who whom whose which why did does do is are was were has have had can could
will would should may might must the a an in on at of for and or but to from by with after before under
according if it its this that these those there i we you he she they us u.s. ai eu uk un
monday tuesday wednesday thursday friday saturday sunday""".split()) | set(MONTHS)
CONNECTORS = {"of", "&", "and", "for", "de", "la", "van", "von", "der"}

MONEY = ["an undisclosed sum", "an amount that was not made public", "a sum the parties did not disclose"]
DATE = ["an unspecified date", "a date it did not give", "a later date"]
NUMBER = ["an unspecified number", "a number it did not give", "an undisclosed number"]
YEAR = ["a year it did not give", "an unspecified year"]
SOME = ["several", "some", "a number of"]   # before a unit: "15 minutes" -> "several minutes"

PERSON = ["a person it did not name", "someone it did not identify", "an unnamed person"]
PARTY = ["a party it did not name", "another party", "one it did not name"]
PLACE = ["a place it did not name", "another place", "a location it did not give"]
COURT = ["a court it did not name", "another court", "a court"]
# a word after "which <noun>" that says the noun is one word ("Which judge granted...")
AUX = set("did does do is was were are has have had will would can could should may might must".split())
# the word asking for a name, first or after a lead-in of up to four words ("In which court...",
# "According to the filing, who...")
_ASKED = re.compile(r"^\s*(?P<lead>(?:[\w'’-]+,?\s+){0,4}?)(who|whom|which|what|where)\b\s*(\w+)?\s*(\w+)?", re.IGNORECASE)

_TOKEN = re.compile(r"[\w][\w'’.&-]*|&")


def names(text: str) -> list[str]:
    """Runs of capitalised words (with 'of', '&' and the like between them) after the first word."""
    out: list[str] = []
    run: list[str] = []
    for token in _TOKEN.findall(text)[1:] + [""]:
        word = token.rstrip(".'’").removesuffix("'s").removesuffix("’s")
        if word and word[0].isupper() and word.casefold() not in NOT_NAMES:
            run.append(word)
        elif run and word.casefold() in CONNECTORS:
            run.append(word)
        else:
            while run and run[-1].casefold() in CONNECTORS:
                run.pop()
            if run:
                out.append(" ".join(run))
            run = []
    return out


def words(text: str) -> set[str]:
    return set(re.findall(r"\w+", normalize(text)))


def filler(answer: str, rng: random.Random) -> str | None:
    """A vague stand-in for an answer of this shape, or None for answers that have none."""
    low = answer.casefold()
    if len(low.split()) > 4:
        return None
    if re.search(r"[$€£]|\b(dollars?|euros?|pounds?)\b", low):
        return rng.choice(MONEY)
    if any(re.search(rf"\b{m}\b", low) for m in MONTHS) or re.fullmatch(r"(19|20)\d\d", low.strip()):
        return rng.choice(DATE)
    if re.search(r"\d", low):
        return rng.choice(NUMBER)
    return None


def name_filler(answer: str, question: str, rng: random.Random, wider: bool = False) -> str | None:
    """A vague stand-in for a name the question asks for ("a judge", "several organizations", "a
    person it did not name"), or None when the answer is no name or the question asks no name.
    ``wider``: also "where", and a question word after a lead-in ("In which court...")."""
    if not answer[:1].isupper() or len(answer.split()) > 6 or re.search(r"\d", answer):
        return None
    m = _ASKED.match(question)
    if m is None:
        return None
    wh, noun, after = (g.casefold() if g else "" for g in m.groups()[1:])
    if not wider and (m.group("lead") or wh == "where"):
        return None
    if wh in ("who", "whom"):
        return rng.choice(PERSON)
    if wh == "where":
        return rng.choice(COURT if re.search(r"\bcourt\b", answer, re.IGNORECASE) else PLACE)
    if not noun or noun in AUX or noun in NOT_NAMES or not (after in AUX or after.endswith("ed")):
        return rng.choice(PARTY) if wh == "which" else None
    if noun.endswith("s") and not noun.endswith("ss"):
        return rng.choice(["several", "other", "some"]) + " " + noun
    return ("an " if noun[0] in "aeiou" else "a ") + noun


# a figure inside a longer answer ("$14 million for legal costs in 2024"): a date, a sum, a number
_FIGURE = re.compile(r"\b(?:" + "|".join(MONTHS) + r")\.? (?:\d{1,2}\b(?:, \d{4})?|\d{4})|[$€£]\s?\d[\d,.]*(?:\s*(?:million|billion|thousand))?"
                     r"|\b\d[\d,.]*(?:\s*(?:million|billion|thousand|percent|%))?", re.IGNORECASE)

HEDGES = set("up per than more less about approximately nearly almost roughly over within every once no".split())
# a share stays a share when its figure goes ("up to one-third of the fund, or $3.9 million")
_SHARE = re.compile(r"\b(half|third|quarter|fifth|tenth|twice|double|triple|percent)\b|%", re.IGNORECASE)


def figures_filler(answer: str, rng: random.Random) -> str | None:
    """For an answer of more than four words that holds figures and no share, the answer with each
    figure replaced by a vague stand-in ("in 2024" -> "in an unspecified year", "15 minutes" ->
    "several minutes", sums and dates as ``filler``); None for any other answer."""
    if len(answer.split()) <= 4 or not _FIGURE.search(answer) or _SHARE.search(answer) or re.search(r"\d-\w", answer):
        return None
    # the figures must be what the answer says: a headline or an address keeps saying it without them
    rest = [w for w in re.findall(r"[a-z]+", _FIGURE.sub(" ", answer).casefold()) if w not in NOT_NAMES | HEDGES]
    if len(rest) > 2:
        return None

    def stand_in(m: re.Match) -> str:
        figure = m.group(0)
        if re.fullmatch(r"(19|20)\d\d", figure):
            return rng.choice(YEAR)
        if re.fullmatch(r"\d[\d,.]*", figure) and re.match(r" [a-z]", answer[m.end():]):
            return rng.choice(SOME)
        return filler(figure, rng) or rng.choice(NUMBER)
    return _FIGURE.sub(stand_in, answer)


def split_heading(candidate: str) -> tuple[str, str]:
    """'(Outlet, date) sentence' as the judge sees it -> ('(Outlet, date) ', 'sentence')."""
    match = re.match(r"\([^()]*\)\s", candidate)
    return (candidate[:match.end()], candidate[match.end():]) if match else ("", candidate)


def answer_removed(row: dict, answers: list[str], fill) -> dict | None:
    """``row`` with every answer string in its sentence replaced by ``fill(answer)`` (None: no
    contrast), when no answer string is left anywhere in the shown text."""
    heading, body = split_heading(row["candidate"])
    found = [a for a in sorted(answers, key=len, reverse=True) if a.casefold() in body.casefold()]
    if not found:
        return None
    for answer in found:
        stand_in = fill(answer)
        if stand_in is None:
            return None
        body = re.sub(r"(\b(?:the|a|an) )?" + re.escape(answer), stand_in, body, flags=re.IGNORECASE)
    text = heading + body
    if any(normalize(a) in normalize(text) for a in answers):
        return None
    return {**row, "candidate": text, "label": 0, "augment": "answer-removed", "pool_rank": None}


def name_removed(row: dict, answers: list[str], rng: random.Random) -> dict | None:
    """``answer_removed`` for answers that hold a name (figures beside it replaced as there), in a
    sentence with at least four words besides the answer."""
    _, body = split_heading(row["candidate"])
    if len(body.split()) < max(len(a.split()) for a in answers) + 4:
        return None
    made = answer_removed(row, answers, lambda a: filler(a, rng) or name_filler(a, row["question"], rng))
    return {**made, "augment": "name-removed"} if made else None


def figures_removed(row: dict, answers: list[str], rng: random.Random) -> dict | None:
    """``answer_removed`` for answers that are longer phrases holding figures, or names asked for
    by "where" or after a lead-in; kept only if none of the answers' figures is left in the text."""
    made = answer_removed(row, answers, lambda a: filler(a, rng) or figures_filler(a, rng)
                          or name_filler(a, row["question"], rng, wider=True))
    if made is None or any(m.group(0).casefold() in made["candidate"].casefold() for a in answers for m in _FIGURE.finditer(a)):
        return None
    return {**made, "augment": "figures-removed" if any(_FIGURE.search(a) for a in answers) else "name-removed"}


def other_party(row: dict, parties: list[str], rng: random.Random) -> dict | None:
    sentence = words(row["candidate"])
    body = words(split_heading(row["candidate"])[1])
    asked = [n for n in names(row["question"]) if words(n) and words(n) <= body]
    if not asked:
        return None
    name = asked[0]
    choices = [p for p in parties if not (words(p) & sentence) and not (words(p) & words(name))
               and p.casefold() not in row["question"].casefold()]
    if not choices:
        return None
    swapped = re.sub(re.escape(name), rng.choice(choices), row["question"])
    return {**row, "question": swapped, "label": 0, "augment": "other-party", "pool_rank": None}


def contrasts(rows: list[dict], items: dict[str, dict], seed: int = 13, wider: bool = False) -> list[dict]:
    """The contrast negatives for the positive rows (``items``: the questions by id); ``wider`` adds
    the figures-removed contrasts and the wider name contrasts (``make_pairs.py --wider``: measured,
    not in the shipped judge's pairs; training/judge/README.md).

    The other party comes from another case of the same writer (same kind of parties, and surely
    not this case under another name: a plaintiff's name can stand for the case itself).
    """
    rng = random.Random(seed)
    name_rng = random.Random(seed + 1)   # its own stream: the figure and party contrasts stay as first made
    wider_rng = random.Random(seed + 2)  # and so for the name contrasts: figures in longer answers, wider names
    # a one-word "name" that the questions also use in lower case is a word ("Office", "Court")
    common = {w for item in items.values() for w in re.findall(r"\b[a-z]\w*", item["question"])}
    named: dict[str, list[str]] = {}
    for item in items.values():
        if item["kind"] not in ("answerable", "unanswerable"):
            continue
        cluster = "/".join(item["id"].split("-")[:2])
        named.setdefault(cluster, [])
        named[cluster] += [n for n in names(item["question"])
                           if n not in named[cluster] and not (" " not in n and n.casefold() in common)]
    out = []
    for row in rows:
        if row["label"] != 1 or row.get("augment"):
            continue
        writer = row["cluster"].split("/")[0]
        parties = [n for c, ns in sorted(named.items()) if c != row["cluster"] and c.startswith(writer + "/")
                   for n in ns]
        answers = items[row["qid"]].get("answer") or []
        removed = answer_removed(row, answers, lambda a: filler(a, rng))
        if removed is None and answers:
            removed = name_removed(row, answers, name_rng)
        if removed is None and answers and wider:
            removed = figures_removed(row, answers, wider_rng)
        for made in (removed, other_party(row, parties, rng)):
            if made is not None:
                out.append(made)
    return out
