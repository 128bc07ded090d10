"""What kind of words answer a question ("when" wants a date, "how many" a number) and whether a
sentence contains such words. A small bonus for that keeps the answer on the question asked."""

from __future__ import annotations

import re

_MONTHS = r"(?:January|February|March|April|May|June|July|August|September|October|November|December)"
_DAYS = r"(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday)"
_NUMBER_WORDS = r"(?:one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|dozens?|hundreds?|thousands?|millions?|billions?)"

PATTERNS = {
    "date": re.compile(rf"\b(?:{_MONTHS}|{_DAYS}|(?:19|20)\d\d|yesterday|today|last (?:year|week|month))\b"),
    "number": re.compile(rf"\d|\b{_NUMBER_WORDS}\b", re.IGNORECASE),
    "duration": re.compile(rf"\b(?:\d+|{_NUMBER_WORDS})[- ](?:years?|months?|weeks?|days?)\b", re.IGNORECASE),
    "court": re.compile(r"\b(?:[Cc]ourt|District|Circuit|County)\b"),
    "money": re.compile(r"[$€£]\s?\d|\b\d[\d,.]*\s*(?:dollars|million|billion)\b", re.IGNORECASE),
    "person": re.compile(r"(?<![.!?]\s)(?<!^)\b[A-Z][a-z]+(?:\s[A-Z]\.)?\s[A-Z][a-z]+(?:-[A-Z][a-z]+)?\b"),
    "place": re.compile(r"\b(?:in|at|from) (?:the )?[A-Z][a-z]+"),
    "law": re.compile(r"\b(?:Act|Law|law|statute|BIPA|GDPR|regulation)\b"),
}

_RULES = [
    (re.compile(r"\bhow (?:much|large|big)\b.*\b(?:pay|paid|fine|cost|settle|worth|raise|raised)", re.I), "money"),
    (re.compile(r"\bhow long\b|\bfor how long\b", re.I), "duration"),
    (re.compile(r"\bhow (?:many|much|large|big)\b|\bwhat (?:number|percentage|amount)\b", re.I), "number"),
    (re.compile(r"^\W*when\b|\bwhen (?:did|was|were|is|are|will|does|do|has|had)\b|\b(?:what|which) (?:date|day|year|month)\b", re.I), "date"),
    (re.compile(r"\b(?:which|what) court\b|\bwhere\b.*\bfiled\b", re.I), "court"),
    (re.compile(r"\b(?:which|what) (?:law|act|statute|regulation)\b", re.I), "law"),
    # "Who is X?" asks for a description, not a name; "Who sued X?" asks for a name.
    (re.compile(r"^\s*who\b(?!\s+(?:is|was|are|were|'s)\b)|\bwhich (?:person|lawyer|attorney|judge|official)\b", re.I), "person"),
    (re.compile(r"^\s*where\b|\bin which (?:city|state|country)\b", re.I), "place"),
]


def expected_type(question: str) -> str | None:
    for pattern, kind in _RULES:
        if pattern.search(question):
            return kind
    return None


def has_type(sentence: str, kind: str | None, question: str) -> bool:
    """True if the sentence holds words of that kind that the question itself does not."""
    if kind is None:
        return False
    found = {m.group(0).lower() for m in PATTERNS[kind].finditer(sentence)}
    asked = {m.group(0).lower() for m in PATTERNS[kind].finditer(question)}
    return bool(found - asked)
