"""The decision to answer: a logistic model over the judge's logits or the reader's confidence, and
the extractive scores.

P(the proposed answer is right) = sigmoid(bias + weights · features). The weights are fitted on a
question set (benchmarks/answer_quality.py --fit for the reader's, benchmarks/judge_quality.py --fit for
the judge's) and live in config/default.toml; nothing here is
tuned by hand."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np

from embeddings.answer.candidates import Scored
from embeddings.answer.question import Question
from embeddings.answer.readers.protocol import Reading
from embeddings.config import choose

@dataclass(frozen=True)
class Proposal:
    """What the combiner sees of a proposed answer: the sentence, its rivals and what the reader said."""

    q: Question
    chosen: Scored              # the sentence the policy would quote first
    index: int                  # its place among the sentences shown to the reader
    candidates: list[Scored]    # every candidate sentence
    reading: Reading | object | None   # what the reader said (a ReaderFailed or None: it said nothing)
    confidence_bound: float     # [reader] confidence_bound
    logit_bound: float          # [judge] logit_bound


# Features by name ([decision] features, one weight each): adding one is one entry here.
FEATURES: dict[str, Callable[[Proposal], float]] = {
    # log(p_sentence / p_none) from the reader, bounded to ±confidence_bound
    "reader_confidence": lambda p: p.reading.confidence(p.index, p.confidence_bound),
    # extractive evidence of the proposed sentence
    "evidence": lambda p: p.chosen.evidence,
    # the best extractive evidence among all candidates
    "best_evidence": lambda p: max(c.evidence for c in p.candidates),
    # IDF-weighted share of the question's subject words in the sentence
    "coverage": lambda p: p.chosen.coverage,
    # 1 when the question asks for a date, figure, name...; else 0
    "kind_asked": lambda p: float(p.q.kind is not None),
    # share of the question's words that occur in no document
    "unknown_share": lambda p: p.q.unknown_share,
    # the judge's logit for the proposed sentence, bounded to ±logit_bound
    "judge": lambda p: _bounded(p.chosen.judge, p.logit_bound),
    # the best judge logit among the other candidates the judge read: a close rival says the pick is uncertain
    "judge_rival": lambda p: _bounded(max((c.judge for i, c in enumerate(p.candidates) if i != p.index and c.judge is not None),
                                          default=-p.logit_bound), p.logit_bound),
    # where the proposed sentence stands in the extractive order: 1 first, 1/2 second...
    "extractive_rank": lambda p: 1.0 / (1 + p.index),
    # the reader's best confidence in any sentence it was shown (0 when it was not asked or failed)
    "reader_best": lambda p: max(p.reading.confidence(i, p.confidence_bound) for i in range(len(p.reading.p_sentences)))
    if isinstance(p.reading, Reading) else 0.0,
}


def _bounded(z: float | None, bound: float) -> float:
    return max(-bound, min(bound, z if z is not None else -bound))


def features(names: tuple[str, ...], proposal: Proposal) -> list[float]:
    return [choose(FEATURES, name, "[decision] features entry")(proposal) for name in names]


def probability(bias: float, weights, x: list[float]) -> float:
    if len(weights) != len(x):
        raise ValueError(f"[decision] weights needs one number a feature ({len(x)}), got {len(weights)}")
    return sigmoid(bias + sum(w * v for w, v in zip(weights, x)))


def sigmoid(z: float) -> float:
    return 1.0 / (1.0 + math.exp(-max(-40.0, min(40.0, z))))


def fit(x: np.ndarray, y: np.ndarray, l2: float = 1.0, iterations: int = 100) -> tuple[float, list[float]]:
    """L2-regularized logistic regression by Newton's method (the bias is not penalized).
    Returns (bias, weights) in the features' own units, ready for config."""
    mean, std = x.mean(axis=0), x.std(axis=0)
    std[std == 0] = 1.0
    z = np.hstack([np.ones((len(x), 1)), (x - mean) / std])
    beta = np.zeros(z.shape[1])
    penalty = np.eye(z.shape[1]) * l2
    penalty[0, 0] = 0.0
    for _ in range(iterations):
        p = 1.0 / (1.0 + np.exp(-z @ beta))
        gradient = z.T @ (p - y) + penalty @ beta
        hessian = z.T @ (z * (p * (1 - p))[:, None]) + penalty
        step = np.linalg.solve(hessian, gradient)
        beta -= step
        if np.abs(step).max() < 1e-8:
            break
    weights = beta[1:] / std
    bias = beta[0] - float((beta[1:] * mean / std).sum())
    return float(bias), [float(w) for w in weights]
