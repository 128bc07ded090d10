"""The decision to answer: a logistic model over the reader's confidence and the extractive scores.

P(the proposed answer is right) = sigmoid(bias + weights · features). The weights are fitted on a
question set (benchmarks/answer_quality.py --fit) and live in config/default.toml; nothing here is
tuned by hand."""

from __future__ import annotations

import math

import numpy as np

FEATURES = (
    "reader_confidence",   # log(p_sentence / p_none) from the reader, bounded to ±12
    "evidence",            # extractive evidence of the proposed sentence
    "best_evidence",       # the best extractive evidence among all candidates
    "coverage",            # IDF-weighted share of the question's subject words in the sentence
    "kind_asked",          # 1 when the question asks for a date, figure, name...; else 0
    "unknown_share",       # share of the question's words that occur in no document
)


def features(confidence: float, evidence: float, best_evidence: float, coverage: float,
             kind_asked: bool, unknown_share: float) -> list[float]:
    return [confidence, evidence, best_evidence, coverage, float(kind_asked), unknown_share]


def probability(bias: float, weights, x: list[float]) -> float:
    if len(weights) != len(FEATURES):
        raise ValueError(f"[reader] weights needs {len(FEATURES)} numbers ({', '.join(FEATURES)}), got {len(weights)}")
    z = bias + sum(w * v for w, v in zip(weights, x))
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
