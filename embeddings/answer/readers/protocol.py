"""What a reader backend is, and what reading gives: a ``Reading``, or a ``ReaderFailed`` value."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Protocol


class Reader(Protocol):
    name: str

    def label_probabilities(self, msgs: list[dict], labels: list[str]) -> tuple[dict[str, float], int]:
        """P(label) for each label as the model's first reply token, and the prompt's token count."""


@dataclass(frozen=True)
class Reading:
    """What the reader said: the probability of "none" and of each candidate sentence (same order)."""

    reader: str
    p_none: float
    p_sentences: list[float]
    seconds: float
    prompt_tokens: int     # nothing is generated: one next-token distribution is read

    def confidence(self, i: int, bound: float) -> float:
        """log(p_i / p_none), bounded to ±``bound``: how much more the reader believes sentence i than "none"."""
        return max(-bound, min(bound, math.log(self.p_sentences[i] + 1e-9) - math.log(self.p_none + 1e-9)))


@dataclass(frozen=True)
class ReaderFailed:
    """The reader was asked and gave nothing usable (busy, failed, timed out): the answer falls back."""

    reader: str
    reason: str
    seconds: float
