"""The guard around a reader backend: one call at a time, a bounded wait, and every failure turned
into a ``ReaderFailed`` value, so a reader can never take an answer down with it."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

from embeddings.answer.readers.prompt import labels, messages
from embeddings.answer.readers.protocol import Reader, ReaderFailed, Reading
from embeddings.errors import ReaderUnavailable


def normalise(raw: dict[str, float], labels: list[str]) -> dict[str, float]:
    total = sum(raw.get(label, 0.0) for label in labels)
    if total <= 0:
        return {label: (1.0 if label == "0" else 0.0) for label in labels}
    return {label: raw.get(label, 0.0) / total for label in labels}


def read(reader: Reader, question: str, lines: list[str]) -> Reading:
    names = labels(lines)
    t0 = time.perf_counter()
    probs, prompt_tokens = reader.label_probabilities(messages(question, lines), names)
    probs = normalise(probs, names)
    return Reading(reader.name, probs["0"], [probs[label] for label in names[1:]],
                   time.perf_counter() - t0, prompt_tokens)


@dataclass
class GuardedReader:
    """Serializes calls to a backend (a llama.cpp context serves one call at a time) and bounds the
    wait: a reader that is busy past ``timeout`` or fails is reported as ``ReaderFailed``."""

    backend: Reader
    timeout: float
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def name(self) -> str:
        return self.backend.name

    def read(self, question: str, lines: list[str]) -> Reading | ReaderFailed:
        t0 = time.perf_counter()
        if not self._lock.acquire(timeout=self.timeout):
            return ReaderFailed(self.name, f"reader busy for more than {self.timeout:.0f} s", time.perf_counter() - t0)
        try:
            return read(self.backend, question, lines)
        except ReaderUnavailable as exc:
            return ReaderFailed(self.name, str(exc), time.perf_counter() - t0)
        except Exception as exc:  # a backend failure must never take the answer down with it
            return ReaderFailed(self.name, f"reader failed: {exc.__class__.__name__}: {exc}", time.perf_counter() - t0)
        finally:
            self._lock.release()
